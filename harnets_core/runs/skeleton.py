"""Training, evaluation and prediction runs: what `harnets train/evaluate/predict` do.

Every run writes into its own folder: the model file (`model.safetensors`, which carries
class names, preprocessing, window and skeleton), `history.json`, and a `report/` folder.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from harnets_core.formats.bvh import BvhClip, read_bvh
from harnets_core.datasets.selection import DataSelection, WindowSet, select_data, skeleton_windows
from harnets_core.errors import ConfigError, ModelFileError
from harnets_core.evaluation.metrics import baselines, compute_metrics, write_report
from harnets_core.features.skeleton import FeatureConfig, Normalizer
from harnets_core.models.modelfile import LoadedModel, load_model, model_id
from harnets_core.models import LSTMClassifier, LSTMConfig
from harnets_core.features.pipeline import SkeletonPipeline, pipeline_from_meta, skeleton_meta
from harnets_core.training.loop import ArrayDataset, TrainConfig, TrainResult, fit

__all__ = [
    "SkeletonOptions",
    "ModelOptions",
    "Prepared",
    "prepare_skeleton",
    "train_run",
    "evaluate_run",
    "predict_clip_probs",
    "predict_timeline",
]


@dataclass
class SkeletonOptions:
    """Window and features of a skeleton model. HARNets used 150 or 200 frames at 120 Hz
    (1.25 or 1.67 s); the default resamples to 30 Hz, which keeps the motion (arm movements
    are well below 10 Hz) and makes the LSTM 4x shorter."""

    window_s: float = 200 * 0.008401
    hop_s: float = 0.25
    rate_hz: float = 30.0
    features: FeatureConfig = field(default_factory=FeatureConfig)
    short_policy: str = "pad"
    windows: str = "stream"  # "stream": over whole sessions, newest-frame label; "segments": inside annotations
    background: bool = True  # idle ("No action") as a class, from the unannotated time
    train_hop_s: float | None = None  # hop between TRAINING windows (default hop_s; streaming always uses hop_s)


@dataclass
class ModelOptions:
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.2


@dataclass
class Prepared:
    """Everything a training run needs, for any modality."""

    model: torch.nn.Module
    train: WindowSet
    val: WindowSet
    meta: dict[str, Any]
    selection: DataSelection


def _window_meta(window_s: float, hop_s: float, rate_hz: float, length: int, **extra: Any) -> dict[str, Any]:
    return {"window_s": float(window_s), "hop_s": float(hop_s), "rate_hz": float(rate_hz), "length": int(length), **extra}


def normalized_lstm_config(pipeline: Any, train: WindowSet, val: WindowSet, num_classes: int,
                           model_options: ModelOptions) -> LSTMConfig:
    """Fit the normalizer on the training windows (N, T, D), keep it in the pipeline (and so
    in the model file), normalize both splits, and size the LSTM for them."""
    normalizer = Normalizer.fit(train.x.reshape(-1, train.x.shape[-1]))
    pipeline.normalizer = normalizer
    train.x = normalizer(train.x).astype(np.float32)
    val.x = normalizer(val.x).astype(np.float32)
    return LSTMConfig(
        input_dim=int(train.x.shape[-1]),
        num_classes=num_classes,
        hidden_size=model_options.hidden_size,
        num_layers=model_options.num_layers,
        dropout=model_options.dropout,
    )


def prepare_skeleton(selection: DataSelection, options: SkeletonOptions, model_options: ModelOptions) -> Prepared:
    """Windows of both splits, the normalizer fitted on train, an untrained LSTM and its meta."""
    first = read_bvh(selection.template_bvh(), end_frame=1)
    pipeline = SkeletonPipeline(
        skeleton=first.skeleton,
        frame_time_s=first.frame_time_s,
        features=options.features,
        window_s=options.window_s,
        rate_hz=options.rate_hz,
    )
    timeline = None
    if selection.layout == "online" and (options.windows == "stream" or options.background):
        from harnets_core.datasets.stream_windows import timeline_training_windows

        selection, train, val, timeline = timeline_training_windows(
            selection, pipeline, hop_s=options.hop_s, mode=options.windows, background=options.background,
            short_policy=options.short_policy, train_hop_s=options.train_hop_s)
    else:
        train = skeleton_windows(selection, selection.train_sessions, pipeline, hop_s=options.hop_s, short_policy=options.short_policy)
        val = skeleton_windows(selection, selection.val_sessions, pipeline, hop_s=options.hop_s, short_policy=options.short_policy)
    config = normalized_lstm_config(pipeline, train, val, len(selection.class_ids), model_options)
    meta = {
        "model_type": "skeleton_lstm",
        "model_config": config.to_dict(),
        "modality": "skeleton",
        "class_names": selection.class_names,
        "class_ids": selection.class_ids,
        "preprocessing": pipeline.to_meta(),
        "window": _window_meta(options.window_s, options.hop_s, options.rate_hz, pipeline.length,
                               raw_length=pipeline.raw_length, short_policy=options.short_policy),
        "skeleton": skeleton_meta(first.skeleton, first.frame_time_s),
        "data": selection.to_dict(),
    }
    if timeline is not None:
        meta["timeline"] = timeline  # online segmentation filter + forecaster (streaming.segmentation)
    return Prepared(LSTMClassifier(config), train, val, meta, selection)


def train_run(prepared: Prepared, config: TrainConfig, out_dir: str | Path, *, resume: bool = False) -> tuple[TrainResult, dict[str, Any]]:
    """Fit, keep the best model, and write the validation report (`out_dir/report`)."""
    out = Path(out_dir)
    result = fit(
        prepared.model,
        _dataset(prepared.train),
        _dataset(prepared.val),
        config,
        out,
        prepared.meta,
        resume=resume,
    )
    metrics = evaluate_arrays(load_model(result.model_path), prepared.val, prepared.train.y, out / "report", history=result.history)
    return result, metrics


def _dataset(windows: WindowSet) -> Any:
    """The window set as a torch Dataset: its own lazy one (video frames gathered on access)
    or its arrays."""
    return windows.meta.get("dataset") or ArrayDataset(windows.x, windows.y)


@torch.no_grad()
def _predict_probs(model: torch.nn.Module, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        logits = model(torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size])))
        out.append(torch.softmax(logits, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def evaluate_arrays(
    loaded: LoadedModel,
    windows: WindowSet,
    train_labels: np.ndarray | None,
    out_dir: str | Path,
    *,
    history: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Window-level metrics of a model on normalized windows; writes the report folder."""
    probs = _predict_probs(loaded.model, windows.x)
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
    selection = select_data(data_root, classes=list(meta.class_ids), split=_split_of(data),
                            scenario=data.get("scenario", "all"), threshold_s=float(data.get("threshold_s", 3.0)),
                            layout=layout or str(data.get("layout", "auto")), modality=meta.modality)
    if sessions is not None:
        eval_sessions = list(sessions)
    else:
        eval_sessions = data.get("val_sessions") or selection.val_sessions
    if meta.modality != "skeleton":
        from harnets_core.runs.frames import frame_windows_for_model  # rgb / pose

        windows = frame_windows_for_model(loaded, selection, eval_sessions)
    else:
        pipeline = pipeline_from_meta(meta)
        timeline = meta.get("timeline") or {}
        if timeline.get("windows") and selection.layout == "online":  # the windows it was trained on (stream, idle)
            from harnets_core.datasets.stream_windows import stream_windows, with_background

            background = bool(timeline.get("background"))
            windows = stream_windows(with_background(selection) if background else selection, eval_sessions, pipeline,
                                     hop_s=float(meta.window["hop_s"]), background=background, mode=timeline["windows"],
                                     short_policy=meta.window.get("short_policy", "pad"))
        else:
            windows = skeleton_windows(selection, eval_sessions, pipeline, hop_s=float(meta.window["hop_s"]),
                                       short_policy=meta.window.get("short_policy", "pad"))
        windows.x = pipeline.normalizer(windows.x).astype(np.float32) if pipeline.normalizer else windows.x
    metrics = evaluate_arrays(loaded, windows, None, out_dir)
    metrics["model_id"] = model_id(model_path)
    Path(out_dir, "metrics.json").write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    return metrics


