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
from harnets_core.features.view_check import InputCheck, InputMonitor, check_frames, seam_score
from harnets_core.formats.video import VIEWS, VideoInfo, frame_stamps_ns, iter_frames, probe_video, read_frames_at
from harnets_core.models.modelfile import LoadedModel, check_skeleton, load_model
from harnets_core.runs.annotate import render_predictions_video
from harnets_core.streaming.recognizer import Prediction, load_recognizer

__all__ = ["AUTO_TIMELINE_S", "CHECK_FRAMES", "predict_probs", "predict_clip_probs", "predict_timeline", "view_override",
           "VideoPrediction", "predict_video"]

AUTO_TIMELINE_S = 30.0
"""predict_video(mode="auto"): videos longer than this get a timeline, shorter ones one class."""

CHECK_FRAMES = 8
"""Frames of a video predict_video scores for mosaic seams (evenly spread over it)."""


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
    recognizer.check_layout(clip.skeleton.joint_names, [c.split(".", 1)[1] for c in clip.skeleton.channel_names], where=str(clip.path),
                            channel_counts=[len(j.channels) for j in clip.skeleton.joints if not j.is_end_site])
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
    view: str = ""  # the view the frames were cropped to (the model's, or the override)
    input_check: InputCheck | None = None  # does the video fit the view; pose: person fraction
    window_person_fractions: list[float | None] = field(default_factory=list)  # pose, timeline: per prediction

    @property
    def label(self) -> str:
        return self.class_names[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))


def view_override(meta: Any, view: str | None) -> tuple[str, list[str]]:
    """The view a video model reads with ``--view view`` (None: the model's own), and warnings.

    The rule: a pose model may read any view (its keypoints are centred on the hips and scaled
    per frame, so position and size in the frame do not matter; another camera angle still
    differs from training): a note only when it changes. An RGB model may too, but only on
    the explicit request that ``view`` is, with a warning (it learnt one camera's appearance
    at one crop and scale). Skeleton models have no view: ConfigError."""
    pre = dict(meta.preprocessing or {})
    own = str(pre.get("view", "full"))
    if view is None or view == own:
        return own, []
    if meta.modality not in ("rgb", "pose"):
        raise ConfigError(f"--view {view}: a {meta.modality} model has no view")
    if view not in VIEWS:
        raise ConfigError(f"--view {view!r}: use one of {', '.join(VIEWS)}")
    if meta.modality == "pose":
        return view, [f"override: a pose model trained on view {own!r} reads view {view!r} (keypoints are "
                      "normalized per frame; a different camera angle than in training)"]
    return view, [f"override: an RGB model trained on view {own!r} reads view {view!r}: it learnt the look of "
                  f"{own!r} frames at their crop and scale, so expect unreliable predictions"]


def _seam_scores(video: Path, info: VideoInfo) -> list[float | None]:
    """Seam scores of CHECK_FRAMES whole frames spread evenly over the video."""
    idx = np.unique(np.linspace(0, info.n_frames - 1, min(CHECK_FRAMES, info.n_frames)).round().astype(np.int64))
    return [seam_score(f) for f in read_frames_at(video, idx, view="full", size_hw=None, info=info)]


def _clip_probs(loaded: LoadedModel, video: Path, view: str) -> tuple[np.ndarray, int, np.ndarray | None]:
    """Offline: windows over the whole clip (hop of the model, edge-padded when short).
    Returns (probs, n_windows, the taken frames' keypoints (M, K, 3) or None for rgb)."""
    pipeline = pipeline_from_meta(loaded.meta)
    if not isinstance(pipeline, FramePipeline):
        raise ConfigError(f"{video}: a {loaded.meta.modality!r} model cannot read a video")
    pipeline.view = view
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
    return probs.mean(axis=0), len(probs), (None if pipeline.kind == "rgb" else np.asarray(frames.data))


def predict_video(
    model_path: str | Path,
    video_path: str | Path,
    *,
    mode: str = "auto",
    out_video: str | Path | None = None,
    hop_s: float | None = None,
    view: str | None = None,
) -> VideoPrediction:
    """Recognize the activity in a video (an InHARD mosaic, or a single camera for view "full").

    ``mode="clip"``: one class for the whole video, the mean of the window probabilities
    (windows every hop_s, edge-padded when the clip is shorter than a window). ``"timeline"``:
    a prediction every ``hop_s`` (default: the model's) by the SAME streaming recognizer as
    the ROS nodes (streaming.load_recognizer; every decoded frame pushed with stamp
    ``k / fps``). ``"auto"``: timeline when the video is longer than AUTO_TIMELINE_S.
    ``out_video``: the video again with the label and confidence drawn on every frame.
    ``view``: read another view than the model's (``view_override`` says when that is allowed).

    ``input_check`` says whether the video fits the view (size, and mosaic seams on
    CHECK_FRAMES frames) and, for pose models, in which fraction of the taken frames a person
    was found (features.view_check); its warnings are the caller's to show.
    """
    video = Path(video_path)
    if mode not in ("auto", "clip", "timeline"):
        raise ConfigError(f"predict_video mode {mode!r}: use auto, clip or timeline")
    info = probe_video(video)
    if mode == "auto":
        mode = "timeline" if info.duration_s > AUTO_TIMELINE_S else "clip"
    loaded = load_model(model_path)
    if loaded.meta.modality not in ("rgb", "pose"):
        raise ConfigError(f"{model_path}: a {loaded.meta.modality!r} model cannot read {video} (a video)")
    names = tuple(loaded.meta.class_names)
    view, notes = view_override(loaded.meta, view)
    size_hw = tuple(int(v) for v in (loaded.meta.preprocessing or {}).get("size_hw", ())) or None
    seams = _seam_scores(video, info)
    if mode == "clip":
        probs, n, keypoints = _clip_probs(loaded, video, view)
        flags = None
        result = VideoPrediction(video, mode, names, probs.astype(np.float32), n, view=view)
    else:
        recognizer = load_recognizer(model_path, hop_s=hop_s, max_gap_s=10.0, view=view)
        # the whole video's person fraction (the live default keeps only the recent frames)
        recognizer.monitor = InputMonitor(view, size_hw, seam_every=info.n_frames + 1, recent_frames=info.n_frames)
        stamps = frame_stamps_ns(info.n_frames, info.fps)
        predictions, person = [], []
        for k, frame in enumerate(iter_frames(video, view="full", size_hw=None, info=info)):
            p = recognizer.push(frame, int(stamps[k]))
            if p is not None:
                predictions.append(p)
                person.append(recognizer.window_person_fraction())
        if not predictions:
            raise ConfigError(f"{video}: {info.duration_s:.2f} s is shorter than one window of the model; use mode='clip'")
        probs = np.mean([p.probabilities for p in predictions], axis=0).astype(np.float32)
        result = VideoPrediction(video, mode, names, probs, len(predictions), predictions, view=view,
                                 window_person_fractions=person)
        keypoints, flags = None, recognizer.monitor.flags()
    result.input_check = check_frames(view, (info.height, info.width), seams, keypoints, size_hw=size_hw, flags=flags)
    result.input_check.warnings[:0] = notes
    if out_video is not None:
        clip = (result.label, result.confidence) if mode == "clip" else None
        render_predictions_video(video, out_video, predictions=result.predictions, clip=clip)
        result.out_video = Path(out_video)
    return result
