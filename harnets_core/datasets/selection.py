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

The video modalities (``modality="rgb"`` or ``"pose"``, :mod:`harnets_core.datasets.frames`) read the same
two layouts from ``Online/RGB/<session>.mp4`` or ``Segmented/RGBSegmented/<Meta_action_label>/<name>.mp4``;
``select_data(modality=...)`` checks (and ``"auto"`` looks for) that modality's files.
A segmented clip shorter than its annotated span is an error (:func:`check_segment_clip`).

Your own data (:mod:`harnets_core.datasets.own`): ``"classes"`` (a folder per activity, a clip
per file) reads like ``"segmented"``, ``"sessions"`` (recordings + ``labels.csv``) like
``"online"``; their class ids index the dataset's own class names. ``"inhard-online"`` and
``"inhard-segmented"`` are the long names of ``"online"`` and ``"segmented"``.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from harnets_core.formats.bvh import BvhClip, read_bvh
from harnets_core.errors import ConfigError, DatasetError
from harnets_core.datasets.inhard import (
    DEFAULT_SCENARIO_THRESHOLD_S,
    InhardLayout,
    Segment,
    scenario_filter,
    select_classes,
    split_sessions,
)
from harnets_core.datasets.layouts import LAYOUT_NAMES, OWN_LAYOUTS, LayoutFiles, canonical_layout, clip_per_segment, layout_files
from harnets_core.datasets.own import detect_own_layout, file_level_only, scan_own, split_groups
from harnets_core.features.pipeline import SkeletonPipeline
from harnets_core.datasets.windows import WindowConfig, segment_windows

__all__ = [
    "LAYOUTS",
    "MODALITIES",
    "SEGMENT_CLIP_TOLERANCE_FRAMES",
    "DataSelection",
    "WindowSet",
    "check_segment_clip",
    "detect_layout",
    "select_data",
    "skeleton_windows",
]

LAYOUTS: tuple[str, ...] = LAYOUT_NAMES
"""Values of ``select_data(layout=...)``; a DataSelection records the resolved one."""

MODALITIES: tuple[str, ...] = ("skeleton", "rgb", "pose")
"""Values of ``select_data(modality=...)``: which files of the layout a run reads (BVH or video)."""

SEGMENT_CLIP_TOLERANCE_FRAMES = 1
"""Frames a segmented clip may lack against its annotated span (the cutter rounds at the ends:
the real ``P01_R01_0026.48_0028.80.bvh`` has 276 frames for 2.32 s at 119.03 Hz = 276.2, while
the csv's inclusive BVH frames 3151 to 3428 are 278)."""


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
    layout: str = "online"  # resolved: "online", "segmented", "classes" or "sessions"
    split: str = "official"
    group_pattern: str | None = None  # classes layout: the recording key of a clip's file name
    notes: list[str] = field(default_factory=list)  # what was skipped, counted (own layouts)
    id_offset: int = 0  # added to an own dataset's class ids (stream windows: 0 is idle), see datasets.stream_windows

    @property
    def clip_per_segment(self) -> bool:
        """True when each segment is its own clip (segmented, classes layouts)."""
        return clip_per_segment(self.layout)

    def files(self) -> LayoutFiles:
        """The layout's file accessors (session and segment files)."""
        return layout_files(self.root, self.layout, group_pattern=self.group_pattern)

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
            "group_pattern": self.group_pattern,
            "notes": self.notes,
            "n_segments": len(self.segments),
            "id_offset": self.id_offset,
        }

    def template_bvh(self) -> Path:
        """A BVH file of the first train session (its skeleton and frame time are the
        dataset's): the session file (online) or its first segment's clip (segmented)."""
        layout = self.files()
        if self.clip_per_segment:
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


def check_segment_clip(path: Path, segment: Segment, n_frames: int, rate_hz: float) -> None:
    """DatasetError naming ``path`` when the segmented clip of ``segment`` has no frame, or fewer
    than its annotated span (``rgb_start_s`` to ``rgb_end_s``, seconds) holds at the clip's own
    rate ``rate_hz`` (frames per second, read from the file), less
    :data:`SEGMENT_CLIP_TOLERANCE_FRAMES`. Longer clips are accepted (a cut that includes the
    end frame, as ``harnets synth`` writes, has one or two more)."""
    if n_frames < 1:
        raise DatasetError(f"{path}: segmented clip of {segment.name} has no frames")
    span_s = segment.rgb_end_s - segment.rgb_start_s
    expected = int(round(span_s * rate_hz))
    if n_frames < expected - SEGMENT_CLIP_TOLERANCE_FRAMES:
        raise DatasetError(
            f"{path}: segmented clip of {segment.name} has {n_frames} frames, shorter than its annotated "
            f"{span_s:.2f} s ({expected} frames at {rate_hz:g} Hz): truncated or cut from the wrong span"
        )


