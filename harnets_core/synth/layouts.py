"""Synthetic datasets in your own layouts (``classes``, ``sessions``) with your class names.

``harnets synth OUT --layout classes --classes "Screw lid,Inspect,Fetch part"`` writes what a
workcell integrator would record (see :mod:`harnets_core.datasets.own`):

- ``sessions``: ``OUT/<recording>.bvh`` (+ ``OUT/<recording>.mp4``, one camera view) and
  ``OUT/labels.csv`` (``session,start_s,end_s,label,subject``); idle gaps are unlabelled;
- ``classes``: ``OUT/[train|test/]<Class>/<recording>_<n>.bvh`` (+ ``.mp4``), one clip per
  action, the recording in the file name so the split keeps recordings apart.

Class k of the user's list moves like InHARD meta-action ``_PATTERN_IDS[k]`` (up to 13
classes). ``skeleton="cmu31"`` writes a CMU-style 31-joint hierarchy (``ZYX`` rotation
order, lower-case CMU names) whose classes move distinct joint groups, to try exporters other
than Axis Neuron. Videos are single views cut from the synthetic mosaic at the given size and
frame rate (not mosaics: the whole frame is the view).
"""
from __future__ import annotations

import csv
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from harnets_core.datasets.inhard import NO_ACTION_ID
from harnets_core.errors import ConfigError, DatasetError
from harnets_core.formats import bvh

__all__ = [
    "DEFAULT_OWN_CLASSES",
    "DEFAULT_RECORDINGS",
    "OWN_SKELETONS",
    "OwnSynthSummary",
    "cmu31_skeleton",
    "generate_own_dataset",
    "parse_class_names",
]

DEFAULT_OWN_CLASSES: tuple[str, ...] = ("Screw lid", "Inspect part", "Fetch part")
DEFAULT_RECORDINGS: tuple[str, ...] = ("rec01", "rec02", "rec03", "rec04", "rec05", "rec06")
OWN_SKELETONS: tuple[str, ...] = ("inhard", "cmu31")
_PATTERN_IDS: tuple[int, ...] = (11, 5, 1, 12, 6, 2, 3, 4, 7, 8, 9, 10, 13)  # distinct motions first
_CMU_FRAME_TIME_S = 1.0 / 60.0


def parse_class_names(values: Sequence[str] | str) -> list[str]:
    """``"Screw lid,Inspect"`` or ``["Screw lid", "Inspect"]`` -> names; ConfigError when
    empty, repeated, or a name unusable as a folder name."""
    items = [values] if isinstance(values, str) else list(values)
    names = [n.strip() for item in items for n in str(item).split(",") if n.strip()]
    if not names:
        raise ConfigError("synth classes: give at least one class name")
    if len(set(names)) != len(names):
        raise ConfigError(f"synth classes {names}: repeated name")
    bad = [n for n in names if "/" in n or "\\" in n or n.startswith(".") or n.lower() in ("train", "test", "val", "validation")]
    if bad:
        raise ConfigError(f"synth classes {bad}: not usable as class folder names")
    if len(names) > len(_PATTERN_IDS):
        raise ConfigError(f"synth classes: at most {len(_PATTERN_IDS)} distinct motions, got {len(names)}")
    return names


