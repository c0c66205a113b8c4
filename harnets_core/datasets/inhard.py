"""The InHARD dataset: classes, annotation files, on-disk layout, official splits, scenarios.

InHARD (Dallel et al., ICHMS 2020) ships skeleton BVH files (about 119 Hz), 2x2 mosaic
videos and one annotation table ``InHARD.csv`` per variant (Online, Segmented). This module
reads the real layout and the real column names, and never splits by random window: the
splits are by session (official protocol) or by subject (cross-validation folds).

Frame conventions: ``bvh_start_frame`` / ``bvh_end_frame`` are BVH frame indices of the
session file, end INCLUSIVE, exactly as in the csv; ``rgb_start_s`` / ``rgb_end_s`` are
seconds on the video clock and also name the segmented files.
"""
from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from harnets_core.errors import ConfigError, DatasetError
from harnets_core.formats.bvh import BvhClip, read_bvh

__all__ = [
    "SKELETON_TEMPLATE",
    "skeleton_template",
    "skeleton_template_text",
    "META_ACTIONS",
    "NO_ACTION_ID",
    "ActionLabel",
    "ACTION_LABELS",
    "action_labels_of",
    "class_id_of",
    "Segment",
    "read_annotations",
    "segment_name",
    "parse_segment_name",
    "InhardLayout",
    "OFFICIAL_TRAIN",
    "OFFICIAL_VALIDATION",
    "EXPERT_SESSIONS",
    "subject_of",
    "split_sessions",
    "SCENARIOS",
    "DEFAULT_SCENARIO_THRESHOLD_S",
    "scenario_filter",
    "ClassSelection",
    "select_classes",
    "ANNOTATION_COLUMNS",
    "RGB_FPS",
    "BVH_FRAME_TIME_S",
]

META_ACTIONS: tuple[str, ...] = (
    "No action",
    "Consult sheets",
    "Turn sheets",
    "Take screwdriver",
    "Put down screwdriver",
    "Picking in front",
    "Picking left",
    "Take measuring rod",
    "Put down measuring rod",
    "Take component",
    "Put down component",
    "Assemble system",
    "Take subsystem",
    "Put down subsystem",
)
"""The 14 meta-action classes; the index is the class id (0 to 13)."""

NO_ACTION_ID = 0

RGB_FPS = 25.0
"""Video frames per second implied by the annotation (rgb_frame / rgb_sec = 25)."""

BVH_FRAME_TIME_S = 0.008401
"""Frame time of InHARD's BVH files in seconds (about 119 Hz)."""

ANNOTATION_COLUMNS: tuple[str, ...] = (
    "File_name",
    "Subject",
    "Operation",
    "Action_label",
    "Meta_action_number",
    "Meta_action_label",
    "Action_start_bvh_frame",
    "Action_end_bvh_frame",
    "Action_start_rgb_sec",
    "Action_end_rgb_sec",
    "Action_start_rgb_frame",
    "Action_end_rgb_frame",
    "Duration_sec",
)
"""Column names of InHARD.csv in the README's order (what :mod:`harnets_core.synth.sessions` writes)."""

# canonical name -> accepted spellings in the shipped files
_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "File_name": ("File_name", "File"),
    "Meta_action_number": ("Meta_action_number", "Meta_action_class_number"),
}


# ----------------------------------------------------------------------------- action labels
class ActionLabel(NamedTuple):
    """One of the 74 low-level action labels and the meta-action it belongs to."""

    meta_action_id: int
    meta_action_label: str
    action_label: str


@lru_cache(maxsize=1)
def _load_action_labels() -> tuple[ActionLabel, ...]:
    ref = resources.files("harnets_core") / "data" / "action_meta_action_list.csv"
    rows: list[ActionLabel] = []
    with ref.open("r", encoding="utf-8", newline="") as f:
        for lineno, row in enumerate(csv.DictReader(f), start=2):
            cid = int(row["meta_action_id"])
            if not 0 <= cid < len(META_ACTIONS) or META_ACTIONS[cid] != row["meta_action_label"]:
                raise DatasetError(
                    f"harnets_core/data/action_meta_action_list.csv:{lineno}: "
                    f"meta-action {cid} {row['meta_action_label']!r} is not in META_ACTIONS"
                )
            rows.append(ActionLabel(cid, row["meta_action_label"], row["action_label"]))
    return tuple(rows)


