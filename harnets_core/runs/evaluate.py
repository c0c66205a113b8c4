"""Evaluating a model file on a dataset: window-level metrics and the report folder."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harnets_core.datasets.frames import default_cache, frame_windows, with_video_idle
from harnets_core.datasets.stream_windows import BACKGROUND_NAME, STREAM_LAYOUTS, stream_selection, stream_windows, with_background
from harnets_core.datasets.selection import DataSelection, WindowSet, select_data, skeleton_windows
from harnets_core.errors import ConfigError
from harnets_core.evaluation.metrics import baselines, compute_metrics, write_report
from harnets_core.features.pipeline import FramePipeline, pipeline_from_meta
from harnets_core.formats.frame_cache import FrameCache
from harnets_core.models.modelfile import LoadedModel, load_model, model_id
from harnets_core.runs.predict import predict_probs

__all__ = ["evaluate_arrays", "evaluate_run", "frame_windows_for_model"]

def evaluate_arrays(
    loaded: LoadedModel,
    windows: WindowSet,
    train_labels: np.ndarray | None,
    out_dir: str | Path,
    *,
    history: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Window-level metrics of a model on normalized windows; writes the report folder."""
    probs = predict_probs(loaded.model, windows.x)
    pred = probs.argmax(axis=1)
    names = loaded.meta.class_names
    metrics = compute_metrics(windows.y, pred, names)
    reference = train_labels if train_labels is not None else windows.y
    metrics["baselines"] = baselines(reference, len(names), windows.y)
    metrics["sessions"] = sorted(set(windows.session.tolist()))
    metrics["n_windows"] = int(len(windows))
    write_report(out_dir, metrics, names, history=history or loaded.meta.get("history"))
    return metrics


def evaluate_run(model_path: str | Path, data_root: str | Path, out_dir: str | Path, *,
                 sessions: Sequence[str] | None = None, layout: str | None = None) -> dict[str, Any]:
    """Evaluate a model file on a dataset's validation sessions (of the model's split) or on
    the given sessions, with the model's own classes, window and preprocessing. ``layout``
    (online, segmented or auto) reads the dataset in that layout; None: the model's."""
    loaded = load_model(model_path)
    meta = loaded.meta
    data = dict(meta.get("data") or {})
    own = str(layout or data.get("layout")) in ("classes", "sessions")  # own class names: matched by name
    timeline = meta.get("timeline") or {}
    # own data: classes by name (idle, which a stream model adds, is not one of the data's)
    names = [n for n in meta.class_names if not (timeline.get("background") and n == BACKGROUND_NAME)]
    selection = select_data(data_root, classes=list(names if own else meta.class_ids), split=_split_of(data),
                            scenario=data.get("scenario", "all"), threshold_s=float(data.get("threshold_s", 3.0)),
                            layout=layout or str(data.get("layout", "auto")), modality=meta.modality,
                            group_pattern=data.get("group_pattern") if own else None)
    if sessions is not None:
        eval_sessions = list(sessions)
    else:
        eval_sessions = data.get("val_sessions") or selection.val_sessions
    if meta.modality != "skeleton":
        windows = frame_windows_for_model(loaded, selection, eval_sessions)
    else:
        pipeline = pipeline_from_meta(meta)
        if timeline.get("windows") and selection.layout in STREAM_LAYOUTS:  # the windows it was trained on (stream, idle)
            background = bool(timeline.get("background"))
            chosen = stream_selection(selection)  # own sessions: the ids it was trained with (0 is idle)
            windows = stream_windows(with_background(chosen) if background else chosen, eval_sessions, pipeline,
                                     hop_s=meta.hop_s, background=background, mode=timeline["windows"],
                                     short_policy=meta.short_policy)
        else:
            windows = skeleton_windows(selection, eval_sessions, pipeline, hop_s=meta.hop_s,
                                       short_policy=meta.short_policy)
        windows.x = pipeline.normalizer(windows.x).astype(np.float32) if pipeline.normalizer else windows.x
    metrics = evaluate_arrays(loaded, windows, None, out_dir)
    metrics["model_id"] = model_id(model_path)
    Path(out_dir, "metrics.json").write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    return metrics


def _split_of(data: dict[str, Any]) -> str:
    return str(data.get("split", "official"))


def frame_windows_for_model(
    loaded: LoadedModel, selection: DataSelection, sessions: Sequence[str], *, cache: FrameCache | None = None,
) -> WindowSet:
    """Windows of ``sessions`` with a model file's own view, size, rate, window and hop (and,
    for pose, its extractor and normalizer), ready for the model (runs.evaluate_run)."""
    meta = loaded.meta
    pipeline = pipeline_from_meta(meta)
    if not isinstance(pipeline, FramePipeline):
        raise ConfigError(f"{meta.source or 'model file'}: a {meta.modality!r} model has no video windows")
    idle = None
    if (meta.get("timeline") or {}).get("background"):  # trained with idle: its windows too
        selection, idle = with_video_idle(selection)
    windows = frame_windows(selection, sessions, pipeline, cache or default_cache(selection.root), meta.hop_s,
                            idle_after=idle)
    if pipeline.kind == "pose" and pipeline.normalizer is not None:
        windows.x = pipeline.normalizer(windows.x).astype(np.float32)
    return windows
