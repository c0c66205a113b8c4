"""harnets_core.visualization.markers: bones = forward kinematics / 100, label above the head,
stable class colours, layout checks against the template."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from harnets_core.errors import BvhParseError, ConfigError, StreamError
from harnets_core.features.kinematics import forward_kinematics
from harnets_core.formats.bvh import read_bvh
from harnets_core.visualization.markers import (
    PALETTE, TEMPLATE_BVH, SkeletonView, bone_pairs, class_color, label_text,
)


@pytest.fixture(scope="module")
def clip(real_clip_path):
    return read_bvh(real_clip_path)


@pytest.fixture(scope="module")
def view():
    return SkeletonView.from_bvh(None)


def _layout(clip):
    joints = [j for j in clip.skeleton.joints if not j.is_end_site]
    return [j.name for j in joints], [len(j.channels) for j in joints], [c for j in joints for c in j.channels]


def test_bones_are_forward_kinematics_in_metres(view, clip):
    """Frames of the real clip drawn on the bundled template: every bone's end points are the
    clip's own forward kinematics / 100 (float32 values, as a SkeletonFrame carries them)."""
    assert view.source == str(TEMPLATE_BVH)
    for f in (0, 140, clip.n_frames - 1):
        values = clip.motion[f].astype(np.float32)
        scene = view.scene(values)
        fk = forward_kinematics(clip.skeleton, values[None].astype(np.float64))[0]  # (J, 3) cm
        np.testing.assert_array_equal(scene.joints_m, fk / 100.0)
        pairs = [(j.parent, i) for i, j in enumerate(clip.skeleton.joints) if j.parent >= 0]
        assert scene.line_points_m.shape == (2 * len(pairs), 3)
        for b, (p, c) in enumerate(pairs):
            np.testing.assert_array_equal(scene.line_points_m[2 * b], fk[p] / 100.0)
            np.testing.assert_array_equal(scene.line_points_m[2 * b + 1], fk[c] / 100.0)


def test_bone_pairs_cover_every_joint_but_the_root(clip):
    pairs = bone_pairs(clip.skeleton)
    assert len(pairs) == len(clip.skeleton.joints) - 1 == 71
    assert sorted(pairs[:, 1]) == list(range(1, 72))
    assert all(clip.skeleton.joints[c].parent == p for p, c in pairs)


def test_label_sits_above_the_head_in_a_z_up_frame(view, clip):
    values = clip.motion[0]
    scene = view.scene(values)
    head = forward_kinematics(clip.skeleton, values[None])[0][clip.skeleton.index("Head")] / 100.0  # BVH axes, Y up
    # Y up -> Z up: (x, y, z) -> (x, -z, y); the label 0.3 m above that.
    np.testing.assert_allclose(scene.head_m, [head[0], -head[2], head[1]], atol=1e-12)
    np.testing.assert_allclose(scene.label_position_m, scene.head_m + [0, 0, 0.3], atol=1e-12)
    assert 1.4 < scene.head_m[2] < 2.0  # a standing adult's head, in metres above the floor
    # the quaternion is the same rotation as the matrix
    x, y, z, w = scene.orientation_xyzw
    rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    np.testing.assert_allclose(rot @ head, scene.head_m, atol=1e-12)


def test_z_up_data_is_not_rotated(clip):
    view = SkeletonView(clip.skeleton, up_axis="z", head_joint="Head_End", label_height_m=0.5)
    scene = view.scene(clip.motion[0])
    top = forward_kinematics(clip.skeleton, clip.motion[:1])[0][clip.skeleton.index("Head_End")] / 100.0
    assert scene.orientation_xyzw == (0.0, 0.0, 0.0, 1.0)
    np.testing.assert_allclose(scene.label_position_m, top + [0, 0, 0.5])


def test_bad_configuration_is_a_config_error(clip):
    with pytest.raises(ConfigError, match="up_axis = 'x'"):
        SkeletonView(clip.skeleton, up_axis="x")
    with pytest.raises(ConfigError, match="head_joint = 'Skull'"):
        SkeletonView(clip.skeleton, head_joint="Skull")


def test_bad_bvh_names_the_file(tmp_path):
    bad = tmp_path / "suit.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0\n}\n")
    with pytest.raises(BvhParseError, match="suit.bvh"):
        SkeletonView.from_bvh(bad)


def test_layout_of_the_real_clip_matches_the_template(view, clip):
    view.check_layout(*_layout(clip), where="skeleton")


@pytest.mark.parametrize("change, expected", [
    (lambda n, c, t: (["Pelvis"] + n[1:], c, t), r"joints differ at index 0: expected 'Hips', got 'Pelvis'"),
    (lambda n, c, t: (n[:-1], c[:-1], t[:-6]), r"58 joints.*joints 59 expected, got 58"),
    (lambda n, c, t: (n, c, ["Zrotation"] + t[1:]), r"channel types differ at index 0: expected 'Xposition'"),
    (lambda n, c, t: (n, [3] + c[1:], t), r"channel counts differ at index 0: expected 6, got 3"),
])
def test_another_skeleton_is_a_stream_error_naming_the_difference(view, clip, change, expected):
    with pytest.raises(StreamError, match=r"^skeleton: .*" + expected) as err:
        view.check_layout(*change(*_layout(clip)), where="skeleton")
    assert "inhard_skeleton.bvh" in str(err.value) and "skeleton_bvh" in str(err.value)


def test_bad_values_are_stream_errors(view, clip):
    with pytest.raises(StreamError, match="353 values; .* 354 channels"):
        view.scene(clip.motion[0][:-1])
    values = clip.motion[0].copy()
    values[6] = np.nan
    with pytest.raises(StreamError, match=r"channel 6 \(RightUpLeg.Xposition\)"):
        view.scene(values)


def test_class_colours_are_stable_and_distinct():
    inhard = [class_color(i) for i in range(14)]
    assert len(set(inhard)) == 14  # every InHARD meta-action its own colour
    assert class_color(3) == (*PALETTE[3], 1.0) and class_color(23) == class_color(3)
    # no id: a hash of the name, the same in every process (crc32, not Python's salted hash)
    assert class_color(-1, "Screw lid") == class_color(-1, "Screw lid")
    assert class_color(-1, "Screw lid") == (*PALETTE[zlib.crc32(b"Screw lid") % 20], 1.0)
    assert all(0.0 <= v <= 1.0 for c in inhard for v in c)


def test_label_text_with_and_without_forecast_lines():
    assert label_text("Assemble system", 0.8712) == "Assemble system 0.87"
    assert label_text("Picking left", 1.0, ["next: Take subsystem in 1.2 s"]) == "Picking left 1.00\nnext: Take subsystem in 1.2 s"
