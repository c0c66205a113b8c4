"""Does a video fit the model's view? And is there a person in it?

A model trained on InHARD's 2x2 mosaic with view ``top`` crops the top-left quadrant of every
frame. Given an ordinary single-camera video it sees a quarter of the scene and still answers
with confidence; a pose model given frames without anyone in them still gets "keypoints"
(BlazePose draws confident skeletons on a table base or a pole). This module measures three
simple things and turns them into warnings (never errors: the input may be fine after all):

- geometry (:func:`geometry_warnings`): a mosaic view needs a frame made of four equal
  quadrants (even width and height), each at least the model's input size (InHARD's quadrants
  are larger than any model input; a smaller one is upscaled);
- content (:func:`seam_score`): a mosaic's quadrants are unrelated pictures, so the rows (and
  columns) on either side of the frame's middle differ far more than neighbouring rows do
  anywhere else. The score is min over the two seams of
  ``mean |row(mid) - row(mid - 1)| / median over all other rows of the same``; the median over
  a few sampled frames is compared with :data:`MOSAIC_SEAM_RATIO`;
- pose (:func:`person_flags`): a frame has a person when at least
  :data:`PERSON_MIN_KEYPOINT_FRACTION` of the keypoints are confident
  (>= :data:`PERSON_MIN_CONFIDENCE`) AND their bounding box spans at least
  :data:`PERSON_MIN_EXTENT` of the view with a plausible aspect (:data:`PERSON_MAX_ASPECT`);
  below :data:`PERSON_FRACTION_WARN` of the frames, a warning.

The same :class:`InputCheck` serves ``harnets predict`` (:func:`check_frames`) and the streaming
recognizers (:class:`InputMonitor`, read by the nodes' /diagnostics).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from harnets_core.formats.video import MOSAIC_LAYOUT

__all__ = [
    "MOSAIC_VIEWS",
    "MOSAIC_SEAM_RATIO",
    "SEAM_BAND_PX",
    "SEAM_MIN_STEP",
    "MIN_SEAM_SIDE_PX",
    "PERSON_MIN_CONFIDENCE",
    "PERSON_MIN_KEYPOINT_FRACTION",
    "PERSON_MIN_EXTENT",
    "PERSON_MAX_ASPECT",
    "PERSON_FRACTION_WARN",
    "seam_score",
    "geometry_warnings",
    "person_flags",
    "InputCheck",
    "check_frames",
    "InputMonitor",
]

MOSAIC_VIEWS: tuple[str, ...] = tuple(MOSAIC_LAYOUT)
"""Views that are a quadrant of InHARD's 2x2 mosaic (``full`` is the whole frame)."""

MOSAIC_SEAM_RATIO = 3.0
"""Seam score from which a frame counts as a 2x2 mosaic. Measured (test_view_check.py and
the numbers in docs/VIDEO.md): synthetic InHARD mosaics 21-22; a mosaic of four crops of a
photograph 7.0, of four nearly identical crops (four cameras a few cm apart) 3.1-4.4; single
views (the synthetic cameras and skeleton render, a photograph at 176x144 and 512x600) 0.0-1.6."""

SEAM_BAND_PX = 1
"""The seam is looked for this many rows/columns either side of the middle (odd sizes,
mosaics re-encoded with a shifted border)."""

SEAM_MIN_STEP = 1.0
"""Floor (grey levels) of the typical row-to-row step the seam is compared with: flat
synthetic frames (black with a few spots) would otherwise divide by almost zero."""

MIN_SEAM_SIDE_PX = 16
"""Frames with a side shorter than this get no seam score (None): too few rows to judge."""

PERSON_MIN_CONFIDENCE = 0.5
"""A keypoint counts when its confidence (BlazePose's visibility, OpenPose's peak) is at least this."""

PERSON_MIN_KEYPOINT_FRACTION = 0.4
"""A person needs at least this fraction of the extractor's keypoints confident (at least 2): 14 of
BlazePose's 33, 6 of OpenPose MPI's 15 (an upper body behind a workbench has more)."""

PERSON_MIN_EXTENT = 0.1
"""... and a bounding box of the confident keypoints at least this long (its longer side, as a
fraction of the view's width or height respectively): a few pixels of "skeleton" is no body."""

PERSON_MAX_ASPECT = 8.0
"""... and a box no more than this many times longer than wide (or wide than long): a pole's
line of keypoints is not a body. Lenient: a person seen from above is short and wide."""

PERSON_FRACTION_WARN = 0.5
"""Below this fraction of frames with a person, the input check warns."""


