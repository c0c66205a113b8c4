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


def _descendants(skeleton, index: int) -> set[int]:
    out = {index}
    for i, joint in enumerate(skeleton.joints):   # depth-first file order: parents come first
        if joint.parent in out:
            out.add(i)
    return out


def test_position_channels_replace_the_offset(clip) -> None:
    """Convention (docs/DATASET.md): where a joint has position channels, their values are its
    translation from the parent, and its OFFSET is not used (InHARD: every joint has them)."""
    from dataclasses import replace

    from harnets_core.formats.bvh import Skeleton

    sk = clip.skeleton
    motion = clip.motion[:4]
    base = forward_kinematics(sk, motion)
    foot = sk.index("LeftFoot")
    joint = sk.joints[foot]
    moved = motion.copy()
    moved[:, joint.channel_start + joint.channels.index("Xposition")] += 5.0
    shift = forward_kinematics(sk, moved) - base
    # the joint and everything below it move by 5 cm along the parent's rotated X axis; nothing else
    subtree = sorted(_descendants(sk, foot))
    others = sorted(set(range(len(sk.joints))) - set(subtree))
    np.testing.assert_allclose(np.linalg.norm(shift[:, subtree], axis=2), 5.0, atol=1e-9)
    np.testing.assert_allclose(shift[:, subtree], np.repeat(shift[:, foot:foot + 1], len(subtree), axis=1), atol=1e-9)
    assert np.abs(shift[:, others]).max() == 0.0
    # ... while moving the OFFSET of a joint with position channels changes nothing
    joints = list(sk.joints)
    joints[foot] = replace(joint, offset_cm=joint.offset_cm + 10.0)
    np.testing.assert_array_equal(forward_kinematics(Skeleton(tuple(joints)), motion), base)
    # an End Site has no channels: its OFFSET is used
    end = sk.index("LeftFoot_End")
    joints = list(sk.joints)
    joints[end] = replace(sk.joints[end], offset_cm=sk.joints[end].offset_cm + 10.0)
    assert np.abs(forward_kinematics(Skeleton(tuple(joints)), motion)[:, end] - base[:, end]).min() > 1.0


def test_measured_position_channel_deviation_from_offset(clip) -> None:
    """The figure docs/DATASET.md quotes: on the real clip, child position channels differ from
    the OFFSET by up to 3.0 cm (LeftFoot), so they cannot be replaced by the OFFSET."""
    sk = clip.skeleton
    dev = {}
    for joint in sk.joints:
        if joint.parent < 0 or not joint.channels:
            continue
        cols = [joint.channel_start + joint.channels.index(f"{a}position") for a in "XYZ"]
        dev[joint.name] = float(np.abs(clip.motion[:, cols] - joint.offset_cm).max())
    worst = max(dev, key=dev.get)
    assert worst == "LeftFoot" and 2.99 < dev[worst] < 3.01
    assert 2.1 < dev["RightFoot"] < 2.2
    assert sorted(dev.values())[-3] < 0.53                          # Head; every other joint below
    assert float(np.median(list(dev.values()))) < 0.001
