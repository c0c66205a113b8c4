"""Streamers as processes over real DDS: the video streamer (frame count, rate, stamps, raw and
compressed), the skeleton streamer from the real InHARD clip (joint names, values, stamps), its
TCP mode against a tiny Axis Neuron-style text broadcast server and its UDP mode receiving a
binary broadcast (split and merged datagrams, garbage, a frame-index gap on /diagnostics)."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import CompressedImage, Image

from conftest import REPO, spin_until
from harnets.msg import SkeletonFrame
from harnets_core.formats.axis_neuron import encode_binary_frame
from harnets_core.formats.bvh import read_bvh
from harnets_core.formats.video import write_video
from rclpy.qos import QoSProfile, ReliabilityPolicy

from harnets_ros.common import SENSOR_QOS, time_to_ns

CLIP = REPO / "test" / "data" / "P01_R01_0026.48_0028.80.bvh"
# Best effort like the sensor profile, but a deep history: the TCP streamer publishes a burst
# of frames at once and a depth of 5 would keep only the last 5 of them.
DEEP_SENSOR_QOS = QoSProfile(depth=500, reliability=ReliabilityPolicy.BEST_EFFORT)


def gray_video(path: Path, n: int, fps: float = 25.0) -> Path:
    """Frame k is uniform gray 20 + 10 k (64x48), so the order survives MPEG-4 compression."""
    frames = [np.full((48, 64, 3), 20 + 10 * k, np.uint8) for k in range(n)]
    write_video(path, frames, fps)
    return path


def test_video_streamer_frames_rate_and_stamps(start_node, ros_node, tmp_path):
    video = gray_video(tmp_path / "clip.mp4", 15)
    received: list[tuple[float, Image]] = []
    ros_node.create_subscription(Image, "cam/image_raw", lambda m: received.append((time.monotonic(), m)), SENSOR_QOS)
    proc = start_node("video_streamer", {"video_path": str(video), "topic": "cam/image_raw", "frame_id": "cam0",
                                         "wait_for_subscriber": True}, name="video_streamer")
    assert spin_until(ros_node, lambda: len(received) >= 15, 20.0), proc.log()
    spin_until(ros_node, lambda: False, 0.3)  # nothing more comes: no loop
    assert len(received) == 15
    msgs = [m for _, m in received]
    assert all((m.height, m.width, m.encoding, m.step, m.header.frame_id) == (48, 64, "rgb8", 192, "cam0") for m in msgs)
    means = [float(np.frombuffer(m.data, np.uint8).mean()) for m in msgs]
    np.testing.assert_allclose(means, [20 + 10 * k for k in range(15)], atol=6)
    stamps = np.array([time_to_ns(m.header.stamp) for m in msgs])
    np.testing.assert_array_equal(stamps - stamps[0], [round(k * 1e9 / 25) for k in range(15)])
    wall_s = received[-1][0] - received[0][0]
    assert 0.4 < wall_s < 1.2, f"14 frame periods at 25 fps took {wall_s:.2f} s"


def test_video_streamer_compressed_loop(start_node, ros_node, tmp_path):
    video = gray_video(tmp_path / "clip.mp4", 4)
    received: list[CompressedImage] = []
    ros_node.create_subscription(CompressedImage, "cam/image_raw/compressed", received.append, SENSOR_QOS)
    proc = start_node("video_streamer", {"video_path": str(video), "topic": "cam/image_raw", "image_transport": "compressed",
                                         "loop": True, "rate": 2.0, "wait_for_subscriber": True}, name="video_streamer")
    assert spin_until(ros_node, lambda: len(received) >= 10, 20.0), proc.log()
    img = cv2.imdecode(np.frombuffer(received[0].data, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (48, 64, 3) and "jpeg" in received[0].format
    stamps = np.array([time_to_ns(m.header.stamp) for m in received[:10]])
    assert (np.diff(stamps) == 40_000_000).all()  # recording time, also across the loop and at rate 2
    means = [float(cv2.imdecode(np.frombuffer(m.data, np.uint8), cv2.IMREAD_GRAYSCALE).mean()) for m in received[:8]]
    np.testing.assert_allclose(means, [20, 30, 40, 50] * 2, atol=6)


@pytest.fixture(scope="module")
def clip():
    return read_bvh(CLIP)


def check_layout(msg: SkeletonFrame, clip) -> None:
    joints = [j for j in clip.skeleton.joints if not j.is_end_site]
    assert list(msg.joint_names) == [j.name for j in joints] and len(joints) == 59
    assert list(msg.channel_counts) == [len(j.channels) for j in joints]
    assert list(msg.channel_types) == [c for j in joints for c in j.channels]
    assert msg.frame_time_s == pytest.approx(0.008401)


def test_skeleton_streamer_file(start_node, ros_node, clip):
    received: list[SkeletonFrame] = []
    ros_node.create_subscription(SkeletonFrame, "skel", received.append, DEEP_SENSOR_QOS)
    proc = start_node("skeleton_streamer", {"bvh_path": str(CLIP), "topic": "skel", "loop": True}, name="skeleton_streamer")
    assert spin_until(ros_node, lambda: len(received) >= 60, 20.0), proc.log()
    t_first = time.monotonic()
    n_first = len(received)
    spin_until(ros_node, lambda: False, 1.0)
    rate_hz = (len(received) - n_first) / (time.monotonic() - t_first)
    assert 60 < rate_hz < 180, f"{rate_hz:.0f} Hz, want about 119 Hz"
    for msg in received:
        check_layout(msg, clip)
        np.testing.assert_allclose(msg.values, clip.motion[msg.frame_index % clip.n_frames].astype(np.float32), rtol=1e-6)
        assert msg.header.frame_id == "mocap"
    index = np.array([m.frame_index for m in received])
    stamps = np.array([time_to_ns(m.header.stamp) for m in received])
    np.testing.assert_allclose(stamps - stamps[0], np.round((index - index[0]) * 0.008401 * 1e9), atol=1)


class BroadcastServer:
    """One-client TCP server sending Axis Neuron "BVH data broadcast" lines once told to."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.go = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(20.0)
        self.port = self.sock.getsockname()[1]
        self.connected = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            self.connected.set()
            self.go.wait(20.0)
            for line in self.lines:
                conn.sendall(line.encode("ascii"))
                time.sleep(0.005)
            self.done.wait(20.0)

    def close(self) -> None:
        self.go.set()
        self.done.set()
        self.sock.close()