ACTION_LABELS: tuple[ActionLabel, ...] = _load_action_labels()
"""The 74 rows of InHARD's Action-Meta-action list (an action label can occur under two
meta-actions, e.g. "Catch Fixation FIXT" under Picking left and Take component)."""


SKELETON_TEMPLATE = "inhard_skeleton.bvh"
"""The real InHARD skeleton (59 joints, one frame) shipped in ``harnets_core/data``: the
hierarchy of the Perception Neuron suit, the template of synthetic data and of bags without one."""


def skeleton_template_text() -> str:
    """The text of :data:`SKELETON_TEMPLATE` (hierarchy and one frame of motion)."""
    ref = resources.files("harnets_core") / "data" / SKELETON_TEMPLATE
    return ref.read_text(encoding="utf-8")


def skeleton_template() -> BvhClip:
    """:data:`SKELETON_TEMPLATE` parsed (one frame)."""
    ref = resources.files("harnets_core") / "data" / SKELETON_TEMPLATE
    with resources.as_file(ref) as path:
        return read_bvh(path)


def action_labels_of(meta_action: int | str) -> tuple[str, ...]:
    """Distinct low-level action labels of one meta-action (by id or name), list order."""
    cid = class_id_of(meta_action)
    return tuple(dict.fromkeys(a.action_label for a in ACTION_LABELS if a.meta_action_id == cid))


def class_id_of(meta_action: int | str) -> int:
    """Class id (0 to 13) of a meta-action given by id or exact name; ConfigError otherwise."""
    if isinstance(meta_action, bool):
        raise ConfigError(f"meta-action {meta_action!r}: expected an id 0..13 or a name")
    if isinstance(meta_action, int):
        if 0 <= meta_action < len(META_ACTIONS):
            return meta_action
        raise ConfigError(f"meta-action id {meta_action} outside 0..{len(META_ACTIONS) - 1}")
    if meta_action in META_ACTIONS:
        return META_ACTIONS.index(meta_action)
    lowered = {name.lower(): i for i, name in enumerate(META_ACTIONS)}
    key = str(meta_action).strip().lower()
    if key in lowered:
        return lowered[key]
    raise ConfigError(f"unknown meta-action {meta_action!r}; known: {', '.join(META_ACTIONS)}")


# ----------------------------------------------------------------------------- segments
@dataclass(frozen=True)
class Segment:
    """One annotated action of one session (one row of InHARD.csv).

    ``bvh_end_frame`` and ``rgb_end_frame`` are inclusive, as in the csv. ``recurrence`` is
    the optional ``Recurrence`` column (None where the file has none).
    """

    session: str
    subject: str
    operation: str
    action_label: str
    class_id: int
    class_name: str
    bvh_start_frame: int
    bvh_end_frame: int
    rgb_start_s: float
    rgb_end_s: float
    rgb_start_frame: int
    rgb_end_frame: int
    duration_s: float
    recurrence: int | None = None

    @property
    def name(self) -> str:
        """Segmented file stem, e.g. ``P01_R01_0026.48_0028.80``."""
        return segment_name(self.session, self.rgb_start_s, self.rgb_end_s)

    @property
    def n_bvh_frames(self) -> int:
        """Number of BVH frames covered (end inclusive)."""
        return self.bvh_end_frame - self.bvh_start_frame + 1


def segment_name(session: str, start_s: float, end_s: float) -> str:
    """``{session}_{start_s:07.2f}_{end_s:07.2f}``, the name of a segmented clip."""
    return f"{session}_{start_s:07.2f}_{end_s:07.2f}"


_SEGMENT_NAME_RE = re.compile(
    r"^(?P<session>.+?)_(?P<start>\d{4,}\.\d{2})_(?P<end>\d{4,}\.\d{2})(?:\.(?:bvh|mp4|avi))?$",
    re.IGNORECASE,
)


def parse_segment_name(name: str | Path) -> tuple[str, float, float]:
    """Parse ``P01_R01_0026.48_0028.80[.bvh]`` into ``("P01_R01", 26.48, 28.8)``.

    The name contains dots inside the times, so it is parsed with a regex, never cut at the
    first dot. A directory part is ignored. Raises DatasetError on any other shape.
    """
    base = Path(name).name
    m = _SEGMENT_NAME_RE.match(base)
    if m is None:
        raise DatasetError(
            f"{name}: not a segmented InHARD name '{{session}}_{{start:07.2f}}_{{end:07.2f}}'"
        )
    return m["session"], float(m["start"]), float(m["end"])


