"""InHARD videos: probing, mosaic views, frame ranges, sampling, writing and an on-disk cache.

An InHARD session video is ONE 2x2 mosaic MP4: top-left = top view (camera 1), top-right =
left side view (camera 2, -45 deg), bottom-right = right side view (camera 3, +45 deg),
bottom-left = a render of the skeleton. A *view* is one quadrant (``"full"`` keeps the whole
frame, for videos of other cameras).

Frame conventions: frame indices are 0-based; ranges are ``[start_frame, end_frame)`` (end
EXCLUSIVE, like :func:`harnets_core.formats.bvh.read_bvh`). The frame rate is always read from the
file (:func:`probe_video`), never assumed: InHARD's annotation implies 25 fps, other sources
report about 30. Frames come out as RGB ``uint8`` arrays ``(N, H, W, 3)``.

Default size: HARNets resized every view to 300 x 500 (H x W). The default here is
:data:`DEFAULT_VIEW_SIZE_HW` = 96 x 160, the same 3:5 aspect ratio with 9.8x fewer pixels:
a CNN forward pass, the resize and the on-disk cache all scale with the pixel count, and on a
2-core CPU 300 x 500 makes a training epoch (and a 10-minute session's cache, 6.7 GB per view
at 25 fps) impractical, while 96 x 160 (46 KB a frame, 0.7 GB per 10-minute session and view)
still shows the arms and the tools. Pass ``size_hw=(300, 500)`` to reproduce HARNets.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from harnets_core.errors import ConfigError, VideoError

__all__ = [
    "frame_stamps_ns",
    "check_video_file",
    "check_view",
    "check_frame_range",
    "VIEWS",
    "MOSAIC_LAYOUT",
    "DEFAULT_VIEW_SIZE_HW",
    "HARNETS_VIEW_SIZE_HW",
    "TRUNCATION_SLACK",
    "VideoInfo",
    "probe_video",
    "crop_view",
    "resize_frame",
    "seconds_to_frame",
    "frame_to_seconds",
    "time_range_to_frames",
    "sample_indices",
    "frame_indices",
    "iter_frames",
    "read_frames",
    "read_frames_at",
    "write_video",
]

VIEWS: tuple[str, ...] = ("top", "left", "right", "skeleton", "full")
"""Views of a mosaic: the three cameras, the skeleton render, or the whole frame."""

MOSAIC_LAYOUT: dict[str, tuple[int, int]] = {
    "top": (0, 0),  # camera 1, top-left
    "left": (0, 1),  # camera 2 (-45 deg), top-right
    "skeleton": (1, 0),  # skeleton render, bottom-left
    "right": (1, 1),  # camera 3 (+45 deg), bottom-right
}
"""(row, column) of each view's quadrant in InHARD's 2x2 mosaic."""

DEFAULT_VIEW_SIZE_HW: tuple[int, int] = (96, 160)
"""Default output size (H, W) of a view: HARNets' 3:5 aspect ratio, 9.8x fewer pixels."""

HARNETS_VIEW_SIZE_HW: tuple[int, int] = (300, 500)
"""The size (H, W) the original HARNets resized every view to."""

_MIN_FPS = 1.0
_MAX_FPS = 300.0


# ----------------------------------------------------------------------------- probing
@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learnt about a file.

    ``fps`` in frames per second (read from the file), ``n_frames`` frames that really
    decode, ``width`` / ``height`` in pixels of the whole (mosaic) frame.
    """

    path: Path
    fps: float
    n_frames: int
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        """Length in seconds (``n_frames / fps``)."""
        return self.n_frames / self.fps

    def frame_at(self, t_s: float) -> int:
        """Index of the frame shown at ``t_s`` seconds (see :func:`seconds_to_frame`)."""
        return seconds_to_frame(t_s, self.fps)

    def time_of(self, frame: int) -> float:
        """Start time in seconds of ``frame``."""
        return frame_to_seconds(frame, self.fps)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VideoInfo:
        return cls(Path(d["path"]), float(d["fps"]), int(d["n_frames"]), int(d["width"]),
                   int(d["height"]))


def check_video_file(path: Path) -> None:
    if not path.exists():
        raise VideoError(f"{path}: video file not found")
    if not path.is_file():
        raise VideoError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")


def _open(path: Path) -> cv2.VideoCapture:
    """Open ``path`` with OpenCV's FFmpeg backend; VideoError when it is not a video."""
    check_video_file(path)
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{path}: not a video or corrupt (OpenCV/FFmpeg cannot open it)")
    return cap


