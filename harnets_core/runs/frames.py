"""Activity recognition from session videos: RGB (CNN-LSTM) and 2D pose keypoints (LSTM).

One rule from file to model, shared by training, evaluation, offline and live prediction:

1. frame ``k`` of a video is stamped ``round(k * 1e9 / fps)`` ns, ``fps`` read from the file
   (:func:`frame_stamps_ns`);
2. :class:`~harnets_core.features.pipeline.FrameSampler` takes frames at ``rate_hz`` on those stamps
   (:func:`sampled_frame_indices`), exactly as the live :class:`~harnets_core.streaming.recognizer.FrameRecognizer`
   does on message stamps;
3. each taken frame is cropped to the view and resized by ``FramePipeline.prepare``; rgb keeps
   the ``(h, w, 3) uint8`` frame, pose runs the keypoint extractor on it;
4. a window is ``length`` consecutive taken frames (``length = window_s * rate_hz``), windows
   start every ``hop_s`` (a whole number of taken frames) inside ONE annotated segment of ONE
   session (a segment shorter than a window is edge-padded: its last frame repeats), one label
   per window.

Both layouts of the download feed the same rule (``DataSelection.layout``): ``"online"`` reads
each session's mosaic ``Online/RGB/<session>.mp4`` once and cuts every segment's taken frames
out of it; ``"segmented"`` reads each segment's own clip
``Segmented/RGBSegmented/<Meta_action_label>/<name>.mp4`` (:func:`segment_clip_frames`): the
whole clip is the segment, its frames are stamped and sampled from its own frame 0 at its own
fps (as ``harnets predict clip.mp4`` does), so its first taken frame is the segment's first frame.

Per video (a session, or a segment's clip), the taken, prepared frames (rgb) or keypoints (pose)
are computed in one decoding pass and stored in a :class:`~harnets_core.formats.video.FrameCache`
(default ``<data>/.harnets_cache``), so later epochs, runs and evaluations never decode the video
again. RGB windows are not copied: :class:`FrameWindows` holds frame indices into the per-video
arrays and gathers a window when indexed (a uint8 ``(N, T, 3, h, w)`` array-like that the
CNN-LSTM takes as is).

Scenario names of the original HARNets table: ``"RGB"`` = side view (``view="left"``),
``"RGB-SP"`` = top view (``view="top"``), see :data:`RGB_SCENARIOS`.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from harnets_core.datasets.selection import DataSelection, WindowSet, check_segment_clip
from harnets_core.errors import ConfigError, DatasetError
from harnets_core.datasets.inhard import Segment
from harnets_core.datasets.layouts import LayoutFiles
from harnets_core.models.modelfile import LoadedModel, load_model
from harnets_core.models import CNNLSTM, CNNLSTMConfig, LSTMClassifier
from harnets_core.features.pipeline import FramePipeline, FrameSampler, pipeline_from_meta
from harnets_core.runs.skeleton import ModelOptions, Prepared, normalized_lstm_config
from harnets_core.formats.video import (
    HARNETS_VIEW_SIZE_HW,
    FrameCache,
    VideoInfo,
    iter_frames,
    probe_video,
    time_range_to_frames,
)
from harnets_core.datasets.windows import WindowConfig, window_starts

__all__ = [
    "RGB_SCENARIOS",
    "FRAME_VIEWS",
    "DEFAULT_RGB_SIZE_HW",
    "CACHE_DIRNAME",
    "AUTO_TIMELINE_S",
    "RgbOptions",
    "PoseOptions",
    "SessionFrames",
    "FrameWindows",
    "FrameWindowDataset",
    "frame_stamps_ns",
    "sampled_frame_indices",
    "session_frames",
    "segment_clip_frames",
    "pose_encodings",
    "frame_windows",
    "default_cache",
    "frame_windows_for_model",
    "prepare_rgb",
    "prepare_pose",
    "predict_window_probs",
    "VideoPrediction",
    "predict_video",
    "prepare_from_args",
    "predict_command",
]

RGB_SCENARIOS: dict[str, str] = {"RGB": "left", "RGB-SP": "top"}
"""HARNets' scenario names -> mosaic view: "RGB" is the side view, "RGB-SP" the top view."""

FRAME_VIEWS: tuple[str, ...] = ("top", "left", "right", "full")