def seam_score(frame: np.ndarray) -> float | None:
    """How much ``frame (H, W, 3 or 1)`` looks like a 2x2 mosaic: the weaker of its two
    middle seams, as the ratio of the median absolute step across the seam (the largest within
    :data:`SEAM_BAND_PX`; a median, so that one object's edge on the line does not count) to
    the median of the mean steps between neighbouring rows/columns elsewhere (at least
    :data:`SEAM_MIN_STEP`).
    About 1 for a single camera, well above :data:`MOSAIC_SEAM_RATIO` for a mosaic. None for
    frames smaller than :data:`MIN_SEAM_SIDE_PX`."""
    g = np.asarray(frame)
    if g.ndim == 3:
        g = g.astype(np.float32).mean(axis=2)  # (H, W)
    else:
        g = g.astype(np.float32)
    if min(g.shape[:2]) < MIN_SEAM_SIDE_PX:
        return None
    scores = []
    for a in (g, g.T):
        diff = np.abs(np.diff(a, axis=0))  # (H - 1, W): row i+1 - row i
        mid = a.shape[0] // 2  # the seam lies between rows mid - 1 and mid: diff[mid - 1]
        lo, hi = max(0, mid - 1 - SEAM_BAND_PX), min(len(diff), mid + SEAM_BAND_PX)
        seam = float(np.median(diff[lo:hi], axis=1).max())  # along most of the line, not one object's edge
        rest = np.delete(diff, np.arange(lo, hi), axis=0).mean(axis=1)  # (H - 1 - band,)
        scores.append(seam / max(float(np.median(rest)), SEAM_MIN_STEP))
    return float(min(scores))


