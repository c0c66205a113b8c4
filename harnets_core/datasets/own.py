"""Your own dataset: the ``classes`` and ``sessions`` layouts, with your class names.

``classes`` (one folder per activity, one clip per file, as HARNets' own instructions have it)::

    ROOT/[train/|test/|val/]<Class>/<clip>.bvh|.mp4|.avi|.mkv   [ROOT/classes.txt]

A clip may have a BVH and a video of the same stem (two modalities of one clip). The class
names are the folder names; an optional ``classes.txt`` gives their order and display names
(one class a line, ``Folder`` or ``Folder: Display name``; ``#`` starts a comment; every
folder must be listed). With ``train/`` and ``test/`` (or ``val/``) folders above the class
folders, those are the split. Without them the split is by recording: each clip's *group*
(its recording) is taken from its file name by :data:`DEFAULT_GROUP_PATTERN` (the stem up to
its last ``_`` or ``-``: ``rec03_012.bvh`` -> ``rec03``) or a ``--group-pattern`` regex (its
group named ``group``, or its first group), and whole groups go to one side.

``sessions`` (continuous recordings, free labels)::

    ROOT/<session>.bvh and/or ROOT/<session>.mp4|.avi|.mkv
    ROOT/labels.csv      session,start_s,end_s,label[,subject]   [ROOT/classes.txt]

Times are seconds from the recording's first frame. Rows must not overlap within a session.
The split is by subject when the csv gives one, else by session.

Bad input is an error naming the file (and csv line): a class folder with no readable clip,
a row with ``end_s <= start_s``, an unknown session, overlapping rows, a row past its
recording, a BVH and a video of one session whose lengths differ, a class with segments on
one side of the split only. What is skipped on purpose (files that are not clips, clips
without the modality's file, recordings without a label row) is counted in
``DataSelection.notes`` and logged as a warning.
"""
from __future__ import annotations

import csv
import logging
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from harnets_core.datasets.inhard import Segment
from harnets_core.errors import ConfigError, DatasetError

__all__ = [
    "BVH_SUFFIX",
    "CLASSES_FILE",
    "DEFAULT_GROUP_PATTERN",
    "LABELS_FILE",
    "LENGTH_TOLERANCE_S",
    "VIDEO_SUFFIXES",
    "ClassesLayout",
    "OwnDataset",
    "SessionsLayout",
    "detect_own_layout",
    "file_level_only",
    "group_of",
    "read_classes_file",
    "read_labels",
    "scan_own",
    "split_groups",
]

log = logging.getLogger(__name__)

BVH_SUFFIX = ".bvh"
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mkv")
CLIP_SUFFIXES: tuple[str, ...] = (BVH_SUFFIX, *VIDEO_SUFFIXES)
CLASSES_FILE = "classes.txt"
LABELS_FILE = "labels.csv"
LABEL_COLUMNS: tuple[str, ...] = ("session", "start_s", "end_s", "label")
DEFAULT_GROUP_PATTERN = r"^(?P<group>.+)[_-][^_-]+$"
"""A clip's recording: its file stem up to the last ``_`` or ``-`` (a stem with neither is its
own group). ``rec03_012`` -> ``rec03``; ``alice-take2`` -> ``alice``."""

LENGTH_TOLERANCE_S = 0.5
"""Seconds a session's BVH and video may differ in length (a recorder starts and stops each
stream a few frames apart); more is an error."""

_SPLIT_DIRS: dict[str, str] = {"train": "train", "test": "val", "val": "val", "validation": "val"}
_IGNORED_DIRS = (".harnets_cache",)
_MODALITY_SUFFIXES: dict[str, tuple[str, ...]] = {"skeleton": (BVH_SUFFIX,), "rgb": VIDEO_SUFFIXES, "pose": VIDEO_SUFFIXES}


# ----------------------------------------------------------------------------- small readers
def _bvh_length(path: Path) -> tuple[int, float]:
    """``(n_frames, frame_time_s)`` of a BVH, the whole file checked (BvhParseError naming it)."""
    from harnets_core.formats.bvh import read_bvh

    clip = read_bvh(path, end_frame=1)  # checks the hierarchy and the motion line count
    found = re.search(rb"^\s*Frames:\s*(\d+)", path.read_bytes(), re.MULTILINE)
    assert found is not None  # read_bvh checked it
    return int(found[1]), clip.frame_time_s