def _resolve_columns(header: list[str], path: Path) -> dict[str, int]:
    """Map canonical column names to indices; the unnamed index column is skipped."""
    names = [h.strip().lstrip("\ufeff") for h in header]
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if i == 0 and (name == "" or name.startswith("Unnamed")):
            continue  # pandas' written index column (Segmented variant)
        index.setdefault(name, i)
    out: dict[str, int] = {}
    for canon in (*ANNOTATION_COLUMNS, "Recurrence"):
        for alias in _COLUMN_ALIASES.get(canon, (canon,)):
            if alias in index:
                out[canon] = index[alias]
                break
    missing = [c for c in ANNOTATION_COLUMNS if c not in out]
    if missing:
        spelled = [
            "/".join(_COLUMN_ALIASES[c]) if c in _COLUMN_ALIASES else c for c in missing
        ]
        raise DatasetError(
            f"{path}:1: missing column(s) {', '.join(spelled)}; header is {names}"
        )
    return out


def _as_int(text: str, column: str) -> int:
    value = float(text)
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"{column} = {text!r} is not an integer")
    return int(value)


def _as_float(text: str, column: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{column} = {text!r} is not finite")
    return value


def _class_from_number(number: int, label: str) -> int:
    """InHARD's Meta_action_number is class id + 1, with "No action" written as 0."""
    if number == 0:
        return NO_ACTION_ID
    if number == 1 and label.strip().lower() == "no action":
        return NO_ACTION_ID  # tolerate a file that writes No action as id + 1 too
    if 2 <= number <= len(META_ACTIONS):
        return number - 1
    raise ValueError(
        f"Meta_action_number = {number} outside 0 and 2..{len(META_ACTIONS)} (id + 1)"
    )


def read_annotations(csv_path: str | Path) -> list[Segment]:
    """Read an InHARD annotation table (Online or Segmented ``InHARD.csv``).

    Columns are read by name, in any order, with the shipped variants: ``File`` for
    ``File_name``, ``Meta_action_class_number`` for ``Meta_action_number``, an optional
    ``Recurrence`` column, and an optional leading unnamed index column. Spaces after commas
    are ignored. ``Meta_action_number`` is the class id + 1 ("No action" = 0) and must agree
    with ``Meta_action_label``.

    Returns segments in file order. Raises DatasetError naming the file and the 1-based
    line of the offending row.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot read annotation file: {err}") from err
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(text.splitlines(), delimiter=delimiter, skipinitialspace=True)
    try:
        header = next(reader)
    except StopIteration:
        raise DatasetError(f"{path}: empty annotation file") from None
    cols = _resolve_columns(header, path)
    segments: list[Segment] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            segments.append(_row_to_segment(row, cols))
        except (ValueError, IndexError) as err:
            raise DatasetError(f"{path}:{line}: {err}") from err
    return segments


def _row_to_segment(row: list[str], cols: dict[str, int]) -> Segment:
    if len(row) <= max(cols.values()):
        raise ValueError(f"row has {len(row)} fields, expected at least {max(cols.values()) + 1}")

    def get(name: str) -> str:
        return row[cols[name]].strip()

    session = get("File_name")
    if not session:
        raise ValueError("empty File_name")
    label = get("Meta_action_label")
    number = _as_int(get("Meta_action_number"), "Meta_action_number")
    class_id = _class_from_number(number, label)
    if label.lower() != META_ACTIONS[class_id].lower():
        raise ValueError(
            f"Meta_action_number {number} means {META_ACTIONS[class_id]!r} (id {class_id}) "
            f"but Meta_action_label is {label!r}"
        )
    bvh_start = _as_int(get("Action_start_bvh_frame"), "Action_start_bvh_frame")
    bvh_end = _as_int(get("Action_end_bvh_frame"), "Action_end_bvh_frame")
    if bvh_start < 0 or bvh_end < bvh_start:
        raise ValueError(f"BVH frames {bvh_start}..{bvh_end} are not an increasing range")
    rgb_start_s = _as_float(get("Action_start_rgb_sec"), "Action_start_rgb_sec")
    rgb_end_s = _as_float(get("Action_end_rgb_sec"), "Action_end_rgb_sec")
    if rgb_start_s < 0 or rgb_end_s < rgb_start_s:
        raise ValueError(f"rgb seconds {rgb_start_s}..{rgb_end_s} are not an increasing range")
    recurrence = None
    if "Recurrence" in cols and len(row) > cols["Recurrence"] and get("Recurrence"):
        recurrence = _as_int(get("Recurrence"), "Recurrence")
    return Segment(
        session=session,
        subject=get("Subject") or subject_of(session),
        operation=get("Operation"),
        action_label=get("Action_label"),
        class_id=class_id,
        class_name=META_ACTIONS[class_id],
        bvh_start_frame=bvh_start,
        bvh_end_frame=bvh_end,
        rgb_start_s=rgb_start_s,
        rgb_end_s=rgb_end_s,
        rgb_start_frame=_as_int(get("Action_start_rgb_frame"), "Action_start_rgb_frame"),
        rgb_end_frame=_as_int(get("Action_end_rgb_frame"), "Action_end_rgb_frame"),
        duration_s=_as_float(get("Duration_sec"), "Duration_sec"),
        recurrence=recurrence,
    )


# ----------------------------------------------------------------------------- layout
class InhardLayout:
    """The InHARD download on disk, with the real folder names::

        Online/Labels/InHARD.csv          Online/RGB/<session>.mp4
        Online/Skeleton/<session>.bvh
        Segmented/Labels/InHARD.csv
        Segmented/RGBSegmented/<Meta_action_label>/<name>.mp4
        Segmented/SkletonSegmented/<Meta_action_label>/<name>.bvh   ("Skleton" sic)

    Every accessor that returns a file checks it exists and raises DatasetError naming the
    missing path.
    """

    SKELETON_SEGMENTED = "SkletonSegmented"
    RGB_SEGMENTED = "RGBSegmented"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: InHARD root folder not found")

    def __repr__(self) -> str:
        return f"InhardLayout({str(self.root)!r})"

    @property
    def online_dir(self) -> Path:
        return self.root / "Online"

    @property
    def segmented_dir(self) -> Path:
        return self.root / "Segmented"

    @staticmethod
    def _must_exist(path: Path, what: str) -> Path:
        if not path.is_file():
            raise DatasetError(f"{path}: {what} not found")
        return path

    def sessions(self) -> list[str]:
        """Sorted session names (``P01_R01``...) of ``Online/Skeleton/*.bvh``; where that
        folder is absent, the sessions named in the annotation file."""
        skel = self.online_dir / "Skeleton"
        if skel.is_dir():
            names = sorted(p.stem for p in skel.glob("*.bvh"))
            if names:
                return names
        try:
            return sorted({s.session for s in self.annotations()})
        except DatasetError as err:
            raise DatasetError(
                f"{skel}: no session BVH files, and no annotation file to list sessions ({err})"
            ) from err

    def session_bvh(self, session: str) -> Path:
        """``Online/Skeleton/<session>.bvh``."""
        return self._must_exist(self.online_dir / "Skeleton" / f"{session}.bvh", "session BVH")

    def session_video(self, session: str) -> Path:
        """``Online/RGB/<session>.mp4`` (2x2 mosaic)."""
        return self._must_exist(self.online_dir / "RGB" / f"{session}.mp4", "session video")

    def annotations_path(self, variant: str = "auto") -> Path:
        """The annotation csv: ``InHARD.csv`` under ``Online/Labels`` (variant "online"),
        ``Segmented/Labels`` ("segmented"), or the first that exists ("auto", Online first).
        Nested folders under Labels are searched too."""
        dirs = {
            "online": [self.online_dir / "Labels"],
            "segmented": [self.segmented_dir / "Labels"],
            "auto": [self.online_dir / "Labels", self.segmented_dir / "Labels"],
        }
        if variant not in dirs:
            raise ConfigError(f"annotation variant {variant!r}: use online, segmented or auto")
        for d in dirs[variant]:
            direct = d / "InHARD.csv"
            if direct.is_file():
                return direct
            if d.is_dir():
                found = sorted(p for p in d.rglob("*.csv") if p.name.lower() == "inhard.csv")
                if found:
                    return found[0]
        tried = ", ".join(str(d / "InHARD.csv") for d in dirs[variant])
        raise DatasetError(f"{tried}: annotation file not found")

    def annotations(self, variant: str = "auto") -> list[Segment]:
        """Segments of :meth:`annotations_path` (see :func:`read_annotations`)."""
        return read_annotations(self.annotations_path(variant))

    def _segmented_dir(self, kind: str) -> Path:
        if kind == "skeleton":
            for name in (self.SKELETON_SEGMENTED, "SkeletonSegmented"):
                if (self.segmented_dir / name).is_dir():
                    return self.segmented_dir / name
            return self.segmented_dir / self.SKELETON_SEGMENTED
        if kind == "rgb":
            return self.segmented_dir / self.RGB_SEGMENTED
        raise ConfigError(f"segmented kind {kind!r}: use skeleton or rgb")

    def segmented_bvh(self, segment: Segment) -> Path:
        """``Segmented/SkletonSegmented/<class_name>/<name>.bvh``."""
        path = self._segmented_dir("skeleton") / segment.class_name / f"{segment.name}.bvh"
        return self._must_exist(path, "segmented BVH")

    def segmented_video(self, segment: Segment) -> Path:
        """``Segmented/RGBSegmented/<class_name>/<name>.mp4``."""
        path = self._segmented_dir("rgb") / segment.class_name / f"{segment.name}.mp4"
        return self._must_exist(path, "segmented video")

    def segmented_files(self, kind: str = "skeleton") -> list[tuple[str, Path]]:
        """All segmented clips as ``(class_name, path)``, sorted; folders whose name is not a
        meta-action raise DatasetError (a misplaced folder is an error, not a silent skip)."""
        base = self._segmented_dir(kind)
        if not base.is_dir():
            raise DatasetError(f"{base}: segmented {kind} folder not found")
        ext = ".bvh" if kind == "skeleton" else ".mp4"
        out: list[tuple[str, Path]] = []
        for d in sorted(p for p in base.iterdir() if p.is_dir()):
            if d.name not in META_ACTIONS:
                raise DatasetError(f"{d}: folder name is not a meta-action label")
            out.extend((d.name, p) for p in sorted(d.glob(f"*{ext}")))
        return out


# ----------------------------------------------------------------------------- splits
OFFICIAL_TRAIN: tuple[str, ...] = (
    "P01_R01", "P01_R03", "P03_R01", "P03_R03", "P03_R04", "P04_R02", "P05_R03", "P05_R04",
    "P06_R01", "P07_R01", "P07_R02", "P08_R02", "P08_R04", "P09_R01", "P09_R03", "P10_R01",
    "P10_R02", "P10_R03", "P11_R02", "P12_R01", "P12_R02", "P13_R02", "P14_R01", "P15_R01",
    "P15_R02", "P16_R02",
)  # fmt: skip
"""The 26 training sessions of InHARD's official protocol."""

OFFICIAL_VALIDATION: tuple[str, ...] = (
    "P01_R02", "P02_R01", "P02_R02", "P04_R01", "P05_R01", "P05_R02", "P08_R01", "P08_R03",
    "P09_R02", "P11_R01", "P14_R02", "P16_R01",
)  # fmt: skip
"""The 12 validation sessions of InHARD's official protocol."""

EXPERT_SESSIONS: frozenset[str] = frozenset(
    {
        "P03_R03", "P07_R01", "P07_R02", "P08_R04", "P09_R01", "P10_R03", "P14_R01",
        "P15_R01", "P15_R02", "P02_R02", "P08_R03", "P09_R02", "P14_R02",
    }
)  # fmt: skip
"""Sessions performed by experts (9 train, 4 validation); the others are beginners."""

_SESSION_RE = re.compile(r"^(?P<subject>P\d+)_R\d+$")


def subject_of(session: str) -> str:
    """``"P01_R02"`` -> ``"P01"``; other names -> the part before the last underscore."""
    m = _SESSION_RE.match(session)
    if m:
        return m["subject"]
    if "_" in session:
        return session.rsplit("_", 1)[0]
    return session


def split_sessions(
    sessions: Iterable[str], scheme: str = "official"
) -> tuple[list[str], list[str]]:
    """Split sessions (never windows) into ``(train, validation)``, each sorted.

    - ``"official"``: InHARD's protocol; a session outside both official lists is a
      ConfigError (it would otherwise silently vanish).
    - ``"subject-fold:K:I"``: subjects (``P01``...) sorted and dealt round-robin into K folds;
      the sessions of fold I (0-based) are validation, the rest train. No subject is on both
      sides.
    """
    names = sorted(set(sessions))
    if scheme == "official":
        train_set, val_set = set(OFFICIAL_TRAIN), set(OFFICIAL_VALIDATION)
        unknown = [s for s in names if s not in train_set and s not in val_set]
        if unknown:
            raise ConfigError(
                f"split 'official': sessions not in the official protocol: {', '.join(unknown)}"
                " (use 'subject-fold:K:I')"
            )
        return [s for s in names if s in train_set], [s for s in names if s in val_set]
    m = re.fullmatch(r"subject-fold:(\d+):(\d+)", scheme)
    if m is None:
        raise ConfigError(f"split scheme {scheme!r}: use 'official' or 'subject-fold:K:I'")
    k, i = int(m[1]), int(m[2])
    subjects = sorted({subject_of(s) for s in names})
    if k < 2 or not 0 <= i < k:
        raise ConfigError(f"split scheme {scheme!r}: need K >= 2 and 0 <= I < K")
    if k > len(subjects):
        raise ConfigError(
            f"split scheme {scheme!r}: {k} folds but only {len(subjects)} subjects"
        )
    val_subjects = set(subjects[i::k])
    train = [s for s in names if subject_of(s) not in val_subjects]
    val = [s for s in names if subject_of(s) in val_subjects]
    return train, val


# ----------------------------------------------------------------------------- scenarios
SCENARIOS: tuple[str, ...] = ("SA", "LA")
"""Short activities (SA) and long activities (LA), as in HARNets (CPSL 2022)."""

DEFAULT_SCENARIO_THRESHOLD_S = 3.0
"""Duration in seconds separating SA (< threshold) from LA (>= threshold).

HARNets reports SA and LA results but publishes no threshold. 3.0 s is our choice:
HARNets' skeleton windows are 200 BVH frames (about 1.7 s) and its video windows 50 frames
at 25 fps (2 s), so a segment under 3 s fits in about one such window (one whole action
per window), while a longer one needs several windows. On InHARD this puts the transfer
actions (take / put down / picking, typically 1 to 3 s) mostly in SA and Assemble system and
Consult sheets (often several seconds) mostly in LA. Configurable everywhere it is used.
"""


def scenario_filter(
    segments: Iterable[Segment],
    scenario: str,
    threshold_s: float = DEFAULT_SCENARIO_THRESHOLD_S,
) -> list[Segment]:
    """Segments of one scenario: ``"SA"`` keeps ``duration_s < threshold_s``, ``"LA"`` keeps
    ``duration_s >= threshold_s``, ``"all"`` keeps everything."""
    if threshold_s <= 0 or not math.isfinite(threshold_s):
        raise ConfigError(f"scenario threshold_s = {threshold_s}: must be a positive number")
    key = scenario.upper()
    if key == "ALL":
        return list(segments)
    if key == "SA":
        return [s for s in segments if s.duration_s < threshold_s]
    if key == "LA":
        return [s for s in segments if s.duration_s >= threshold_s]
    raise ConfigError(f"scenario {scenario!r}: use SA, LA or all")


class ClassSelection(NamedTuple):
    """Chosen classes (sorted by id) and the segments of those classes (input order)."""

    class_ids: tuple[int, ...]
    class_names: tuple[str, ...]
    segments: list[Segment]


def select_classes(
    segments: Sequence[Segment],
    classes: Sequence[int | str] | None = None,
    *,
    class_limit: int | None = None,
    count_sessions: Collection[str] | None = None,
) -> ClassSelection:
    """Choose the classes to train on and keep their segments.

    - ``classes``: explicit ids or names; ``None`` = every class present in ``segments``.
    - ``class_limit=N``: the N most frequent classes (segment counts), counted only on the
      segments whose session is in ``count_sessions`` (pass the TRAIN sessions, as HARNets'
      ``class_limit`` did on its training folder); ties go to the lower id. Combined with
      ``classes``, the N most frequent among those.

    The class order of the result is by id, so label index ``k`` is ``class_ids[k]``.
    """
    if classes is not None:
        wanted = sorted({class_id_of(c) for c in classes})
        if not wanted:
            raise ConfigError("select_classes: empty class list")
    else:
        wanted = sorted({s.class_id for s in segments})
    if class_limit is not None:
        if class_limit < 1:
            raise ConfigError(f"class_limit = {class_limit}: must be >= 1")
        keep_sessions = None if count_sessions is None else set(count_sessions)
        counted = (
            segments
            if keep_sessions is None
            else [s for s in segments if s.session in keep_sessions]
        )
        counts = Counter(s.class_id for s in counted)
        ranked = sorted(wanted, key=lambda c: (-counts.get(c, 0), c))
        wanted = sorted(c for c in ranked[:class_limit] if counts.get(c, 0) > 0)
        if not wanted:
            raise DatasetError("select_classes: no segment of the wanted classes to count")
    keep = set(wanted)
    return ClassSelection(
        class_ids=tuple(wanted),
        class_names=tuple(META_ACTIONS[c] for c in wanted),
        segments=[s for s in segments if s.class_id in keep],
    )
