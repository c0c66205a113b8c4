"""harnets_core.formats.messages: the field values of Image, CompressedImage and SkeletonFrame,
through a rosbags message and back (the rclpy side: test/ros/test_message_fields.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harnets_core.errors import StreamError
from harnets_core.formats import bags, messages
from harnets_core.formats.bvh import read_bvh
from harnets_core.formats.messages import (
    COMPRESSED_FORMAT,
    SkeletonFrameLayout,
    compressed_image_fields,
    image_fields,
    skeleton_frame_fields,
    skeleton_frame_layout,
)

CLIP = Path(__file__).resolve().parents[2] / "data" / "P01_R01_0026.48_0028.80.bvh"


def _rgb(h: int = 4, w: int = 5) -> np.ndarray:
    return np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)


def _through_cdr(msg, msgtype: str):
    """Serialize a rosbags message as a bag stores it, and read it back."""
    ts = bags.make_typestore()
    return ts.deserialize_cdr(ts.serialize_cdr(msg, msgtype), msgtype)


def test_image_fields_rgb8_is_a_view_of_the_frame():
    rgb = _rgb()
    fields = image_fields(rgb)
    assert {k: v for k, v in fields.items() if k != "data"} == {
        "height": 4, "width": 5, "encoding": "rgb8", "is_bigendian": 0, "step": 15}
    assert fields["data"].dtype == np.uint8 and fields["data"].shape == (60,)
    assert np.shares_memory(fields["data"], rgb)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8"])
def test_image_fields_round_trip_through_a_bag_message(encoding):
    rgb = _rgb(6, 7)
    frame = rgb[..., 1].copy() if encoding == "mono8" else rgb
    back = _through_cdr(bags.image_msg(123, "cam", frame, encoding), bags.IMAGE_TYPE)
    assert (back.height, back.width, back.encoding, back.step) == (6, 7, encoding, 7 * (1 if encoding == "mono8" else 3))
    expected = np.repeat(frame[..., None], 3, axis=2) if encoding == "mono8" else rgb
    np.testing.assert_array_equal(messages.image_to_numpy(back), expected)
    if encoding == "bgr8":  # stored in BGR order
        np.testing.assert_array_equal(np.asarray(back.data).reshape(6, 7, 3), rgb[..., ::-1])


def test_image_fields_errors():
    with pytest.raises(StreamError, match="image must be uint8, got int64"):
        image_fields(np.zeros((2, 2, 3), np.int64))
    with pytest.raises(StreamError, match=r"rgb8 image must be \(H, W, 3\), got \(2, 2\)"):
        image_fields(np.zeros((2, 2), np.uint8))
    with pytest.raises(StreamError, match=r"mono8 image must be \(H, W\), got \(2, 2, 3\)"):
        image_fields(np.zeros((2, 2, 3), np.uint8), "mono8")
    with pytest.raises(StreamError, match="unsupported encoding 'rgba8'"):
        image_fields(np.zeros((2, 2, 3), np.uint8), "rgba8")


def test_compressed_image_fields_round_trip_through_a_bag_message():
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[..., 0] = 200  # red: a swapped channel order shows
    fields = compressed_image_fields(rgb, quality=95)
    assert fields["format"] == COMPRESSED_FORMAT and fields["data"].dtype == np.uint8
    assert bytes(fields["data"][:2]) == b"\xff\xd8"  # a JPEG
    back = _through_cdr(bags.compressed_image_msg(0, "cam", rgb, quality=95), bags.COMPRESSED_IMAGE_TYPE)
    assert back.format == COMPRESSED_FORMAT
    np.testing.assert_array_equal(np.asarray(back.data), fields["data"])
    out = messages.image_to_numpy(back)
    assert out.shape == (16, 24, 3) and abs(int(out[..., 0].mean()) - 200) <= 2 and out[..., 2].max() <= 3
    with pytest.raises(StreamError, match=r"image must be \(H, W, 3\) uint8"):
        compressed_image_fields(np.zeros((2, 2, 4), np.uint8))


@pytest.fixture(scope="module")
def clip():
    return read_bvh(CLIP)


def test_skeleton_frame_layout_of_the_inhard_skeleton(clip):
    layout = skeleton_frame_layout(clip.skeleton)
    assert len(layout.joint_names) == 59 and layout.n_channels == 354 == clip.skeleton.n_channels
    assert layout.joint_names == tuple(clip.skeleton.joint_names)
    assert layout.channel_counts.dtype == np.uint8 and set(layout.channel_counts.tolist()) == {6}
    # channel_types in MOTION column order: what channel_names says, without the joint name
    assert list(layout.channel_types) == [name.split(".", 1)[1] for name in clip.skeleton.channel_names]


def test_skeleton_frame_fields_round_trip_through_a_bag_message(clip):
    layout = skeleton_frame_layout(clip.skeleton)
    fields = skeleton_frame_fields(layout, clip.motion[7], 7, clip.frame_time_s)
    assert fields["values"].dtype == np.float32 and fields["frame_index"] == 7
    msg = bags.skeleton_frame_msg(bags.make_typestore(), 5, 7, clip.frame_time_s, layout.joint_names,
                                  layout.channel_counts, layout.channel_types, clip.motion[7])
    back = _through_cdr(msg, bags.SKELETON_FRAME_TYPE)
    assert back.frame_index == 7 and back.frame_time_s == pytest.approx(clip.frame_time_s)
    assert list(back.joint_names) == list(layout.joint_names)
    assert list(back.channel_types) == list(layout.channel_types)
    np.testing.assert_array_equal(back.channel_counts, layout.channel_counts)
    np.testing.assert_array_equal(back.values, clip.motion[7].astype(np.float32))


def test_skeleton_frame_errors():
    layout = SkeletonFrameLayout(("a",), np.array([2]), ("x", "y"))
    with pytest.raises(StreamError, match="3 values for a skeleton of 2 channels"):
        skeleton_frame_fields(layout, [1.0, 2.0, 3.0], 0, 0.01)
    with pytest.raises(StreamError, match="2 joint names but 1 channel counts"):
        SkeletonFrameLayout(("a", "b"), np.array([2]), ("x", "y"))
    with pytest.raises(StreamError, match="channel counts sum to 3, 2 channel types"):
        SkeletonFrameLayout(("a",), np.array([3]), ("x", "y"))
