"""Forward kinematics of BVH skeletons, vectorized over frames.

Conventions (standard BVH, as written by Axis Neuron for InHARD):

* Angles are in degrees. A joint's rotation is the product of its rotation channels in the
  order they are listed: ``CHANNELS ... Yrotation Xrotation Zrotation`` gives
  ``R = Ry @ Rx @ Rz`` (intrinsic Y-X-Z, i.e. scipy ``Rotation.from_euler("YXZ", ...)``).
* A joint's local translation is its OFFSET; where the joint has position channels, each
  present channel REPLACES the matching OFFSET component, every frame (InHARD: every joint has
  all three, so its OFFSET is never used; only End Sites use theirs). The channels are not a
  constant copy of the OFFSET: on the real clip ``test/data/P01_R01_0026.48_0028.80.bvh`` they
  differ from it by up to 3.0 cm on one axis (LeftFoot; RightFoot 2.1 cm, Head and Neck
  0.5 cm, every other joint below 0.3 cm, the median joint 4 um). See docs/DATASET.md.
* ``world_rot[j] = world_rot[parent] @ R[j]``;
  ``world_pos[j] = world_pos[parent] + world_rot[parent] @ translation[j]``.
  End Sites have no channels: translation = OFFSET, no rotation.

Positions come out in the file's units (centimetres for InHARD), Y up.
"""
from __future__ import annotations

import numpy as np

from harnets_core.formats.bvh import Skeleton

__all__ = ["rotation_matrices", "local_transforms", "forward_kinematics"]

_AXES = {"X": 0, "Y": 1, "Z": 2}


def _axis_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """(F,) angles in radians -> (F, 3, 3) rotation matrices about ``axis``."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    m = np.zeros(angle_rad.shape + (3, 3))
    i = _AXES[axis]
    j, k = (i + 1) % 3, (i + 2) % 3
    m[:, i, i] = 1.0
    m[:, j, j] = c
    m[:, k, k] = c
    m[:, j, k] = -s
    m[:, k, j] = s
    return m


def rotation_matrices(channels: tuple[str, ...], values_deg: np.ndarray) -> np.ndarray:
    """Rotation of one joint: ``channels`` (its channel names), ``values_deg`` (F, len(channels)).

    Returns (F, 3, 3): the rotation channels composed in listed order (identity if none).
    """
    n_frames = values_deg.shape[0]
    r = np.broadcast_to(np.eye(3), (n_frames, 3, 3)).copy()
    for col, name in enumerate(channels):
        if name.endswith("rotation"):
            r = r @ _axis_rotation(name[0], np.deg2rad(values_deg[:, col]))
    return r


def local_transforms(skeleton: Skeleton, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (F, J, 3, 3) and translations (F, J, 3) of every entry of ``skeleton.joints``."""
    motion = np.asarray(motion, dtype=np.float64)
    if motion.ndim != 2 or motion.shape[1] != skeleton.n_channels:
        raise ValueError(f"motion must be (F, {skeleton.n_channels}), got {motion.shape}")
    n_frames, n_joints = motion.shape[0], len(skeleton.joints)
    rot = np.empty((n_frames, n_joints, 3, 3))
    trans = np.empty((n_frames, n_joints, 3))
    for j, joint in enumerate(skeleton.joints):
        values = motion[:, joint.channel_start:joint.channel_start + len(joint.channels)]  # (F, c)
        rot[:, j] = rotation_matrices(joint.channels, values)
        trans[:, j] = joint.offset_cm
        for col, name in enumerate(joint.channels):
            if name.endswith("position"):
                trans[:, j, _AXES[name[0]]] = values[:, col]
    return rot, trans


def forward_kinematics(skeleton: Skeleton, motion: np.ndarray) -> np.ndarray:
    """World positions (F, J, 3), in the file's units (cm), of every entry of ``skeleton.joints``
    (End Sites included, same order). ``motion`` is (F, C) as read by ``read_bvh``.
    """
    rot, trans = local_transforms(skeleton, motion)   # (F, J, 3, 3), (F, J, 3)
    n_frames, n_joints = trans.shape[:2]
    world_rot = np.empty_like(rot)
    world_pos = np.empty_like(trans)
    for j, joint in enumerate(skeleton.joints):       # parents come before children
        p = joint.parent
        if p < 0:
            world_rot[:, j] = rot[:, j]
            world_pos[:, j] = trans[:, j]
        else:
            world_rot[:, j] = world_rot[:, p] @ rot[:, j]
            world_pos[:, j] = world_pos[:, p] + np.einsum("fab,fb->fa", world_rot[:, p], trans[:, j])
    return world_pos
