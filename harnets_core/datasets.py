"""Training windows from an InHARD-layout dataset (the real one or `harnets synth`'s).

Windows are cut inside annotated segments of ONE session (never across sessions), with the
geometry of the model's pipeline; sessions are split by the chosen protocol before any
window exists, so no session is on both sides.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from harnets_core.bvh import BvhClip, read_bvh
from harnets_core.errors import DatasetError
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

__all__ = ["DataSelection", "WindowSet", "select_data", "skeleton_windows"]


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
            "n_segments": len(self.segments),
        }


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


def select_data(
    root: str | Path,
    *,
    split: str = "official",
    classes: Sequence[int | str] | None = None,
    class_limit: int | None = None,
    scenario: str = "all",
    threshold_s: float = DEFAULT_SCENARIO_THRESHOLD_S,
    include_no_action: bool = False,
) -> DataSelection:
    """Sessions split by protocol, then classes (counted on train sessions) and scenario."""
    layout = InhardLayout(root)
    segments = layout.annotations("online")
    sessions = sorted({s.session for s in segments})
    available = set(layout.sessions())
    missing = [s for s in sessions if s not in available]
    if missing:
        raise DatasetError(f"{layout.online_dir / 'Skeleton'}: no BVH for annotated session(s) {missing}")
    train, val = split_sessions(sessions, split)
    if not train or not val:
        raise DatasetError(f"{root}: split {split!r} leaves train={train} validation={val}: both need sessions")
    if not include_no_action:
        segments = [s for s in segments if s.class_id != 0]
    segments = scenario_filter(segments, scenario, threshold_s)
    chosen = select_classes(segments, classes, class_limit=class_limit, count_sessions=train)
    return DataSelection(
        root=Path(root),
        train_sessions=train,
        val_sessions=val,
        class_ids=list(chosen.class_ids),
        class_names=list(chosen.class_names),
        segments=list(chosen.segments),
        scenario=scenario,
        threshold_s=threshold_s,
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
    """Raw-frame windows inside each segment of each session -> features (N, T, D)."""
    layout = InhardLayout(selection.root)
    index_of = {cid: i for i, cid in enumerate(selection.class_ids)}
    cfg = WindowConfig(
        length=pipeline.raw_length,
        hop=max(1, int(round(hop_s / pipeline.frame_time_s))),
        short_policy=short_policy,
    )
    xs, ys, names, dropped = [], [], [], 0
    for session in sessions:
        segs = [s for s in selection.segments if s.session == session]
        if not segs:
            continue
        path = layout.session_bvh(session)
        clip = clip_loader(path)
        if clip.skeleton.signature() != pipeline.skeleton.signature():
            raise DatasetError(f"{path}: its skeleton differs from the dataset's first session (joints or channels)")
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
            batch = segment_windows(parts, seg.bvh_start_frame, seg.bvh_end_frame, index_of[seg.class_id], cfg)
            dropped += batch.n_dropped
            if len(batch.y) == 0:
                continue
            xs.append(pipeline.features_from_parts(batch.x, normalize=False))
            ys.append(batch.y)
            names.extend([session] * len(batch.y))
    if not xs:
        raise DatasetError(f"{selection.root}: no windows for sessions {list(sessions)} (classes {selection.class_names})")
    return WindowSet(
        x=np.concatenate(xs).astype(np.float32),
        y=np.concatenate(ys).astype(np.int64),
        session=np.asarray(names),
        n_dropped=dropped,
    )
