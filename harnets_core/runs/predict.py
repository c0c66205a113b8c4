"""Prediction: a clip's class (the mean over its windows) or a recording's timeline (by the
same streaming recognizer as the ROS nodes), for skeleton clips and videos."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harnets_core.datasets.frames import FrameWindows, pose_encodings, session_frames, span_windows
from harnets_core.datasets.windows import WindowConfig, segment_windows
from harnets_core.errors import ConfigError, ModelFileError
from harnets_core.features.pipeline import FramePipeline, pipeline_from_meta
from harnets_core.formats.bvh import BvhClip
from harnets_core.formats.video import frame_stamps_ns, iter_frames, probe_video
from harnets_core.models.modelfile import LoadedModel, check_skeleton, load_model
from harnets_core.runs.annotate import render_predictions_video
from harnets_core.streaming.recognizer import Prediction, load_recognizer

__all__ = ["AUTO_TIMELINE_S", "predict_probs", "predict_clip_probs", "predict_timeline", "VideoPrediction", "predict_video"]

AUTO_TIMELINE_S = 30.0
"""predict_video(mode="auto"): videos longer than this get a timeline, shorter ones one class."""


@torch.no_grad()
def predict_probs(model: torch.nn.Module, x: Any, batch_size: int = 32) -> np.ndarray:
    """Softmax probabilities (N, K) float32 of windows ``x`` (FrameWindows (N, T, 3, h, w) or
    (N, T, D) features), in batches of ``batch_size``."""
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        logits = model(torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size])))  # (b, K)
        out.append(torch.softmax(logits, dim=-1).numpy().astype(np.float32))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def predict_clip_probs(loaded: LoadedModel, clip: BvhClip) -> tuple[np.ndarray, int]:
    """Class probabilities (K,) of a segmented clip: the mean over its windows (hop of the
    model); a clip shorter than a window is edge-padded like in training. Returns (probs, n_windows)."""
    pipeline = pipeline_from_meta(loaded.meta)
    _check_clip(loaded, clip)
    hop = max(1, int(round(loaded.meta.hop_s / pipeline.frame_time_s)))
    batch = segment_windows(clip.motion, 0, clip.n_frames - 1, 0, WindowConfig(pipeline.raw_length, hop, "pad"))
    probs = predict_probs(loaded.model, pipeline.window_features(batch.x))
    return probs.mean(axis=0), len(probs)


def _check_clip(loaded: LoadedModel, clip: BvhClip) -> None:
    try:
        check_skeleton(loaded.meta, clip.skeleton.joint_names, clip.skeleton.channel_names)
    except ModelFileError as err:
        raise ModelFileError(f"{clip.path}: {err}") from err


def predict_timeline(model_path: str | Path, clip: BvhClip, *, hop_s: float | None = None) -> list[Prediction]:
    """Predictions over a full session, by the same streaming recognizer the nodes use
    (frame i stamped i * frame_time_s)."""
    recognizer = load_recognizer(model_path, modality="skeleton", hop_s=hop_s, max_gap_s=10.0)
    recognizer.check_layout(clip.skeleton.joint_names, [c.split(".", 1)[1] for c in clip.skeleton.channel_names], where=str(clip.path))
    out = []
    step_ns = clip.frame_time_s * 1e9
    for i, values in enumerate(clip.motion.astype(np.float32)):
        prediction = recognizer.push(values, int(round(i * step_ns)))
        if prediction is not None:
            out.append(prediction)
    return out


@dataclass
class VideoPrediction:
    """What predict_video found. ``probabilities`` (K,): clip mode the mean over the clip's
    windows, timeline mode the mean over all predictions; ``predictions`` the timeline
    (streaming Predictions, timeline mode only)."""

    video: Path
    mode: str  # "clip" or "timeline"
    class_names: tuple[str, ...]
    probabilities: np.ndarray
    n_windows: int
    predictions: list[Any] = field(default_factory=list)
    out_video: Path | None = None

    @property
    def label(self) -> str:
        return self.class_names[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))


def _clip_probs(loaded: LoadedModel, video: Path) -> tuple[np.ndarray, int]:
    """Offline: windows over the whole clip (hop of the model, edge-padded when short)."""
    pipeline = pipeline_from_meta(loaded.meta)
    if not isinstance(pipeline, FramePipeline):
        raise ConfigError(f"{video}: a {loaded.meta.modality!r} model cannot read a video")
    frames = session_frames(video, pipeline, None)
    hop = max(1, int(round(loaded.meta.hop_s * pipeline.rate_hz)))
    index = span_windows(0, len(frames.frame_index), pipeline.length, hop)  # (N, T)
    if pipeline.kind == "rgb":
        x: Any = FrameWindows([frames.data], np.zeros(len(index), np.int64), index)
    else:
        enc = pose_encodings(frames.data, pipeline)
        if pipeline.normalizer is not None:
            enc = pipeline.normalizer(enc).astype(np.float32)
        x = enc[index]  # (N, T, D)
    probs = predict_probs(loaded.model, x)
    return probs.mean(axis=0), len(probs)


def predict_video(
    model_path: str | Path,
    video_path: str | Path,
    *,
    mode: str = "auto",
    out_video: str | Path | None = None,
    hop_s: float | None = None,
) -> VideoPrediction:
    """Recognize the activity in a video (an InHARD mosaic, or a single camera for view "full").

    ``mode="clip"``: one class for the whole video, the mean of the window probabilities
    (windows every hop_s, edge-padded when the clip is shorter than a window). ``"timeline"``:
    a prediction every ``hop_s`` (default: the model's) by the SAME streaming recognizer as
    the ROS nodes (streaming.load_recognizer; every decoded frame pushed with stamp
    ``k / fps``). ``"auto"``: timeline when the video is longer than AUTO_TIMELINE_S.
    ``out_video``: the video again with the label and confidence drawn on every frame.
    """
    video = Path(video_path)
    if mode not in ("auto", "clip", "timeline"):
        raise ConfigError(f"predict_video mode {mode!r}: use auto, clip or timeline")
    info = probe_video(video)
    if mode == "auto":
        mode = "timeline" if info.duration_s > AUTO_TIMELINE_S else "clip"
    loaded = load_model(model_path)
    names = tuple(loaded.meta.class_names)
    if mode == "clip":
        probs, n = _clip_probs(loaded, video)
        result = VideoPrediction(video, mode, names, probs.astype(np.float32), n)
    else:
        recognizer = load_recognizer(model_path, hop_s=hop_s, max_gap_s=10.0)
        if recognizer.source not in ("rgb", "pose"):
            raise ConfigError(f"{model_path}: a {recognizer.source!r} model cannot read {video} (a video)")
        stamps = frame_stamps_ns(info.n_frames, info.fps)
        predictions = []
        for k, frame in enumerate(iter_frames(video, view="full", size_hw=None, info=info)):
            p = recognizer.push(frame, int(stamps[k]))
            if p is not None:
                predictions.append(p)
        if not predictions:
            raise ConfigError(f"{video}: {info.duration_s:.2f} s is shorter than one window of the model; use mode='clip'")
        probs = np.mean([p.probabilities for p in predictions], axis=0).astype(np.float32)
        result = VideoPrediction(video, mode, names, probs, len(predictions), predictions)
    if out_video is not None:
        clip = (result.label, result.confidence) if mode == "clip" else None
        render_predictions_video(video, out_video, predictions=result.predictions, clip=clip)
        result.out_video = Path(out_video)
    return result
