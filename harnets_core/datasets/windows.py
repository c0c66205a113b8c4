"""Fixed-length windows over one session's feature array (training, prediction, streaming).

All indices here are frames at the FEATURE rate (after any resampling). Windows are always
cut from ONE session's array, so no window can span two sessions. Training, offline
prediction and the streaming recognizer all call these functions (no train/serve skew).

Labelling convention: a window over a full session is labelled by the annotation at its
LAST frame, because the streaming recognizer labels each window by its newest sample.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from harnets_core.errors import ConfigError
from harnets_core.serialization import dataclass_from_dict

__all__ = [
    "SHORT_POLICIES",
    "WindowConfig",
    "window_starts",
    "stack_windows",
    "pad_to_length",
    "fill_samples",
    "front_pad",
    "WindowBatch",
    "segment_windows",
    "session_segment_windows",
    "frame_labels",
    "window_labels",
    "convert_frame_index",
    "convert_span",
    "frame_to_time_s",
    "time_to_frame",
]

SHORT_POLICIES = ("pad", "drop")


@dataclass(frozen=True)
class WindowConfig:
    """Window geometry in frames at the feature rate.

    ``length``: frames per window (T). ``hop``: frames between window starts.
    ``short_policy``: what to do with a sequence (segment) shorter than ``length``:
    ``"pad"`` repeats its last frame up to ``length`` (edge padding; one window),
    ``"drop"`` makes no window and counts it in ``WindowBatch.n_dropped``.
    """

    length: int
    hop: int
    short_policy: str = "pad"

    def __post_init__(self) -> None:
        for name in ("length", "hop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"WindowConfig.{name} = {value!r}: must be an integer >= 1")
        if self.short_policy not in SHORT_POLICIES:
            raise ConfigError(
                f"WindowConfig.short_policy = {self.short_policy!r}: use one of {SHORT_POLICIES}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowConfig:
        return dataclass_from_dict(cls, data)


def window_starts(n_frames: int, cfg: WindowConfig) -> np.ndarray:
    """First-frame indices ``0, hop, 2*hop, ...`` of every full window in ``n_frames``.

    A trailing remainder shorter than a window is not covered. If ``n_frames < length``:
    ``[0]`` under ``"pad"`` (the window is edge-padded by :func:`stack_windows`), ``[]``
    under ``"drop"``. Returns int64 (N,).
    """
    if n_frames < 0:
        raise ConfigError(f"window_starts: n_frames = {n_frames} is negative")
    if n_frames == 0:
        return np.zeros(0, dtype=np.int64)
    if n_frames < cfg.length:
        return np.zeros(1 if cfg.short_policy == "pad" else 0, dtype=np.int64)
    return np.arange(0, n_frames - cfg.length + 1, cfg.hop, dtype=np.int64)


def pad_to_length(features: np.ndarray, length: int) -> np.ndarray:
    """Edge-pad (F, D) features at the end to (length, D) by repeating the last frame."""
    n = features.shape[0]
    if n == 0:
        raise ConfigError("pad_to_length: cannot pad an empty sequence")
    if n >= length:
        return features
    return np.concatenate([features, np.repeat(features[-1:], length - n, axis=0)], axis=0)


def fill_samples(min_fill_s: float, sample_s: float) -> int:
    """Samples (of ``sample_s`` seconds each, at least 2) a stream holds before its first, partly
    filled window is classified (a model's ``min_fill_s``): training and the recognizer alike."""
    return max(2, int(np.ceil(min_fill_s / sample_s - 1e-9)))


def front_pad(x: np.ndarray, length: int) -> np.ndarray:
    """(n, ...) -> (length, ...): the first sample repeated in front. A stream's first, partly
    filled windows (a recognizer's ``min_fill``); training windows that begin before a session's
    first frame are padded the same way (their frame indices clipped at 0)."""
    n = x.shape[0]
    return x if n >= length else np.concatenate([np.repeat(x[:1], length - n, axis=0), x], axis=0)


def stack_windows(features: np.ndarray, starts: np.ndarray | Sequence[int], length: int) -> np.ndarray:
    """Windows ``features[s : s + length]`` for each start, as a new (N, T, D) array.

    Uses a strided view (``sliding_window_view``, no copy) then copies only the selected
    windows. A sequence shorter than ``length`` is edge-padded first (the ``"pad"`` policy),
    so ``starts`` must then be ``[0]``. Output dtype is the input's; contiguous.
    """
    feats = np.asarray(features)
    if feats.ndim != 2:
        raise ConfigError(f"stack_windows: features must be (F, D), got shape {feats.shape}")
    starts_arr = np.asarray(starts, dtype=np.int64).reshape(-1)
    if starts_arr.size == 0:
        return np.zeros((0, length, feats.shape[1]), dtype=feats.dtype)
    if feats.shape[0] < length:
        feats = pad_to_length(feats, length)
    last_valid = feats.shape[0] - length
    if starts_arr.min() < 0 or starts_arr.max() > last_valid:
        raise ConfigError(
            f"stack_windows: starts must lie in 0..{last_valid} for {feats.shape[0]} frames "
            f"and length {length}; got {starts_arr.min()}..{starts_arr.max()}"
        )
    view = np.lib.stride_tricks.sliding_window_view(feats, length, axis=0)  # (F-T+1, D, T)
    return np.ascontiguousarray(view[starts_arr].transpose(0, 2, 1))  # (N, T, D)


class WindowBatch(NamedTuple):
    """Windows with their labels. ``starts``: first frame of each window in the SESSION
    array (feature rate); ``n_dropped``: segments skipped by the ``"drop"`` policy."""

    x: np.ndarray  # (N, T, D)
    y: np.ndarray  # (N,) int64
    starts: np.ndarray  # (N,) int64
    n_dropped: int


def segment_windows(
    features: np.ndarray,
    start_frame: int,
    end_frame: int,
    label: int,
    cfg: WindowConfig,
) -> WindowBatch:
    """Windows inside one annotated segment of one session, all labelled ``label``.

    ``features``: (F, D) of the whole session; ``start_frame``..``end_frame`` inclusive, at
    the feature rate (see :func:`convert_span`). Windows never leave the segment: a segment
    shorter than a window is edge-padded (``"pad"``) or dropped (``"drop"``, counted).
    """
    feats = np.asarray(features)
    start = max(int(start_frame), 0)
    end = min(int(end_frame), feats.shape[0] - 1)
    if end < start:
        raise ConfigError(
            f"segment_windows: frames {start_frame}..{end_frame} outside a session of "
            f"{feats.shape[0]} frames"
        )
    seg = feats[start : end + 1]  # (L, D)
    rel = window_starts(seg.shape[0], cfg)
    dropped = int(rel.size == 0)
    x = stack_windows(seg, rel, cfg.length)
    return WindowBatch(x, np.full(rel.size, label, dtype=np.int64), rel + start, dropped)


def session_segment_windows(
    features: np.ndarray,
    spans: Iterable[tuple[int, int, int]],
    cfg: WindowConfig,
) -> WindowBatch:
    """:func:`segment_windows` over several ``(start_frame, end_frame, label)`` spans of ONE
    session, concatenated in span order."""
    feats = np.asarray(features)
    xs, ys, ss, dropped = [], [], [], 0
    for start, end, label in spans:
        b = segment_windows(feats, start, end, label, cfg)
        xs.append(b.x)
        ys.append(b.y)
        ss.append(b.starts)
        dropped += b.n_dropped
    if not xs:
        return WindowBatch(
            np.zeros((0, cfg.length, feats.shape[1]), dtype=feats.dtype),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            0,
        )
    return WindowBatch(np.concatenate(xs), np.concatenate(ys), np.concatenate(ss), dropped)


def frame_labels(
    n_frames: int, spans: Iterable[tuple[int, int, int]], background: int = 0
) -> np.ndarray:
    """Per-frame label (n_frames,) int64 from ``(start_frame, end_frame, label)`` spans
    (end inclusive, feature rate); unannotated frames get ``background`` (0 = "No action";
    pass -1 to mark them unlabelled). Later spans overwrite earlier ones where they overlap.
    """
    out = np.full(n_frames, background, dtype=np.int64)
    for start, end, label in spans:
        lo, hi = max(int(start), 0), min(int(end), n_frames - 1)
        if hi >= lo:
            out[lo : hi + 1] = label
    return out


def window_labels(labels: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Label of each window = the per-frame label at its LAST frame (``start + length - 1``,
    clipped to the sequence for edge-padded windows). This matches the streaming recognizer,
    which labels each window by its newest sample. Returns (N,) int64."""
    lab = np.asarray(labels)
    starts_arr = np.asarray(starts, dtype=np.int64).reshape(-1)
    if lab.size == 0:
        return np.zeros(0, dtype=np.int64)
    last = np.minimum(starts_arr + length - 1, lab.size - 1)
    return lab[last].astype(np.int64)


# ----------------------------------------------------------------------------- rates
def frame_to_time_s(frame: int | np.ndarray, rate_hz: float) -> float | np.ndarray:
    """Time in seconds of frame index ``frame`` at ``rate_hz`` (frame 0 at t = 0)."""
    return frame / rate_hz


def time_to_frame(time_s: float, rate_hz: float, mode: str = "nearest") -> int:
    """Frame index at ``rate_hz`` for ``time_s``: ``"nearest"``, ``"floor"`` or ``"ceil"``
    (with a 1e-6 frame tolerance so exact multiples are not pushed over)."""
    x = time_s * rate_hz
    if mode == "nearest":
        return int(math.floor(x + 0.5))
    if mode == "floor":
        return int(math.floor(x + 1e-6))
    if mode == "ceil":
        return int(math.ceil(x - 1e-6))
    raise ConfigError(f"time_to_frame: mode {mode!r}: use nearest, floor or ceil")


def convert_frame_index(index: int, src_hz: float, dst_hz: float, mode: str = "nearest") -> int:
    """Frame ``index`` at ``src_hz`` (e.g. BVH, 1 / 0.008401 Hz) to the frame at ``dst_hz``
    (e.g. 30 Hz) covering the same instant; frame k is at time k / rate."""
    if src_hz <= 0 or dst_hz <= 0:
        raise ConfigError(f"convert_frame_index: rates must be positive ({src_hz}, {dst_hz})")
    return time_to_frame(index / src_hz, dst_hz, mode)


def convert_span(start: int, end: int, src_hz: float, dst_hz: float) -> tuple[int, int]:
    """An inclusive frame span at ``src_hz`` to the inclusive span at ``dst_hz`` of the
    frames whose instants lie inside it (start rounded up, end rounded down). If no
    resampled instant falls inside (a very short span), the single nearest frame is used.
    """
    lo = convert_frame_index(start, src_hz, dst_hz, "ceil")
    hi = convert_frame_index(end, src_hz, dst_hz, "floor")
    if hi < lo:
        mid = convert_frame_index(start, src_hz, dst_hz, "nearest")
        return mid, mid
    return lo, hi
