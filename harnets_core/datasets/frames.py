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
are computed in one decoding pass and stored in a :class:`~harnets_core.formats.frame_cache.FrameCache`
(default ``<data>/.harnets_cache``), so later epochs, runs and evaluations never decode the video
again. RGB windows are not copied: :class:`FrameWindows` holds frame indices into the per-video
arrays and gathers a window when indexed (a uint8 ``(N, T, 3, h, w)`` array-like that the
CNN-LSTM takes as is).

Scenario names of the original HARNets table: ``"RGB"`` = side view (``view="left"``),
``"RGB-SP"`` = top view (``view="top"``), see :data:`RGB_SCENARIOS`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from harnets_core.datasets.inhard import NO_ACTION_ID, Segment
from harnets_core.datasets.layouts import LayoutFiles
from harnets_core.datasets.selection import DataSelection, WindowSet, check_segment_clip
from harnets_core.datasets.stream_windows import STREAM_LAYOUTS, every_segment, stream_selection, with_background
from harnets_core.datasets.windows import WindowConfig, window_starts
from harnets_core.errors import ConfigError, DatasetError
from harnets_core.features.keypoints import extractor_cache_key, normalize_keypoints
from harnets_core.features.pipeline import FramePipeline, FrameSampler
from harnets_core.formats.frame_cache import FrameCache
from harnets_core.formats.video import VideoInfo, frame_stamps_ns, iter_frames, probe_video, time_range_to_frames

__all__ = [
    "CACHE_DIRNAME",
    "SessionFrames",
    "FrameWindows",
    "FrameWindowDataset",
    "sampled_frame_indices",
    "session_frames",
    "segment_clip_frames",
    "pose_encodings",
    "frame_windows",
    "with_video_idle",
    "default_cache",
]

CACHE_DIRNAME = ".harnets_cache"
"""Default frame cache folder, under the dataset root."""


_CACHE_RULE = "framesampler-v1"  # bump when the sampling / preparing rule changes


# ----------------------------------------------------------------------------- sampling
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


def pose_encodings(keypoints: np.ndarray, pipeline: FramePipeline | None = None) -> np.ndarray:
    """(M, K, 3) keypoints -> (M, K*3) float32 LSTM inputs before the normalizer, exactly as
    ``pipeline``'s FramePipeline.encode_prepared computes them frame by frame (its extractor's
    names, its keypoint_center). Without a pipeline: the mean rule of pose models whose file
    has no keypoint_center."""
    if pipeline is not None:
        return pipeline.keypoint_features(np.asarray(keypoints, np.float32))
    return normalize_keypoints(np.asarray(keypoints, np.float32), center="mean").astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- windows