_ONLINE_FILES: dict[str, tuple[str, str, str]] = {
    "skeleton": ("Skeleton", ".bvh", "BVH"),
    "rgb": ("RGB", ".mp4", "session video"),
    "pose": ("RGB", ".mp4", "session video"),
}  # modality -> (folder under Online/, suffix, what the file is)


def _missing_online(layout: InhardLayout, sessions: Sequence[str], modality: str) -> str | None:
    """None when ``Online/<folder>`` has ``modality``'s file of every session, else the problem."""
    folder, suffix, what = _ONLINE_FILES[modality]
    base = layout.online_dir / folder
    missing = sorted(s for s in sessions if not (base / f"{s}{suffix}").is_file())
    return f"{base}: no {what} for annotated session(s) {missing}" if missing else None


def _check_modality(modality: str) -> None:
    if modality not in MODALITIES:
        raise ConfigError(f"modality {modality!r}: use one of {', '.join(MODALITIES)}")


def detect_layout(root: str | Path, modality: str = "skeleton") -> str:
    """Your own data first (neither ``Online/`` nor ``Segmented/`` at the root):
    ``"sessions"`` when ``labels.csv`` is there, ``"classes"`` when a folder holds clips
    (:func:`~harnets_core.datasets.own.detect_own_layout`). InHARD:
    ``"online"`` when ``Online/Labels`` has the annotation and the online folder of
    ``modality`` (``Online/Skeleton`` BVHs; ``Online/RGB`` videos for rgb and pose) a file for
    every session it annotates; else ``"segmented"`` when ``Segmented/Labels`` has one; else
    DatasetError naming what is missing."""
    _check_modality(modality)
    own = detect_own_layout(root) if not (Path(root) / "Online").is_dir() and not (Path(root) / "Segmented").is_dir() else None
    if own is not None:
        return own
    layout = InhardLayout(root)
    try:
        online_problem = _missing_online(layout, sorted({s.session for s in layout.annotations("online")}), modality)
    except DatasetError as err:
        online_problem = str(err)
    if online_problem is None:
        return "online"
    try:
        layout.annotations_path("segmented")
    except DatasetError as err:
        raise DatasetError(
            f"{root}: no layout is usable: online ({online_problem}); segmented ({err}); classes (no <Class>/ folder "
            f"of clips); sessions (no {root}/labels.csv)") from err
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
    modality: str = "skeleton",
    group_pattern: str | None = None,
) -> DataSelection:
    """Sessions split by protocol, then classes (counted on train sessions) and scenario.

    ``layout``: ``"online"`` (session files + Online csv), ``"segmented"`` (one file per segment +
    Segmented csv) or ``"auto"`` (:func:`detect_layout`); the selection records the resolved one.
    ``modality``: the files the run reads, checked before any training (a DatasetError names the
    first missing one): ``"skeleton"`` BVHs (``Online/Skeleton``, ``SkletonSegmented``), ``"rgb"``
    and ``"pose"`` videos (``Online/RGB``, ``RGBSegmented``).
    """
    layout = canonical_layout(layout)
    _check_modality(modality)
    resolved = detect_layout(root, modality) if layout == "auto" else layout
    if resolved in OWN_LAYOUTS:
        return _select_own(root, resolved, split=split, classes=classes, class_limit=class_limit, scenario=scenario,
                           threshold_s=threshold_s, modality=modality, group_pattern=group_pattern)
    if group_pattern:
        raise ConfigError("--group-pattern applies to the classes layout; InHARD splits by session")
    files = InhardLayout(root)
    segments = files.annotations(resolved)
    sessions = sorted({s.session for s in segments})
    problem = _missing_online(files, sessions, modality) if resolved == "online" else None
    if problem:
        raise DatasetError(problem)
    train, val = split_sessions(sessions, split)
    if not train or not val:
        raise DatasetError(f"{root}: split {split!r} leaves train={train} validation={val}: both need sessions")
    if not include_no_action:
        segments = [s for s in segments if s.class_id != 0]
    segments = scenario_filter(segments, scenario, threshold_s)
    chosen = select_classes(segments, classes, class_limit=class_limit, count_sessions=train)
    if resolved == "segmented":
        clip_of = files.segmented_bvh if modality == "skeleton" else files.segmented_video
        for seg in chosen.segments:
            clip_of(seg)  # DatasetError naming the first missing clip, before any training
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


