"""Evaluate recognized activity streams against the annotation of a session: metrics and a report.

Inputs
    Ground truth: ``GtSegment(start_s, end_s, class_id)`` intervals ``[start_s, end_s)``; time not
    covered by any segment is *unlabeled*. Predictions: per source (``skeleton``, ``rgb``,
    ``pose``, ``fusion``, ...) a time series of ``TimedLabel(stamp_s, class_id, confidence)``;
    ``class_id`` -1 means "no decision". All times in seconds on one clock.

Frame-wise metrics
    On a regular grid (``rate_hz``, default 10 Hz) over the annotated span ``[min start, max end)``;
    each grid time takes the latest prediction with ``stamp_s <= t`` (sample and hold), "none"
    before the first one. Only labeled grid times are scored; "none" is always wrong. Accuracy,
    per-class precision/recall/F1, macro-F1 (mean over classes that occur in the ground truth or
    the predictions), confusion matrix (rows: true class ids; columns: predicted class ids, then
    "none").

Segment F1@k (Lea et al. 2017, as in MS-TCN's ``f_score``)
    The held prediction on the grid, restricted to labeled grid times, is cut into runs of one
    class (predicted segments); ground-truth segments are mapped to grid index ranges (a segment
    shorter than one grid step may vanish). Each predicted segment, in time order, is matched to
    the unmatched-or-not ground-truth segment of the same class with the highest IoU: a TP when
    that IoU >= k and the ground-truth segment is not yet hit, else a FP; unhit ground-truth
    segments are FN. F1 = 2 TP / (2 TP + FP + FN). Reported for k = 0.1, 0.25, 0.5.

Detection delay (per ground-truth segment, from the prediction events, not the grid)
    0 when the prediction held at ``start_s`` is already the right class, else the stamp of the
    first right prediction in ``(start_s, end_s)`` minus ``start_s``; missed when there is none.

Latency
    p50/p95/p99 and mean of the given ``latency_ms`` values per source.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from harnets_core.evaluation.metrics import per_class_scores

__all__ = [
    "NONE",
    "IOU_THRESHOLDS",
    "GtSegment",
    "TimedLabel",
    "FrameMetrics",
    "DelayStats",
    "SourceMetrics",
    "gt_from_inhard",
    "segments_from_stream",
    "time_grid",
    "gt_labels",
    "sample_and_hold",
    "next_activity_labels",
    "frame_metrics",
    "label_runs",
    "segment_f1",
    "detection_delays",
    "latency_stats",
    "evaluate_source",
    "evaluate_timeline",
    "activities_from_bag",
    "write_timeline_report",
]

NONE = -1
"""Class id of "no prediction yet / no decision" and of unlabeled ground-truth time."""

IOU_THRESHOLDS = (0.1, 0.25, 0.5)
_SOURCE_ORDER = ("skeleton", "rgb", "pose", "fusion")


class GtSegment(NamedTuple):
    """One annotated activity: ``[start_s, end_s)`` in seconds and its class id."""

    start_s: float
    end_s: float
    class_id: int


class TimedLabel(NamedTuple):
    """One recognition result: time in seconds (newest sample of its window), class id (-1 none)."""

    stamp_s: float
    class_id: int
    confidence: float = 1.0


# ------------------------------------------------------------------------------------ conversion
def gt_from_inhard(segments: Iterable[Any], frame_time_s: float | None = None) -> list[GtSegment]:
    """Ground truth from ``harnets_core.datasets.inhard.Segment``s of one session, sorted by start.

    With ``frame_time_s`` the BVH frames are used (``[start_frame, end_frame + 1) * frame_time_s``,
    the clock of ``session_bag.write_session_bag``); without it the csv's ``rgb_start_s``/``rgb_end_s``.
    """
    if frame_time_s is None:
        out = [GtSegment(float(s.rgb_start_s), float(s.rgb_end_s), int(s.class_id)) for s in segments]
    else:
        out = [
            GtSegment(s.bvh_start_frame * frame_time_s, (s.bvh_end_frame + 1) * frame_time_s, int(s.class_id))
            for s in segments
        ]
    return sorted(out)


def segments_from_stream(stream: Sequence[TimedLabel], end_s: float | None = None) -> list[GtSegment]:
    """Segments from a label stream (e.g. the ground-truth ``Activity`` topic of a session bag).

    Each label holds until the next message; consecutive equal labels merge; class -1 is a gap.
    The last label holds until ``end_s`` (default: the last stamp, i.e. it is dropped).
    """
    items = sorted(stream)
    out: list[GtSegment] = []
    cur_id, cur_start = NONE, 0.0
    for p in items:
        if p.class_id != cur_id:
            if cur_id != NONE and p.stamp_s > cur_start:
                out.append(GtSegment(cur_start, p.stamp_s, cur_id))
            cur_id, cur_start = int(p.class_id), float(p.stamp_s)
    if items and cur_id != NONE:
        stop = items[-1].stamp_s if end_s is None else end_s
        if stop > cur_start:
            out.append(GtSegment(cur_start, float(stop), cur_id))
    return out


# ------------------------------------------------------------------------------------ frame-wise
def time_grid(gt: Sequence[GtSegment], rate_hz: float = 10.0) -> np.ndarray:
    """Grid times (N,) in seconds: ``t0 + k / rate_hz`` over ``[min start, max end)`` of ``gt``."""
    if rate_hz <= 0:
        raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
    if not gt:
        return np.zeros(0)
    t0 = min(s.start_s for s in gt)
    t1 = max(s.end_s for s in gt)
    n = int(np.ceil((t1 - t0) * rate_hz - 1e-9))
    return t0 + np.arange(max(n, 0)) / rate_hz


def gt_labels(gt: Sequence[GtSegment], times: np.ndarray) -> np.ndarray:
    """Ground-truth class id at each time (N,) int64; -1 where unlabeled; on overlap the later start wins."""
    labels = np.full(len(times), NONE, dtype=np.int64)
    for seg in sorted(gt):
        labels[(times >= seg.start_s) & (times < seg.end_s)] = seg.class_id
    return labels


def sample_and_hold(predictions: Sequence[TimedLabel], times: np.ndarray) -> np.ndarray:
    """Latest predicted class id with ``stamp_s <= t`` at each time (N,) int64; -1 before the first."""
    if not predictions:
        return np.full(len(times), NONE, dtype=np.int64)
    preds = sorted(predictions, key=lambda p: p.stamp_s)  # stable: equal stamps keep arrival order
    stamps = np.array([p.stamp_s for p in preds])
    ids = np.array([p.class_id for p in preds], dtype=np.int64)
    idx = np.searchsorted(stamps, times, side="right") - 1  # (N,)
    return np.where(idx >= 0, ids[np.clip(idx, 0, None)], NONE)


@dataclass
class FrameMetrics:
    """Frame-wise scores over labeled grid times. ``confusion`` (K, K+1): rows true class ids,
    columns predicted class ids then "none"; ``per_class[id] = {precision, recall, f1, support}``."""

    n_frames: int
    accuracy: float
    macro_f1: float
    per_class: dict[int, dict[str, float]]
    confusion: np.ndarray
    class_ids: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_frames": self.n_frames,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": {str(k): v for k, v in self.per_class.items()},
            "confusion": self.confusion.tolist(),
            "confusion_columns": [*map(str, self.class_ids), "none"],
        }


def frame_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_ids: Sequence[int]) -> FrameMetrics:
    """Scores of ``y_pred`` against ``y_true`` (both (N,) class ids); grid times with y_true -1 are skipped.

    Raises:
        ValueError: a label outside ``class_ids`` (and not -1).
    """
    ids = [int(c) for c in class_ids]
    col = {c: i for i, c in enumerate(ids)}
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    keep = y_true != NONE
    t, p = y_true[keep], y_pred[keep]
    for name, arr in (("ground truth", t), ("prediction", p)):
        bad = sorted(set(np.unique(arr).tolist()) - set(ids) - {NONE})
        if bad:
            raise ValueError(f"{name} has class ids {bad} not in {ids}")
    k = len(ids)
    confusion = np.zeros((k, k + 1), dtype=np.int64)
    t_idx = np.array([col[c] for c in t.tolist()], dtype=np.int64)
    p_idx = np.array([col.get(c, k) for c in p.tolist()], dtype=np.int64)
    np.add.at(confusion, (t_idx, p_idx), 1)
    precision, recall, f1, support = per_class_scores(confusion)  # the "none" column counts against recall
    per_class = {
        c: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
        for i, c in enumerate(ids)
    }
    present = set(t.tolist()) | (set(p.tolist()) - {NONE})
    f1s = [f1[i] for i, c in enumerate(ids) if c in present]
    n = int(keep.sum())
    accuracy = float((t == p).sum() / n) if n else 0.0
    return FrameMetrics(n, accuracy, float(np.mean(f1s)) if f1s else 0.0, per_class, confusion, ids)


# ------------------------------------------------------------------------------------- segments
def label_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal labels as ``(class_id, start, end)`` grid indices (end exclusive), -1 runs left out."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [labels.size]])
    return [(int(labels[s]), int(s), int(e)) for s, e in zip(starts, ends) if labels[s] != NONE]


def _gt_index_segments(gt: Sequence[GtSegment], times: np.ndarray) -> list[tuple[int, int, int]]:
    out = []
    for seg in gt:
        s = int(np.searchsorted(times, seg.start_s, side="left"))
        e = int(np.searchsorted(times, seg.end_s, side="left"))
        if e > s:
            out.append((seg.class_id, s, e))
    return out


def segment_f1(
    pred_segments: Sequence[tuple[int, int, int]],
    gt_segments: Sequence[tuple[int, int, int]],
    iou_threshold: float,
) -> dict[str, float]:
    """F1@k of ``(class_id, start, end)`` segments (any unit, end exclusive): ``{f1, tp, fp, fn}``."""
    hits = np.zeros(len(gt_segments), dtype=bool)
    g_cls = np.array([g[0] for g in gt_segments], dtype=np.int64)
    g_s = np.array([g[1] for g in gt_segments], dtype=np.float64)
    g_e = np.array([g[2] for g in gt_segments], dtype=np.float64)
    tp = fp = 0
    for cls, s, e in pred_segments:
        if not len(gt_segments):
            fp += 1
            continue
        inter = np.clip(np.minimum(e, g_e) - np.maximum(s, g_s), 0, None)
        union = np.maximum(e, g_e) - np.minimum(s, g_s)
        iou = np.where(g_cls == cls, inter / union, 0.0)
        best = int(iou.argmax())
        if iou[best] >= iou_threshold and not hits[best]:
            tp += 1
            hits[best] = True
        else:
            fp += 1
    fn = int(len(gt_segments) - hits.sum())
    denom = 2 * tp + fp + fn
    return {"f1": 2 * tp / denom if denom else 0.0, "tp": tp, "fp": fp, "fn": fn}


# ----------------------------------------------------------------------------------- delays etc.
@dataclass
class DelayStats:
    """Detection delays in seconds per ground-truth segment (NaN = missed) and their summary."""

    delays_s: list[float]
    mean_s: float
    median_s: float
    miss_rate: float
    n_segments: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean_s": _nan_to_none(self.mean_s),
            "median_s": _nan_to_none(self.median_s),
            "miss_rate": _nan_to_none(self.miss_rate),
            "n_segments": self.n_segments,
            "delays_s": [_nan_to_none(d) for d in self.delays_s],
        }


def _nan_to_none(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def detection_delays(gt: Sequence[GtSegment], predictions: Sequence[TimedLabel]) -> DelayStats:
    """Delay from each segment's start to its first correct recognition inside it (see module doc)."""
    preds = sorted(predictions, key=lambda p: p.stamp_s)
    stamps = np.array([p.stamp_s for p in preds])
    ids = np.array([p.class_id for p in preds], dtype=np.int64)
    delays = []
    for seg in sorted(gt):
        held = int(np.searchsorted(stamps, seg.start_s, side="right")) - 1
        if held >= 0 and ids[held] == seg.class_id:
            delays.append(0.0)
            continue
        inside = (stamps > seg.start_s) & (stamps < seg.end_s) & (ids == seg.class_id)
        hit = np.flatnonzero(inside)
        delays.append(float(stamps[hit[0]] - seg.start_s) if hit.size else float("nan"))
    arr = np.array(delays, dtype=np.float64)
    found = arr[np.isfinite(arr)]
    return DelayStats(
        delays_s=delays,
        mean_s=float(found.mean()) if found.size else float("nan"),
        median_s=float(np.median(found)) if found.size else float("nan"),
        miss_rate=float(1 - found.size / arr.size) if arr.size else float("nan"),
        n_segments=int(arr.size),
    )


