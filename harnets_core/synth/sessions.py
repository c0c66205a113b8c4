"""A small synthetic InHARD: same layout, same csv columns, same 59-joint BVH skeleton.

InHARD cannot be downloaded on the build machines, so ``harnets synth`` writes a dataset
that the real readers cannot tell apart from the download by its shape:

    Online/Skeleton/<session>.bvh              Online/Labels/InHARD.csv
    Segmented/SkletonSegmented/<label>/<session>_<start:07.2f>_<end:07.2f>.bvh
    Segmented/Labels/InHARD.csv                (leading unnamed index, "No action" rows)
    Online/RGB/<session>.mp4, Segmented/RGBSegmented/...   (only with write_videos=True
                                                            and a renderer installed)

The hierarchy text (offsets, channel order Y X Z, End sites) is copied byte for byte from
``harnets_core/data/inhard_skeleton.bvh``, a frame of the real InHARD clip, and its frame
time (0.008401 s) is kept. Motions are joint-rotation patterns per meta-action added to the
template's working pose: each class has its own arm / hand / torso pattern (reach forward,
twist left, wrist flip, forearm screwing, bend down...) and, for take / put down classes, a
grasp (fingers close late) or release (fingers open mid-way) timing. Subjects differ in
body size (root height and the per-joint position channels, i.e. the suit's calibrated bone
lengths, scaled by 0.9 to 1.1; the file's OFFSETs stay the template's), speed (0.85 to 1.15)
and amplitude (0.8 to 1.2); every segment jitters amplitude and phase; a slow sway and
sensor noise run under everything. Pattern deltas vanish with zero slope at segment ends,
so transitions are smooth; gaps between segments are idle ("No action"). Activities follow
an assembly procedure (:data:`ASSEMBLY_PROCEDURE`) with realistic variation (skipped and
swapped steps, idle gaps), so the next activity can be anticipated as in InHARD.

Determinism: everything derives from ``seed`` and the session / subject names through
``numpy.random.default_rng``; the same arguments write the same bytes.
"""
from __future__ import annotations

import csv
import io
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from harnets_core.formats import bvh
from harnets_core.synth import render
from harnets_core.errors import ConfigError, DatasetError
from harnets_core.datasets.inhard import (
    SKELETON_TEMPLATE,
    skeleton_template,
    skeleton_template_text,
    ANNOTATION_COLUMNS,
    META_ACTIONS,
    NO_ACTION_ID,
    RGB_FPS,
    Segment,
    action_labels_of,
    class_id_of,
    subject_of,
)

__all__ = [
    "DEFAULT_CLASSES",
    "DEFAULT_SESSIONS",
    "DEFAULT_DURATION_S",
    "CLASS_DURATION_S",
    "ASSEMBLY_PROCEDURE",
    "SynthSummary",
    "SessionMotion",
    "generate_dataset",
    "generate_session",
    "load_template",
]

DEFAULT_CLASSES: tuple[int, ...] = (1, 2, 5, 6, 11, 12)
"""Consult sheets, Turn sheets, Picking in front, Picking left, Assemble system, Take
subsystem: two long classes (Consult sheets, Assemble system: mostly LA), three short ones
(Turn sheets, the two pickings: SA) and one in between (Take subsystem), all with clearly
different body parts moving, so a tiny model learns them in minutes on 2 CPU cores."""

DEFAULT_SESSIONS: tuple[str, ...] = (
    "P01_R01", "P03_R01", "P04_R02", "P06_R01", "P07_R01", "P10_R01",  # official train
    "P02_R01", "P05_R01", "P08_R01",  # official validation
)  # fmt: skip
"""6 official-train + 3 official-validation sessions of 9 distinct subjects (so
``subject-fold:3:I`` splits work too)."""

DEFAULT_DURATION_S = 60.0

