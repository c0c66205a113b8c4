"""harnets_core.formats.bags: session bags written and read back with rosbags, image conversion."""
from __future__ import annotations

import array
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.interfaces import MessageDefinitionFormat
from ruamel.yaml import YAML

from harnets_core.formats import bags, messages, session_bag
from harnets_core.formats.bvh import read_bvh
from harnets_core.errors import BagError, StreamError
from harnets_core.formats.video import read_frames

DATA = Path(__file__).resolve().parents[2] / "data"
CLIP = DATA / "P01_R01_0026.48_0028.80.bvh"
FPS = 25
START_NS = 1_700_000_000_123_456_789
END_S = 0.4  # 48 BVH frames (ceil(0.4 / 0.008401)), 10 video frames
CLASS_NAMES = [f"class{i}" for i in range(14)]


@pytest.fixture(scope="module")
def clip():
    return read_bvh(CLIP)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """A tiny 25 fps video; frame k is a flat grey k * 20 with a white square at column 4 * k."""
    path = tmp_path_factory.mktemp("video") / "mosaic.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (64, 48))
    for k in range(12):
        frame = np.full((48, 64, 3), k * 20, np.uint8)
        frame[8:24, 4 * k : 4 * k + 16] = 255
        writer.write(frame)
    writer.release()
    return path


def _segments():
    seg = SimpleNamespace
    return [
        seg(class_id=11, class_name="Assemble system", bvh_start_frame=10, bvh_end_frame=29),
        seg(class_id=1, class_name="Consult sheets", bvh_start_frame=40, bvh_end_frame=100),
    ]


def _write(tmp_path: Path, clip, video: Path, storage: str, image_format: str) -> Path:
    out = tmp_path / f"bag_{storage}_{image_format}"
    counts = session_bag.write_session_bag(
        out, clip=clip, segments=_segments(), video_path=video, start_time_ns=START_NS, storage=storage,
        image_format=image_format, class_names=CLASS_NAMES, end_s=END_S,
    )
    topics = session_bag.default_topics(image_format)
    assert counts == {topics["skeleton"]: 48, topics["image"]: 10, topics["ground_truth"]: 7}
    return out