def geometry_warnings(view: str, frame_hw: tuple[int, int], size_hw: tuple[int, int] | None = None) -> list[str]:
    """Reasons a ``frame_hw`` video cannot be the mosaic a ``view`` model reads (none for
    ``full``): an odd side (not four equal cameras), or a quadrant smaller than the model's
    input ``size_hw`` (it would be upscaled)."""
    if view not in MOSAIC_VIEWS:
        return []
    h, w = int(frame_hw[0]), int(frame_hw[1])
    out = []
    if h % 2 or w % 2:
        out.append(f"a {w}x{h} frame (odd side) is not a 2x2 mosaic of equal cameras")
    if size_hw is not None and (h // 2 < size_hw[0] or w // 2 < size_hw[1]):
        out.append(f"its {view!r} quadrant ({w // 2}x{h // 2}) is smaller than the model's input "
                   f"({size_hw[1]}x{size_hw[0]}) and would be upscaled")
    return out


def person_flags(keypoints: np.ndarray) -> np.ndarray:
    """Which frames of ``keypoints (N, K, 3)`` (x, y in [0, 1] of the view, confidence) show
    a person: enough confident keypoints, spread over a box of plausible size and aspect
    (the thresholds above). Returns ``(N,) bool``."""
    kps = np.asarray(keypoints, dtype=np.float32)
    if kps.ndim == 2:
        kps = kps[None]
    k = kps.shape[1]
    ok = kps[..., 2] >= PERSON_MIN_CONFIDENCE  # (N, K)
    enough = ok.sum(axis=1) >= max(2, int(np.ceil(PERSON_MIN_KEYPOINT_FRACTION * k)))  # (N,)
    xy = kps[..., :2]  # (N, K, 2)
    hi = np.where(ok[..., None], xy, -np.inf).max(axis=1)  # (N, 2)
    lo = np.where(ok[..., None], xy, np.inf).min(axis=1)  # (N, 2)
    span = np.where(ok.any(axis=1)[:, None], hi - lo, 0.0)  # (N, 2) box width, height
    long_side = span.max(axis=1)
    extent = long_side >= PERSON_MIN_EXTENT
    aspect = long_side / np.maximum(span.min(axis=1), 1e-6) <= PERSON_MAX_ASPECT
    return enough & extent & aspect


@dataclass
class InputCheck:
    """What the input check found. ``seam_scores`` of the frames checked (None entries
    dropped); ``person_frames`` of ``pose_frames`` sampled frames had a person (pose models;
    ``pose_frames`` 0 otherwise); ``warnings`` in words, empty when the input fits."""

    view: str
    frame_hw: tuple[int, int] | None = None
    seam_scores: list[float] = field(default_factory=list)
    person_frames: int = 0
    pose_frames: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def mosaic(self) -> bool | None:
        """Whether the frames look like a 2x2 mosaic (None: not checked)."""
        if not self.seam_scores:
            return None
        return bool(np.median(self.seam_scores) >= MOSAIC_SEAM_RATIO)

    @property
    def person_fraction(self) -> float | None:
        """Fraction of the sampled frames with a person (None: not a pose model, or no frame yet)."""
        return self.person_frames / self.pose_frames if self.pose_frames else None

    @property
    def view_fits(self) -> bool:
        """False when the frames' size or content does not fit the view."""
        return not any(w.startswith("view:") for w in self.warnings)

    @property
    def ok(self) -> bool:
        return not self.warnings

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the predict report's ``input`` and the nodes' diagnostics)."""
        return {
            "view": self.view,
            "frame_hw": None if self.frame_hw is None else list(self.frame_hw),
            "mosaic": self.mosaic,
            "seam_score": None if not self.seam_scores else round(float(np.median(self.seam_scores)), 2),
            "view_fits": self.view_fits,
            "person_fraction": None if self.person_fraction is None else round(self.person_fraction, 4),
            "person_frames": self.person_frames,
            "pose_frames": self.pose_frames,
            "warnings": list(self.warnings),
        }


def _quarter(view: str) -> str:
    r, c = MOSAIC_LAYOUT[view]
    return f"{('top', 'bottom')[r]}-{('left', 'right')[c]}"


def check_frames(
    view: str,
    frame_hw: tuple[int, int] | None,
    seam_scores: Sequence[float | None] = (),
    keypoints: np.ndarray | None = None,
    *,
    size_hw: tuple[int, int] | None = None,
    flags: np.ndarray | None = None,
) -> InputCheck:
    """The verdict on an input seen through ``view``: geometry of ``frame_hw`` (H, W of the
    whole frame), the mosaic seam of sampled frames (``seam_scores`` of :func:`seam_score`),
    and for pose models the person fraction of ``keypoints (N, K, 3)`` (or of ready ``flags (N,)``).
    Warnings on the view start with ``"view:"``, the person warning with ``"person:"``."""
    scores = [float(s) for s in seam_scores if s is not None]
    if flags is None and keypoints is not None:
        flags = person_flags(keypoints)
    flags = np.zeros(0, bool) if flags is None else np.asarray(flags, bool)
    check = InputCheck(view, None if frame_hw is None else (int(frame_hw[0]), int(frame_hw[1])), scores,
                       int(flags.sum()), int(len(flags)))
    size = "" if frame_hw is None else f"{frame_hw[1]}x{frame_hw[0]} "
    if frame_hw is not None:
        check.warnings += [f"view: {g}; the model reads the {view!r} quadrant of InHARD's mosaic"
                           for g in geometry_warnings(view, frame_hw, size_hw)]
    mosaic = check.mosaic
    score = f"seam score {np.median(scores):.1f}, a mosaic scores >= {MOSAIC_SEAM_RATIO:g}" if scores else ""
    if view in MOSAIC_VIEWS and mosaic is False:
        check.warnings.append(
            f"view: the {size}video does not look like a 2x2 mosaic ({score}); the model reads the {view!r} "
            f"quadrant of InHARD's mosaic, so it sees only the {_quarter(view)} quarter of each frame "
            "(a single camera: a pose model takes --view full; an RGB model needs training on such video)")
    elif view == "full" and mosaic is True:
        check.warnings.append(
            f"view: the {size}video looks like a 2x2 mosaic ({score}) but the model reads the whole frame "
            "(view 'full'); pick a quadrant with --view top|left|right")
    fraction = check.person_fraction
    if fraction is not None and fraction < PERSON_FRACTION_WARN:
        check.warnings.append(
            f"person: a person was found in {check.person_frames} of {check.pose_frames} sampled frames "
            f"({fraction:.0%} < {PERSON_FRACTION_WARN:.0%}) of the {view!r} view; the predictions say little")
    return check


class InputMonitor:
    """The input check over a stream (the streaming FrameRecognizer keeps one): a seam score
    every ``seam_every`` frames (the last ``recent_seams`` kept) and a person flag per pose
    frame (the last ``recent_frames`` kept)."""

    def __init__(self, view: str, size_hw: tuple[int, int] | None = None, *, seam_every: int = 10,
                 recent_seams: int = 9, recent_frames: int = 50) -> None:
        self.view = view
        self.size_hw = size_hw
        self.seam_every = max(1, int(seam_every))
        self.frame_hw: tuple[int, int] | None = None
        self._n = 0
        self._seams: deque = deque(maxlen=max(1, int(recent_seams)))
        self._persons: deque = deque(maxlen=max(1, int(recent_frames)))

    def reset(self) -> None:
        self._n = 0
        self.frame_hw = None
        self._seams.clear()
        self._persons.clear()

    def frame(self, frame: np.ndarray) -> None:
        """One incoming (whole, uncropped) frame."""
        hw = (int(frame.shape[0]), int(frame.shape[1]))
        if hw != self.frame_hw:  # a new camera size: the old scores say nothing about it
            self._seams.clear()
            self.frame_hw = hw
            self._n = 0
        if self._n % self.seam_every == 0:
            score = seam_score(frame)
            if score is not None:
                self._seams.append(score)
        self._n += 1

    def keypoints(self, kps: np.ndarray) -> bool:
        """One frame's keypoints (K, 3); returns whether it shows a person."""
        flag = bool(person_flags(kps)[0])
        self._persons.append(flag)
        return flag

    def flags(self) -> np.ndarray | None:
        """Person flags (M,) bool of the kept pose frames, oldest first (None: no pose frame)."""
        return np.asarray(self._persons, bool) if self._persons else None

    def recent_person_fraction(self, n: int) -> float | None:
        """Person fraction of the last ``n`` pose frames (None before any)."""
        recent = list(self._persons)[-int(n):]
        return sum(recent) / len(recent) if recent else None

    def check(self) -> InputCheck:
        return check_frames(self.view, self.frame_hw, list(self._seams), size_hw=self.size_hw, flags=self.flags())