def latency_stats(latencies_ms: Sequence[float] | np.ndarray | None) -> dict[str, float] | None:
    """``{p50_ms, p95_ms, p99_ms, mean_ms, max_ms, n}`` of latency values (None when none are given)."""
    if latencies_ms is None or len(latencies_ms) == 0:
        return None
    arr = np.asarray(latencies_ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "mean_ms": float(arr.mean()),
        "max_ms": float(arr.max()),
        "n": int(arr.size),
    }


# ------------------------------------------------------------------------------------ evaluation
@dataclass
class SourceMetrics:
    """Everything measured for one prediction source."""

    frame: FrameMetrics
    segment_f1: dict[float, dict[str, float]]
    delay: DelayStats
    latency: dict[str, float] | None = None
    n_predictions: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_predictions": self.n_predictions,
            "frame": self.frame.to_dict(),
            "segment_f1": {f"{k:g}": v for k, v in self.segment_f1.items()},
            "delay": self.delay.to_dict(),
            "latency": self.latency,
            **self.extra,
        }


def evaluate_source(
    gt: Sequence[GtSegment],
    predictions: Sequence[TimedLabel],
    class_ids: Sequence[int],
    *,
    rate_hz: float = 10.0,
    latencies_ms: Sequence[float] | None = None,
    iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
) -> SourceMetrics:
    """Frame-wise metrics, segment F1@k, detection delay and latency of one source."""
    times = time_grid(gt, rate_hz)  # (N,)
    y_true = gt_labels(gt, times)
    y_pred = sample_and_hold(predictions, times)
    frame = frame_metrics(y_true, y_pred, class_ids)
    masked = np.where(y_true == NONE, NONE, y_pred)  # predicted segments only inside annotated time
    pred_segs = label_runs(masked)
    gt_segs = _gt_index_segments(gt, times)
    f1 = {float(k): segment_f1(pred_segs, gt_segs, k) for k in iou_thresholds}
    return SourceMetrics(
        frame=frame,
        segment_f1=f1,
        delay=detection_delays(gt, predictions),
        latency=latency_stats(latencies_ms),
        n_predictions=len(predictions),
    )