CLASS_DURATION_S: dict[int, tuple[float, float]] = {
    1: (2.0, 7.0),  # Consult sheets
    2: (0.8, 2.5),  # Turn sheets
    3: (1.0, 2.5),  # Take screwdriver
    4: (1.0, 2.5),  # Put down screwdriver
    5: (1.0, 2.8),  # Picking in front
    6: (1.2, 3.5),  # Picking left
    7: (1.2, 3.0),  # Take measuring rod
    8: (1.2, 3.0),  # Put down measuring rod
    9: (1.0, 2.8),  # Take component
    10: (1.0, 2.8),  # Put down component
    11: (2.5, 10.0),  # Assemble system
    12: (2.0, 4.5),  # Take subsystem
    13: (2.0, 4.5),  # Put down subsystem
}
"""Uniform range of segment durations per class in seconds, before the subject's speed
factor; chosen so both the SA (< 3 s) and LA (>= 3 s) scenarios get data."""


VideoRenderer = Callable[..., object]
"""``render(clip, segments, out_path, fps=25)``: writes the 2x2 mosaic ``Online/RGB/<session>.mp4``
of one session (``segments`` include No action); default :func:`harnets_core.synth.render.render_session_video`."""

ClipCutter = Callable[..., object]
"""``cut(session_video_path, segments, out_dir)``: writes ``out_dir/<class_name>/<segment.name>.mp4``
with ``out_dir = Segmented/RGBSegmented``; default :func:`harnets_core.synth.render.write_segmented_clips`."""


class _Component(NamedTuple):
    joint: str
    axis: str  # "X", "Y" or "Z" rotation
    amp_deg: float
    shape: str  # bump | hold | osc | swing | grasp | release
    freq_hz: float = 0.0


def _fingers(side: str, amp: float, shape: str) -> tuple[_Component, ...]:
    sign = 1.0 if side == "Right" else -1.0
    return tuple(
        _Component(f"{side}Hand{f}{k}", "Z", sign * amp * (0.7 if k == 1 else 1.0), shape)
        for f in ("Index", "Middle", "Ring", "Pinky")
        for k in (1, 2, 3)
    ) + (_Component(f"{side}HandThumb2", "Y", sign * amp * 0.5, shape),)


