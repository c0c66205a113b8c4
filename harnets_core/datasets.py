"""Training windows from an InHARD-layout dataset (the real one or `harnets synth`'s).

Two layouts of the download can feed training (``select_data(layout=...)``):

- ``"online"``: ``Online/Labels/InHARD.csv`` and one BVH per session
  (``Online/Skeleton/<session>.bvh``); windows are cut inside each annotated segment of the
  session's frames.
- ``"segmented"``: ``Segmented/Labels/InHARD.csv`` (with its "No action" rows) and one BVH per
  segment (``Segmented/SkletonSegmented/<Meta_action_label>/<name>.bvh``); the clip IS the
  segment (its frame 0 is the segment's first frame), so windows are cut over the whole clip.
- ``"auto"``: online when ``Online/Skeleton`` holds every annotated session of the Online csv,
  else segmented.

Both use the same pipeline (per-frame parts, then window features) and the same short-segment
policy. Windows never span two segments or sessions; sessions are split by the chosen protocol
before any window exists, so no session is on both sides.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from harnets_core.bvh import BvhClip, read_bvh
from harnets_core.errors import ConfigError, DatasetError
from harnets_core.inhard import (
    DEFAULT_SCENARIO_THRESHOLD_S,
    InhardLayout,
    Segment,
    scenario_filter,
    select_classes,
    split_sessions,
)
from harnets_core.pipeline import SkeletonPipeline
from harnets_core.windows import WindowConfig, segment_windows

__all__ = ["LAYOUTS", "DataSelection", "WindowSet", "detect_layout", "select_data", "skeleton_windows"]

LAYOUTS: tuple[str, ...] = ("online", "segmented", "auto")
"""Values of ``select_data(layout=...)``; a DataSelection records the resolved one."""


@dataclass
class DataSelection:
    """Which sessions, classes and segments one training run uses."""

    root: Path
    train_sessions: list[str]
    val_sessions: list[str]
    class_ids: list[int]
    class_names: list[str]
    segments: list[Segment]  # of the chosen classes and scenario, both splits
    scenario: str = "all"
    threshold_s: float = DEFAULT_SCENARIO_THRESHOLD_S
    layout: str = "online"  # resolved: "online" or "segmented"
    split: str = "official"

    def segments_of(self, sessions: Sequence[str]) -> list[Segment]:
        wanted = set(sessions)
        return [s for s in self.segments if s.session in wanted]

    def to_dict(self) -> dict:
        return {
            "root": str(self.root),
            "train_sessions": self.train_sessions,
            "val_sessions": self.val_sessions,
            "class_ids": self.class_ids,
            "class_names": self.class_names,
            "scenario": self.scenario,
            "threshold_s": self.threshold_s,
            "layout": self.layout,
            "split": self.split,
            "n_segments": len(self.segments),
        }

    def template_bvh(self) -> Path:
        """A BVH file of the first train session (its skeleton and frame time are the
        dataset's): the session file (online) or its first segment's clip (segmented)."""
        layout = InhardLayout(self.root)
        if self.layout == "segmented":
            segs = self.segments_of(self.train_sessions[:1]) or self.segments_of(self.train_sessions) or self.segments
            if not segs:
                raise DatasetError(f"{self.root}: no segment selected, so no segmented BVH to read the skeleton from")
            return layout.segmented_bvh(segs[0])
        return layout.session_bvh(self.train_sessions[0])


@dataclass
class WindowSet:
    """x (N, T, D) float32 model inputs (before normalization), y (N,) class index."""

    x: np.ndarray
    y: np.ndarray
    session: np.ndarray  # (N,) session name of each window
    n_dropped: int = 0
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.shape[0])


def detect_layout(root: str | Path) -> str:
    """``"online"`` when ``Online/Labels`` has the annotation and ``Online/Skeleton`` a BVH for
    every session it annotates; else ``"segmented"`` when ``Segmented/Labels`` has one; else
    DatasetError naming what is missing."""
    layout = InhardLayout(root)
    try:
        sessions = {s.session for s in layout.annotations("online")}
        skel = layout.online_dir / "Skeleton"
        missing = sorted(s for s in sessions if not (skel / f"{s}.bvh").is_file())
        online_problem = f"{skel}: no BVH for annotated session(s) {missing}" if missing else None
    except DatasetError as err:
        online_problem = str(err)
    if online_problem is None:
        return "online"
    try:
        layout.annotations_path("segmented")
    except DatasetError as err:
        raise DatasetError(f"{root}: neither layout is usable: online ({online_problem}); segmented ({err})") from err
    return "segmented"


def select_data(
    root: str | Path,
    *,
    split: str = "official",
    classes: Sequence[int | str] | None = None,
    class_limit: int | None = None,
    scenario: str = "all",
    threshold_s: float = DEFAULT_SCENARIO_THRESHOLD_S,
    include_no_action: bool = False,
    layout: str = "auto",
) -> DataSelection:
    """Sessions split by protocol, then classes (counted on train sessions) and scenario.

    ``layout``: ``"online"`` (session BVHs + Online csv), ``"segmented"`` (one BVH per segment +
    Segmented csv) or ``"auto"`` (:func:`detect_layout`); the selection records the resolved one.
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    resolved = detect_layout(root) if layout == "auto" else layout
    files = InhardLayout(root)
    segments = files.annotations(resolved)
    sessions = sorted({s.session for s in segments})
    if resolved == "online":
        available = set(files.sessions())
        missing = [s for s in sessions if s not in available]
        if missing:
            raise DatasetError(f"{files.online_dir / 'Skeleton'}: no BVH for annotated session(s) {missing}")
    train, val = split_sessions(sessions, split)
    if not train or not val:
        raise DatasetError(f"{root}: split {split!r} leaves train={train} validation={val}: both need sessions")
    if not include_no_action:
        segments = [s for s in segments if s.class_id != 0]
    segments = scenario_filter(segments, scenario, threshold_s)
    chosen = select_classes(segments, classes, class_limit=class_limit, count_sessions=train)
    if resolved == "segmented":
        for seg in chosen.segments:
            files.segmented_bvh(seg)  # DatasetError naming the first missing clip, before any training
    return DataSelection(
        root=Path(root),
        train_sessions=train,
        val_sessions=val,
        class_ids=list(chosen.class_ids),
        class_names=list(chosen.class_names),
        segments=list(chosen.segments),
        scenario=scenario,
        threshold_s=threshold_s,
        layout=resolved,
        split=split,
    )


def skeleton_windows(
    selection: DataSelection,
    sessions: Sequence[str],
    pipeline: SkeletonPipeline,
    *,
    hop_s: float,
    short_policy: str = "pad",
    clip_loader: Callable[[Path], BvhClip] = read_bvh,
) -> WindowSet:
    """Raw-frame windows inside each segment of each session -> features (N, T, D).

    Online layout: the segment's frames of the session BVH; segmented layout: the whole
    segment clip. Either way per-frame parts are computed once per file and each window's
    features are built from its frames' parts, as the streaming recognizer does."""
    layout = InhardLayout(selection.root)
    index_of = {cid: i for i, cid in enumerate(selection.class_ids)}
    cfg = WindowConfig(
        length=pipeline.raw_length,
        hop=max(1, int(round(hop_s / pipeline.frame_time_s))),
        short_policy=short_policy,
    )
    xs, ys, names, dropped = [], [], [], 0

    def load(path: Path) -> BvhClip:
        clip = clip_loader(path)
        if clip.skeleton.signature() != pipeline.skeleton.signature():
            raise DatasetError(f"{path}: its skeleton differs from the dataset's first session (joints or channels)")
        return clip

    def add(parts: np.ndarray, start: int, end: int, seg: Segment, session: str) -> None:
        nonlocal dropped
        batch = segment_windows(parts, start, end, index_of[seg.class_id], cfg)
        dropped += batch.n_dropped
        if len(batch.y) == 0:
            return
        xs.append(pipeline.features_from_parts(batch.x, normalize=False))
        ys.append(batch.y)
        names.extend([session] * len(batch.y))

    for session in sessions:
        segs = [s for s in selection.segments if s.session == session]
        if not segs:
            continue
        if selection.layout == "segmented":
            for seg in segs:
                path = layout.segmented_bvh(seg)
                clip = load(path)
                if clip.n_frames < 1:
                    raise DatasetError(f"{path}: segmented clip of {seg.name} has no frames")
                parts = pipeline.frame_parts(clip.motion.astype(np.float32))  # (F_clip, S)
                add(parts, 0, clip.n_frames - 1, seg, session)  # the clip IS the segment
            continue
        path = layout.session_bvh(session)
        clip = load(path)
        # Per-frame parts once per session (forward kinematics of every frame, in one batch);
        # each window's features are then built from its frames' parts, exactly as the
        # streaming recognizer builds them from its ring.
        parts = pipeline.frame_parts(clip.motion.astype(np.float32))  # (F, S)
        for seg in segs:
            if seg.bvh_end_frame >= clip.n_frames:
                raise DatasetError(
                    f"{path}: segment {seg.name} ends at BVH frame {seg.bvh_end_frame}, "
                    f"past the file's {clip.n_frames} frames"
                )
            add(parts, seg.bvh_start_frame, seg.bvh_end_frame, seg, session)
    if not xs:
        raise DatasetError(f"{selection.root}: no windows for sessions {list(sessions)} (classes {selection.class_names})")
    return WindowSet(
        x=np.concatenate(xs).astype(np.float32),
        y=np.concatenate(ys).astype(np.int64),
        session=np.asarray(names),
        n_dropped=dropped,
    )