def _video_length(path: Path) -> tuple[int, float]:
    """``(n_frames, fps)`` of a video (VideoError naming it when unreadable)."""
    from harnets_core.formats.video import probe_video

    info = probe_video(path)
    return info.n_frames, info.fps


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in _IGNORED_DIRS)


def read_classes_file(path: Path, present: Sequence[str]) -> list[tuple[str, str]]:
    """``[(name in the data, display name)]`` in the file's order. A listed name that is not
    in ``present`` or a present one that is not listed is a DatasetError naming the file."""
    out: list[tuple[str, str]] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, display = line.partition(":")
        name, display = name.strip(), display.strip() or name.strip()
        if name not in present:
            raise DatasetError(f"{path}:{lineno}: class {name!r} is not in the data (found: {', '.join(present)})")
        if name in (n for n, _ in out):
            raise DatasetError(f"{path}:{lineno}: class {name!r} listed twice")
        out.append((name, display))
    missing = [n for n in present if n not in {n for n, _ in out}]
    if missing:
        raise DatasetError(f"{path}: classes {missing} are in the data but not listed")
    if len({d for _, d in out}) != len(out):
        raise DatasetError(f"{path}: two classes share a display name")
    return out


def _class_table(root: Path, present: Sequence[str]) -> list[tuple[str, str]]:
    path = root / CLASSES_FILE
    return read_classes_file(path, present) if path.is_file() else [(n, n) for n in sorted(present)]


def group_of(stem: str, pattern: str | None = None) -> str:
    """The recording a clip belongs to, from its file stem: ``pattern``'s group named
    ``group`` (or its first group, or the whole match); the stem itself when it does not
    match. Default :data:`DEFAULT_GROUP_PATTERN`."""
    regex = _compile_group(pattern)
    m = regex.search(stem)
    if m is None:
        return stem
    if "group" in regex.groupindex:
        return m["group"] or stem
    return (m[1] if regex.groups else m[0]) or stem


def _compile_group(pattern: str | None) -> re.Pattern[str]:
    try:
        return re.compile(pattern or DEFAULT_GROUP_PATTERN)
    except re.error as err:
        raise ConfigError(f"group pattern {pattern!r}: not a regular expression ({err})") from err


# ----------------------------------------------------------------------------- the layouts
class ClassesLayout:
    """Files of a ``classes`` dataset. A segment's ``action_label`` is its clip's path under
    the root without suffix (``train/Screw lid/rec03_012``); its files are that plus
    ``.bvh`` or a video suffix."""

    def __init__(self, root: str | Path, *, group_pattern: str | None = None) -> None:
        self.root = Path(root)
        self.group_pattern = group_pattern
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: dataset folder not found")

    def __repr__(self) -> str:
        return f"ClassesLayout({str(self.root)!r})"

    def split_dirs(self) -> dict[str, Path]:
        """``{"train": path, "val": path}`` when the root has ``train/`` and ``test/`` (or
        ``val/``) folders, else ``{}``; two validation folders are a DatasetError."""
        found: dict[str, Path] = {}
        for d in _visible_dirs(self.root):
            side = _SPLIT_DIRS.get(d.name.lower())
            if side is None:
                continue
            if side in found:
                raise DatasetError(f"{self.root}: both {found[side].name}/ and {d.name}/: keep one validation folder")
            found[side] = d
        if found and set(found) != {"train", "val"}:
            raise DatasetError(f"{self.root}: has {sorted(p.name for p in found.values())} but a split needs train/ and test/ (or val/)")
        return found

    def _clip(self, segment: Segment, suffixes: Sequence[str], what: str) -> Path:
        base = self.root / segment.action_label
        for suffix in suffixes:
            for candidate in (base.with_name(base.name + suffix), base.with_name(base.name + suffix.upper())):
                if candidate.is_file():
                    return candidate
        raise DatasetError(f"{base}{'|'.join(suffixes)}: {what} of clip {segment.action_label!r} not found")

    def segmented_bvh(self, segment: Segment) -> Path:
        return self._clip(segment, (BVH_SUFFIX,), "BVH")

    def segmented_video(self, segment: Segment) -> Path:
        return self._clip(segment, VIDEO_SUFFIXES, "video")

    def session_bvh(self, session: str) -> Path:
        raise DatasetError(f"{self.root}: a classes layout has clips, not session recordings ({session})")

    def session_video(self, session: str) -> Path:
        raise DatasetError(f"{self.root}: a classes layout has clips, not session recordings ({session})")