DEFAULT_RGB_SIZE_HW: tuple[int, int] = (48, 80)
"""Default RGB model input (H, W): HARNets' 3:5 aspect ratio at half of video's
DEFAULT_VIEW_SIZE_HW (96 x 160). The CNN is trained end to end, so per-frame features cannot be
cached in training: every epoch runs the CNN forward AND backward on every frame of every
window. At 48 x 80 the small encoder costs ~4x less than at 96 x 160, which keeps a 15-epoch
run on the default synthetic data at 1 to 3 minutes on 2 shared CPU cores
(docs/RESULTS_RGB.md), and the body, bench, sheets and shelf still span several pixels (the
operator is about 25 px tall in the side views, 15 px across in the top view). Pass
``size_hw=(96, 160)`` or more with a GPU."""

CACHE_DIRNAME = ".harnets_cache"
"""Default frame cache folder, under the dataset root."""

AUTO_TIMELINE_S = 30.0
"""predict_video(mode="auto"): videos longer than this get a timeline, shorter ones one class."""

_CACHE_RULE = "framesampler-v1"  # bump when the sampling / preparing rule changes


# ----------------------------------------------------------------------------- options
@dataclass
class _FrameOptions:
    view: str = "top"
    size_hw: tuple[int, int] = DEFAULT_RGB_SIZE_HW
    rate_hz: float = 5.0  # frames per second taken from the video
    window_s: float = 2.0  # window length in seconds (length = window_s * rate_hz frames)
    hop_s: float = 0.8  # seconds between window starts (training, evaluation and streaming)
    sequence_length: int | None = None  # frames per window; when set, window_s = sequence_length / rate_hz

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.view not in FRAME_VIEWS:
            raise ConfigError(f"{name}.view {self.view!r}: use one of {', '.join(FRAME_VIEWS)} "
                              f"(HARNets' RGB = left, RGB-SP = top)")
        self.size_hw = (int(self.size_hw[0]), int(self.size_hw[1]))
        if min(self.size_hw) < 8:
            raise ConfigError(f"{name}.size_hw {self.size_hw}: both sides must be >= 8")
        self.rate_hz = float(self.rate_hz)
        if not 0.0 < self.rate_hz <= 60.0:
            raise ConfigError(f"{name}.rate_hz {self.rate_hz}: must be in (0, 60]")
        if self.sequence_length is not None:
            if int(self.sequence_length) < 2:
                raise ConfigError(f"{name}.sequence_length {self.sequence_length}: must be >= 2")
            self.sequence_length = int(self.sequence_length)
            self.window_s = self.sequence_length / self.rate_hz
        self.window_s, self.hop_s = float(self.window_s), float(self.hop_s)
        if self.window_s * self.rate_hz < 1.5:
            raise ConfigError(f"{name}.window_s {self.window_s} at {self.rate_hz} Hz: fewer than 2 frames a window")
        steps = self.hop_s * self.rate_hz
        if self.hop_s <= 0 or round(steps) < 1 or abs(steps - round(steps)) > 1e-6:
            raise ConfigError(f"{name}.hop_s {self.hop_s}: must be a whole number (>= 1) of frame periods "
                              f"(1 / rate_hz = {1.0 / self.rate_hz:g} s), so offline and streaming windows agree")

    @property
    def length(self) -> int:
        """Frames per window (T); the same formula as FramePipeline.length."""
        return max(2, int(round(self.window_s * self.rate_hz)))

    @property
    def hop_frames(self) -> int:
        """Taken frames between window starts."""
        return int(round(self.hop_s * self.rate_hz))


@dataclass
class RgbOptions(_FrameOptions):
    """Window, view and CNN of an RGB CNN-LSTM (the LSTM head: runs.ModelOptions).

    Defaults: top view (HARNets' best RGB scenario, RGB-SP), 48 x 80 input
    (:data:`DEFAULT_RGB_SIZE_HW`), 10 frames per second, 2 s windows (20 frames, as
    HARNets' shortest sequence length). 10 Hz rather than 5: the screwing of "Assemble
    system" oscillates at about 2 Hz, which 5 Hz sampling aliases into noise; at 5 Hz the
    top view confused it with "Turn sheets" and stayed below the majority class
    (docs/RESULTS_RGB.md). A window every 0.8 s (the CNN is trained end to end, so every
    window costs its 20 frames forward and backward each epoch: overlapping windows cost
    time and add little; the live recognizer may use a shorter hop). The "small" encoder
    (CPU; GroupNorm, a 3 x 5 feature grid per frame, see models.cnn_lstm); "wide" is for a
    GPU. ``temporal_diff`` (True): the LSTM also sees each frame feature's change from the
    previous frame (motion, which differs less between people than appearance does).
    ``augment`` (True): one random shift, scale, rotation and brightness / contrast change per
    training window (:class:`FrameWindowDataset`), standing in for the people and camera
    placements training never saw. It slows learning: give it 40 epochs (15 underfit), and
    it lifts the validation accuracy of both views by 10 to 20 points over no augmentation
    (docs/RESULTS_RGB.md). ``feature_dropout`` (0) is off: it underfit in 15 epochs.
    """

    rate_hz: float = 10.0
    encoder: str = "small"
    encoder_config: dict[str, Any] = field(default_factory=dict)
    feature_dim: int = 128
    temporal_diff: bool = True  # the LSTM head also gets per-frame feature differences
    feature_dropout: float = 0.0  # dropout on the per-frame features (training only)
    augment: bool = True  # random shift, scale, rotation and brightness of training windows