def _ordered(sources: Iterable[str]) -> list[str]:
    names = list(sources)
    return [s for s in _SOURCE_ORDER if s in names] + sorted(s for s in names if s not in _SOURCE_ORDER)


def evaluate_timeline(
    gt: Sequence[GtSegment],
    predictions_by_source: Mapping[str, Sequence[TimedLabel]],
    class_ids: Sequence[int],
    *,
    latencies_by_source: Mapping[str, Sequence[float]] | None = None,
    rate_hz: float = 10.0,
) -> dict[str, SourceMetrics]:
    """``evaluate_source`` for every source (skeleton, rgb, pose, fusion first, then others by name)."""
    lat = latencies_by_source or {}
    return {
        src: evaluate_source(gt, predictions_by_source[src], class_ids, rate_hz=rate_hz, latencies_ms=lat.get(src))
        for src in _ordered(predictions_by_source)
    }


def activities_from_bag(
    path: str | Path, topics: Iterable[str] | None = None, *, t0_ns: int = 0
) -> tuple[dict[str, list[TimedLabel]], dict[str, list[float]]]:
    """Predictions and latencies per ``Activity.source`` from the ``harnets/msg/Activity`` topics of a bag.

    Times are ``header.stamp - t0_ns`` in seconds (pass the session bag's ``start_time_ns`` to get
    session time). Ground truth comes back under ``"ground_truth"``: turn it into segments with
    ``segments_from_stream``.
    """
    from harnets_core.formats.bags import ACTIVITY_TYPE, bag_topics, read_bag

    if topics is None:
        topics = [t for t, info in bag_topics(path).items() if info.msgtype == ACTIVITY_TYPE]
    preds: dict[str, list[TimedLabel]] = {}
    lats: dict[str, list[float]] = {}
    for item in read_bag(path, topics):
        msg = item.msg
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        preds.setdefault(msg.source, []).append(
            TimedLabel((stamp_ns - t0_ns) / 1e9, int(msg.class_id), float(msg.confidence))
        )
        if msg.source != "ground_truth":
            lats.setdefault(msg.source, []).append(float(msg.latency_ms))
    return preds, lats