def _split_of(data: dict[str, Any]) -> str:
    return str(data.get("split", "official"))


# ----------------------------------------------------------------------------- prediction
def predict_clip_probs(loaded: LoadedModel, clip: BvhClip) -> tuple[np.ndarray, int]:
    """Class probabilities (K,) of a segmented clip: the mean over its windows (hop of the
    model); a clip shorter than a window is edge-padded like in training. Returns (probs, n_windows)."""
    from harnets_core.datasets.windows import WindowConfig, segment_windows

    pipeline = pipeline_from_meta(loaded.meta)
    _check_clip(loaded, clip)
    hop = max(1, int(round(float(loaded.meta.window["hop_s"]) / pipeline.frame_time_s)))
    batch = segment_windows(clip.motion, 0, clip.n_frames - 1, 0, WindowConfig(pipeline.raw_length, hop, "pad"))
    probs = _predict_probs(loaded.model, pipeline.window_features(batch.x))
    return probs.mean(axis=0), len(probs)


def _check_clip(loaded: LoadedModel, clip: BvhClip) -> None:
    from harnets_core.models.modelfile import check_skeleton

    try:
        check_skeleton(loaded.meta, clip.skeleton.joint_names, clip.skeleton.channel_names)
    except ModelFileError as err:
        raise ModelFileError(f"{clip.path}: {err}") from err