@dataclass
class PoseOptions(_FrameOptions):
    """Window and view of a pose-keypoint LSTM. ``size_hw`` is the image the extractor sees
    (HARNets' 300 x 500 by default: detectors need more pixels than the CNN; only the
    keypoints are cached, never these frames)."""

    size_hw: tuple[int, int] = HARNETS_VIEW_SIZE_HW


# ----------------------------------------------------------------------------- sampling
def frame_stamps_ns(n_frames: int, fps: float) -> np.ndarray:
    """Stamps ``(n_frames,) int64`` in ns of a video's frames: frame k at ``k / fps`` seconds."""
    return np.round(np.arange(int(n_frames), dtype=np.float64) * (1e9 / float(fps))).astype(np.int64)


def sampled_frame_indices(n_frames: int, fps: float, rate_hz: float) -> np.ndarray:
    """Indices ``(M,) int64`` of the frames a FrameSampler at ``rate_hz`` takes from a video
    of ``n_frames`` at ``fps`` (25 fps at 5 Hz: 0, 5, 10, ...)."""
    return FrameSampler(rate_hz).select(frame_stamps_ns(n_frames, fps))


@dataclass
class SessionFrames:
    """The taken frames of one video (a session's, or a segment's clip): ``data`` (M, h, w, 3)
    uint8 prepared frames (rgb) or (M, K, 3) float32 keypoints (pose), ``frame_index`` (M,)
    their frame numbers in the video, ``stamps_ns`` (M,) their stamps."""

    video: Path
    info: VideoInfo
    data: np.ndarray
    frame_index: np.ndarray
    stamps_ns: np.ndarray

    def positions_of(self, segment: Segment) -> tuple[int, int]:
        """``[a, b)``: the taken frames inside ``segment``'s rgb_start_s..rgb_end_s."""
        f0, f1 = time_range_to_frames(self.info, segment.rgb_start_s, segment.rgb_end_s)
        a, b = np.searchsorted(self.frame_index, [f0, f1], side="left")
        return int(a), int(b)


def _prepared_frames(video: Path, info: VideoInfo, wanted: np.ndarray, pipeline: FramePipeline) -> Iterator[np.ndarray]:
    """Decode ``video`` once, in order, and yield ``pipeline.prepare`` of the ``wanted``
    (sorted) frames: the same crop and resize the streaming recognizer applies."""
    keep = np.zeros(info.n_frames, dtype=bool)
    keep[wanted] = True
    for k, frame in enumerate(iter_frames(video, view="full", size_hw=None, info=info)):
        if keep[k]:
            yield pipeline.prepare(frame)  # (h, w, 3) uint8