# Per-class patterns as rotation deltas (degrees) on the template's working pose.
_PATTERNS: dict[int, tuple[_Component, ...]] = {
    1: (  # Consult sheets: head down, both forearms raised holding the sheets, small reading nods
        _Component("Neck", "X", 18.0, "hold"),
        _Component("Head", "X", 15.0, "hold"),
        _Component("Head", "X", 3.0, "osc", 0.4),
        _Component("Spine2", "X", 6.0, "hold"),
        _Component("RightForeArm", "Y", 25.0, "hold"),
        _Component("LeftForeArm", "Y", -25.0, "hold"),
        _Component("RightHand", "Z", -15.0, "hold"),
    ),
    2: (  # Turn sheets: right hand sweeps across with a wrist flip
        _Component("RightArm", "Y", 30.0, "swing"),
        _Component("RightHand", "X", 80.0, "bump"),
        _Component("RightForeArm", "X", 35.0, "bump"),
        _Component("Head", "X", 10.0, "hold"),
        *_fingers("Right", 20.0, "bump"),
    ),
    3: (  # Take screwdriver: twist right, right arm reaches right-back, grasp
        _Component("Spine1", "Y", -18.0, "bump"),
        _Component("RightArm", "Y", -35.0, "bump"),
        _Component("RightArm", "Z", -20.0, "bump"),
        _Component("RightForeArm", "Y", -40.0, "bump"),
        *_fingers("Right", 60.0, "grasp"),
    ),
    4: (  # Put down screwdriver: same reach, hand opens mid-way
        _Component("Spine1", "Y", -18.0, "bump"),
        _Component("RightArm", "Y", -35.0, "bump"),
        _Component("RightArm", "Z", -10.0, "bump"),
        _Component("RightForeArm", "Y", -40.0, "bump"),
        *_fingers("Right", 60.0, "release"),
    ),
    5: (  # Picking in front: lean forward, right arm reaches straight ahead, grasp
        _Component("Spine", "X", 12.0, "bump"),
        _Component("Spine1", "X", 10.0, "bump"),
        _Component("RightArm", "Y", 45.0, "bump"),
        _Component("RightArm", "Z", -25.0, "bump"),
        _Component("RightForeArm", "Y", -60.0, "bump"),
        *_fingers("Right", 55.0, "grasp"),
    ),
    6: (  # Picking left: torso twists left, left arm reaches to the side, grasp
        _Component("Spine1", "Y", 22.0, "bump"),
        _Component("Spine2", "Y", 12.0, "bump"),
        _Component("Head", "Y", 25.0, "bump"),
        _Component("LeftArm", "Z", 30.0, "bump"),
        _Component("LeftArm", "Y", -30.0, "bump"),
        _Component("LeftForeArm", "Y", 50.0, "bump"),
        *_fingers("Left", 55.0, "grasp"),
    ),
    7: (  # Take measuring rod: both arms reach forward-left, grasp both hands
        _Component("Spine1", "Y", 12.0, "bump"),
        _Component("RightArm", "Y", 30.0, "bump"),
        _Component("LeftArm", "Y", -30.0, "bump"),
        _Component("LeftArm", "Z", 20.0, "bump"),
        *_fingers("Right", 50.0, "grasp"),
        *_fingers("Left", 50.0, "grasp"),
    ),
    8: (  # Put down measuring rod
        _Component("Spine1", "Y", 12.0, "bump"),
        _Component("RightArm", "Y", 30.0, "bump"),
        _Component("LeftArm", "Y", -30.0, "bump"),
        _Component("LeftArm", "Z", 20.0, "bump"),
        *_fingers("Right", 50.0, "release"),
        *_fingers("Left", 50.0, "release"),
    ),
    9: (  # Take component: small twist left, right arm reaches front-left low, grasp
        _Component("Spine1", "Y", 12.0, "bump"),
        _Component("Spine", "X", 8.0, "bump"),
        _Component("RightArm", "Y", 35.0, "bump"),
        _Component("RightArm", "X", 20.0, "bump"),
        _Component("RightForeArm", "Y", -45.0, "bump"),
        *_fingers("Right", 50.0, "grasp"),
    ),
    10: (  # Put down component: reach front centre, hand opens
        _Component("Spine", "X", 8.0, "bump"),
        _Component("RightArm", "Y", 30.0, "bump"),
        _Component("RightForeArm", "Y", -35.0, "bump"),
        *_fingers("Right", 50.0, "release"),
    ),
    11: (  # Assemble system: hands at the bench, forearm rotation (screwing), wrist work
        _Component("Spine1", "X", 8.0, "hold"),
        _Component("Head", "X", 12.0, "hold"),
        _Component("RightForeArm", "Y", 20.0, "hold"),
        _Component("RightForeArm", "X", 35.0, "osc", 1.8),
        _Component("RightHand", "Y", 12.0, "osc", 0.9),
        _Component("LeftForeArm", "Y", -15.0, "hold"),
        _Component("LeftHand", "Z", 10.0, "osc", 0.5),
        *_fingers("Right", 30.0, "hold"),
    ),
    12: (  # Take subsystem: bend down, both arms reach low, lift
        _Component("Spine", "X", 25.0, "bump"),
        _Component("Spine1", "X", 15.0, "bump"),
        _Component("RightUpLeg", "X", -20.0, "bump"),
        _Component("LeftUpLeg", "X", -20.0, "bump"),
        _Component("RightLeg", "X", 30.0, "bump"),
        _Component("LeftLeg", "X", 30.0, "bump"),
        _Component("RightArm", "Y", 30.0, "bump"),
        _Component("LeftArm", "Y", -30.0, "bump"),
        *_fingers("Right", 45.0, "grasp"),
        *_fingers("Left", 45.0, "grasp"),
    ),
    13: (  # Put down subsystem: bend down, arms low, release
        _Component("Spine", "X", 25.0, "bump"),
        _Component("Spine1", "X", 15.0, "bump"),
        _Component("RightUpLeg", "X", -20.0, "bump"),
        _Component("LeftUpLeg", "X", -20.0, "bump"),
        _Component("RightLeg", "X", 30.0, "bump"),
        _Component("LeftLeg", "X", 30.0, "bump"),
        _Component("RightArm", "Y", 30.0, "bump"),
        _Component("LeftArm", "Y", -30.0, "bump"),
        *_fingers("Right", 45.0, "release"),
        *_fingers("Left", 45.0, "release"),
    ),
}