def span_windows(a: int, b: int, length: int, hop: int) -> np.ndarray:
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
    :class:`FrameWindows` (``.y`` holds all labels, as training.loop.dataset_labels reads them).
    ``transform`` (training windows only, e.g. training.augment.WindowAugment) maps a
    (T, 3, h, w) uint8 window to another of the same shape."""

    def __init__(self, x: FrameWindows, y: np.ndarray, *,
                 transform: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        if len(x) != len(y):
            raise ConfigError(f"FrameWindowDataset: {len(x)} windows but {len(y)} labels")
        self.x, self.y = x, np.asarray(y, dtype=np.int64)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        window = self.x[int(i)]  # (T, 3, h, w) uint8
        if self.transform is not None:
            window = self.transform(window)
        return torch.from_numpy(window), torch.tensor(self.y[int(i)], dtype=torch.int64)


def frame_windows(
    selection: DataSelection,
    sessions: Sequence[str],
    pipeline: FramePipeline,
    cache: FrameCache | None,
    hop_s: float,
    *,
    idle_after: Sequence[Segment] | None = None,
) -> WindowSet:
    """Windows of ``pipeline.length`` taken frames inside every annotated segment of each
    session, one label (index into selection.class_ids) each. ``idle_after``: every annotated
    action of the dataset (selected or not); the taken frames of a session video that none of
    them covers are idle, class "No action" (which ``selection.class_ids`` must hold), cut into
    windows inside each idle run as a segment is (a layout with session videos only). The frames come from the session
    video (a layout with one file per session: ``selection.files().session_video``) or from each segment's
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
    if idle_after is not None and (selection.clip_per_segment or NO_ACTION_ID not in index_of):
        raise ConfigError("frame windows of idle time need session videos and the idle class in the selection "
                          f"(layout {selection.layout!r}, classes {selection.class_names})")
    per_video: list[SessionFrames] = []
    sources, indices, labels, names, dropped = [], [], [], [], 0
    for session in sessions:
        segs = [s for s in selection.segments if s.session == session
                and (idle_after is None or s.class_id != NO_ACTION_ID)]  # idle: from the gaps
        if not segs:
            continue
        for frames, spans in _segment_spans(layout, selection, segs, pipeline, cache):
            runs = [(seg.class_id, a, b) for seg, a, b in spans]
            if idle_after is not None:
                runs += [(NO_ACTION_ID, a, b) for a, b in _idle_runs(frames, [s for s in idle_after if s.session == session])]
            s_id = len(per_video)
            per_video.append(frames)
            for class_id, a, b in runs:
                if b <= a:
                    dropped += 1
                    continue
                idx = span_windows(a, b, length, hop)  # (n, T)
                indices.append(idx)
                sources.append(np.full(len(idx), s_id, np.int64))
                labels.append(np.full(len(idx), index_of[class_id], np.int64))
                names.extend([session] * len(idx))
    if not indices:
        raise DatasetError(f"{selection.root}: no video windows for sessions {list(sessions)} (classes {selection.class_names})")
    source, index, y = np.concatenate(sources), np.concatenate(indices), np.concatenate(labels)
    meta: dict[str, Any] = {"sessions": per_video, "source": source, "index": index}
    if pipeline.kind == "rgb":
        x: Any = FrameWindows([f.data for f in per_video], source, index)
        meta["dataset"] = FrameWindowDataset(x, y)
    else:
        encodings = [pose_encodings(f.data, pipeline) for f in per_video]  # (M_s, D) each
        x = np.stack([encodings[s][idx] for s, idx in zip(source, index)]).astype(np.float32)  # (N, T, D)
    return WindowSet(x=x, y=y, session=np.asarray(names), n_dropped=dropped, meta=meta)


def with_video_idle(selection: DataSelection) -> tuple[DataSelection, list[Segment] | None]:
    """``(selection, idle_after)`` for :func:`frame_windows` with idle as a class: on whole
    session videos (InHARD online, own ``sessions``) the selection with "No action" first in its
    classes (own ids shifted so that 0 is idle) and every annotated action of the dataset;
    elsewhere (segment clips, own ``classes``: no unannotated time) the selection and None."""
    if selection.layout not in STREAM_LAYOUTS or selection.clip_per_segment:
        return selection, None
    chosen = with_background(stream_selection(selection))
    return chosen, every_segment(chosen)


def _idle_runs(frames: SessionFrames, actions: Sequence[Segment]) -> list[tuple[int, int]]:
    """``[a, b)`` runs of the taken frames of a session video that no action in ``actions``
    covers (each action's frames as :meth:`SessionFrames.positions_of`)."""
    idle = np.ones(len(frames.frame_index), dtype=bool)
    for seg in actions:
        a, b = frames.positions_of(seg)
        idle[a:b] = False
    edges = np.flatnonzero(np.diff(np.concatenate([[0], idle.astype(np.int8), [0]])))  # run starts, ends
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def default_cache(root: str | Path) -> FrameCache:
    """The frame cache of a dataset: ``<root>/.harnets_cache``."""
    return FrameCache(Path(root) / CACHE_DIRNAME)