def session_frames(video: str | Path, pipeline: FramePipeline, cache: FrameCache | None = None) -> SessionFrames:
    """Taken frames (rgb) or their keypoints (pose) of one video, decoded at most once:
    with ``cache`` the result is stored (key: view, size, rate, and the extractor for pose)
    and later calls read it back memory-mapped without opening the video."""
    video = Path(video)
    info = _video_info(video, cache)
    wanted = sampled_frame_indices(info.n_frames, info.fps, pipeline.rate_hz)
    settings: dict[str, Any] = {"view": pipeline.view, "size_hw": list(pipeline.size_hw),
                                "rate_hz": pipeline.rate_hz, "rule": _CACHE_RULE}
    if pipeline.kind == "rgb":
        name = "rgb-frames"

        def compute() -> np.ndarray:
            out = np.empty((len(wanted),) + tuple(pipeline.size_hw) + (3,), np.uint8)  # (M, h, w, 3)
            for i, frame in enumerate(_prepared_frames(video, info, wanted, pipeline)):
                out[i] = frame
            return out
    elif pipeline.kind == "pose":
        from harnets_core.features.keypoints import extractor_cache_key

        extractor = pipeline.extractor
        if extractor is None:
            raise ConfigError(f"{video}: a pose pipeline needs a keypoint extractor")
        name = f"pose-{extractor_cache_key(extractor)}"
        settings.update(extractor=dict(pipeline.settings), names=list(extractor.names))

        def compute() -> np.ndarray:
            if hasattr(extractor, "reset"):
                extractor.reset()  # tracking extractors: a new video starts fresh
            out = np.zeros((len(wanted), len(extractor.names), 3), np.float32)  # (M, K, 3)
            for i, frame in enumerate(_prepared_frames(video, info, wanted, pipeline)):
                out[i] = extractor(frame)
            return out
    else:
        raise ConfigError(f"frame pipeline kind {pipeline.kind!r}: use 'rgb' or 'pose'")
    data = compute() if cache is None else cache.array(name, video, compute, settings=settings)
    if data.shape[0] != len(wanted):
        raise DatasetError(f"{video}: cached {name} has {data.shape[0]} frames, expected {len(wanted)}; delete the cache entry")
    stamps = frame_stamps_ns(info.n_frames, info.fps)[wanted]
    return SessionFrames(video, info, data, wanted, stamps)


def _video_info(video: Path, cache: FrameCache | None) -> VideoInfo:
    """probe_video of ``video``, remembered in ``cache`` when there is one."""
    return cache.video_info(video) if cache is not None else probe_video(video)


def segment_clip_frames(layout: LayoutFiles, segment: Segment, pipeline: FramePipeline,
                        cache: FrameCache | None = None) -> SessionFrames:
    """Taken frames (rgb) or keypoints (pose) of ``segment``'s own clip
    ``Segmented/RGBSegmented/<class_name>/<name>.mp4``: :func:`session_frames` of the clip (its
    own fps, sampled from its frame 0, cached per clip), checked against the annotation first.

    DatasetError naming the clip when it is missing or shorter than the annotated span
    (:func:`~harnets_core.datasets.selection.check_segment_clip`); VideoError naming it when it is empty,
    not a video, or does not decode. ``data`` is read into memory: a memory-mapped array holds a
    file descriptor, and a segmented run has thousands of clips (InHARD: over 5,000)."""
    video = layout.segmented_video(segment)
    info = _video_info(video, cache)
    check_segment_clip(video, segment, info.n_frames, info.fps)
    frames = session_frames(video, pipeline, cache)
    return replace(frames, data=np.array(frames.data))  # (M, h, w, 3) or (M, K, 3), in memory


def _segment_spans(
    layout: LayoutFiles, selection: DataSelection, segments: Sequence[Segment], pipeline: FramePipeline,
    cache: FrameCache | None,
) -> Iterator[tuple[SessionFrames, list[tuple[Segment, int, int]]]]:
    """Each video holding ``segments`` (all of one session) with the taken frames ``[a, b)`` of
    every segment in it. Online: the session video, the segments' spans inside it; segmented:
    each segment's own clip, all its taken frames (the clip IS the segment)."""
    if selection.clip_per_segment:
        for seg in segments:
            frames = segment_clip_frames(layout, seg, pipeline, cache)
            yield frames, [(seg, 0, len(frames.frame_index))]
        return
    frames = session_frames(layout.session_video(segments[0].session), pipeline, cache)
    yield frames, [(seg, *frames.positions_of(seg)) for seg in segments]


def pose_encodings(keypoints: np.ndarray) -> np.ndarray:
    """(M, K, 3) keypoints -> (M, K*3) float32 LSTM inputs before the normalizer, exactly as
    FramePipeline.encode_prepared computes them frame by frame."""
    from harnets_core.features.keypoints import normalize_keypoints

    return normalize_keypoints(np.asarray(keypoints, np.float32)).astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- windows
def _span_windows(a: int, b: int, length: int, hop: int) -> np.ndarray:
    """(N, T) taken-frame positions of the windows inside ``[a, b)`` (hop ``hop``); a span
    shorter than a window gives one window edge-padded with its last frame."""
    starts = window_starts(b - a, WindowConfig(length, hop, "pad"))  # (N,)
    idx = a + starts[:, None] + np.arange(length)[None, :]  # (N, T)
    return np.minimum(idx, b - 1).astype(np.int64)