# ----------------------------------------------------------------------------- CMU-style skeleton
_CMU_TREE: tuple[tuple[str, str | None, tuple[float, float, float]], ...] = (
    ("hip", None, (0, 0, 0)),
    ("lhipjoint", "hip", (0, 0, 0)), ("lfemur", "lhipjoint", (9, -6, 2)), ("ltibia", "lfemur", (0, -42, 0)),
    ("lfoot", "ltibia", (0, -40, 0)), ("ltoes", "lfoot", (0, -4, 12)),
    ("rhipjoint", "hip", (0, 0, 0)), ("rfemur", "rhipjoint", (-9, -6, 2)), ("rtibia", "rfemur", (0, -42, 0)),
    ("rfoot", "rtibia", (0, -40, 0)), ("rtoes", "rfoot", (0, -4, 12)),
    ("lowerback", "hip", (0, 2, 0)), ("upperback", "lowerback", (0, 12, 0)), ("thorax", "upperback", (0, 12, 0)),
    ("lowerneck", "thorax", (0, 10, 0)), ("upperneck", "lowerneck", (0, 8, 0)), ("head", "upperneck", (0, 8, 0)),
    ("lclavicle", "thorax", (4, 6, 0)), ("lhumerus", "lclavicle", (16, 0, 0)), ("lradius", "lhumerus", (28, 0, 0)),
    ("lwrist", "lradius", (24, 0, 0)), ("lhand", "lwrist", (4, 0, 0)), ("lfingers", "lhand", (6, 0, 0)),
    ("lthumb", "lwrist", (3, 0, 3)),
    ("rclavicle", "thorax", (-4, 6, 0)), ("rhumerus", "rclavicle", (-16, 0, 0)), ("rradius", "rhumerus", (-28, 0, 0)),
    ("rwrist", "rradius", (-24, 0, 0)), ("rhand", "rwrist", (-4, 0, 0)), ("rfingers", "rhand", (-6, 0, 0)),
    ("rthumb", "rwrist", (-3, 0, 3)),
)  # fmt: skip
"""31 joints as in the CMU mocap BVH conversions (offsets in cm, Y up)."""

_CMU_CLASS_JOINTS: tuple[tuple[tuple[str, str, float, float], ...], ...] = (
    (("rhumerus", "X", 45, 0.7), ("rradius", "Z", 35, 0.7)),  # reach forward right
    (("lhumerus", "X", 45, 0.6), ("lradius", "Z", -35, 0.6)),  # reach forward left
    (("upperback", "X", 25, 0.4), ("lowerneck", "X", 20, 0.4)),  # bend
    (("rwrist", "Y", 60, 2.0), ("rradius", "Y", 30, 2.0)),  # screw with the right hand
    (("lhumerus", "Z", 50, 0.5), ("rhumerus", "Z", -50, 0.5)),  # raise both arms
    (("lowerback", "Y", 35, 0.3),),  # turn the torso
    (("lfemur", "X", 30, 0.5), ("rfemur", "X", 30, 0.5)),  # crouch
    (("head", "Y", 40, 0.8),),  # look around
)


def cmu31_skeleton() -> bvh.Skeleton:
    """A CMU-style 31-joint skeleton: root with 6 channels, every other joint 3 rotation
    channels in ``Z Y X`` order, End Sites at the toes, head, fingers and thumbs."""
    children: dict[str, list[str]] = {}
    for name, parent, _ in _CMU_TREE:
        if parent is not None:
            children.setdefault(parent, []).append(name)
    offsets = {name: offset for name, _, offset in _CMU_TREE}
    lines = ["HIERARCHY"]

    def emit(name: str, depth: int) -> None:
        pad = "  " * depth
        off = offsets[name]
        lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {off[0]:.2f} {off[1]:.2f} {off[2]:.2f}")
        if depth == 0:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation")
        else:
            lines.append(f"{pad}  CHANNELS 3 Zrotation Yrotation Xrotation")
        for child in children.get(name, []):
            emit(child, depth + 1)
        if name not in children:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0.00 3.00 0.00", pad + "  }"])
        lines.append(pad + "}")

    emit("hip", 0)
    lines += ["MOTION", "Frames: 1", f"Frame Time: {_CMU_FRAME_TIME_S:.6f}", " ".join(["0"] * (6 + 3 * 30))]
    return bvh.parse_bvh("\n".join(lines) + "\n").skeleton