# ---------------------------------------------------------------------------------------- report
def _class_colors(n: int) -> list[Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def _plot_timeline(
    path: Path,
    gt: Sequence[GtSegment],
    preds: Mapping[str, Sequence[TimedLabel]],
    class_names: Sequence[str],
    rate_hz: float,
    title: str,
    forecasts: Mapping[str, Sequence[tuple[float, Any]]] | None = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colors = _class_colors(len(class_names))
    preds = dict(preds)
    if forecasts:  # the forecast next activity as rows of its own, under the true next activity
        preds["next (truth)"] = next_activity_labels(gt)
        for src, items in forecasts.items():
            preds[f"{src}: next (forecast)"] = [TimedLabel(t, int(f.next_ids[0]) if f.next_ids else NONE)
                                                for t, f in items]
    rows = ["ground truth", *preds]
    times = time_grid(gt, rate_hz)
    dt = 1.0 / rate_hz
    fig, ax = plt.subplots(figsize=(14, 1.0 + 0.6 * len(rows)))
    used: set[int] = set()
    for seg in gt:
        ax.broken_barh(
            [(seg.start_s, seg.end_s - seg.start_s)], (0.1, 0.8),
            facecolors=colors[seg.class_id], edgecolors="white", linewidth=0.8,  # adjacent same-class segments
        )
        used.add(seg.class_id)
    for r, src in enumerate(preds, start=1):
        held = sample_and_hold(preds[src], times)
        for cls, s, e in label_runs(held):
            if cls == NONE:
                continue
            ax.broken_barh([(times[s], (e - s) * dt)], (r + 0.1, 0.8), facecolors=colors[cls])
            used.add(cls)
    ax.set_yticks(np.arange(len(rows)) + 0.5, rows)
    ax.invert_yaxis()
    ax.set_xlabel("time (s)")
    if len(times):
        ax.set_xlim(times[0], times[-1] + dt)
    ax.set_title(title)
    handles = [Patch(color=colors[c], label=f"{c} {class_names[c]}") for c in sorted(used)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def next_activity_labels(gt: Sequence[GtSegment], idle_id: int = 0) -> list[TimedLabel]:
    """During each annotated activity, the activity that follows it (idle skipped; runs of one
    activity separated only by idle count as one), as a label stream; none elsewhere."""
    acts = sorted(s for s in gt if s.class_id not in (idle_id, NONE))
    out: list[TimedLabel] = []
    for n, seg in enumerate(acts):
        nxt = next((a.class_id for a in acts[n + 1:] if a.class_id != seg.class_id), NONE)
        out += [TimedLabel(seg.start_s, nxt), TimedLabel(seg.end_s, NONE)]
    return out


def _write_confusion(out_dir: Path, source: str, frame: FrameMetrics, class_names: Sequence[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [*(class_names[c] for c in frame.class_ids), "none"]
    rows = [class_names[c] for c in frame.class_ids]
    with (out_dir / f"confusion_{source}.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["true \\ predicted", *cols])
        for name, row in zip(rows, frame.confusion.tolist()):
            w.writerow([name, *row])
    fig, ax = plt.subplots(figsize=(9, 8))
    cm = frame.confusion.astype(np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)  # row-normalized (recall)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{source}: frames (rows normalized for colour)")
    fig.tight_layout()
    fig.savefig(out_dir / f"confusion_{source}.png", dpi=110)
    plt.close(fig)


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    return f"{100 * x:.1f}" if pct else f"{x:.2f}"


def write_timeline_report(
    out_dir: str | Path,
    gt: Sequence[GtSegment],
    predictions_by_source: Mapping[str, Sequence[TimedLabel]],
    class_names: Sequence[str],
    latencies_by_source: Mapping[str, Sequence[float]] | None = None,
    title: str = "Activity timeline",
    *,
    rate_hz: float = 10.0,
    forecasts: Mapping[str, Sequence[tuple[float, Any]]] | None = None,
) -> dict[str, SourceMetrics]:
    """Evaluate every source and write ``report.md``, ``metrics.json``, ``timeline.png`` and
    ``confusion_<source>.png`` / ``.csv`` into ``out_dir`` (created). Class id = index in class_names.
    ``forecasts`` (source -> ``(stamp_s, Forecast)``): the timeline also shows each source's
    forecast next activity under the true next activity."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    class_ids = list(range(len(class_names)))
    metrics = evaluate_timeline(
        gt, predictions_by_source, class_ids, latencies_by_source=latencies_by_source, rate_hz=rate_hz
    )
    ordered = {src: predictions_by_source[src] for src in metrics}

    doc = {
        "title": title,
        "rate_hz": rate_hz,
        "class_names": list(class_names),
        "n_gt_segments": len(gt),
        "gt_span_s": [min((s.start_s for s in gt), default=0.0), max((s.end_s for s in gt), default=0.0)],
        "sources": {src: m.to_dict() for src, m in metrics.items()},
    }
    (out / "metrics.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")

    lines = [
        f"# {title}",
        "",
        f"{len(gt)} ground-truth segments over {doc['gt_span_s'][0]:.2f} to {doc['gt_span_s'][1]:.2f} s; "
        f"frame-wise scores on a {rate_hz:g} Hz grid (sample and hold, labeled time only).",
        "",
        "| source | predictions | accuracy % | macro-F1 % | F1@0.1 % | F1@0.25 % | F1@0.5 % "
        "| delay mean s | delay median s | missed % | latency p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for src, m in metrics.items():
        lat = m.latency or {}
        f1 = {k: v["f1"] for k, v in m.segment_f1.items()}
        lines.append(
            f"| {src} | {m.n_predictions} | {_fmt(m.frame.accuracy, True)} | {_fmt(m.frame.macro_f1, True)} "
            f"| {_fmt(f1.get(0.1), True)} | {_fmt(f1.get(0.25), True)} | {_fmt(f1.get(0.5), True)} "
            f"| {_fmt(m.delay.mean_s)} | {_fmt(m.delay.median_s)} | {_fmt(m.delay.miss_rate, True)} "
            f"| {_fmt(lat.get('p50_ms'))} | {_fmt(lat.get('p95_ms'))} | {_fmt(lat.get('p99_ms'))} |"
        )
    lines += ["", "![timeline](timeline.png)", ""]
    for src, m in metrics.items():
        lines += [f"## {src}", "", "| class | precision % | recall % | F1 % | frames |", "|---|---:|---:|---:|---:|"]
        for c, pc in m.frame.per_class.items():
            if pc["support"] or pc["precision"]:
                lines.append(
                    f"| {c} {class_names[c]} | {_fmt(pc['precision'], True)} | {_fmt(pc['recall'], True)} "
                    f"| {_fmt(pc['f1'], True)} | {pc['support']} |"
                )
        lines += ["", f"Confusion: [confusion_{src}.csv](confusion_{src}.csv), ![confusion](confusion_{src}.png)", ""]
        _write_confusion(out, src, m.frame, class_names)
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    _plot_timeline(out / "timeline.png", gt, ordered, class_names, rate_hz, title, forecasts=forecasts)
    return metrics