class FrameWindows:
    """Windows of RGB frames gathered on demand: a read-only array-like of shape
    ``(N, T, 3, h, w)`` uint8 (the CNN-LSTM's input layout). ``frames[s]`` is session s's
    (M_s, h, w, 3) taken frames (memory-mapped from the cache), ``source (N,)`` the session
    of each window and ``index (N, T)`` its frame positions. Indexing with an int gives one
    window, with a slice or an index array a new stacked array; ``np.asarray`` gathers all."""

    dtype = np.dtype(np.uint8)
    ndim = 5

    def __init__(self, frames: Sequence[np.ndarray], source: np.ndarray, index: np.ndarray) -> None:
        self.frames = list(frames)
        self.source = np.asarray(source, dtype=np.int64).reshape(-1)
        self.index = np.asarray(index, dtype=np.int64).reshape(len(self.source), -1)
        if self.frames:
            self._hw = tuple(self.frames[0].shape[1:3])
        else:
            self._hw = (0, 0)

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return (len(self.source), self.index.shape[1], 3) + self._hw  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.source)

    def _one(self, row: int) -> np.ndarray:
        frames = self.frames[self.source[row]][self.index[row]]  # (T, h, w, 3)
        return np.ascontiguousarray(frames.transpose(0, 3, 1, 2))  # (T, 3, h, w)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self._one(int(np.arange(len(self))[key]))
        rows = np.arange(len(self))[key]
        out = np.empty((len(rows),) + self.shape[1:], np.uint8)  # (n, T, 3, h, w)
        for k, row in enumerate(rows):
            out[k] = self._one(int(row))
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)


