"""Training windows sampled over each WHOLE session, as the streaming recognizer sees them.

Segment windows (:func:`harnets_core.datasets.selection.skeleton_windows`) are cut inside
annotated segments only: the model never sees a window across a transition, nor the idle
time between activities. Stream windows are cut over the whole session BVH with the same
window functions as streaming (:func:`~harnets_core.datasets.windows.window_starts`,
:func:`~harnets_core.datasets.windows.window_labels`) and labelled causally:

    the label of a window is the annotation at its NEWEST frame

(the streaming recognizer stamps each window with its newest sample, and the timeline is
scored at that stamp). Time no annotation covers is idle: the "No action" class (id
:data:`~harnets_core.datasets.inhard.NO_ACTION_ID`, InHARD's own name for it) when
``background=True``; without background such windows are left out, as are windows whose
newest frame lies in a segment of a class that was not selected.

Per-frame labels of every session also come back (:class:`StreamWindowSet` ``runs``), so the
segmentation filter and the forecaster can learn durations and transitions from the same
sessions (idle gaps included).

Two layouts hold whole sessions: InHARD's online layout and your own ``sessions`` layout
(recordings + ``labels.csv``, :mod:`harnets_core.datasets.own`; unlabelled time is idle there
too). Own class ids count from 0, which is idle's id here, so a stream selection of the
``sessions`` layout shifts them by :data:`OWN_ID_OFFSET` (:func:`stream_selection`); the model
file keeps the shifted ids with the names.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from harnets_core.datasets.inhard import META_ACTIONS, NO_ACTION_ID, InhardLayout, Segment
from harnets_core.datasets.own import scan_own
from harnets_core.datasets.selection import DataSelection, WindowSet
from harnets_core.datasets.windows import (WindowConfig, fill_samples, frame_labels, segment_windows, window_labels,
                                          window_starts)
from harnets_core.errors import ConfigError, DatasetError
from harnets_core.features.pipeline import SkeletonPipeline
from harnets_core.formats.bvh import BvhClip, read_bvh

__all__ = ["WINDOW_MODES", "BACKGROUND_NAME", "STREAM_LAYOUTS", "OWN_ID_OFFSET", "SessionRun", "StreamWindowSet",
           "with_background", "stream_selection", "every_segment", "session_runs", "stream_windows"]

STREAM_LAYOUTS: tuple[str, ...] = ("online", "sessions")
"""Layouts with one file per whole session, which stream windows can be cut from."""

OWN_ID_OFFSET = 1
"""Added to the class ids of an own ``sessions`` dataset in a stream selection (0 is idle)."""

WINDOW_MODES: tuple[str, ...] = ("stream", "segments")
"""How training windows are cut: over the whole session (labelled by the newest frame), or
inside each run of one label."""

BACKGROUND_NAME = META_ACTIONS[NO_ACTION_ID]
"""Name of the idle class ("No action")."""


@dataclass(frozen=True)
class SessionRun:
    """One run of a single label in a session: ``class_id`` from ``start_s`` for ``duration_s``
    seconds (session clock). ``class_id`` is a dataset id (0 = idle)."""

    session: str
    class_id: int
    start_s: float
    duration_s: float


@dataclass
class StreamWindowSet(WindowSet):
    """A WindowSet plus the label runs of its sessions (idle included)."""

    runs: list[SessionRun] = field(default_factory=list)


def with_background(selection: DataSelection) -> DataSelection:
    """The selection with the idle class "No action" (id 0) first in its classes (unchanged
    when it already has it)."""
    if NO_ACTION_ID in selection.class_ids:
        return selection
    return replace(
        selection,
        class_ids=[NO_ACTION_ID, *selection.class_ids],
        class_names=[BACKGROUND_NAME, *selection.class_names],
    )


def stream_selection(selection: DataSelection) -> DataSelection:
    """The selection whose class ids leave 0 to idle: an own ``sessions`` dataset's ids (from 0)
    shifted by :data:`OWN_ID_OFFSET`, segments included, recorded in ``id_offset`` (idempotent;
    other layouts come back unchanged)."""
    if selection.layout != "sessions" or selection.id_offset:
        return selection
    return replace(
        selection,
        class_ids=[c + OWN_ID_OFFSET for c in selection.class_ids],
        segments=[replace(s, class_id=s.class_id + OWN_ID_OFFSET) for s in selection.segments],
        id_offset=OWN_ID_OFFSET,
    )


def every_segment(selection: DataSelection) -> list[Segment]:
    """Every annotated action of the dataset, selected or not (ids shifted as the selection's):
    what is not idle."""
    if selection.layout == "online":
        return InhardLayout(selection.root).annotations("online")
    return [replace(s, class_id=s.class_id + selection.id_offset) for s in scan_own(selection.root, "sessions").segments]


def _spans(selection: DataSelection, every: Sequence[Segment], session: str, n_frames: int,
           path: Path) -> list[tuple[int, int, int]]:
    """``(start, end, class_id)`` BVH-frame spans of every annotated action of ``session``;
    an action the selection left out (class or scenario) gets -2 (never trained on, not idle)."""
    chosen = {(s.bvh_start_frame, s.bvh_end_frame, s.class_id) for s in selection.segments_of([session])}
    spans = []
    for seg in every:
        if seg.session != session or seg.class_id == NO_ACTION_ID:
            continue  # idle is what no action segment covers
        if seg.bvh_end_frame >= n_frames:
            raise DatasetError(f"{path}: segment {seg.name} ends at BVH frame {seg.bvh_end_frame}, past the file's {n_frames} frames")
        key = (seg.bvh_start_frame, seg.bvh_end_frame, seg.class_id)
        spans.append((seg.bvh_start_frame, seg.bvh_end_frame, seg.class_id if key in chosen else -2))
    return spans


def session_runs(session: str, labels: np.ndarray, frame_time_s: float) -> list[SessionRun]:
    """Runs of equal per-frame labels (dataset ids, -1 = not a selected class) as SessionRuns."""
    out = []
    if labels.size == 0:
        return out
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [labels.size]])
    for s, e in zip(starts, ends):
        out.append(SessionRun(session, int(labels[s]), float(s * frame_time_s), float((e - s) * frame_time_s)))
    return out


def stream_windows(
    selection: DataSelection,
    sessions: Sequence[str],
    pipeline: SkeletonPipeline,
    *,
    hop_s: float,
    background: bool = True,
    mode: str = "stream",
    short_policy: str = "pad",
    min_fill_s: float | None = None,
    clip_loader: Callable[[Path], BvhClip] = read_bvh,
) -> StreamWindowSet:
    """Windows over each whole session BVH (online layout), labelled by their newest frame.

    ``background``: idle time is the "No action" class (which must then be in
    ``selection.class_ids``, see :func:`with_background`); else idle windows are left out.
    ``mode``: ``"stream"`` (windows every hop over the whole session, labelled by their newest
    frame) or ``"segments"`` (windows inside each run of one label, as
    :func:`~harnets_core.datasets.windows.segment_windows` cuts them: today's segment windows,
    plus the idle gaps with ``background``; ``short_policy`` applies to runs shorter than a window).
    ``min_fill_s`` (stream mode): also the windows a recognizer classifies at a session's start,
    once it holds this many seconds of frames, every hop until the first full window: the
    first frame repeated in front (:func:`~harnets_core.datasets.windows.front_pad`).
    Returns x (N, T, D) features (not normalized), y (N,) class indices into
    ``selection.class_ids``, and the label runs of every session. An own ``sessions`` selection
    must have gone through :func:`stream_selection` (its ids must leave 0 to idle).
    """
    if selection.layout not in STREAM_LAYOUTS:
        raise DatasetError(
            f"{selection.root}: stream windows need whole sessions (the online or sessions layout); "
            f"this selection uses {selection.layout!r}"
        )
    if selection.layout == "sessions" and not selection.id_offset:
        raise DatasetError(f"{selection.root}: own class ids start at 0, idle's id: use stream_selection first")
    if background and NO_ACTION_ID not in selection.class_ids:
        raise DatasetError("stream_windows(background=True): the selection lacks the idle class (use with_background)")
    files = selection.files()
    index_of = {cid: i for i, cid in enumerate(selection.class_ids)}
    if mode not in WINDOW_MODES:
        raise ConfigError(f"training windows {mode!r}: use one of {', '.join(WINDOW_MODES)}")
    hop = max(1, int(round(hop_s / pipeline.frame_time_s)))
    cfg = WindowConfig(length=pipeline.raw_length, hop=hop, short_policy="drop" if mode == "stream" else short_policy)
    xs, ys, names, runs = [], [], [], []
    every = every_segment(selection)
    for session in sessions:
        path = files.session_bvh(session)
        clip = clip_loader(path)
        if clip.skeleton.signature() != pipeline.skeleton.signature():
            raise DatasetError(f"{path}: its skeleton differs from the dataset's first session (joints or channels)")
        # idle is 0, actions left out of the selection -2 (never trained on)
        labels = frame_labels(clip.n_frames, _spans(selection, every, session, clip.n_frames, path), NO_ACTION_ID)
        runs.extend(session_runs(session, labels, clip.frame_time_s))
        parts = pipeline.frame_parts(clip.motion.astype(np.float32))  # (F, S)
        wanted = lambda c: c != -2 and (c != NO_ACTION_ID or background)  # noqa: E731
        if mode == "stream":
            starts = window_starts(clip.n_frames, cfg)
            if min_fill_s is not None:  # partly filled windows at the start; they begin before frame 0
                fill = fill_samples(min_fill_s, clip.frame_time_s)
                ends = np.arange(fill - 1, min(cfg.length - 1, clip.n_frames), hop, dtype=np.int64)
                starts = np.concatenate([ends - cfg.length + 1, starts])
            y_ids = window_labels(labels, starts, cfg.length)
            keep = np.array([wanted(int(c)) for c in y_ids], dtype=bool)
            if not keep.any():
                continue
            idx = np.maximum(starts[keep][:, None] + np.arange(cfg.length)[None, :], 0)  # (N, L), front edge-padded
            raw, y_ids = parts[idx], y_ids[keep]  # (N, L, S)
        else:
            batches = [segment_windows(parts, round(r.start_s / clip.frame_time_s),
                                       round((r.start_s + r.duration_s) / clip.frame_time_s) - 1, r.class_id, cfg)
                       for r in session_runs(session, labels, clip.frame_time_s) if wanted(r.class_id)]
            batches = [b for b in batches if len(b.y)]
            if not batches:
                continue
            raw, y_ids = np.concatenate([b.x for b in batches]), np.concatenate([b.y for b in batches])
        xs.append(pipeline.features_from_parts(raw, normalize=False))  # (N, T, D)
        ys.append(np.array([index_of[int(c)] for c in y_ids], dtype=np.int64))
        names.extend([session] * len(y_ids))
    if not xs:
        raise DatasetError(f"{selection.root}: no stream windows for sessions {list(sessions)}")
    return StreamWindowSet(
        x=np.concatenate(xs).astype(np.float32),
        y=np.concatenate(ys),
        session=np.asarray(names),
        runs=runs,
    )