_HIPS_DROP_CM = {12: 9.0, 13: 9.0}  # knee bend lowers the root while bending

# Joints that carry slow sway and sensor noise (the rest only move with patterns).
_SWAY_JOINTS = (
    "Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "RightShoulder", "RightArm",
    "RightForeArm", "RightHand", "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
)  # fmt: skip

_NOISE_DEG = 0.25
_SWAY_DEG = 2.5
_POSTURE_DEG = 5.0
_RAMP_S = 0.35


# ----------------------------------------------------------------------------- template
@dataclass(frozen=True)
class _Template:
    clip: bvh.BvhClip
    header: str  # hierarchy text up to and including the line "MOTION\n"


def load_template() -> bvh.BvhClip:
    """The real InHARD skeleton (59 joints, one frame) shipped in ``harnets_core/data``."""
    return _template().clip


def _template() -> _Template:
    text = skeleton_template_text()
    cut = text.find("MOTION")
    if cut < 0:
        raise DatasetError(f"{SKELETON_TEMPLATE}: template has no MOTION section")
    header = text[:cut].replace("\r\n", "\n") + "MOTION\n"
    return _Template(clip=skeleton_template(), header=header)


# ----------------------------------------------------------------------------- motion
def _stable_seed(*parts: object) -> list[int]:
    return [zlib.crc32(str(p).encode("utf-8")) for p in parts]


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _shape(comp: _Component, p: np.ndarray, t: np.ndarray, dur_s: float, phase: float) -> np.ndarray:
    """Delta profile in [-1, 1] over one segment; 0 with zero slope at both ends."""
    ramp = min(_RAMP_S, dur_s / 4.0)
    hold = _smoothstep(t / ramp) * _smoothstep((dur_s - t) / ramp)
    if comp.shape == "bump":
        return np.sin(np.pi * p) ** 2
    if comp.shape == "hold":
        return hold
    if comp.shape == "osc":
        return hold * np.sin(2.0 * np.pi * comp.freq_hz * t + phase)
    if comp.shape == "swing":
        return np.sin(np.pi * p) ** 2 * np.sin(2.0 * np.pi * p)
    if comp.shape == "grasp":  # fingers close late in the reach, reopen at the very end
        return _smoothstep((p - 0.35) / 0.2) * (1.0 - _smoothstep((p - 0.85) / 0.15))
    if comp.shape == "release":  # fingers closed from the start, open mid-way
        return _smoothstep(p / 0.1) * (1.0 - _smoothstep((p - 0.45) / 0.15))
    raise ConfigError(f"synth: unknown pattern shape {comp.shape!r}")


@dataclass(frozen=True)
class _Subject:
    scale: float  # body size (root height, position channels)
    speed: float  # >1: faster (shorter segments, faster oscillations)
    amplitude: float
    facing_deg: float
    posture_seed: int  # per-subject posture offsets on the body joints (habitual stance)


def _subject_params(seed: int, subject: str) -> _Subject:
    rng = np.random.default_rng(_stable_seed(seed, "subject", subject))
    return _Subject(
        scale=float(rng.uniform(0.9, 1.1)),
        speed=float(rng.uniform(0.85, 1.15)),
        amplitude=float(rng.uniform(0.8, 1.2)),
        facing_deg=float(rng.uniform(-10.0, 10.0)),
        posture_seed=int(rng.integers(2**31)),
    )


class _Plan(NamedTuple):
    class_id: int
    start_s: float  # rgb clock, 2 decimals
    end_s: float


ASSEMBLY_PROCEDURE: tuple[int, ...] = (1, 2, 5, 11, 6, 11, 12, 9, 3, 11, 4, 10, 7, 8, 13)
"""The assembly cycle a synthetic worker repeats, as meta-action ids (only the generated
classes are kept, repeats that become adjacent merged): consult the sheets (1), turn them (2),
pick a part in front (5) and assemble it (11), pick one on the left (6) and assemble it (11),
take the subsystem (12), take a component (9) and the screwdriver (3), assemble (11), put the
screwdriver (4) and the component (10) down, measure (7, 8), put the subsystem down (13).
With the default classes: Consult, Turn, Pick front, Assemble, Pick left, Assemble, Take
subsystem. What comes after "Assemble" depends on what came before it, as in a real procedure.

Variation per cycle (what :func:`_plan_session` draws): each step is skipped with probability
:data:`PROCEDURE_SKIP_P` (Turn sheets 0.3), two neighbouring steps swap with probability
:data:`PROCEDURE_SWAP_P` (e.g. the two pickings), and after each action an idle gap of 0.5 to
2 s follows with probability 0.45."""