class SessionsLayout:
    """Files of a ``sessions`` dataset: ``ROOT/<session>.bvh`` and ``ROOT/<session>.<video>``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: dataset folder not found")

    def __repr__(self) -> str:
        return f"SessionsLayout({str(self.root)!r})"

    def _find(self, session: str, suffixes: Sequence[str]) -> Path | None:
        for suffix in suffixes:
            for candidate in (self.root / f"{session}{suffix}", self.root / f"{session}{suffix.upper()}"):
                if candidate.is_file():
                    return candidate
        return None

    def recordings(self) -> dict[str, dict[str, Path]]:
        """``{session: {"bvh": path, "video": path}}`` of the files at the root."""
        out: dict[str, dict[str, Path]] = defaultdict(dict)
        for p in sorted(self.root.iterdir()):
            suffix = p.suffix.lower()
            if p.is_file() and suffix in CLIP_SUFFIXES:
                kind = "bvh" if suffix == BVH_SUFFIX else "video"
                if kind in out[p.stem]:
                    raise DatasetError(f"{p}: session {p.stem!r} already has a {kind} ({out[p.stem][kind].name})")
                out[p.stem][kind] = p
        return dict(out)

    def session_bvh(self, session: str) -> Path:
        path = self._find(session, (BVH_SUFFIX,))
        if path is None:
            raise DatasetError(f"{self.root / (session + BVH_SUFFIX)}: session BVH not found")
        return path

    def session_video(self, session: str) -> Path:
        path = self._find(session, VIDEO_SUFFIXES)
        if path is None:
            raise DatasetError(f"{self.root / session}{'|'.join(VIDEO_SUFFIXES)}: session video not found")
        return path

    def segmented_bvh(self, segment: Segment) -> Path:
        raise DatasetError(f"{self.root}: a sessions layout has recordings, not one clip per segment ({segment.name})")

    def segmented_video(self, segment: Segment) -> Path:
        raise DatasetError(f"{self.root}: a sessions layout has recordings, not one clip per segment ({segment.name})")


def detect_own_layout(root: str | Path) -> str | None:
    """``"sessions"`` when ``root/labels.csv`` exists; ``"classes"`` when the root (or its
    train/ folder) has a folder holding a clip; else None."""
    root = Path(root)
    if (root / LABELS_FILE).is_file():
        return "sessions"
    if not root.is_dir():
        return None
    base = ClassesLayout(root)
    try:
        top = base.split_dirs().get("train", root)
    except DatasetError:
        return "classes"  # a broken split folder: let the classes reader say what is wrong
    for d in _visible_dirs(top):
        if any(p.suffix.lower() in CLIP_SUFFIXES for p in d.iterdir() if p.is_file()):
            return "classes"
    return None


# ----------------------------------------------------------------------------- scanning
@dataclass
class OwnDataset:
    """What :func:`scan_own` found: segments (``class_id`` = index into ``class_names``),
    the group (recording or subject) of each session, the fixed split if the data has one,
    and the notes on what was skipped."""

    layout: str
    class_names: list[str]
    segments: list[Segment]
    groups: dict[str, str]  # session -> group key (never on both sides of a split)
    fixed_split: dict[str, str] = field(default_factory=dict)  # session -> "train" | "val"
    notes: list[str] = field(default_factory=list)


def _note(notes: list[str], text: str) -> None:
    notes.append(text)
    log.warning(text)


def _clip_segment(session: str, group: str, rel: str, class_id: int, class_name: str, n_frames: int,
                  duration_s: float) -> Segment:
    """A whole clip as a segment: frames 0..n-1; no annotated span (rgb times 0), so a clip is
    never "shorter than its annotation"."""
    return Segment(session=session, subject=group, operation="", action_label=rel, class_id=class_id,
                   class_name=class_name, bvh_start_frame=0, bvh_end_frame=max(0, n_frames - 1),
                   rgb_start_s=0.0, rgb_end_s=0.0, rgb_start_frame=0, rgb_end_frame=0,
                   duration_s=round(duration_s, 3))


def _scan_classes(root: Path, modality: str, group_pattern: str | None) -> OwnDataset:
    files = ClassesLayout(root, group_pattern=group_pattern)
    sides = files.split_dirs()
    tops: dict[str, Path] = dict(sides) or {"": root}
    wanted = _MODALITY_SUFFIXES[modality]
    notes: list[str] = []
    by_class: dict[str, list[tuple[str, Path, list[Path]]]] = defaultdict(list)  # folder -> (side, folder, clip files)
    other_files: list[Path] = []
    for side, top in tops.items():
        for d in _visible_dirs(top):
            stems: dict[str, list[Path]] = defaultdict(list)
            for p in sorted(d.iterdir()):
                if p.is_file() and p.suffix.lower() in CLIP_SUFFIXES:
                    stems[p.stem].append(p)
                elif not p.name.startswith("."):
                    other_files.append(p)
            if not stems:
                raise DatasetError(f"{d}: class folder has no clip ({', '.join(CLIP_SUFFIXES)})")
            by_class[d.name].extend((side, d, ps) for ps in stems.values())
        stray = [p for p in top.iterdir() if p.is_file() and p.suffix.lower() in CLIP_SUFFIXES]
        if stray:
            raise DatasetError(f"{stray[0]}: a clip outside any class folder (put it in {top}/<Class>/)")
    if not by_class:
        raise DatasetError(f"{root}: no class folder (expected <Class>/*.bvh or video clips, optionally under train/ and test/)")
    if other_files:
        _note(notes, f"{root}: skipped {len(other_files)} file(s) that are not clips, e.g. {other_files[0]}")
    table = _class_table(root, list(by_class))
    segments: list[Segment] = []
    groups: dict[str, str] = {}
    fixed: dict[str, str] = {}
    lacking = 0
    side_groups: dict[str, set[str]] = defaultdict(set)
    for class_id, (folder, display) in enumerate(table):
        usable = 0
        for side, d, paths in by_class[folder]:
            clip = next((p for p in paths if p.suffix.lower() in wanted), None)
            if clip is None:
                lacking += 1
                continue
            if clip.suffix.lower() == BVH_SUFFIX:
                n_frames, frame_time_s = _bvh_length(clip)
                duration_s = n_frames * frame_time_s
            else:
                n_frames, fps = _video_length(clip)
                duration_s = n_frames / fps
            group = group_of(clip.stem, group_pattern)
            session = f"{tops[side].name}/{group}" if side else group
            groups[session] = group
            if side:
                fixed[session] = side
                side_groups[side].add(group)
            rel = clip.relative_to(root).with_suffix("").as_posix()
            segments.append(_clip_segment(session, group, rel, class_id, display, n_frames, duration_s))
            usable += 1
        if usable == 0:
            raise DatasetError(f"{root}: class folder {folder!r} has no {modality} clip ({'|'.join(wanted)})")
    if lacking:
        _note(notes, f"{root}: skipped {lacking} clip(s) with no {modality} file ({'|'.join(wanted)})")
    both = side_groups.get("train", set()) & side_groups.get("val", set())
    if both:
        _note(notes, f"{root}: recording(s) {sorted(both)[:5]} have clips in both train/ and the validation folder")
    return OwnDataset("classes", [d for _, d in table], segments, groups, fixed, notes)


def read_labels(path: Path) -> list[tuple[int, str, float, float, str, str]]:
    """Rows of a ``labels.csv``: ``(line, session, start_s, end_s, label, subject)``. Columns
    by name (``session,start_s,end_s,label[,subject]``), any order; DatasetError naming the
    file and line of a bad row (missing field, non-finite or negative time, end <= start)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot read labels: {err}") from err
    reader = csv.reader(text.splitlines(), skipinitialspace=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise DatasetError(f"{path}: empty labels file") from None
    missing = [c for c in LABEL_COLUMNS if c not in header]
    if missing:
        raise DatasetError(f"{path}:1: missing column(s) {missing}; expected {','.join(LABEL_COLUMNS)}[,subject]")
    col = {c: header.index(c) for c in (*LABEL_COLUMNS, "subject") if c in header}
    rows = []
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) <= max(col[c] for c in LABEL_COLUMNS):
            raise DatasetError(f"{path}:{line}: {len(row)} fields, expected {','.join(LABEL_COLUMNS)}")
        session, label = row[col["session"]].strip(), row[col["label"]].strip()
        if not session or not label:
            raise DatasetError(f"{path}:{line}: empty session or label")
        try:
            start_s, end_s = float(row[col["start_s"]]), float(row[col["end_s"]])
        except ValueError as err:
            raise DatasetError(f"{path}:{line}: start_s/end_s not a number ({err})") from err
        if not (math.isfinite(start_s) and math.isfinite(end_s)) or start_s < 0:
            raise DatasetError(f"{path}:{line}: times {start_s}..{end_s} s must be finite and >= 0")
        if end_s <= start_s:
            raise DatasetError(f"{path}:{line}: end_s {end_s} <= start_s {start_s}")
        subject = row[col["subject"]].strip() if "subject" in col and len(row) > col["subject"] else ""
        rows.append((line, session, start_s, end_s, label, subject))
    if not rows:
        raise DatasetError(f"{path}: no label row")
    return rows


