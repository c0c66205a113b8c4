"""Scores over ALL session time (idle included) and scores of the forecast.

All-time scores
    The ground truth's unannotated time (between, before and after the activities, up to the
    end of the recording) is the idle class (id 0, "No action"), so a recognizer that reports an
    activity while the worker is idle is wrong there. Frame accuracy and macro-F1 on the 10 Hz
    grid over ``[0, end_s)``, segment F1@k, detection delay (idle segments included), the edit
    score (MS-TCN's: ``100 * (1 - Levenshtein(predicted run labels, true run labels) / max of
    their lengths)``; low when the timeline is over-segmented) and idle recall (the fraction of
    idle grid time recognized as idle). A model without an idle class never predicts it.

Forecast scores (:func:`forecast_metrics`)
    Next activity: for every annotated activity followed by another activity (idle skipped;
    runs of one activity separated only by idle count as one), the forecast held at the
    activity's midpoint is right when its most probable next class is the true next one.
    Baselines: majority transition (the most frequent next activity after the TRUE current
    class in training) and uniform (expected accuracy ``1 / (activities - 1)``).
    Remaining time: at every forecast made inside an annotated activity that the recognizer
    has right, ``|p50 - (end_s - t)|``; baseline: the mean training duration of that class
    minus the elapsed time, floored at 0 (the mean-duration baseline).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harnets_core.datasets.inhard import NO_ACTION_ID
from harnets_core.evaluation.timeline import (
    NONE,
    GtSegment,
    TimedLabel,
    evaluate_source,
    gt_labels,
    label_runs,
    sample_and_hold,
)

__all__ = ["fill_idle", "edit_score", "all_time_metrics", "forecast_metrics", "write_stream_report"]


def fill_idle(gt: Sequence[GtSegment], end_s: float, *, start_s: float = 0.0, idle_id: int = NO_ACTION_ID) -> list[GtSegment]:
    """``gt`` with every uncovered stretch of ``[start_s, end_s)`` as an idle segment."""
    out: list[GtSegment] = []
    t = start_s
    for seg in sorted(gt):
        if seg.start_s > t + 1e-9:
            out.append(GtSegment(t, seg.start_s, idle_id))
        out.append(seg)
        t = max(t, seg.end_s)
    if end_s > t + 1e-9:
        out.append(GtSegment(t, end_s, idle_id))
    return out


def edit_score(pred_labels: Sequence[int], true_labels: Sequence[int]) -> float:
    """MS-TCN's edit score (0 to 100) between two run-label sequences."""
    p, t = list(pred_labels), list(true_labels)
    if not p and not t:
        return 100.0
    d = np.zeros((len(p) + 1, len(t) + 1))
    d[:, 0] = np.arange(len(p) + 1)
    d[0, :] = np.arange(len(t) + 1)
    for i in range(1, len(p) + 1):
        for j in range(1, len(t) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (p[i - 1] != t[j - 1]))
    return float(100.0 * (1.0 - d[-1, -1] / max(len(p), len(t))))


def all_time_metrics(
    gt: Sequence[GtSegment],
    predictions: Sequence[TimedLabel],
    class_ids: Sequence[int],
    *,
    end_s: float,
    rate_hz: float = 10.0,
    idle_id: int = NO_ACTION_ID,
) -> dict[str, Any]:
    """Frame, segment, delay, edit and idle scores over ``[0, end_s)`` with idle (class
    ``idle_id``: InHARD's "No action" by default) filled in."""
    full = fill_idle(gt, end_s, idle_id=idle_id)
    m = evaluate_source(full, predictions, sorted(set(class_ids) | {idle_id}), rate_hz=rate_hz)
    times = np.arange(int(np.ceil(end_s * rate_hz - 1e-9))) / rate_hz
    y_true = gt_labels(full, times)
    y_pred = sample_and_hold(predictions, times)
    idle = y_true == idle_id
    pred_runs = [c for c, _, _ in label_runs(y_pred) if c != NONE]
    true_runs = [c for c, _, _ in label_runs(y_true) if c != NONE]
    out = m.to_dict()
    out.pop("latency", None)
    out["edit"] = edit_score(pred_runs, true_runs)
    out["idle_recall"] = float((y_pred[idle] == idle_id).mean()) if idle.any() else None
    out["idle_fraction"] = float(idle.mean()) if times.size else None
    return out