PROCEDURE_SKIP_P = 0.08
PROCEDURE_SWAP_P = 0.15
_OPTIONAL_STEPS = {2: 0.3}  # step -> skip probability (overrides PROCEDURE_SKIP_P)


def _procedure_cycle(rng: np.random.Generator, classes: Sequence[int]) -> list[int]:
    """One pass of :data:`ASSEMBLY_PROCEDURE` over ``classes`` with its random variation;
    classes the procedure does not name are appended in id order."""
    steps = [c for c in ASSEMBLY_PROCEDURE if c in classes] + [c for c in sorted(classes) if c not in ASSEMBLY_PROCEDURE]
    steps = [c for c in steps if rng.random() >= _OPTIONAL_STEPS.get(c, PROCEDURE_SKIP_P)] or steps[:1]
    n = 0
    while n + 1 < len(steps):
        if rng.random() < PROCEDURE_SWAP_P:
            steps[n], steps[n + 1] = steps[n + 1], steps[n]
            n += 2
        else:
            n += 1
    return [c for i, c in enumerate(steps) if i == 0 or c != steps[i - 1]]


def _plan_session(
    rng: np.random.Generator, classes: Sequence[int], duration_s: float, speed: float
) -> list[_Plan]:
    """Cycles of the assembly procedure (:data:`ASSEMBLY_PROCEDURE`) with (sometimes) No-action
    gaps, from 0.4-1.0 s to duration_s - 0.3 s; each session starts at a random step."""
    plans: list[_Plan] = []
    t = round(float(rng.uniform(0.4, 1.0)), 2)
    last = -1
    queue = _procedure_cycle(rng, classes)
    queue = queue[int(rng.integers(len(queue))):]
    while True:
        if not queue:
            queue = _procedure_cycle(rng, classes)
        cid = queue.pop(0)
        if cid == last and len(set(classes)) > 1:
            continue
        lo, hi = CLASS_DURATION_S[cid]
        dur = round(float(rng.uniform(lo, hi)) / speed, 2)
        if t + dur > duration_s - 0.3:
            break
        plans.append(_Plan(cid, t, round(t + dur, 2)))
        t = round(t + dur, 2)
        last = cid
        if rng.random() < 0.45:  # idle gap, annotated as No action in the Segmented csv
            gap = round(float(rng.uniform(0.5, 2.0)), 2)
            if t + gap > duration_s - 0.3:
                break
            plans.append(_Plan(NO_ACTION_ID, t, round(t + gap, 2)))
            t = round(t + gap, 2)
    return plans


def _column(channel_index: dict[str, int], joint: str, axis: str) -> int:
    try:
        return channel_index[f"{joint}.{axis}rotation"]
    except KeyError:
        raise ConfigError(f"synth: template skeleton has no channel {joint}.{axis}rotation") from None