def _scan_sessions(root: Path, modality: str) -> OwnDataset:
    files = SessionsLayout(root)
    labels_path = root / LABELS_FILE
    if not labels_path.is_file():
        raise DatasetError(f"{labels_path}: labels file not found (session,start_s,end_s,label[,subject])")
    rows = read_labels(labels_path)
    recordings = files.recordings()
    kind = "bvh" if modality == "skeleton" else "video"
    lengths: dict[str, tuple[float, float, float]] = {}  # session -> (length_s, bvh frame time, video fps)
    for session, found in recordings.items():
        bvh_len = video_len = None
        frame_time_s, fps = 0.0, 0.0
        if "bvh" in found:
            n, frame_time_s = _bvh_length(found["bvh"])
            bvh_len = n * frame_time_s
        if "video" in found and (kind == "video" or "bvh" in found):
            n, fps = _video_length(found["video"])
            video_len = n / fps
        if bvh_len is not None and video_len is not None and abs(bvh_len - video_len) > LENGTH_TOLERANCE_S:
            raise DatasetError(
                f"{found['bvh']} ({bvh_len:.2f} s) and {found['video']} ({video_len:.2f} s): one session's recordings "
                f"differ by more than {LENGTH_TOLERANCE_S} s (cut from different takes, or a stream dropped?)")
        lengths[session] = (min(x for x in (bvh_len, video_len) if x is not None), frame_time_s, fps)
    present = sorted({r[4] for r in rows})
    table = _class_table(root, present)
    class_id = {name: i for i, (name, _) in enumerate(table)}
    notes: list[str] = []
    segments: list[Segment] = []
    groups: dict[str, str] = {}
    by_session: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for line, session, start_s, end_s, label, subject in rows:
        where = f"{labels_path}:{line}"
        if session not in recordings:
            raise DatasetError(f"{where}: unknown session {session!r} (no {session}.bvh or video in {root})")
        if kind not in recordings[session]:
            raise DatasetError(f"{where}: session {session!r} has no {'BVH' if kind == 'bvh' else 'video'} for a {modality} run")
        length_s, frame_time_s, fps = lengths[session]
        if end_s > length_s + 1e-6 + (frame_time_s or (1.0 / fps if fps else 0.0)):
            raise DatasetError(f"{where}: segment {start_s}..{end_s} s ends past the recording's {length_s:.2f} s")
        for other_line, a, b in by_session[session]:
            if start_s < b and a < end_s:
                raise DatasetError(f"{where}: segment {start_s}..{end_s} s overlaps line {other_line} ({a}..{b} s) of session {session!r}")
        by_session[session].append((line, start_s, end_s))
        group = subject or session
        if groups.setdefault(session, group) != group:
            raise DatasetError(f"{where}: session {session!r} has subject {group!r} here and {groups[session]!r} above")
        cid = class_id[label]
        ft = frame_time_s or 1.0
        f0 = int(round(start_s / ft))
        f1 = max(f0, int(round(end_s / ft)) - 1)
        segments.append(Segment(
            session=session, subject=group, operation="", action_label=label, class_id=cid,
            class_name=table[cid][1], bvh_start_frame=f0, bvh_end_frame=f1, rgb_start_s=start_s, rgb_end_s=end_s,
            rgb_start_frame=int(round(start_s * fps)), rgb_end_frame=int(round(end_s * fps)),
            duration_s=round(end_s - start_s, 6)))
    unlabelled = sorted(set(recordings) - set(by_session))
    if unlabelled:
        _note(notes, f"{labels_path}: {len(unlabelled)} recording(s) without a label row, not used: {unlabelled[:5]}")
    return OwnDataset("sessions", [d for _, d in table], segments, groups, {}, notes)