def predict_timeline(model_path: str | Path, clip: BvhClip, *, hop_s: float | None = None) -> list[Any]:
    """Predictions over a full session, by the same streaming recognizer the nodes use
    (frame i stamped i * frame_time_s)."""
    from harnets_core.streaming.recognizer import load_recognizer

    recognizer = load_recognizer(model_path, modality="skeleton", hop_s=hop_s, max_gap_s=10.0)
    recognizer.check_layout(clip.skeleton.joint_names, [c.split(".", 1)[1] for c in clip.skeleton.channel_names], where=str(clip.path))
    out = []
    step_ns = clip.frame_time_s * 1e9
    for i, values in enumerate(clip.motion.astype(np.float32)):
        prediction = recognizer.push(values, int(round(i * step_ns)))
        if prediction is not None:
            out.append(prediction)
    return out


def write_timeline(predictions: Sequence[Any], path: str | Path) -> Path:
    """Timeline as CSV (`.csv`) or JSON (anything else): time, window start, label, confidence,
    and every class probability."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not predictions:
        raise ConfigError(f"{path}: no predictions to write (is the recording shorter than one window?)")
    names = list(predictions[0].class_names)
    rows = [
        {
            "time_s": p.stamp_ns / 1e9,
            "window_start_s": p.window_start_ns / 1e9,
            "label": p.label,
            "class_id": p.class_id,
            "confidence": round(p.confidence, 6),
            **{f"p_{n}": round(float(v), 6) for n, v in zip(names, p.probabilities)},
        }
        for p in predictions
    ]
    if path.suffix.lower() == ".csv":
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text(json.dumps({"class_names": names, "predictions": rows}, indent=1) + "\n")
    return path


def plot_timeline(predictions: Sequence[Any], path: str | Path, title: str = "") -> Path:
    """Top-1 label over time, coloured by class, with the confidence as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(predictions[0].class_names)
    t = np.array([p.stamp_ns / 1e9 for p in predictions])
    idx = np.array([p.index for p in predictions])
    conf = np.array([p.confidence for p in predictions])
    cmap = plt.get_cmap("tab20")
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 4), sharex=True, gridspec_kw={"height_ratios": [1, 1]})
    dt = np.diff(t, append=t[-1] + (t[-1] - t[-2] if len(t) > 1 else 0.25))
    for k, name in enumerate(names):
        sel = idx == k
        if sel.any():
            ax1.bar(t[sel], 1.0, width=dt[sel], align="edge", color=cmap(k % 20), label=name)
    ax1.set_yticks([])
    ax1.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax1.set_title(title or "recognized activity")
    ax2.plot(t, conf, color="black", lw=1)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("confidence")
    ax2.set_xlabel("time (s)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