def _cmu_motion(skeleton: bvh.Skeleton, spans: Sequence[tuple[int, float, float]], n_frames: int,
                frame_time_s: float, rng: np.random.Generator) -> np.ndarray:
    """(F, C) motion: standing pose, sway and noise, plus each span's class pattern
    (``spans``: (class index, start_s, end_s))."""
    cols = {n: i for i, n in enumerate(skeleton.channel_names)}
    motion = np.zeros((n_frames, skeleton.n_channels))
    motion[:, cols["hip.Yposition"]] = 95.0
    t = np.arange(n_frames) * frame_time_s
    for name in ("lowerback", "upperback", "lowerneck", "lhumerus", "rhumerus"):
        for axis in "XYZ":
            motion[:, cols[f"{name}.{axis}rotation"]] += 2.0 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 6.3))
    motion += rng.normal(0.0, 0.2, motion.shape)
    for k, start_s, end_s in spans:
        f0, f1 = int(round(start_s / frame_time_s)), min(n_frames, int(round(end_s / frame_time_s)))
        if f1 <= f0:
            continue
        p = np.linspace(0.0, 1.0, f1 - f0)
        envelope = np.sin(np.pi * p) ** 0.5
        for joint, axis, amp, freq in _CMU_CLASS_JOINTS[k % len(_CMU_CLASS_JOINTS)]:
            wave = 0.6 + 0.4 * np.sin(2 * np.pi * freq * (t[f0:f1] - t[f0]) + rng.uniform(0, 1))
            motion[f0:f1, cols[f"{joint}.{axis}rotation"]] += amp * rng.uniform(0.8, 1.2) * envelope * wave
    return np.round(motion, 3)


# ----------------------------------------------------------------------------- writing
@dataclass
class OwnSynthSummary:
    """What :func:`generate_own_dataset` wrote."""

    root: Path
    layout: str
    class_names: list[str]
    recordings: list[str]
    n_files: int = 0
    n_segments: int = 0
    labels: list[tuple[str, float, float, str, str]] = field(default_factory=list)  # sessions layout rows


@dataclass
class _Recording:
    clip: bvh.BvhClip
    spans: list[tuple[int, float, float]]  # (class index, start_s, end_s); gaps are idle


def _recording(name: str, classes: int, skeleton: str, seed: int, duration_s: float) -> _Recording:
    from harnets_core.synth.sessions import generate_session

    pattern_ids = _PATTERN_IDS[:classes]
    for attempt in range(50):  # every recording holds every class: any split by recording has them on both sides
        sm = generate_session(name, seed=seed * 1000 + attempt, duration_s=duration_s, classes=list(pattern_ids))
        if {s.class_id for s in sm.segments} >= set(pattern_ids):
            break
    else:
        raise ConfigError(f"synth: {duration_s} s is too short for {classes} classes in every recording; give more")
    spans = [(pattern_ids.index(s.class_id), s.rgb_start_s, s.rgb_end_s) for s in sm.segments if s.class_id != NO_ACTION_ID]
    assert sm.clip is not None
    if skeleton == "inhard":
        return _Recording(sm.clip, spans)
    skel = cmu31_skeleton()
    n_frames = int(math.floor(duration_s / _CMU_FRAME_TIME_S)) + 1
    rng = np.random.default_rng([seed, sum(name.encode())])
    motion = _cmu_motion(skel, spans, n_frames, _CMU_FRAME_TIME_S, rng)
    return _Recording(bvh.BvhClip(skel, _CMU_FRAME_TIME_S, motion, None), spans)


def _single_view_video(clip: bvh.BvhClip, out: Path, fps: float, size_hw: tuple[int, int]) -> None:
    """One camera's view of ``clip`` (the synthetic mosaic's left view, resized), ``fps``."""
    from harnets_core.formats.video import iter_frames, write_video
    from harnets_core.synth.render import render_session_video

    with tempfile.TemporaryDirectory(prefix="harnets-synth-") as tmp:
        mosaic = Path(tmp) / "mosaic.mp4"
        render_session_video(clip, [], mosaic, fps=fps)
        write_video(out, iter_frames(mosaic, view="left", size_hw=size_hw), fps)


def _cut_video(video: Path, start_s: float, end_s: float, out: Path) -> None:
    from harnets_core.formats.video import probe_video, read_frames, time_range_to_frames, write_video

    info = probe_video(video)
    a, b = time_range_to_frames(info, start_s, end_s)
    write_video(out, read_frames(video, a, b, view="full", size_hw=None, info=info), info.fps)


