"""Record once, replay many times, score: session bags and offline replay evaluation.

`bag_from_inhard` writes one InHARD session as a rosbag2 (skeleton frames, camera images,
ground truth, one clock). `replay_offline` reads a bag and runs the SAME streaming
recognizers the nodes use (harnets_core.streaming.recognizer), as fast as the CPU allows and
deterministically, then scores them with harnets_core.evaluation.timeline. The live path
(harnets_ros.live_replay) plays the bag through the node graph and scores the same way.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from harnets_core.formats.bags import (
    ACTIVITY_TYPE,
    COMPRESSED_IMAGE_TYPE,
    IMAGE_TYPE,
    SKELETON_FRAME_TYPE,
    bag_topics,
    read_bag,
)
from harnets_core.formats.messages import image_to_numpy
from harnets_core.formats.session_bag import write_session_bag
from harnets_core.formats.bvh import read_bvh
from harnets_core.errors import BagError, DatasetError, StreamError
from harnets_core.datasets.inhard import META_ACTIONS, NO_ACTION_ID, InhardLayout
from harnets_core.evaluation.class_table import align_classes, bag_class_names
from harnets_core.evaluation.timeline import TimedLabel, activities_from_bag, segments_from_stream, write_timeline_report
from harnets_core.topology import GROUND_TRUTH_SOURCE
from harnets_core.streaming.forecast import Forecaster

__all__ = [
    "bag_from_inhard",
    "ground_truth_from_bag",
    "replay_offline",
    "score_replay",
    "score_timed",
    "to_timed",
    "print_headline",
    "BAG_START_NS",
]

# Bag time of session time 0: a fixed, recognizable epoch (2020-01-01T00:00:00Z) so that
# replays are deterministic and stamps never look like "now".
BAG_START_NS = 1_577_836_800_000_000_000


def bag_from_inhard(
    root: str | Path,
    session: str,
    out: str | Path,
    *,
    storage: str = "mcap",
    images: str = "raw",
    start_s: float = 0.0,
    end_s: float | None = None,
) -> dict[str, int]:
    """One session of an InHARD-layout dataset as a rosbag2; returns messages per topic."""
    layout = InhardLayout(root)
    clip = read_bvh(layout.session_bvh(session))
    segments = [s for s in layout.annotations("online") if s.session == session]
    if not segments:
        raise DatasetError(f"{layout.annotations_path('online')}: no annotated segment of session {session}")
    video = None
    if images != "none":
        video = layout.session_video(session)
    return write_session_bag(
        out, clip=clip, segments=segments, video_path=video, start_time_ns=BAG_START_NS, storage=storage,
        image_format="compressed" if images == "compressed" else "raw", start_s=start_s, end_s=end_s,
        class_names=list(META_ACTIONS),
    )


def _topics_by_type(bag: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for topic, info in bag_topics(bag).items():
        out.setdefault(info.msgtype, []).append(topic)
    return out


def ground_truth_from_bag(bag: str | Path) -> list[TimedLabel]:
    """The annotated labels of a session bag, for the offline and the live replay alike: its
    ``harnets/msg/Activity`` messages of source ``ground_truth``, in seconds of session time
    (header stamp - ``BAG_START_NS``), time-ordered. A pass of its own over the bag's Activity
    topics, made before a replay starts: a bag without ground truth fails at once.

    Raises:
        BagError: the bag is missing or unreadable, or has no ground-truth message (names the bag).
    """
    activity = [topic for topic, info in bag_topics(bag).items() if info.msgtype == ACTIVITY_TYPE]
    predictions, _ = activities_from_bag(bag, activity, t0_ns=BAG_START_NS)
    labels = [TimedLabel(p.stamp_s, p.class_id) for p in predictions.get(GROUND_TRUTH_SOURCE, [])]
    if not labels:
        raise BagError(f"{bag}: no ground-truth Activity messages (source {GROUND_TRUTH_SOURCE!r}) to score against")
    return sorted(labels)


def replay_offline(bag: str | Path, models: Mapping[str, str | Path], out_dir: str | Path, *, fusion: bool = True,
                   backend: str = "auto") -> dict[str, Any]:
    """Stream every message of the bag, in time order, through one streaming recognizer per
    model (`models`: source -> model file), fuse them, and write the report into out_dir.
    `backend`: what runs the models (streaming.recognizer.load_recognizer)."""
    from harnets_core.streaming.recognizer import load_recognizer

    bag = Path(bag)
    gt_stream = ground_truth_from_bag(bag)
    recognizers = {src: load_recognizer(path, modality=src, max_gap_s=0.5, backend=backend) for src, path in models.items()}
    model_classes = {src: (rec.class_ids, rec.class_names) for src, rec in recognizers.items()}
    align_classes(bag_class_names(bag), model_classes)  # a model of another dataset fails before the replay
    by_type = _topics_by_type(bag)
    skeleton_topics = by_type.get(SKELETON_FRAME_TYPE, [])
    image_topics = by_type.get(IMAGE_TYPE, []) + by_type.get(COMPRESSED_IMAGE_TYPE, [])
    if "skeleton" in recognizers and not skeleton_topics:
        raise BagError(f"{bag}: no harnets/msg/SkeletonFrame topic for the skeleton model")
    if {"rgb", "pose"} & set(recognizers) and not image_topics:
        raise BagError(f"{bag}: no sensor_msgs Image/CompressedImage topic for the camera models")
    predictions: dict[str, list[Any]] = {src: [] for src in recognizers}
    checked = False
    invalid = 0
    wanted = skeleton_topics * ("skeleton" in recognizers) + image_topics * bool({"rgb", "pose"} & set(recognizers))
    # the scored time runs to the bag's last message, ground truth included
    last_stamp_ns = BAG_START_NS + round(gt_stream[-1].stamp_s * 1e9)
    for item in read_bag(bag, wanted):
        msg = item.msg
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        last_stamp_ns = max(last_stamp_ns, stamp_ns)
        try:
            if item.msgtype == SKELETON_FRAME_TYPE:
                rec = recognizers["skeleton"]
                if not checked:
                    try:
                        rec.check_layout(list(msg.joint_names), list(msg.channel_types), where=f"{bag}:{item.topic}",
                                         channel_counts=list(msg.channel_counts))
                    except StreamError as err:  # every frame would fail: the bag does not fit the model
                        raise BagError(f"the skeleton model {models['skeleton']}: {err}") from err
                    checked = True
                outs = [("skeleton", rec.push(np.asarray(msg.values, dtype=np.float32), stamp_ns))]
            else:
                frame = image_to_numpy(msg, topic=item.topic)
                outs = [(src, recognizers[src].push(frame, stamp_ns)) for src in ("rgb", "pose") if src in recognizers]
        except StreamError:
            invalid += 1
            continue
        for src, pred in outs:
            if pred is not None:
                predictions[src].append(pred)
    if fusion and len(recognizers) > 1:
        # the fused timeline is forecast with the first model's forecaster (as the fusion node does)
        first = next((rec.forecaster for rec in recognizers.values() if rec.forecaster is not None), None)
        forecaster = Forecaster(first.model) if first is not None else None
        predictions["fusion"] = fuse_offline(predictions, forecaster=forecaster)
    end_s = (last_stamp_ns - BAG_START_NS) / 1e9
    timed = to_timed(predictions)
    forecasts, forecast_models = {}, {}
    for src, rec in recognizers.items():
        if rec.segmenter is not None:  # the same windows without the segmentation filter, for comparison
            timed[f"{src}_unfiltered"] = [
                TimedLabel((p.stamp_ns - BAG_START_NS) / 1e9, int(p.class_ids[int(np.argmax(p.raw_probabilities))]),
                           float(np.max(p.raw_probabilities)))
                for p in predictions[src]
            ]
        if rec.forecaster is not None:
            forecasts[src] = [((p.stamp_ns - BAG_START_NS) / 1e9, p.forecast) for p in predictions[src]]
            forecast_models[src] = rec.forecaster.model
    if predictions.get("fusion") and predictions["fusion"][0].forecast is not None:
        forecasts["fusion"] = [((p.stamp_ns - BAG_START_NS) / 1e9, p.forecast) for p in predictions["fusion"]]
        forecast_models["fusion"] = first.model
    metrics = score_replay(bag, timed, gt_stream, out_dir, model_classes=model_classes, end_s=end_s,
                           title=f"offline replay of {bag.name}", forecasts=forecasts, forecast_models=forecast_models)
    metrics["invalid_messages"] = invalid
    return metrics


def fuse_offline(predictions: Mapping[str, list[Any]], *, forecaster: Any = None) -> list[Any]:
    """Late fusion of time-ordered prediction streams (the fusion node's logic, offline): the
    recognizers' (filtered) probabilities, and with ``forecaster`` a forecast on the fused timeline."""
    from harnets_core.streaming.fusion import LateFusion

    fusion = LateFusion(weights={src: 1.0 for src in predictions}, staleness_s=1.0, forecaster=forecaster)
    merged = sorted((p.stamp_ns, src, p) for src, preds in predictions.items() for p in preds)
    out = []
    for _, src, p in merged:
        fused = fusion.update(src, p.stamp_ns, p.window_start_ns, p.class_names, p.class_ids, p.probabilities, 0.0)
        if fused is not None:
            out.append(fused)
    return out


def to_timed(predictions: Mapping[str, list[Any]]) -> dict[str, list[TimedLabel]]:
    """streaming.Prediction lists -> timeline labels in seconds of session time."""
    return {
        src: [TimedLabel((p.stamp_ns - BAG_START_NS) / 1e9, int(p.class_id), float(p.confidence)) for p in preds]
        for src, preds in predictions.items()
    }


def score_replay(
    bag: str | Path,
    timed: Mapping[str, list[TimedLabel]],
    gt_stream: list[TimedLabel],
    out_dir: str | Path,
    *,
    model_classes: Mapping[str, tuple[Sequence[int], Sequence[str]]],
    forecasts: Mapping[str, list[tuple[float, Any]]] | None = None,
    forecast_models: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`score_timed` on the bag's own classes: the ground truth's class names (InHARD's,
    or the user's), each model's ids mapped onto them by name and idle as the bag's "No action"
    (appended when the bag has none), see :mod:`harnets_core.evaluation.class_table`.
    ``model_classes``: source -> ``(class_ids, class_names)`` of its model; every other source
    (fusion, ``*_unfiltered``) uses the same ids. Forecasts are scored only where the model's
    ids are the bag's. ``kwargs``: ``end_s``, ``latencies``, ``title`` of :func:`score_timed`."""
    table = align_classes(bag_class_names(bag), model_classes)
    if not table.identity:
        timed = {src: table.remap(labels) for src, labels in timed.items()}
        forecasts = forecast_models = None  # forecast ids are the model's: not comparable
    metrics = score_timed(timed, gt_stream, out_dir, class_names=table.names, idle_id=table.idle_id,
                          forecasts=forecasts, forecast_models=forecast_models, **kwargs)
    metrics["classes"] = table.to_dict()
    return metrics


def score_timed(
    timed: Mapping[str, list[TimedLabel]],
    gt_stream: list[TimedLabel],
    out_dir: str | Path,
    *,
    end_s: float,
    latencies: Mapping[str, list[float]] | None = None,
    title: str = "replay",
    forecasts: Mapping[str, list[tuple[float, Any]]] | None = None,
    forecast_models: Mapping[str, Any] | None = None,
    class_names: Sequence[str] = META_ACTIONS,
    idle_id: int = NO_ACTION_ID,
) -> dict[str, Any]:
    """Frame-wise and segment-level scores of each source against the ground-truth stream;
    writes the report folder (report.md, metrics.json, timeline.png, confusion matrices).
    Each source also gets ``all_time`` scores (idle filled in, harnets_core.evaluation.stream_metrics)
    and, with ``forecasts`` (source -> ``(stamp_s, Forecast)``) and their ``forecast_models``,
    ``forecast`` scores. ``class_names`` by class id (default InHARD's) and ``idle_id`` (the class
    unannotated time is) name the classes."""
    from harnets_core.evaluation.stream_metrics import all_time_metrics, forecast_metrics, write_stream_report

    if not gt_stream:
        raise BagError("the bag has no ground-truth Activity messages (source 'ground_truth')")
    gt = segments_from_stream(gt_stream, end_s=end_s)
    results = write_timeline_report(out_dir, gt, timed, list(class_names), latencies_by_source=latencies, title=title,
                                    forecasts=forecasts)
    summary = {src: _as_dict(m) for src, m in results.items()}
    class_ids = list(range(len(class_names)))
    for src in summary:
        summary[src]["all_time"] = all_time_metrics(gt, timed[src], class_ids, end_s=end_s, idle_id=idle_id)
        if forecasts and src in forecasts and forecast_models and src in forecast_models:
            summary[src]["forecast"] = forecast_metrics(gt, forecasts[src], forecast_models[src], idle_id=idle_id)
    write_stream_report(out_dir, summary, forecasts or {}, gt, end_s, class_names=class_names, idle_id=idle_id)
    Path(out_dir, "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    return {"sources": summary, "out_dir": str(out_dir), "n_gt_segments": len(gt)}


def _as_dict(metrics: Any) -> dict[str, Any]:
    if hasattr(metrics, "to_dict"):
        return metrics.to_dict()
    if hasattr(metrics, "_asdict"):
        return metrics._asdict()
    return dict(vars(metrics))


def print_headline(metrics: Mapping[str, Any], out_dir: str | Path) -> None:
    """One line per source: frame accuracy, macro-F1, F1@0.5, detection delay, latency (labeled
    time), then the all-time and forecast scores when present."""
    for src, m in metrics["sources"].items():
        whole = m.get("all_time")
        if whole:
            f1w = (whole.get("segment_f1") or {}).get("0.5", {}).get("f1", 0.0)
            med = (whole.get("delay") or {}).get("median_s")
            idle = whole.get("idle_recall")
            print(f"{src:<9}  all time: frame accuracy {whole['frame']['accuracy']:.3f}  macro-F1 {whole['frame']['macro_f1']:.3f}"
                  f"  F1@0.5 {f1w:.3f}  edit {whole['edit']:.1f}"
                  + (f"  median delay {med:.2f} s" if med is not None else "")
                  + (f"  idle recall {idle:.3f}" if idle is not None else ""))
        fc = m.get("forecast")
        if fc:
            nxt, rem = fc["next_activity"], fc["remaining_time"]
            if nxt["accuracy"] is not None:
                print(f"{src:<9}  forecast: next activity {nxt['accuracy']:.3f} (majority transition "
                      f"{nxt['majority_transition_accuracy']:.3f}, uniform {nxt['uniform_accuracy']:.3f}, "
                      f"{nxt['n_transitions']} transitions)"
                      + (f"  remaining-time MAE {rem['mae_s']:.2f} s (mean duration {rem['mean_duration_baseline_mae_s']:.2f} s)"
                         if rem["mae_s"] is not None else ""))
        frame = m.get("frame") or {}
        f1_50 = (m.get("segment_f1") or {}).get("0.5", {}).get("f1")
        delay = m.get("delay") or {}
        latency = m.get("latency") or {}
        parts = [f"{src:<9}", f"frame accuracy {frame.get('accuracy', 0):.3f}", f"macro-F1 {frame.get('macro_f1', 0):.3f}"]
        if f1_50 is not None:
            parts.append(f"F1@0.5 {f1_50:.3f}")
        if delay.get("mean_s") is not None:
            parts.append(f"detection delay {delay['mean_s']:.2f} s (missed {100 * delay.get('miss_rate', 0):.0f} %)")
        if latency.get("p95_ms") is not None:
            parts.append(f"latency p95 {latency['p95_ms']:.1f} ms")
        print(f"{'':<9}  labeled time: " + "  ".join(parts[1:]) if m.get("all_time") else "  ".join(parts))
    print(f"report: {Path(out_dir) / 'report.md'}")