def _select_own(
    root: str | Path, layout: str, *, split: str, classes: Sequence[int | str] | None, class_limit: int | None,
    scenario: str, threshold_s: float, modality: str, group_pattern: str | None,
) -> DataSelection:
    """:func:`select_data` of a ``classes`` or ``sessions`` dataset. ``classes``: names (or
    indices into the dataset's class list), kept in the given order (a model's order);
    every chosen class needs segments on both sides of the split."""
    data = scan_own(root, layout, modality, group_pattern=group_pattern)
    notes = list(data.notes)
    train, val, used = split_groups(data, split)
    if file_level_only(data):
        text = (f"{root}: every clip is its own recording group (file names carry no recording key): the split keeps "
                "files apart, not recordings; name clips <recording>_<n> or give --group-pattern")
        notes.append(text)
        logging.getLogger(__name__).warning(text)
    if not train or not val:
        raise DatasetError(f"{root}: split {used!r} leaves train={train} validation={val}: both need recordings")
    names = data.class_names
    if classes is None:
        wanted = list(range(len(names)))
    else:
        wanted = []
        for c in classes:
            if isinstance(c, int) and not isinstance(c, bool):
                if not 0 <= c < len(names):
                    raise ConfigError(f"class id {c}: the dataset has classes 0..{len(names) - 1} ({', '.join(names)})")
                wanted.append(c)
            elif str(c) in names:
                wanted.append(names.index(str(c)))
            else:
                raise ConfigError(f"class {c!r} is not in {root} (classes: {', '.join(names)})")
        if len(set(wanted)) != len(wanted) or not wanted:
            raise ConfigError(f"classes {list(classes)}: give distinct classes")
    segments = scenario_filter(data.segments, scenario, threshold_s)
    if scenario != "all" and classes is None:
        # a scenario keeps the classes it has on both sides of the split (as InHARD's keeps those present)
        sides = [{s.class_id for s in segments if s.session in set(side)} for side in (train, val)]
        dropped = [names[c] for c in wanted if not (c in sides[0] and c in sides[1])]
        wanted = [c for c in wanted if c in sides[0] and c in sides[1]]
        if not wanted:
            raise DatasetError(f"{root}: scenario {scenario} (threshold {threshold_s:g} s) leaves no class with segments "
                               f"on both sides of split {used!r}; change --sa-threshold-s or record more")
        if dropped:
            text = (f"{root}: scenario {scenario} (threshold {threshold_s:g} s) leaves out {dropped}: "
                    "no segment of theirs on one side of the split")
            notes.append(text)
            logging.getLogger(__name__).warning(text)
    if class_limit is not None:
        if class_limit < 1:
            raise ConfigError(f"class_limit = {class_limit}: must be >= 1")
        counts = Counter(s.class_id for s in segments if s.session in set(train))
        keep = set(sorted(wanted, key=lambda c: (-counts.get(c, 0), c))[:class_limit])
        wanted = [c for c in wanted if c in keep and counts.get(c, 0) > 0]
    chosen = set(wanted)
    segments = [s for s in segments if s.class_id in chosen]
    for side, side_sessions in (("train", train), ("validation", val)):
        have = {s.class_id for s in segments if s.session in set(side_sessions)}
        lacking = [names[c] for c in wanted if c not in have]
        if lacking:
            raise DatasetError(
                f"{root}: class(es) {lacking} have no segment on the {side} side of split {used!r} "
                f"({side} recordings: {side_sessions[:6]}{' ...' if len(side_sessions) > 6 else ''}); record more, "
                "choose another --split group-fold:K:I, or leave them out with --classes")
    return DataSelection(
        root=Path(root), train_sessions=train, val_sessions=val, class_ids=wanted, class_names=[names[c] for c in wanted],
        segments=segments, scenario=scenario, threshold_s=threshold_s, layout=layout, split=used,
        group_pattern=group_pattern, notes=notes,
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
    layout = selection.files()
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
        if selection.clip_per_segment:
            for seg in segs:
                path = layout.segmented_bvh(seg)
                clip = load(path)
                check_segment_clip(path, seg, clip.n_frames, 1.0 / clip.frame_time_s)
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