def scan_own(root: str | Path, layout: str, modality: str = "skeleton", *, group_pattern: str | None = None) -> OwnDataset:
    """Read a ``classes`` or ``sessions`` dataset (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    if modality not in _MODALITY_SUFFIXES:
        raise ConfigError(f"modality {modality!r}: use one of {', '.join(_MODALITY_SUFFIXES)}")
    if layout == "classes":
        return _scan_classes(root, modality, group_pattern)
    if layout == "sessions":
        if group_pattern:
            raise ConfigError("--group-pattern applies to the classes layout (sessions are split by subject or session)")
        return _scan_sessions(root, modality)
    raise ConfigError(f"own layout {layout!r}: use classes or sessions")


# ----------------------------------------------------------------------------- splits
def split_groups(data: OwnDataset, scheme: str) -> tuple[list[str], list[str], str]:
    """``(train sessions, validation sessions, the scheme used)``; no group on both sides.

    - ``"official"`` or ``"auto"``: the data's train/ and test/ folders when it has them,
      else ``group-fold:K:0`` with K = min(5, number of groups).
    - ``"folders"``: the train/ and test/ folders (DatasetError without them).
    - ``"group-fold:K:I"`` (``"subject-fold:K:I"`` too): groups sorted and dealt round-robin
      into K folds; fold I is validation.
    """
    sessions = sorted({s.session for s in data.segments})
    if scheme in ("official", "auto", "folders"):
        if data.fixed_split:
            train = [s for s in sessions if data.fixed_split.get(s) == "train"]
            val = [s for s in sessions if data.fixed_split.get(s) == "val"]
            return train, val, "folders"
        if scheme == "folders":
            raise DatasetError("split 'folders': the dataset has no train/ and test/ (or val/) folders")
        n_groups = len({data.groups[s] for s in sessions})
        if n_groups < 2:
            raise DatasetError(
                f"only one recording group ({sessions[:1]}): a split needs two; give --group-pattern, "
                "train/ and test/ folders, or more recordings")
        scheme = f"group-fold:{min(5, n_groups)}:0"
    m = re.fullmatch(r"(?:group|subject)-fold:(\d+):(\d+)", scheme)
    if m is None:
        raise ConfigError(f"split {scheme!r}: for your own dataset use auto, folders or group-fold:K:I")
    k, i = int(m[1]), int(m[2])
    group_names = sorted({data.groups[s] for s in sessions})
    if k < 2 or not 0 <= i < k or k > len(group_names):
        raise ConfigError(f"split {scheme!r}: need 2 <= K <= {len(group_names)} groups and 0 <= I < K")
    val_groups = set(group_names[i::k])
    train = [s for s in sessions if data.groups[s] not in val_groups]
    val = [s for s in sessions if data.groups[s] in val_groups]
    return train, val, scheme.replace("subject-fold", "group-fold")


def file_level_only(data: OwnDataset) -> bool:
    """True when every group holds a single clip: the names carry no recording, so the split
    can only keep whole files apart (takes of one recording may land on both sides)."""
    counts = Counter(data.groups[s.session] for s in data.segments)
    return data.layout == "classes" and not data.fixed_split and all(c == 1 for c in counts.values())
