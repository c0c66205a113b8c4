"""The skeleton and its recognized activity as plain data for 3D markers (RViz, Foxglove).

Bones are the skeleton's (parent, child) pairs, placed by the project's forward kinematics
(``harnets_core.features.kinematics``) of one frame's channel values; the activity label sits
above the head; each class has a stable colour.

Units and axes: BVH positions are centimetres with Y up (InHARD, Axis Neuron); ROS frames are
metres with Z up (REP 103). The bone points keep the BVH's axes, only scaled to metres, so they
are exactly ``forward_kinematics(skeleton, values) / 100``; the rotation from those axes into
the message's frame is carried apart (``SkeletonScene.orientation_xyzw``: the markers' pose
orientation), and the label's position is given in the frame itself.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from harnets_core.errors import ConfigError, StreamError
from harnets_core.features.kinematics import forward_kinematics
from harnets_core.formats.bvh import Skeleton, read_bvh

__all__ = [
    "CM_PER_M",
    "TEMPLATE_BVH",
    "UP_AXES",
    "PALETTE",
    "NEUTRAL_RGBA",
    "class_color",
    "bone_pairs",
    "label_text",
    "SkeletonScene",
    "SkeletonView",
]

CM_PER_M = 100.0
"""BVH units (centimetres) per metre."""

TEMPLATE_BVH = Path(__file__).resolve().parents[1] / "data" / "inhard_skeleton.bvh"
"""The InHARD skeleton (59 joints, 6 channels each) bundled with harnets_core."""

_SQRT_HALF = float(np.sqrt(0.5))
UP_AXES: dict[str, tuple[np.ndarray, tuple[float, float, float, float]]] = {
    # BVH Y up -> frame Z up: +90 degrees about X, (x, y, z) -> (x, -z, y).
    "y": (np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]), (_SQRT_HALF, 0.0, 0.0, _SQRT_HALF)),
    # The stream is already Z up: identity.
    "z": (np.eye(3), (0.0, 0.0, 0.0, 1.0)),
}
"""Up axis of the BVH data -> (rotation matrix (3, 3) from BVH axes into the frame, the same
rotation as a quaternion (x, y, z, w))."""

PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.122, 0.467, 0.706), (1.000, 0.498, 0.055), (0.173, 0.627, 0.173), (0.839, 0.153, 0.157),
    (0.580, 0.404, 0.741), (0.549, 0.337, 0.294), (0.890, 0.467, 0.761), (0.737, 0.741, 0.133),
    (0.090, 0.745, 0.812), (0.498, 0.498, 0.498), (0.682, 0.780, 0.910), (1.000, 0.733, 0.471),
    (0.596, 0.875, 0.541), (1.000, 0.596, 0.588), (0.773, 0.690, 0.835), (0.769, 0.612, 0.580),
    (0.969, 0.714, 0.824), (0.859, 0.859, 0.553), (0.620, 0.855, 0.898), (0.780, 0.780, 0.780),
)
"""RGB colours in [0, 1] (matplotlib's tab10 then its light tab20 partners), indexed by class id."""

NEUTRAL_RGBA = (0.85, 0.85, 0.85, 1.0)
"""Colour of the skeleton while no activity is known."""


def class_color(class_id: int, label: str = "") -> tuple[float, float, float, float]:
    """RGBA in [0, 1] of a class: ``PALETTE[class_id % 20]``, the same in every node, run and
    picture (InHARD meta-action ids 0..13 get 14 different colours); a class without an id
    (``class_id < 0``) takes the entry of a stable hash (crc32) of its name."""
    index = int(class_id) if class_id >= 0 else zlib.crc32(label.encode("utf-8"))
    r, g, b = PALETTE[index % len(PALETTE)]
    return (r, g, b, 1.0)


def bone_pairs(skeleton: Skeleton) -> np.ndarray:
    """(B, 2) int indices into ``skeleton.joints``: (parent, child) for every entry with a
    parent, End Sites included, in file order."""
    pairs = [(joint.parent, j) for j, joint in enumerate(skeleton.joints) if joint.parent >= 0]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def label_text(label: str, confidence: float, extra_lines: Sequence[str] = ()) -> str:
    """The text above the head: ``"<label> <confidence:.2f>"``, then ``extra_lines`` one per line.

    ``extra_lines``: the activity forecast's (``forecast_text.forecast_lines``), e.g.
    ``["next: Take component 0.62 in ~3.1 s (p10-p90 1.2-5.0 s)"]``."""
    return "\n".join([f"{label} {float(confidence):.2f}", *extra_lines])


@dataclass(frozen=True)
class SkeletonScene:
    """One frame's skeleton, ready to become markers.

    ``joints_m (J, 3)``: every entry of ``skeleton.joints`` (End Sites included), metres, BVH
    axes (= forward kinematics / 100). ``line_points_m (2B, 3)``: the bones' end points in
    pairs (parent, child), BVH axes, the points of a LINE_LIST. ``orientation_xyzw``: the
    rotation from BVH axes into the frame (the markers' pose orientation). ``head_m (3,)`` and
    ``label_position_m (3,)``: the head joint and the label's anchor above it, in the frame.
    """

    joints_m: np.ndarray
    line_points_m: np.ndarray
    orientation_xyzw: tuple[float, float, float, float]
    head_m: np.ndarray
    label_position_m: np.ndarray


def _first_difference(want: Sequence[object], got: Sequence[object]) -> str:
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return f"differ at index {i}: expected {a!r}, got {b!r}"
    return f"{len(want)} expected, got {len(got)}"


class SkeletonView:
    """How the template skeleton is drawn: bones, head label and axes.

    ``skeleton`` gives the hierarchy and End Site offsets (a stream carries channel values,
    not offsets); ``source`` names it in errors; ``head_joint`` is the joint the label sits
    ``label_height_m`` above (along the up axis); ``up_axis`` is the data's up axis
    (``"y"`` for BVH, ``"z"``). Raises ConfigError for an unknown up axis or head joint.
    """

    def __init__(self, skeleton: Skeleton, *, source: str = "the template BVH", head_joint: str = "Head",
                 label_height_m: float = 0.3, up_axis: str = "y") -> None:
        if up_axis not in UP_AXES:
            raise ConfigError(f"up_axis = {up_axis!r}: use one of {sorted(UP_AXES)}")
        names = [j.name for j in skeleton.joints]
        if head_joint not in names:
            raise ConfigError(f"head_joint = {head_joint!r}: no such joint in {source} (joints: {', '.join(skeleton.joint_names[:8])}, ...)")
        self.skeleton = skeleton
        self.source = source
        self.head_index = names.index(head_joint)
        self.label_height_m = float(label_height_m)
        self.up_axis = up_axis
        self.rotation, self.orientation_xyzw = UP_AXES[up_axis]
        self.pairs = bone_pairs(skeleton)
        joints = [j for j in skeleton.joints if not j.is_end_site]
        self._layout = ([j.name for j in joints], [len(j.channels) for j in joints], [c for j in joints for c in j.channels])

    @classmethod
    def from_bvh(cls, path: str | Path | None = None, **kwargs: object) -> SkeletonView:
        """The view of a BVH file's skeleton (its motion is not used); ``None`` or ``""``: the
        bundled InHARD template. A bad file raises BvhParseError naming it."""
        bvh = Path(path) if path else TEMPLATE_BVH
        return cls(read_bvh(bvh, end_frame=1).skeleton, source=str(bvh), **kwargs)

    def check_layout(self, joint_names: Sequence[str], channel_counts: Sequence[int], channel_types: Sequence[str],
                     where: str = "stream") -> None:
        """Raise StreamError unless a stream's joints, channel counts and channel types are the
        skeleton's (a SkeletonFrame's ``joint_names``, ``channel_counts``, ``channel_types``)."""
        want_names, want_counts, want_types = self._layout
        problems = []
        if list(joint_names) != want_names:
            problems.append(f"joints {_first_difference(want_names, list(joint_names))}")
        if [int(c) for c in channel_counts] != want_counts:
            problems.append(f"channel counts {_first_difference(want_counts, [int(c) for c in channel_counts])}")
        if list(channel_types) != want_types:
            problems.append(f"channel types {_first_difference(want_types, list(channel_types))}")
        if problems:
            raise StreamError(
                f"{where}: the stream's skeleton ({len(joint_names)} joints, {len(channel_types)} channels) is not the "
                f"one of {self.source} ({len(want_names)} joints, {len(want_types)} channels): " + "; ".join(problems)
                + " (set skeleton_bvh to the BVH export of the stream's skeleton)")

    def scene(self, values: Sequence[float] | np.ndarray, where: str = "stream") -> SkeletonScene:
        """The scene of one frame: ``values (C,)`` in BVH channel order (cm, degrees). Raises
        StreamError for another number of values or a non-finite one."""
        motion = np.asarray(values, dtype=np.float64).reshape(1, -1)  # (1, C)
        if motion.shape[1] != self.skeleton.n_channels:
            raise StreamError(f"{where}: frame has {motion.shape[1]} values; {self.source} has {self.skeleton.n_channels} channels")
        if not np.isfinite(motion).all():
            bad = int(np.flatnonzero(~np.isfinite(motion[0]))[0])
            raise StreamError(f"{where}: non-finite value at channel {bad} ({self.skeleton.channel_names[bad]})")
        joints_m = forward_kinematics(self.skeleton, motion)[0] / CM_PER_M  # (J, 3)
        line_points_m = joints_m[self.pairs.reshape(-1)]  # (2B, 3): parent, child, parent, child, ...
        head_m = self.rotation @ joints_m[self.head_index]
        label_position_m = head_m + np.array([0.0, 0.0, self.label_height_m])
        return SkeletonScene(joints_m, line_points_m, self.orientation_xyzw, head_m, label_position_m)