def _motion(
    template: bvh.BvhClip,
    plans: Sequence[_Plan],
    subject: _Subject,
    rng: np.random.Generator,
    n_frames: int,
) -> np.ndarray:
    """(F, C) float64 motion: template pose + subject + class patterns + sway + noise."""
    skel = template.skeleton
    ft = template.frame_time_s
    names = list(skel.channel_names)
    cidx = {n: i for i, n in enumerate(names)}
    base = template.motion[0].astype(np.float64).copy()  # (C,)
    # body size: every position channel (bone lengths, root height) scaled
    pos_cols = np.array([i for i, n in enumerate(names) if n.endswith("position")])
    root_x, root_y, root_z = (cidx[f"{skel.joints[0].name}.{a}position"] for a in "XYZ")
    base[pos_cols] *= subject.scale
    base[root_x] = 0.0
    base[root_z] = 0.0
    base[_column(cidx, skel.joints[0].name, "Y")] += subject.facing_deg
    motion = np.repeat(base[None, :], n_frames, axis=0)  # (F, C)
    t_all = np.arange(n_frames) * ft  # (F,) seconds

    # slow sway (sum of two low sinusoids) and sensor noise on the body joints
    sway_cols = np.array([_column(cidx, j, a) for j in _SWAY_JOINTS for a in "XYZ"])
    posture = np.random.default_rng(subject.posture_seed).normal(0.0, _POSTURE_DEG, sway_cols.size)
    motion[:, sway_cols] += posture
    freqs = rng.uniform(0.05, 0.35, size=(2, sway_cols.size))
    phases = rng.uniform(0, 2 * np.pi, size=(2, sway_cols.size))
    amps = rng.uniform(0.3, 1.0, size=(2, sway_cols.size)) * _SWAY_DEG
    sway = (amps[:, None, :] * np.sin(2 * np.pi * freqs[:, None, :] * t_all[None, :, None]
                                      + phases[:, None, :])).sum(axis=0)  # (F, S)
    motion[:, sway_cols] += sway + rng.normal(0.0, _NOISE_DEG, size=sway.shape)
    drift = 3.0 * np.sin(2 * np.pi * rng.uniform(0.01, 0.03) * t_all + rng.uniform(0, 6.3))
    motion[:, root_x] += drift
    motion[:, root_z] += 0.6 * drift[::-1]
    motion[:, [root_x, root_y, root_z]] += rng.normal(0.0, 0.05, size=(n_frames, 3))

    for plan in plans:
        if plan.class_id == NO_ACTION_ID:
            continue
        f0 = int(round(plan.start_s / ft))
        f1 = min(int(round(plan.end_s / ft)), n_frames - 1)
        if f1 <= f0:
            continue
        t = t_all[f0 : f1 + 1] - t_all[f0]  # (L,)
        dur_s = float(t[-1]) if t[-1] > 0 else ft
        p = t / dur_s
        gain = subject.amplitude * float(rng.uniform(0.75, 1.25))
        for comp in _PATTERNS[plan.class_id]:
            comp_s = comp._replace(freq_hz=comp.freq_hz * subject.speed)
            prof = _shape(comp_s, p, t, dur_s, float(rng.uniform(0, 2 * np.pi)))
            jitter = float(rng.uniform(0.9, 1.1))
            motion[f0 : f1 + 1, _column(cidx, comp.joint, comp.axis)] += (
                comp.amp_deg * gain * jitter * prof
            )
        drop = _HIPS_DROP_CM.get(plan.class_id)
        if drop:
            motion[f0 : f1 + 1, root_y] -= drop * subject.scale * gain * np.sin(np.pi * p) ** 2
    return motion


# ----------------------------------------------------------------------------- writing
def _format_frames(motion: np.ndarray) -> list[str]:
    """One text line per frame, 3 decimals (0.001 deg / 0.001 cm, below the suit's noise).
    Columns constant over the clip are formatted once, trailing zeros trimmed."""
    rounded = motion + 0.0  # no "-0.000" (motion is already rounded to 3 decimals)
    constant = np.all(rounded == rounded[:1], axis=0)
    parts = [
        np.format_float_positional(rounded[0, c], precision=3, trim="-") if constant[c] else "%.3f"
        for c in range(motion.shape[1])
    ]
    fmt = " ".join(parts)
    varying = rounded[:, ~constant].tolist()
    return [fmt % tuple(row) for row in varying]