def generate_own_dataset(
    root: str | Path,
    *,
    layout: str = "sessions",
    classes: Sequence[str] | str = DEFAULT_OWN_CLASSES,
    recordings: Sequence[str] | None = None,
    seed: int = 0,
    duration_s: float = 40.0,
    skeleton: str = "inhard",
    videos: bool = False,
    video_fps: float = 15.0,
    video_size_hw: tuple[int, int] = (72, 96),
    split_folders: bool = False,
    overwrite: bool = False,
) -> OwnSynthSummary:
    """Write a synthetic ``sessions`` or ``classes`` dataset under ``root`` (see the module
    docstring). ``recordings``: names (default :data:`DEFAULT_RECORDINGS`); ``split_folders``
    (classes layout): the last third of the recordings under ``test/``, the others under
    ``train/``. ``overwrite=False`` refuses a non-empty ``root``."""
    root = Path(root)
    names = parse_class_names(classes)
    recs = list(DEFAULT_RECORDINGS if recordings is None else recordings)
    if layout not in ("sessions", "classes"):
        raise ConfigError(f"synth layout {layout!r}: use sessions or classes (or the InHARD layout without --layout)")
    if skeleton not in OWN_SKELETONS:
        raise ConfigError(f"synth skeleton {skeleton!r}: use one of {', '.join(OWN_SKELETONS)}")
    if not recs or len(set(recs)) != len(recs) or any("/" in r or "_" in r for r in recs):
        raise ConfigError(f"synth recordings {recs}: need distinct names without '/' or '_'")
    if split_folders and (layout != "classes" or len(recs) < 2):
        raise ConfigError("synth split folders: need the classes layout and at least 2 recordings")
    if duration_s <= 2.0 or not math.isfinite(duration_s):
        raise ConfigError(f"synth duration_s = {duration_s}: must be more than 2 s")
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise DatasetError(f"{root}: not empty (pass overwrite=True / --overwrite)")
    root.mkdir(parents=True, exist_ok=True)
    summary = OwnSynthSummary(root, layout, names, recs)
    n_test = max(1, len(recs) // 3) if split_folders else 0
    with tempfile.TemporaryDirectory(prefix="harnets-synth-") as tmp:
        for r_index, rec in enumerate(recs):
            recording = _recording(rec, len(names), skeleton, seed, duration_s)
            video = None
            if videos:
                video = (root if layout == "sessions" else Path(tmp)) / f"{rec}.mp4"
                _single_view_video(recording.clip, video, video_fps, video_size_hw)
                summary.n_files += layout == "sessions"
            if layout == "sessions":
                bvh.write_bvh(root / f"{rec}.bvh", recording.clip)
                summary.n_files += 1
                subject = f"S{r_index % 3 + 1}"
                summary.labels += [(rec, start_s, end_s, names[k], subject) for k, start_s, end_s in recording.spans]
                summary.n_segments += len(recording.spans)
                continue
            side = ("test" if r_index >= len(recs) - n_test else "train") if split_folders else ""
            ft = recording.clip.frame_time_s
            for n, (k, start_s, end_s) in enumerate(recording.spans):
                folder = root / side / names[k]
                folder.mkdir(parents=True, exist_ok=True)
                f0, f1 = int(round(start_s / ft)), min(recording.clip.n_frames, int(round(end_s / ft)) + 1)
                cut = bvh.BvhClip(recording.clip.skeleton, ft, recording.clip.motion[f0:f1], None)
                bvh.write_bvh(folder / f"{rec}_{n:03d}.bvh", cut)
                summary.n_files += 1
                if video is not None:
                    _cut_video(video, start_s, end_s, folder / f"{rec}_{n:03d}.mp4")
                    summary.n_files += 1
                summary.n_segments += 1
    if layout == "sessions":
        with open(root / "labels.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["session", "start_s", "end_s", "label", "subject"])
            writer.writerows([(s, f"{a:.3f}", f"{b:.3f}", label, subj) for s, a, b, label, subj in summary.labels])
        summary.n_files += 1
    (root / "classes.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    summary.n_files += 1
    return summary