class FrameWindowDataset(Dataset):
    """(window (T, 3, h, w) uint8 tensor, label int64 tensor) pairs, gathered lazily from
    :class:`FrameWindows` (``.y`` holds all labels, as training.dataset_labels reads them).

    ``augment`` (training windows only, :func:`prepare_rgb`): each window gets ONE random
    similarity transform (shift of up to ``max_shift`` pixels, scale by up to ``max_scale``
    (relative), rotation by up to ``max_rotate_deg`` about the centre; edges repeated: a
    taller or shorter person, standing a little turned or off-centre) and one brightness /
    contrast change of up to ``jitter`` (relative), the same for all its frames, so the motion
    inside the window is untouched. No flips: left and right mean different actions. Random
    numbers come from torch's generator, which the trainer seeds."""

    def __init__(self, x: FrameWindows, y: np.ndarray, *, augment: bool = False,
                 max_shift: int = 4, max_scale: float = 0.1, max_rotate_deg: float = 10.0,
                 jitter: float = 0.2) -> None:
        if len(x) != len(y):
            raise ConfigError(f"FrameWindowDataset: {len(x)} windows but {len(y)} labels")
        if max_shift < 0 or not 0.0 <= max_scale < 1.0 or max_rotate_deg < 0 or jitter < 0:
            raise ConfigError(f"FrameWindowDataset: bad augmentation max_shift={max_shift}, max_scale={max_scale}, "
                              f"max_rotate_deg={max_rotate_deg}, jitter={jitter}")
        self.x, self.y = x, np.asarray(y, dtype=np.int64)
        self.augment, self.max_shift, self.jitter = bool(augment), int(max_shift), float(jitter)
        self.max_scale, self.max_rotate_deg = float(max_scale), float(max_rotate_deg)

    def __len__(self) -> int:
        return len(self.x)

    def _transform(self, h: int, w: int) -> np.ndarray | None:
        """A random 2 x 3 similarity matrix for (h, w) frames, None when it is the identity."""
        u = (2.0 * torch.rand(4) - 1.0).tolist()  # 4 numbers in [-1, 1]
        scale = 1.0 + self.max_scale * u[0]
        angle = self.max_rotate_deg * u[1]
        dx, dy = round(self.max_shift * u[2]), round(self.max_shift * u[3])
        if scale == 1.0 and angle == 0.0 and dx == 0 and dy == 0:
            return None
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, scale)  # (2, 3)
        m[:, 2] += (dx, dy)
        return m

    def _augmented(self, window: np.ndarray) -> np.ndarray:
        """(T, 3, h, w) uint8 -> the same shape, transformed and jittered as one clip."""
        h, w = window.shape[-2:]
        m = self._transform(h, w)
        if m is not None:
            frames = window.transpose(0, 2, 3, 1)  # (T, h, w, 3)
            window = np.stack([cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                               for f in frames]).transpose(0, 3, 1, 2)  # (T, 3, h, w)
        if self.jitter > 0:
            gain, offset = (1.0 + self.jitter * (2.0 * torch.rand(2) - 1.0)).tolist()
            mean = float(window.mean())
            out = (window.astype(np.float32) - mean) * gain + mean * offset  # contrast, brightness
            window = np.clip(out, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(window)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        window = self.x[int(i)]  # (T, 3, h, w) uint8
        if self.augment:
            window = self._augmented(window)
        return torch.from_numpy(window), torch.tensor(self.y[int(i)], dtype=torch.int64)


def frame_windows(
    selection: DataSelection,
    sessions: Sequence[str],
    pipeline: FramePipeline,
    cache: FrameCache | None,
    hop_s: float,
) -> WindowSet:
    """Windows of ``pipeline.length`` taken frames inside every annotated segment of each
    session, one label (index into selection.class_ids) each. The frames come from the session
    video (``selection.layout == "online"``, InhardLayout.session_video) or from each segment's
    own clip (``"segmented"``, :func:`segment_clip_frames`; every clip is checked to exist before
    any is decoded).

    rgb: ``x`` is a :class:`FrameWindows` (N, T, 3, h, w) uint8 gathered lazily, and
    ``meta["dataset"]`` a :class:`FrameWindowDataset` over it. pose: ``x`` (N, T, K*3)
    float32 keypoint features before the normalizer. ``session`` names each window's session;
    ``meta["index"]`` (N, T) and ``meta["source"]`` (N,) locate its frames in
    ``meta["sessions"]`` (SessionFrames, one per video read: a session's, or a segment's clip).
    Segments with no taken frame (online only: a clip always has its first frame) are counted in
    ``n_dropped``."""
    layout = selection.files()
    index_of = {cid: i for i, cid in enumerate(selection.class_ids)}
    hop = int(round(hop_s * pipeline.rate_hz))
    if hop < 1:
        raise ConfigError(f"hop_s {hop_s}: less than one frame period at {pipeline.rate_hz} Hz")
    length = pipeline.length
    wanted = set(sessions)
    if selection.clip_per_segment:
        for seg in selection.segments:
            if seg.session in wanted:
                layout.segmented_video(seg)  # DatasetError naming the first missing clip, before decoding
    per_video: list[SessionFrames] = []
    sources, indices, labels, names, dropped = [], [], [], [], 0
    for session in sessions:
        segs = [s for s in selection.segments if s.session == session]
        if not segs:
            continue
        for frames, spans in _segment_spans(layout, selection, segs, pipeline, cache):
            s_id = len(per_video)
            per_video.append(frames)
            for seg, a, b in spans:
                if b <= a:
                    dropped += 1
                    continue
                idx = _span_windows(a, b, length, hop)  # (n, T)
                indices.append(idx)
                sources.append(np.full(len(idx), s_id, np.int64))
                labels.append(np.full(len(idx), index_of[seg.class_id], np.int64))
                names.extend([session] * len(idx))
    if not indices:
        raise DatasetError(f"{selection.root}: no video windows for sessions {list(sessions)} (classes {selection.class_names})")
    source, index, y = np.concatenate(sources), np.concatenate(indices), np.concatenate(labels)
    meta: dict[str, Any] = {"sessions": per_video, "source": source, "index": index}
    if pipeline.kind == "rgb":
        x: Any = FrameWindows([f.data for f in per_video], source, index)
        meta["dataset"] = FrameWindowDataset(x, y)
    else:
        encodings = [pose_encodings(f.data) for f in per_video]  # (M_s, D) each
        x = np.stack([encodings[s][idx] for s, idx in zip(source, index)]).astype(np.float32)  # (N, T, D)
    return WindowSet(x=x, y=y, session=np.asarray(names), n_dropped=dropped, meta=meta)


def default_cache(root: str | Path) -> FrameCache:
    """The frame cache of a dataset: ``<root>/.harnets_cache``."""
    return FrameCache(Path(root) / CACHE_DIRNAME)


def frame_windows_for_model(
    loaded: LoadedModel, selection: DataSelection, sessions: Sequence[str], *, cache: FrameCache | None = None,
) -> WindowSet:
    """Windows of ``sessions`` with a model file's own view, size, rate, window and hop (and,
    for pose, its extractor and normalizer), ready for the model (runs.evaluate_run)."""
    meta = loaded.meta
    pipeline = pipeline_from_meta(meta)
    if not isinstance(pipeline, FramePipeline):
        raise ConfigError(f"{meta.source or 'model file'}: a {meta.modality!r} model has no video windows")
    windows = frame_windows(selection, sessions, pipeline, cache or default_cache(selection.root), float(meta.window["hop_s"]))
    if pipeline.kind == "pose" and pipeline.normalizer is not None:
        windows.x = pipeline.normalizer(windows.x).astype(np.float32)
    return windows


# ----------------------------------------------------------------------------- preparing runs
def _window_meta(options: _FrameOptions) -> dict[str, Any]:
    return {"window_s": options.window_s, "hop_s": options.hop_s, "rate_hz": options.rate_hz,
            "length": options.length, "short_policy": "pad"}


def prepare_rgb(
    selection: DataSelection,
    options: RgbOptions | None = None,
    model_options: ModelOptions | None = None,
    cache_dir: str | Path | None = None,
) -> Prepared:
    """Windows of both splits (frames cached in ``cache_dir``, default ``<data>/.harnets_cache``),
    an untrained CNN-LSTM and its complete model-file meta (streaming.load_recognizer and
    pipeline_from_meta rebuild everything from it)."""
    options = options or RgbOptions()
    model_options = model_options or ModelOptions()
    cache = FrameCache(cache_dir) if cache_dir is not None else default_cache(selection.root)
    pipeline = FramePipeline(kind="rgb", view=options.view, size_hw=options.size_hw,
                             rate_hz=options.rate_hz, window_s=options.window_s)
    train = frame_windows(selection, selection.train_sessions, pipeline, cache, options.hop_s)
    val = frame_windows(selection, selection.val_sessions, pipeline, cache, options.hop_s)
    if options.augment:
        train.meta["dataset"] = FrameWindowDataset(train.x, train.y, augment=True)
    config = CNNLSTMConfig(
        num_classes=len(selection.class_ids),
        height=options.size_hw[0],
        width=options.size_hw[1],
        encoder=options.encoder,
        encoder_config=dict(options.encoder_config),
        feature_dim=options.feature_dim,
        feature_dropout=options.feature_dropout,
        temporal_diff=options.temporal_diff,
        hidden_size=model_options.hidden_size,
        num_layers=model_options.num_layers,
        dropout=model_options.dropout,
    )
    meta = {
        "model_type": "cnn_lstm",
        "model_config": config.to_dict(),
        "modality": "rgb",
        "class_names": selection.class_names,
        "class_ids": selection.class_ids,
        "preprocessing": pipeline.to_meta(),
        "window": _window_meta(options),
        "data": selection.to_dict(),
    }
    return Prepared(CNNLSTM(config), train, val, meta, selection)


def prepare_pose(
    selection: DataSelection,
    options: PoseOptions | None = None,
    extractor_settings: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    *,
    model_options: ModelOptions | None = None,
) -> Prepared:
    """Keypoints of the taken frames by the extractor ``extractor_settings`` describes
    (pose.extractor_from_settings, default BlazePose), cached; windows of both splits; a
    normalizer fitted on train; an untrained LSTM (``pose_lstm``) and its meta."""
    from harnets_core.features.keypoints import extractor_from_settings

    options = options or PoseOptions()
    model_options = model_options or ModelOptions()
    settings = dict(extractor_settings or {"name": "blazepose"})
    extractor = extractor_from_settings(settings)
    cache = FrameCache(cache_dir) if cache_dir is not None else default_cache(selection.root)
    pipeline = FramePipeline(kind="pose", view=options.view, size_hw=options.size_hw, rate_hz=options.rate_hz,
                             window_s=options.window_s, extractor=extractor, settings=settings)
    train = frame_windows(selection, selection.train_sessions, pipeline, cache, options.hop_s)
    val = frame_windows(selection, selection.val_sessions, pipeline, cache, options.hop_s)
    config = normalized_lstm_config(pipeline, train, val, len(selection.class_ids), model_options)
    preprocessing = {**pipeline.to_meta(), "keypoint_names": list(extractor.names)}
    meta = {
        "model_type": "pose_lstm",
        "model_config": config.to_dict(),
        "modality": "pose",
        "class_names": selection.class_names,
        "class_ids": selection.class_ids,
        "preprocessing": preprocessing,
        "window": _window_meta(options),
        "data": selection.to_dict(),
    }
    return Prepared(LSTMClassifier(config), train, val, meta, selection)


# ----------------------------------------------------------------------------- prediction
@torch.no_grad()
def predict_window_probs(model: torch.nn.Module, x: Any, batch_size: int = 32) -> np.ndarray:
    """Softmax probabilities (N, K) of windows ``x`` (FrameWindows or (N, T, D) features)."""
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        logits = model(torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size])))  # (b, K)
        out.append(torch.softmax(logits, dim=-1).numpy().astype(np.float32))
    return np.concatenate(out)


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
    hop = max(1, int(round(float(loaded.meta.window["hop_s"]) * pipeline.rate_hz)))
    index = _span_windows(0, len(frames.frame_index), pipeline.length, hop)  # (N, T)
    if pipeline.kind == "rgb":
        x: Any = FrameWindows([frames.data], np.zeros(len(index), np.int64), index)
    else:
        enc = pose_encodings(frames.data)
        if pipeline.normalizer is not None:
            enc = pipeline.normalizer(enc).astype(np.float32)
        x = enc[index]  # (N, T, D)
    probs = predict_window_probs(loaded.model, x)
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
    from harnets_core.streaming.recognizer import load_recognizer

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
        from harnets_core.runs.annotate import render_predictions_video

        clip = (result.label, result.confidence) if mode == "clip" else None
        render_predictions_video(video, out_video, predictions=result.predictions, clip=clip)
        result.out_video = Path(out_video)
    return result