def _write_bvh_text(path: Path, header: str, frame_time_s: float, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write(header)
        f.write(f"Frames: {len(lines)}\nFrame Time: {frame_time_s:.6f}\n")
        f.write("\n".join(lines))
        f.write("\n")


def _csv_rows(segments: Sequence[Segment]) -> list[list[str]]:
    return [
        [
            s.session,
            s.subject,
            s.operation,
            s.action_label,
            str(0 if s.class_id == NO_ACTION_ID else s.class_id + 1),
            s.class_name,
            str(s.bvh_start_frame),
            str(s.bvh_end_frame),
            f"{s.rgb_start_s:.2f}",
            f"{s.rgb_end_s:.2f}",
            str(s.rgb_start_frame),
            str(s.rgb_end_frame),
            f"{s.duration_s:.2f}",
        ]
        for s in segments
    ]


def _write_csv(path: Path, segments: Sequence[Segment], *, index_column: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = list(ANNOTATION_COLUMNS)
    rows = _csv_rows(segments)
    if index_column:
        header = ["", *header]
        rows = [[str(i), *r] for i, r in enumerate(rows)]
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


# ----------------------------------------------------------------------------- public API
@dataclass
class SessionMotion:
    """One generated session: its motion and all its segments (No action included)."""

    session: str
    clip: bvh.BvhClip | None  # None when generate_dataset(keep_clips=False)
    segments: list[Segment]

    @property
    def actions(self) -> list[Segment]:
        """The annotated actions (the Online csv rows), No action excluded."""
        return [s for s in self.segments if s.class_id != NO_ACTION_ID]


@dataclass
class SynthSummary:
    """What :func:`generate_dataset` wrote."""

    root: Path
    seed: int
    class_ids: tuple[int, ...]
    frame_time_s: float
    sessions: dict[str, SessionMotion] = field(default_factory=dict)
    n_files: int = 0

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(META_ACTIONS[c] for c in self.class_ids)

    @property
    def n_segments(self) -> int:
        """Action segments (Online rows)."""
        return sum(len(s.actions) for s in self.sessions.values())


def _segments_from_plans(
    session: str, plans: Sequence[_Plan], frame_time_s: float, rgb_fps: float,
    rng: np.random.Generator,
) -> list[Segment]:
    subject = subject_of(session)
    segments = []
    for i, plan in enumerate(plans):
        op = f"OP{10 * (1 + i // 4):03d}"
        if plan.class_id == NO_ACTION_ID:
            label = "No action"
        else:
            names = action_labels_of(plan.class_id)
            label = f"[{op}] {names[int(rng.integers(len(names)))]}"
        segments.append(
            Segment(
                session=session,
                subject=subject,
                operation=op,
                action_label=label,
                class_id=plan.class_id,
                class_name=META_ACTIONS[plan.class_id],
                bvh_start_frame=int(round(plan.start_s / frame_time_s)),
                bvh_end_frame=int(round(plan.end_s / frame_time_s)),
                rgb_start_s=plan.start_s,
                rgb_end_s=plan.end_s,
                rgb_start_frame=int(round(plan.start_s * rgb_fps)),
                rgb_end_frame=int(round(plan.end_s * rgb_fps)),
                duration_s=round(plan.end_s - plan.start_s, 2),
            )
        )
    return segments


def generate_session(
    session: str,
    *,
    seed: int = 0,
    duration_s: float = DEFAULT_DURATION_S,
    classes: Sequence[int | str] = DEFAULT_CLASSES,
    rgb_fps: float = RGB_FPS,
) -> SessionMotion:
    """Motion and segments of one synthetic session (nothing written)."""
    tpl = _template()
    return _generate_session(tpl.clip, session, seed, duration_s, _class_ids(classes), rgb_fps)


def _class_ids(classes: Sequence[int | str]) -> tuple[int, ...]:
    ids = tuple(sorted({class_id_of(c) for c in classes}))
    if not ids or NO_ACTION_ID in ids:
        raise ConfigError(
            f"synth classes {list(classes)!r}: give at least one action class; "
            "No action is always generated as the gaps"
        )
    return ids


def _generate_session(
    template: bvh.BvhClip, session: str, seed: int, duration_s: float,
    class_ids: tuple[int, ...], rgb_fps: float,
) -> SessionMotion:
    ft = template.frame_time_s
    subject = _subject_params(seed, subject_of(session))
    rng = np.random.default_rng(_stable_seed(seed, "session", session))
    plans = _plan_session(rng, class_ids, duration_s, subject.speed)
    n_frames = int(math.floor(duration_s / ft)) + 1
    motion = np.round(_motion(template, plans, subject, rng, n_frames), 3)  # as written
    segments = _segments_from_plans(session, plans, ft, rgb_fps, rng)
    clip = bvh.BvhClip(skeleton=template.skeleton, frame_time_s=ft, motion=motion, path=None)
    return SessionMotion(session=session, clip=clip, segments=segments)


def generate_dataset(
    root: str | Path,
    *,
    seed: int = 0,
    sessions: Sequence[str] | None = None,
    duration_s: float = DEFAULT_DURATION_S,
    classes: Sequence[int | str] = DEFAULT_CLASSES,
    rgb_fps: float = RGB_FPS,
    write_segmented: bool = True,
    write_videos: bool = False,
    keep_clips: bool = True,
    overwrite: bool = False,
    render_video: VideoRenderer | None = None,
    cut_videos: ClipCutter | None = None,
) -> SynthSummary:
    """Write a synthetic InHARD under ``root`` in the real layout; returns what it wrote.

    ``sessions``: session names (default :data:`DEFAULT_SESSIONS`, 6 train + 3 validation);
    ``duration_s``: length of each session in seconds; ``classes``: meta-action ids or
    names (default :data:`DEFAULT_CLASSES`; "No action" gaps always added); ``rgb_fps``:
    video rate used for the rgb columns (25, as in InHARD). The BVH frame time is the
    template's (0.008401 s). ``write_videos`` calls ``render_video`` (:data:`VideoRenderer`) per
    session and, with ``write_segmented``, ``cut_videos`` (:data:`ClipCutter`).
    ``overwrite=False`` refuses a root that already holds ``Online`` or ``Segmented``.
    """
    root = Path(root)
    if duration_s <= 2.0 or not math.isfinite(duration_s):
        raise ConfigError(f"synth duration_s = {duration_s}: must be more than 2 s")
    if rgb_fps <= 0:
        raise ConfigError(f"synth rgb_fps = {rgb_fps}: must be positive")
    names = list(DEFAULT_SESSIONS if sessions is None else sessions)
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"synth sessions {names!r}: need distinct session names")
    class_ids = _class_ids(classes)
    render_video = render_video or render.render_session_video
    cut_videos = cut_videos or render.write_segmented_clips
    if not overwrite:
        for sub in ("Online", "Segmented"):
            if (root / sub).exists():
                raise DatasetError(f"{root / sub}: already exists (pass overwrite=True)")
    tpl = _template()
    ft = tpl.clip.frame_time_s
    summary = SynthSummary(root=root, seed=seed, class_ids=class_ids, frame_time_s=ft)
    online: list[Segment] = []
    segmented: list[Segment] = []
    for session in names:
        sm = _generate_session(tpl.clip, session, seed, duration_s, class_ids, rgb_fps)
        assert sm.clip is not None
        lines = _format_frames(sm.clip.motion)
        out = root / "Online" / "Skeleton" / f"{session}.bvh"
        _write_bvh_text(out, tpl.header, ft, lines)
        sm.clip.path = out
        summary.n_files += 1
        if write_segmented:
            for seg in sm.segments:
                seg_path = (root / "Segmented" / "SkletonSegmented" / seg.class_name
                            / f"{seg.name}.bvh")
                _write_bvh_text(seg_path, tpl.header, ft,
                                lines[seg.bvh_start_frame : seg.bvh_end_frame + 1])
                summary.n_files += 1
        if write_videos:
            video = root / "Online" / "RGB" / f"{session}.mp4"
            video.parent.mkdir(parents=True, exist_ok=True)
            render_video(sm.clip, sm.segments, video, fps=rgb_fps)
            summary.n_files += 1
            if cut_videos is not None and write_segmented:
                rgb_dir = root / "Segmented" / "RGBSegmented"
                rgb_dir.mkdir(parents=True, exist_ok=True)
                cut_videos(video, sm.segments, rgb_dir)
                summary.n_files += len(sm.segments)
        online.extend(sm.actions)
        segmented.extend(sm.segments)
        if not keep_clips:
            sm.clip = None
        summary.sessions[session] = sm
    _write_csv(root / "Online" / "Labels" / "InHARD.csv", online, index_column=False)
    summary.n_files += 1
    if write_segmented:
        _write_csv(root / "Segmented" / "Labels" / "InHARD.csv", segmented, index_column=True)
        summary.n_files += 1
    return summary