def test_skeleton_streamer_tcp(start_node, ros_node, clip):
    rows = clip.motion[:20]
    lines = [f"0 Avatar00 {' '.join(f'{v:.4f}' for v in row)} ||" for row in rows[:10]]
    lines.append("0 Avatar00 1.0 2.0 3.0 ||")  # wrong value count: rejected, counted
    lines += [f"0 Avatar00 {' '.join(f'{v:.4f}' for v in row)} ||\n" for row in rows[10:]]
    server = BroadcastServer(lines)
    received: list[SkeletonFrame] = []
    diags = []
    sub = ros_node.create_subscription(SkeletonFrame, "skel", received.append, DEEP_SENSOR_QOS)
    ros_node.create_subscription(DiagnosticArray, "/diagnostics",
                                 lambda m: diags.extend(s for s in m.status if s.name == "/skeleton_streamer"), 10)
    try:
        proc = start_node("skeleton_streamer", {"source": "tcp", "bvh_path": str(CLIP), "topic": "skel", "port": server.port},
                          name="skeleton_streamer")
        assert spin_until(ros_node, lambda: server.connected.is_set() and sub.get_publisher_count() > 0, 20.0), proc.log()
        spin_until(ros_node, lambda: False, 0.5)  # the streamer's side of the match too
        server.go.set()
        assert spin_until(ros_node, lambda: len(received) >= 20, 10.0), (len(received), [m.frame_index for m in received], proc.log())
        for k, msg in enumerate(received):
            check_layout(msg, clip)
            assert msg.frame_index == k
            np.testing.assert_allclose(msg.values, rows[k], atol=1e-4)
        assert spin_until(ros_node, lambda: any(kv.key == "invalid" and int(kv.value) >= 1 for s in diags for kv in s.values), 5.0)
        assert "values in a frame" in next(s for s in diags if any(kv.key == "invalid" for kv in s.values)).message
        assert proc.alive()
    finally:
        server.close()


def test_skeleton_streamer_udp_binary(start_node, ros_node, clip):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    frames = {i: encode_binary_frame(clip.motion[i], frame_index=1000 + i) for i in range(20)}
    datagrams = [frames[i] for i in range(3)]
    datagrams += [frames[3][:500], frames[3][500:], frames[4], frames[5] + frames[6]]  # split, merged
    datagrams += [frames[9], frames[10], b"garbage between frames", frames[11]]  # 7, 8 missing
    datagrams += [frames[i] for i in range(12, 20)]
    sent = [i for i in range(20) if i not in (7, 8)]
    received: list[SkeletonFrame] = []
    diags: list[DiagnosticStatus] = []
    sub = ros_node.create_subscription(SkeletonFrame, "skel", received.append, DEEP_SENSOR_QOS)
    ros_node.create_subscription(DiagnosticArray, "/diagnostics",
                                 lambda m: diags.extend(s for s in m.status if s.name == "/skeleton_streamer"), 10)
    proc = start_node("skeleton_streamer", {"source": "udp", "format": "binary", "bvh_path": str(CLIP), "topic": "skel",
                                            "bind_address": "127.0.0.1", "port": port}, name="skeleton_streamer")
    assert spin_until(ros_node, lambda: sub.get_publisher_count() > 0, 20.0), proc.log()
    spin_until(ros_node, lambda: False, 0.5)  # the streamer's side of the match too
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for datagram in datagrams:
            sender.sendto(datagram, ("127.0.0.1", port))
            spin_until(ros_node, lambda: False, 0.005)
    assert spin_until(ros_node, lambda: len(received) >= len(sent), 10.0), ([m.frame_index for m in received], proc.log())
    assert [m.frame_index for m in received] == [1000 + i for i in sent]
    for msg, i in zip(received, sent):
        check_layout(msg, clip)
        np.testing.assert_array_equal(msg.values, clip.motion[i].astype(np.float32))

    def values(status: DiagnosticStatus) -> dict[str, str]:
        return {kv.key: kv.value for kv in status.values}

    assert spin_until(ros_node, lambda: any(values(s).get("frames") == "18" for s in diags), 5.0), proc.log()
    warned = [s for s in diags if s.level == DiagnosticStatus.WARN]
    assert warned and "inputs not used" in warned[0].message and "dropped" in warned[0].message
    assert all(s.level != DiagnosticStatus.ERROR for s in diags)
    last = values(diags[-1])
    assert (last["format"], last["frames"], last["gaps"], last["missing_frames"]) == ("binary", "18", "1", "2")
    assert (last["dropped"], last["invalid"], last["decode_errors"], last["skipped_bytes"]) == ("2", "1", "1", "22")
    assert "22 bytes that were no binary frame" in last["last_decode_error"]
    # the gap and the garbage are past: the next status is OK again, the node alive
    assert spin_until(ros_node, lambda: diags[-1].level == DiagnosticStatus.OK, 5.0)
    assert proc.alive()
