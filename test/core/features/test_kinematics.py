"""harnets_core.features.kinematics: vectorized FK vs a per-frame scipy reference, real-clip sanity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from harnets_core.formats.bvh import parse_bvh, read_bvh
from harnets_core.features.kinematics import forward_kinematics, rotation_matrices

CLIP = Path(__file__).resolve().parents[3] / "test" / "data" / "P01_R01_0026.48_0028.80.bvh"


@pytest.fixture(scope="module")
def clip():
    return read_bvh(CLIP)


def reference_fk(skeleton, frame: np.ndarray) -> np.ndarray:
    """Straightforward per-frame FK: scipy intrinsic Euler in each joint's channel order."""
    world_rot, world_pos = [], []
    for joint in skeleton.joints:
        vals = frame[joint.channel_start:joint.channel_start + len(joint.channels)]
        rot_axes = "".join(c[0] for c in joint.channels if c.endswith("rotation"))
        rot_vals = [v for c, v in zip(joint.channels, vals) if c.endswith("rotation")]
        r = Rotation.from_euler(rot_axes.upper(), rot_vals, degrees=True).as_matrix() if rot_axes else np.eye(3)
        t = np.array(joint.offset_cm, dtype=float)
        for c, v in zip(joint.channels, vals):
            if c.endswith("position"):
                t["XYZ".index(c[0])] = v
        if joint.parent < 0:
            world_rot.append(r)
            world_pos.append(t)
        else:
            pr, pp = world_rot[joint.parent], world_pos[joint.parent]
            world_rot.append(pr @ r)
            world_pos.append(pp + pr @ t)
    return np.array(world_pos)


def test_matches_per_frame_reference(clip) -> None:
    pos = forward_kinematics(clip.skeleton, clip.motion)
    assert pos.shape == (276, 72, 3)
    for f in (0, 137, 275):
        np.testing.assert_allclose(pos[f], reference_fk(clip.skeleton, clip.motion[f]), atol=1e-9)


def test_rotation_order_is_respected() -> None:
    r = rotation_matrices(("Zrotation", "Xrotation", "Yrotation"), np.array([[30.0, 45.0, 60.0]]))
    expected = Rotation.from_euler("ZXY", [30, 45, 60], degrees=True).as_matrix()
    np.testing.assert_allclose(r[0], expected, atol=1e-12)
    assert not np.allclose(r[0], Rotation.from_euler("XYZ", [45, 60, 30], degrees=True).as_matrix())


def test_simple_chain_by_hand() -> None:
    text = ("HIERARCHY\nROOT A\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
            " JOINT B\n {\n  OFFSET 0 10 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n"
            "  End Site\n  {\n   OFFSET 0 5 0\n  }\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.1\n"
            "1 2 3 0 0 0 0 0 0\n0 0 0 90 0 0 90 0 0\n")
    clip = parse_bvh(text)
    pos = forward_kinematics(clip.skeleton, clip.motion)
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 12, 3], [1, 17, 3]], atol=1e-12)
    # root turned 90 deg about Z: B's offset (0, 10, 0) -> (-10, 0, 0); B turned again: (-10, -5, 0)
    np.testing.assert_allclose(pos[1], [[0, 0, 0], [-10, 0, 0], [-10, -5, 0]], atol=1e-12)


def test_real_clip_is_plausible(clip) -> None:
    sk = clip.skeleton
    pos = forward_kinematics(sk, clip.motion)
    y = pos[..., 1]
    head, hips = y[:, sk.index("Head")], y[:, sk.index("Hips")]
    feet = np.minimum(y[:, sk.index("LeftFoot_End")], y[:, sk.index("RightFoot_End")])
    assert (head > hips + 40).all() and (hips > feet + 60).all()
    assert 140 < head.mean() < 190 and -10 < feet.mean() < 15   # cm, a standing adult
    # bone lengths stay constant over the clip (rigid skeleton)
    arm = np.linalg.norm(pos[:, sk.index("RightForeArm")] - pos[:, sk.index("RightArm")], axis=1)
    assert arm.std() < 0.05 and 20 < arm.mean() < 40