def _activity_segments(gt: Sequence[GtSegment], idle_id: int = NO_ACTION_ID) -> list[GtSegment]:
    """Annotated activities in time order, runs of one class separated only by idle merged."""
    acts: list[GtSegment] = []
    for seg in sorted(gt):
        if seg.class_id in (idle_id, NONE):
            continue
        if acts and acts[-1].class_id == seg.class_id:
            acts[-1] = GtSegment(acts[-1].start_s, seg.end_s, seg.class_id)
        else:
            acts.append(seg)
    return acts


def forecast_metrics(
    gt: Sequence[GtSegment],
    forecasts: Sequence[tuple[float, Any]],
    model: Any,
    *,
    idle_id: int = NO_ACTION_ID,
) -> dict[str, Any]:
    """Next-activity accuracy and remaining-time MAE of ``forecasts`` (``(stamp_s, Forecast)``
    in time order) against the annotated activities ``gt``, with their baselines; ``model``
    is the :class:`harnets_core.streaming.forecast.ForecastModel` (for the baselines)."""
    stamps = np.array([t for t, _ in forecasts], dtype=np.float64)
    acts = _activity_segments(gt, idle_id)
    right = major = 0
    n = 0
    for cur, nxt in zip(acts, acts[1:]):
        mid = 0.5 * (cur.start_s + cur.end_s)
        k = int(np.searchsorted(stamps, mid, side="right")) - 1
        n += 1
        if k >= 0 and forecasts[k][1].next_ids:
            right += int(forecasts[k][1].next_ids[0] == nxt.class_id)
        major += int(model.majority_next(cur.class_id) == nxt.class_id)
    n_acts = len([c for c in model.class_ids if c != idle_id])
    err, base = [], []
    n_inside = 0
    for seg in (s for s in sorted(gt) if s.class_id not in (idle_id, NONE)):
        inside = np.flatnonzero((stamps >= seg.start_s) & (stamps < seg.end_s))
        n_inside += inside.size
        for k in inside:
            t, f = forecasts[k]
            if f.current_id != seg.class_id:
                continue
            truth = seg.end_s - t
            err.append(abs(f.remaining_s[1] - truth))
            base.append(abs(max(model.mean_duration_s(seg.class_id) - f.elapsed_s, 0.0) - truth))
    return {
        "next_activity": {
            "n_transitions": n,
            "accuracy": right / n if n else None,
            "majority_transition_accuracy": major / n if n else None,
            "uniform_accuracy": 1.0 / (n_acts - 1) if n_acts > 1 else None,
        },
        "remaining_time": {
            "n_forecasts": len(err),
            "coverage": len(err) / n_inside if n_inside else None,
            "mae_s": float(np.mean(err)) if err else None,
            "mean_duration_baseline_mae_s": float(np.mean(base)) if base else None,
        },
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _sec(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def write_stream_report(
    out_dir: str | Path,
    summary: Mapping[str, Mapping[str, Any]],
    forecasts: Mapping[str, Sequence[tuple[float, Any]]],
    gt: Sequence[GtSegment],
    end_s: float,
    *,
    class_names: Sequence[str] | None = None,
    idle_id: int = NO_ACTION_ID,
) -> None:
    """Insert the all-time and forecast tables at the top of ``out_dir/report.md`` (after its
    title) and draw ``forecast.png`` (remaining time p10-p90 and p50 against the truth, and the
    forecast next activity) for the sources with forecasts. ``class_names`` (by id; default
    InHARD's) and ``idle_id`` name the classes."""
    out = Path(out_dir)
    lines = [
        "## All time (idle included)",
        "",
        f"Unannotated time is the idle class ({_idle_name(class_names, idle_id)}); 10 Hz grid over the whole recording. "
        "The table below it scores labeled time only.",
        "",
        "| source | accuracy % | macro-F1 % | F1@0.1 % | F1@0.25 % | F1@0.5 % | edit | delay median s | delay mean s | missed % | idle recall % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for src, m in summary.items():
        w = m.get("all_time")
        if not w:
            continue
        f1 = {k: v["f1"] for k, v in w["segment_f1"].items()}
        d = w["delay"]
        lines.append(
            f"| {src} | {_pct(w['frame']['accuracy'])} | {_pct(w['frame']['macro_f1'])} | {_pct(f1.get('0.1'))} "
            f"| {_pct(f1.get('0.25'))} | {_pct(f1.get('0.5'))} | {w['edit']:.1f} | {_sec(d['median_s'])} | {_sec(d['mean_s'])} "
            f"| {_pct(d['miss_rate'])} | {_pct(w['idle_recall'])} |"
        )
    rows = [(src, m["forecast"]) for src, m in summary.items() if m.get("forecast")]
    if rows:
        lines += [
            "",
            "## Forecast",
            "",
            "Next activity: the forecast held at each annotated activity's midpoint against the activity that "
            "follows it; remaining time: p50 against the time left, while the recognized activity is right.",
            "",
            "| source | transitions | next top-1 % | majority transition % | uniform % | remaining MAE s | mean-duration MAE s | coverage % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for src, f in rows:
            n, r = f["next_activity"], f["remaining_time"]
            lines.append(
                f"| {src} | {n['n_transitions']} | {_pct(n['accuracy'])} | {_pct(n['majority_transition_accuracy'])} "
                f"| {_pct(n['uniform_accuracy'])} | {_sec(r['mae_s'])} | {_sec(r['mean_duration_baseline_mae_s'])} "
                f"| {_pct(r['coverage'])} |"
            )
        lines += ["", "![forecast](forecast.png)"]
    report = out / "report.md"
    old = report.read_text(encoding="utf-8").split("\n") if report.exists() else ["# replay"]
    report.write_text("\n".join(old[:2] + lines + [""] + old[2:]), encoding="utf-8")
    if forecasts:
        _plot_forecast(out / "forecast.png", forecasts, gt, end_s, class_names, idle_id)


def _idle_name(class_names: Sequence[str] | None, idle_id: int) -> str:
    if class_names is None:
        from harnets_core.datasets.inhard import META_ACTIONS

        class_names = META_ACTIONS
    return class_names[idle_id] if 0 <= idle_id < len(class_names) else "idle"


def _plot_forecast(path: Path, forecasts: Mapping[str, Sequence[tuple[float, Any]]], gt: Sequence[GtSegment], end_s: float,
                   class_names: Sequence[str] | None = None, idle_id: int = NO_ACTION_ID) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from harnets_core.datasets.inhard import META_ACTIONS

    src, items = next(iter(forecasts.items()))
    t = np.array([s for s, _ in items])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(14, 6), sharex=True)
    acts = [s for s in sorted(gt) if s.class_id not in (idle_id, NONE)]
    for seg in acts:
        ax1.plot([seg.start_s, seg.end_s], [seg.end_s - seg.start_s, 0.0], color="black", lw=1)
    ax1.fill_between(t, [f.remaining_s[0] for _, f in items], [f.remaining_s[2] for _, f in items],
                     step="post", alpha=0.3, label="p10-p90")
    ax1.step(t, [f.remaining_s[1] for _, f in items], where="post", label="p50")
    ax1.set_ylabel("remaining s")
    ax1.legend(loc="upper right", fontsize=8)
    ax1.set_title(f"{src}: forecast remaining time (black: truth) and next activity")
    follow = _activity_segments(gt, idle_id)
    for cur, nxt in zip(follow, follow[1:]):
        ax2.plot([cur.start_s, cur.end_s], [nxt.class_id, nxt.class_id], color="black", lw=6, alpha=0.3)
    ax2.step(t, [f.next_ids[0] if f.next_ids else -1 for _, f in items], where="post", label="forecast next")
    names = META_ACTIONS if class_names is None else class_names
    ax2.set_yticks(range(len(names)), names, fontsize=7)
    ax2.set_xlabel("session time s")
    ax2.set_xlim(0, end_s)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