@pytest.mark.parametrize(("storage", "image_format"), [("mcap", "raw"), ("sqlite3", "compressed")])
def test_session_bag_round_trip(tmp_path, clip, video, storage, image_format):
    out = _write(tmp_path, clip, video, storage, image_format)
    topics = session_bag.default_topics(image_format)
    ft = clip.frame_time_s

    # rosbags' own reader: message definitions embedded, types known from the bag alone
    with AnyReader([out]) as reader:
        conns = {c.topic: c for c in reader.connections}
        assert set(conns) == set(topics.values())
        project_types = {topics["skeleton"]: bags.SKELETON_FRAME_TYPE, topics["ground_truth"]: bags.ACTIVITY_TYPE}
        for topic, typ in project_types.items():
            assert conns[topic].msgtype == typ
            assert conns[topic].msgdef.format == MessageDefinitionFormat.MSG
            assert conns[topic].msgdef.data.strip()
            assert conns[topic].digest.startswith("RIHS01_")
        assert "float32[] values" in conns[topics["skeleton"]].msgdef.data
        assert "string SOURCE_GROUND_TRUTH=ground_truth" in conns[topics["ground_truth"]].msgdef.data
        assert conns[topics["skeleton"]].ext.serialization_format == "cdr"
        assert conns[topics["skeleton"]].ext.offered_qos_profiles  # explicit QoS for ros2 bag play

    meta = YAML(typ="safe").load((out / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == bags.BAG_VERSION
    assert meta["storage_identifier"] == storage
    assert meta["message_count"] == 65
    assert meta["starting_time"]["nanoseconds_since_epoch"] == START_NS
    for t in meta["topics_with_message_count"]:
        assert t["topic_metadata"]["serialization_format"] == "cdr"
        assert isinstance(t["topic_metadata"]["offered_qos_profiles"], str)  # v8: a YAML string
        assert "reliability: 1" in t["topic_metadata"]["offered_qos_profiles"]

    msgs = list(bags.read_bag(out))
    stamps = [m.stamp_ns for m in msgs]
    assert stamps == sorted(stamps)
    by_topic: dict[str, list] = {}
    for m in msgs:
        by_topic.setdefault(m.topic, []).append(m)

    skel = by_topic[topics["skeleton"]]
    assert [m.msg.frame_index for m in skel] == list(range(48))
    assert [m.stamp_ns for m in skel] == [START_NS + round(i * ft * 1e9) for i in range(48)]
    first = skel[5].msg
    assert first.header.stamp.sec * 10**9 + first.header.stamp.nanosec == skel[5].stamp_ns
    assert first.header.frame_id == "mocap"
    assert len(first.joint_names) == 59 and first.joint_names[0] == "Hips"
    assert first.channel_counts.tolist() == [6] * 59
    assert first.channel_types[:6] == ["Xposition", "Yposition", "Zposition", "Yrotation", "Xrotation", "Zrotation"]
    assert first.frame_time_s == np.float32(ft)
    np.testing.assert_array_equal(first.values, clip.motion[5].astype(np.float32))

    images = by_topic[topics["image"]]
    assert [m.stamp_ns for m in images] == [START_NS + round(k / FPS * 1e9) for k in range(10)]
    expected = read_frames(video, 0, 10, size_hw=None)  # (10, 48, 64, 3) RGB
    for k, m in enumerate(images):
        rgb = messages.image_to_numpy(m.msg, topic=m.topic)
        assert rgb.shape == (48, 64, 3)
        if image_format == "raw":
            assert m.msg.encoding == "rgb8"
            np.testing.assert_array_equal(rgb, expected[k])
        else:
            assert np.abs(rgb.astype(int) - expected[k]).mean() < 3  # JPEG q90

    gt = by_topic[topics["ground_truth"]]
    t = [(m.stamp_ns - START_NS) / 1e9 for m in gt]
    np.testing.assert_allclose(t, [0.0, 10 * ft, 0.1, 0.2, 30 * ft, 0.3, 40 * ft], atol=1e-9)
    assert [m.msg.class_id for m in gt] == [-1, 11, 11, 11, -1, -1, 1]
    assemble, consult = "Assemble system", "Consult sheets"
    assert [m.msg.label for m in gt] == ["", assemble, assemble, assemble, "", "", consult]
    g = gt[2].msg
    assert g.source == g.SOURCE_GROUND_TRUTH == "ground_truth"
    assert g.confidence == 1.0 and g.class_names == CLASS_NAMES
    assert g.class_ids.tolist() == list(range(14))
    assert g.probabilities.tolist() == [1.0 if i == 11 else 0.0 for i in range(14)]
    ws = g.window_start.sec * 10**9 + g.window_start.nanosec
    assert ws == START_NS + round(10 * ft * 1e9)  # the segment's start
    assert gt[0].msg.confidence == 0.0 and not gt[0].msg.probabilities.any()


def test_bag_topics_and_read_selected(tmp_path, clip, video):
    out = _write(tmp_path, clip, video, "mcap", "compressed")
    topics = bags.bag_topics(out)
    assert topics["/harnets/skeleton"] == bags.TopicSummary(bags.SKELETON_FRAME_TYPE, 48)
    assert topics["/camera/image_raw/compressed"].msgtype == bags.COMPRESSED_IMAGE_TYPE
    gt = list(bags.read_bag(out, ["/harnets/ground_truth"]))
    assert len(gt) == 7 and {m.topic for m in gt} == {"/harnets/ground_truth"}


def test_sqlite3_raw_and_no_video(tmp_path, clip):
    out = tmp_path / "bag"
    counts = session_bag.write_session_bag(
        out, clip=clip, storage="sqlite3", image_format="raw", end_s=0.05, class_names=CLASS_NAMES
    )
    assert counts == {"/harnets/skeleton": 6}
    assert (out / "bag.db3").is_file()
    assert [m.msg.frame_index for m in bags.read_bag(out)] == list(range(6))


def test_start_s_keeps_the_session_clock(tmp_path, clip, video):
    out = tmp_path / "bag"
    session_bag.write_session_bag(
        out, clip=clip, video_path=video, start_s=0.2, end_s=0.3, start_time_ns=0, class_names=CLASS_NAMES
    )
    msgs = list(bags.read_bag(out))
    skel = [m for m in msgs if m.topic == "/harnets/skeleton"]
    img = [m for m in msgs if m.topic != "/harnets/skeleton"]
    assert skel[0].msg.frame_index == 24 and skel[-1].msg.frame_index == 35  # ceil(0.2 / ft) .. < ceil(0.3 / ft)
    assert skel[0].stamp_ns == round(24 * clip.frame_time_s * 1e9)
    assert [m.stamp_ns for m in img] == [200_000_000, 240_000_000, 280_000_000]


def test_bag_writer_refuses_existing_path_and_unknown_things(tmp_path):
    (tmp_path / "exists").mkdir()
    with pytest.raises(BagError, match="exists already"):
        bags.BagWriter(tmp_path / "exists")
    with pytest.raises(BagError, match="unknown storage"):
        bags.BagWriter(tmp_path / "x", storage="rosbag1")
    with bags.BagWriter(tmp_path / "b") as w:
        with pytest.raises(BagError, match="unknown message type foo/msg/Bar"):
            w.add_topic("/t", "foo/msg/Bar")
        with pytest.raises(BagError, match="topic /nope was not added"):
            w.write_raw("/nope", 0, b"")


def test_read_errors_name_bag_and_topic(tmp_path):
    with pytest.raises(BagError, match="missing_bag: bag not found"):
        list(bags.read_bag(tmp_path / "missing_bag"))
    ts = bags.make_typestore()
    out = tmp_path / "b"
    with bags.BagWriter(out, storage="sqlite3") as w:
        w.add_topic("/act", bags.ACTIVITY_TYPE)
        act = bags.activity_msg(ts, 5, window_start_ns=1, source="fusion", label="x", class_id=3, confidence=0.5)
        w.write("/act", 5, act)
        w.write_raw("/act", 6, b"\x00\x01\x00\x00\x01")  # truncated cdr
    with pytest.raises(BagError, match=r"topic /cam not in bag"):
        list(bags.read_bag(out, ["/cam"]))
    it = bags.read_bag(out)
    first = next(it)
    assert first.msg.source == "fusion" and first.msg.class_id == 3 and first.msg.window_start.nanosec == 1
    with pytest.raises(BagError, match=r"topic /act: cannot deserialize harnets/msg/Activity at 6 ns"):
        next(it)


def test_builders_raise_typed_errors():
    ts = bags.make_typestore()
    with pytest.raises(StreamError, match="2 joint names but 1 channel counts"):
        bags.skeleton_frame_msg(ts, 0, 0, 0.01, ["a", "b"], [3], ["x", "y", "z"], [1, 2, 3])
    with pytest.raises(StreamError, match="channel counts sum to 3, 2 channel types"):
        bags.skeleton_frame_msg(ts, 0, 0, 0.01, ["a"], [3], ["x", "y"], [1, 2, 3])
    with pytest.raises(StreamError, match="3 values for a skeleton of 2 channels"):
        bags.skeleton_frame_msg(ts, 0, 0, 0.01, ["a"], [2], ["x", "y"], [1, 2, 3])
    with pytest.raises(StreamError, match="1 class names, 2 class ids"):
        bags.activity_msg(ts, 0, window_start_ns=0, source="rgb", label="a", class_id=0, confidence=1,
                          class_names=["a"], class_ids=[0, 1], probabilities=[1.0])
    with pytest.raises(StreamError, match="stamp_ns must be >= 0, got -1"):
        bags.time_msg(ts, -1)
    with pytest.raises(StreamError, match="image must be uint8, got float32"):
        bags.image_msg(0, "cam", np.zeros((2, 2, 3), np.float32))
    with pytest.raises(StreamError, match=r"unsupported encoding '16UC1'"):
        bags.image_msg(0, "cam", np.zeros((2, 2, 3), np.uint8), encoding="16UC1")
    with pytest.raises(StreamError, match=r"image must be \(H, W, 3\) uint8, got \(2, 2\) uint8"):
        bags.compressed_image_msg(0, "cam", np.zeros((2, 2), np.uint8))
    assert bags.msg_dir().joinpath("Activity.msg").is_file()


# --------------------------------------------------------------------------------- image_to_numpy
def _rgb(h=4, w=5):
    return np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)


def test_image_to_numpy_rgb_bgr_mono_zero_copy():
    rgb = _rgb()
    msg = bags.image_msg(0, "cam", rgb)
    out = messages.image_to_numpy(msg)
    np.testing.assert_array_equal(out, rgb)
    assert np.shares_memory(out, msg.data)
    bgr = bags.image_msg(0, "cam", rgb, encoding="bgr8")
    assert bgr.encoding == "bgr8" and bgr.step == 15
    np.testing.assert_array_equal(messages.image_to_numpy(bgr), rgb)
    np.testing.assert_array_equal(messages.image_to_numpy(bgr, to_rgb=False), rgb[..., ::-1])
    gray = rgb[..., 0].copy()
    mono = bags.image_msg(0, "cam", gray, encoding="mono8")
    assert messages.image_to_numpy(mono, to_rgb=False).shape == (4, 5)
    np.testing.assert_array_equal(messages.image_to_numpy(mono)[..., 2], gray)


def test_image_to_numpy_duck_typed_padded_rows():
    """An rclpy-like message: data is array.array / bytes, rows padded to step 16."""
    rgb = _rgb()
    padded = np.zeros((4, 16), np.uint8)
    padded[:, :15] = rgb.reshape(4, 15)
    for data in (array.array("B", padded.tobytes()), padded.tobytes()):
        msg = SimpleNamespace(height=4, width=5, encoding="rgb8", step=16, is_bigendian=0, data=data)
        np.testing.assert_array_equal(messages.image_to_numpy(msg), rgb)


def test_image_to_numpy_errors():
    ok = dict(height=4, width=5, encoding="rgb8", step=15, data=bytes(60))
    with pytest.raises(StreamError, match="topic /cam: unsupported image encoding '16UC1'"):
        messages.image_to_numpy(SimpleNamespace(**{**ok, "encoding": "16UC1"}), topic="/cam")
    with pytest.raises(StreamError, match="59 bytes, expected step 15 \\* height 4 = 60"):
        messages.image_to_numpy(SimpleNamespace(**{**ok, "data": bytes(59)}))
    with pytest.raises(StreamError, match="step 14 < width 5"):
        messages.image_to_numpy(SimpleNamespace(**{**ok, "step": 14}))
    with pytest.raises(StreamError, match="cannot decode compressed image"):
        messages.image_to_numpy(SimpleNamespace(format="jpeg", data=b"not a jpeg"))


def test_compressed_round_trip():
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 200  # red: catches a swapped channel order
    msg = bags.compressed_image_msg(0, "cam", rgb, quality=95)
    assert msg.format.startswith("rgb8; jpeg")
    out = messages.image_to_numpy(msg)
    assert out.shape == (32, 32, 3)
    assert abs(int(out[..., 0].mean()) - 200) <= 2 and out[..., 2].max() <= 3