def _ends_at(cap: cv2.VideoCapture, n_frames: int) -> bool:
    """True when frame ``n_frames - 1`` decodes, at that position, and no frame follows it.

    OpenCV's seek can land short of its target in a truncated file (in one MP4 cut at half its
    bytes a seek to frame 1393 landed on frame 685, which decoded), so the position is read
    back after the seek and after the grab."""
    cap.set(cv2.CAP_PROP_POS_FRAMES, n_frames - 1)
    if round(cap.get(cv2.CAP_PROP_POS_FRAMES)) != n_frames - 1:
        return False
    if not cap.grab() or round(cap.get(cv2.CAP_PROP_POS_FRAMES)) != n_frames:
        return False
    return not cap.grab()


def _count_by_decoding(cap: cv2.VideoCapture, fps: float) -> tuple[int, float]:
    """Frames that decode from the start, and the time in seconds where the last one ends
    (its timestamp plus one frame period; 0 when none decodes)."""
    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    n, last_ms = 0, 0.0
    while cap.grab():
        n += 1
        last_ms = float(cap.get(cv2.CAP_PROP_POS_MSEC))  # reads 0 again after the failed grab
    return n, (last_ms / 1000.0 + 1.0 / fps if n else 0.0)


TRUNCATION_SLACK = 0.05
"""Share of the declared length (at least 2 frames) by which a video may fall short of its
header and still count as whole: some containers (Matroska) derive the frame count from a
duration that covers every stream (audio may outlast the video a little), and an MP4's edit
list can hide a frame or two of the count its index declares."""


def _check_not_truncated(path: Path, declared_n: int, n: int, end_s: float, fps: float) -> None:
    """VideoError when the ``n`` frames that decode (the last ending at ``end_s`` seconds) fall
    short of the ``declared_n`` frames the container declares by more than the slack, both in
    count and in time (a variable-rate video's count, estimated from its duration and nominal
    rate, can be too large while its last frame still ends at the declared duration)."""
    slack = max(2, int(np.ceil(TRUNCATION_SLACK * declared_n)))
    if n < declared_n - slack and end_s * fps < declared_n - slack:
        raise VideoError(
            f"{path}: truncated video: the container declares {declared_n} frames "
            f"({declared_n / fps:.2f} s at {fps:g} fps) but only {n} decode ({end_s:.2f} s); "
            "the file was cut short (an interrupted download or copy?)"
        )


