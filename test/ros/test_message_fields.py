"""One definition of the sensor messages: the rclpy messages the streamers build
(harnets_ros.common.ros_fields of harnets_core.formats.messages) are the rosbags messages of a
session bag (same CDR length, the same message when read back) and read back to the same
pixels and values."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image

from harnets.msg import SkeletonFrame
from harnets_core.formats import bags, messages
from harnets_core.formats.bvh import read_bvh
from harnets_core.formats.messages import compressed_image_fields, image_fields, skeleton_frame_fields, skeleton_frame_layout
from harnets_ros.common import ns_to_time, ros_fields

STAMP_NS = 1_577_836_800_123_456_789
CLIP = Path(__file__).resolve().parents[1] / "data" / "P01_R01_0026.48_0028.80.bvh"


def _stamped(msg, frame_id: str):
    msg.header.stamp = ns_to_time(STAMP_NS)
    msg.header.frame_id = frame_id
    return msg


def _same_message(rclpy_msg, bag_msg, msgtype: str) -> bytes:
    """The rclpy message's CDR bytes, checked to be the bag message's: same length, and rclpy
    reads the same message from both (the padding bytes differ: rclpy leaves them as they were,
    rosbags writes zeros; and a float32 field holds a double in the rclpy message until read back)."""
    data = serialize_message(rclpy_msg)
    from_bag = bytes(bags.make_typestore().serialize_cdr(bag_msg, msgtype))
    assert len(data) == len(from_bag)
    assert deserialize_message(from_bag, type(rclpy_msg)) == deserialize_message(data, type(rclpy_msg))
    return data


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8"])
def test_image_is_the_same_on_the_wire_and_in_a_bag(encoding):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    frame = rgb[..., 0].copy() if encoding == "mono8" else rgb
    live = _stamped(Image(**ros_fields(image_fields(frame, encoding))), "cam")
    data = _same_message(live, bags.image_msg(STAMP_NS, "cam", frame, encoding), bags.IMAGE_TYPE)
    back = deserialize_message(data, Image)
    expected = np.repeat(frame[..., None], 3, axis=2) if encoding == "mono8" else rgb
    np.testing.assert_array_equal(messages.image_to_numpy(back), expected)
    np.testing.assert_array_equal(messages.image_to_numpy(bags.make_typestore().deserialize_cdr(data, bags.IMAGE_TYPE)), expected)


def test_compressed_image_is_the_same_on_the_wire_and_in_a_bag():
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[..., 0] = 200
    live = _stamped(CompressedImage(**ros_fields(compressed_image_fields(rgb, 80))), "cam")
    data = _same_message(live, bags.compressed_image_msg(STAMP_NS, "cam", rgb, 80), bags.COMPRESSED_IMAGE_TYPE)
    out = messages.image_to_numpy(deserialize_message(data, CompressedImage))
    assert out.shape == (16, 24, 3) and abs(int(out[..., 0].mean()) - 200) <= 2


def test_skeleton_frame_is_the_same_on_the_wire_and_in_a_bag():
    clip = read_bvh(CLIP)
    layout = skeleton_frame_layout(clip.skeleton)
    live = _stamped(SkeletonFrame(**ros_fields(skeleton_frame_fields(layout, clip.motion[3], 3, clip.frame_time_s))), "mocap")
    bag_msg = bags.skeleton_frame_msg(bags.make_typestore(), STAMP_NS, 3, clip.frame_time_s, layout.joint_names,
                                      layout.channel_counts, layout.channel_types, clip.motion[3])
    back = deserialize_message(_same_message(live, bag_msg, bags.SKELETON_FRAME_TYPE), SkeletonFrame)
    assert list(back.joint_names) == list(layout.joint_names) and back.frame_index == 3
    np.testing.assert_array_equal(np.asarray(back.values, np.float32), clip.motion[3].astype(np.float32))