# ----------------------------------------------------------------------------- CLI glue
def prepare_from_args(args: argparse.Namespace, selection: DataSelection, model_options: ModelOptions) -> Prepared:
    """`harnets train rgb|pose`: options from the command line (None = the default)."""
    base = RgbOptions if args.modality == "rgb" else PoseOptions
    # the whole frame is the view of your own cameras; a quadrant of InHARD's mosaic (top) otherwise
    view = args.view or ("full" if selection.layout in ("classes", "sessions") else "top")
    kwargs: dict[str, Any] = {"view": view}
    defaults = base()
    if args.height is not None or args.width is not None:
        kwargs["size_hw"] = (args.height or defaults.size_hw[0], args.width or defaults.size_hw[1])
    for name in ("rate_hz", "window_s", "hop_s", "sequence_length", "temporal_diff", "augment"):
        if getattr(args, name, None) is not None:
            kwargs[name] = getattr(args, name)
    cache_dir = args.cache
    if args.modality == "rgb":
        options = RgbOptions(encoder=args.encoder, **kwargs)
        return prepare_rgb(selection, options, model_options, cache_dir)
    if args.extractor == "openpose":
        if args.openpose_prototxt is None or args.openpose_model is None:
            raise ConfigError("--extractor openpose needs --openpose-prototxt and --openpose-model")
        settings: dict[str, Any] = {"name": "openpose", "prototxt": str(Path(args.openpose_prototxt).resolve()),
                                    "caffemodel": str(Path(args.openpose_model).resolve()), "variant": "MPI"}
    else:
        settings = {"name": "blazepose"}
    return prepare_pose(selection, PoseOptions(**kwargs), settings, cache_dir, model_options=model_options)


def predict_command(args: argparse.Namespace, meta: Any) -> int:
    """`harnets predict VIDEO --model M`: a clip's class, or a session's timeline (+ plot)."""
    from harnets_core.runs.skeleton import plot_timeline, write_timeline

    if meta.modality not in ("rgb", "pose"):
        raise ConfigError(f"{args.model}: a {meta.modality} model cannot read {args.input} (a video)")
    result = predict_video(args.model, args.input, mode=args.mode, out_video=args.video_out)
    if result.mode == "clip":
        order = result.probabilities.argsort()[::-1]
        print(f"{args.input}: {result.label} ({result.confidence:.3f}) over {result.n_windows} window(s)")
        for k in order:
            print(f"  {result.class_names[k]:<24} {result.probabilities[k]:.3f}")
    else:
        out = write_timeline(result.predictions, args.out or Path(args.input).with_suffix(".timeline.csv"))
        plot = plot_timeline(result.predictions, args.plot or out.with_suffix(".png"), title=Path(args.input).name)
        print(f"{len(result.predictions)} predictions; timeline {out}; plot {plot}")
    if result.out_video is not None:
        print(f"annotated video: {result.out_video}")
    return 0