def probe_video(path: str | Path, *, exact: bool = False) -> VideoInfo:
    """Frame rate, frame count and size of a video file.

    ``fps`` is ``CAP_PROP_FPS``, validated (1 to 300 fps, else VideoError). The header's frame
    count (``CAP_PROP_FRAME_COUNT``) can lie (it is estimated from the duration for some
    containers, and is too large for truncated files), so it is checked: the last frame it
    promises must decode, at that position, and the one after it must not. When the check
    fails, or with ``exact=True``, every frame is decoded and counted (slow: a full pass over
    the file). A truncated file is an error, not a shorter video: when the frames that decode
    fall short of the count the container declares by more than :data:`TRUNCATION_SLACK`
    (in count and in time), VideoError names the file and both counts. A container that
    declares no count (0) is taken at what decodes.
    Raises VideoError naming the file when it is missing, empty, not a video, truncated, or
    has no frame.
    """
    path = Path(path)
    cap = _open(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if not np.isfinite(fps) or not _MIN_FPS <= fps <= _MAX_FPS:
            raise VideoError(f"{path}: implausible frame rate {fps!r} fps in the file")
        header_n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if not exact and header_n > 0 and _ends_at(cap, header_n):
            n = header_n
        else:
            n, end_s = _count_by_decoding(cap, fps)
            if n > 0 and header_n > 0:
                _check_not_truncated(path, header_n, n, end_s, fps)
    finally:
        cap.release()
    if n <= 0 or width <= 0 or height <= 0:
        raise VideoError(f"{path}: not a video or corrupt (no decodable frame)")
    return VideoInfo(path, fps, n, width, height)


# ----------------------------------------------------------------------------- frames
def check_view(view: str) -> None:
    if view not in VIEWS:
        raise ConfigError(f"video view {view!r}: use one of {', '.join(VIEWS)}")


def crop_view(frame: np.ndarray, view: str) -> np.ndarray:
    """The quadrant of a mosaic ``frame (H, W, C)`` showing ``view`` (a view, not a copy).

    Quadrants are ``H // 2`` x ``W // 2`` (an odd last row/column is dropped); ``"full"``
    returns ``frame`` itself.
    """
    check_view(view)
    if view == "full":
        return frame
    h, w = frame.shape[0] // 2, frame.shape[1] // 2
    r, c = MOSAIC_LAYOUT[view]
    return frame[r * h:(r + 1) * h, c * w:(c + 1) * w]


def resize_frame(frame: np.ndarray, size_hw: tuple[int, int] | None) -> np.ndarray:
    """Resize ``frame (H, W, C)`` to ``size_hw`` (INTER_AREA when shrinking); None keeps it."""
    if size_hw is None:
        return frame
    h, w = int(size_hw[0]), int(size_hw[1])
    if h <= 0 or w <= 0:
        raise ConfigError(f"size_hw {size_hw!r}: both sides must be positive")
    if frame.shape[0] == h and frame.shape[1] == w:
        return frame
    shrink = h < frame.shape[0] or w < frame.shape[1]
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def frame_stamps_ns(n_frames: int, fps: float) -> np.ndarray:
    """Stamps ``(n_frames,) int64`` in ns of a video's frames: frame k at ``k / fps`` seconds.
    The one timing rule of video files: training, prediction, bags and annotation use it."""
    return np.round(np.arange(int(n_frames), dtype=np.float64) * (1e9 / float(fps))).astype(np.int64)


def seconds_to_frame(t_s: float, fps: float) -> int:
    """Index of the frame at ``t_s`` seconds: ``round(t_s * fps)`` (InHARD: 2.72 s -> 68 at 25 fps)."""
    return int(round(float(t_s) * float(fps)))


def frame_to_seconds(frame: int, fps: float) -> float:
    """Time in seconds of frame ``frame``: ``frame / fps``."""
    return float(frame) / float(fps)


def time_range_to_frames(info: VideoInfo, start_s: float, end_s: float) -> tuple[int, int]:
    """``[start_frame, end_frame)`` of an annotated span ``start_s`` to ``end_s`` (seconds).

    The annotated end frame is included (as ``rgb_end_frame`` in InHARD.csv), so the result
    is ``(round(start_s * fps), round(end_s * fps) + 1)`` with the real fps of the file; an
    end one frame past the video (rounding at the last frame) is clipped, anything further
    raises VideoError.
    """
    if end_s < start_s:
        raise VideoError(f"{info.path}: time range {start_s} s to {end_s} s is reversed")
    start = info.frame_at(start_s)
    end = info.frame_at(end_s) + 1
    if end == info.n_frames + 1:
        end = info.n_frames
    if start < 0 or end > info.n_frames or start >= end:
        raise VideoError(
            f"{info.path}: time range {start_s} s to {end_s} s (frames {start} to {end - 1}) is "
            f"outside the video ({info.n_frames} frames, {info.duration_s:.2f} s at {info.fps:g} fps)"
        )
    return start, end


def sample_indices(start: int, end: int, sequence_length: int) -> np.ndarray:
    """``sequence_length`` frame indices spread uniformly over ``[start, end)``.

    Index ``k`` is the centre of the ``k``-th of ``sequence_length`` equal bins
    (``start + floor((k + 0.5) * n / L)``), so ``sample_indices(0, 10, 5) = [1, 3, 5, 7, 9]``;
    a range shorter than ``sequence_length`` repeats frames. HARNets used 20, 50 and 70.
    Returns ``int64 (sequence_length,)``.
    """
    n = int(end) - int(start)
    if n <= 0:
        raise ConfigError(f"sample_indices: empty range [{start}, {end})")
    if sequence_length <= 0:
        raise ConfigError(f"sample_indices: sequence_length {sequence_length} must be positive")
    k = np.arange(sequence_length, dtype=np.float64)
    return int(start) + np.floor((k + 0.5) * n / sequence_length).astype(np.int64)


def frame_indices(
    start_frame: int, end_frame: int, *, stride: int = 1, sequence_length: int | None = None
) -> np.ndarray:
    """Indices of ``[start_frame, end_frame)``: every ``stride``-th, or ``sequence_length``
    of them uniformly (:func:`sample_indices`; ``stride`` is then ignored)."""
    if sequence_length is not None:
        return sample_indices(start_frame, end_frame, sequence_length)
    if stride <= 0:
        raise ConfigError(f"stride {stride} must be positive")
    return np.arange(start_frame, end_frame, stride, dtype=np.int64)


def check_frame_range(path: Path, start: int, end: int, n_frames: int) -> None:
    if not 0 <= start < end <= n_frames:
        raise VideoError(
            f"{path}: frame range [{start}, {end}) is outside the video (frames 0 to {n_frames - 1})"
        )


def _to_rgb_view(bgr: np.ndarray, view: str, size_hw: tuple[int, int] | None) -> np.ndarray:
    out = resize_frame(crop_view(bgr, view), size_hw)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def _iter_decoded(
    path: Path, cap: cv2.VideoCapture, wanted: np.ndarray, view: str,
    size_hw: tuple[int, int] | None,
) -> Iterator[np.ndarray]:
    """Decode sorted ``wanted`` indices in one forward pass (repeats yield the same frame)."""
    if len(wanted) == 0:
        return
    pos = int(wanted[0])
    if pos > 0:
        cap.set(cv2.CAP_PROP_POS_FRAMES, pos)
    previous = -1
    current: np.ndarray | None = None
    for target in map(int, wanted):
        if target != previous:
            while pos < target:  # skip without colour conversion
                if not cap.grab():
                    raise VideoError(f"{path}: decoding stopped at frame {pos} (wanted {target})")
                pos += 1
            ok, bgr = cap.read()
            if not ok:
                raise VideoError(f"{path}: frame {target} could not be decoded (file truncated?)")
            pos += 1
            current = _to_rgb_view(bgr, view, size_hw)
            previous = target
        yield current


def iter_frames(
    path: str | Path,
    start_frame: int = 0,
    end_frame: int | None = None,
    *,
    view: str = "full",
    size_hw: tuple[int, int] | None = DEFAULT_VIEW_SIZE_HW,
    stride: int = 1,
    sequence_length: int | None = None,
    info: VideoInfo | None = None,
) -> Iterator[np.ndarray]:
    """Yield RGB frames ``(H, W, 3) uint8`` of ``[start_frame, end_frame)`` one at a time
    (memory stays flat over a long session). Arguments as :func:`read_frames`."""
    path = Path(path)
    check_view(view)
    info = info or probe_video(path)
    end = info.n_frames if end_frame is None else int(end_frame)
    check_frame_range(path, int(start_frame), end, info.n_frames)
    wanted = frame_indices(int(start_frame), end, stride=stride, sequence_length=sequence_length)
    cap = _open(path)
    try:
        yield from _iter_decoded(path, cap, wanted, view, size_hw)
    finally:
        cap.release()


def read_frames(
    path: str | Path,
    start_frame: int = 0,
    end_frame: int | None = None,
    *,
    view: str = "full",
    size_hw: tuple[int, int] | None = DEFAULT_VIEW_SIZE_HW,
    stride: int = 1,
    sequence_length: int | None = None,
    info: VideoInfo | None = None,
) -> np.ndarray:
    """Frames ``[start_frame, end_frame)`` (end exclusive; None = to the end) of one view.

    ``view`` is one of :data:`VIEWS`; ``size_hw`` the output (H, W), None = the crop's own
    size; either every ``stride``-th frame or ``sequence_length`` frames spread uniformly
    (:func:`sample_indices`). ``info`` skips the probe. Returns RGB ``uint8 (N, H, W, 3)``.
    Raises VideoError naming the file when it is missing, empty, corrupt, or the range falls
    outside it.
    """
    frames = list(iter_frames(path, start_frame, end_frame, view=view, size_hw=size_hw,
                              stride=stride, sequence_length=sequence_length, info=info))
    return np.stack(frames)  # (N, H, W, 3)


def read_frames_at(
    path: str | Path,
    indices: Iterable[int],
    *,
    view: str = "full",
    size_hw: tuple[int, int] | None = DEFAULT_VIEW_SIZE_HW,
    info: VideoInfo | None = None,
) -> np.ndarray:
    """The frames at ``indices`` (any order, repeats allowed), decoded in one forward pass.
    Returns RGB ``uint8 (len(indices), H, W, 3)`` in the order of ``indices``."""
    path = Path(path)
    check_view(view)
    idx = np.asarray(list(indices), dtype=np.int64)
    if idx.size == 0:
        raise ConfigError(f"{path}: read_frames_at needs at least one index")
    info = info or probe_video(path)
    check_frame_range(path, int(idx.min()), int(idx.max()) + 1, info.n_frames)
    order = np.argsort(idx, kind="stable")
    cap = _open(path)
    try:
        decoded = list(_iter_decoded(path, cap, idx[order], view, size_hw))
    finally:
        cap.release()
    out = np.empty((len(idx),) + decoded[0].shape, dtype=np.uint8)
    for k, frame in zip(order, decoded):
        out[k] = frame
    return out


# ----------------------------------------------------------------------------- writing
def write_video(
    path: str | Path, frames_rgb: np.ndarray | Iterable[np.ndarray], fps: float,
    *, verify: bool = True,
) -> VideoInfo:
    """Write RGB frames ``(N, H, W, 3) uint8`` (an array or any iterable of ``(H, W, 3)``) to
    an MP4 (MPEG-4 part 2, fourcc ``mp4v``) at ``fps`` frames per second.

    H and W must be even (MPEG-4 needs it). The file is written next to ``path`` and renamed
    into place when complete. With ``verify`` it is probed back and VideoError is raised
    unless it reads back with the same fps (to 1e-3) and frame count. Returns its VideoInfo.
    """
    path = Path(path)
    if not _MIN_FPS <= float(fps) <= _MAX_FPS:
        raise ConfigError(f"{path}: fps {fps!r} outside {_MIN_FPS} to {_MAX_FPS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix or '.mp4'}")
    writer: cv2.VideoWriter | None = None
    n = 0
    size_hw: tuple[int, int] | None = None
    try:
        for frame in frames_rgb:
            frame = np.asarray(frame)
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise VideoError(f"{path}: frame {n} is {frame.shape} {frame.dtype}, want (H, W, 3) uint8")
            if writer is None:
                size_hw = (frame.shape[0], frame.shape[1])
                if size_hw[0] % 2 or size_hw[1] % 2:
                    raise VideoError(f"{path}: frame size {size_hw} must be even for MPEG-4")
                writer = cv2.VideoWriter(str(tmp), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"mp4v"),
                                         float(fps), (size_hw[1], size_hw[0]))
                if not writer.isOpened():
                    raise VideoError(f"{path}: OpenCV cannot open an mp4v writer")
            elif frame.shape[:2] != size_hw:
                raise VideoError(f"{path}: frame {n} is {frame.shape[:2]}, the first was {size_hw}")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            n += 1
        if writer is None:
            raise VideoError(f"{path}: no frame to write")
        writer.release()
        writer = None
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.release()
        tmp.unlink(missing_ok=True)
    info = probe_video(path)
    if verify and (abs(info.fps - float(fps)) > 1e-3 or info.n_frames != n):
        raise VideoError(
            f"{path}: wrote {n} frames at {fps} fps but it reads back as {info.n_frames} frames "
            f"at {info.fps} fps"
        )
    return info


# ----------------------------------------------------------------------------- cache


