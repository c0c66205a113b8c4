"""The graph's transport (config/fastdds.xml, docs/TRANSPORT.md) over real DDS: every node
process the graph starts gets the profile, and full-HD raw frames (6.2 MB each, lost in
whole with Fast DDS's default transports) arrive through the graph, none lost."""
from __future__ import annotations

import array
import time
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image

from harnets_core.models import CNNLSTM, CNNLSTMConfig
from harnets_core.models.modelfile import save_model
from harnets_core.transport import PROFILE_VARIABLES, USER_TRANSPORT_VARIABLES
from harnets_ros.common import SENSOR_QOS, ns_to_time
from harnets_ros.graph import GraphSpec, NodeGraph, NodeSpec, package_paths

from conftest import spin_until

CONFIG = Path(__file__).resolve().parents[2] / "config" / "harnets.yaml"
TOPIC = "transport_test/image_raw"


@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory) -> Path:
    model = CNNLSTM(CNNLSTMConfig(num_classes=2, height=16, width=24, encoder_config={"channels": [4, 8]}, feature_dim=6, hidden_size=4))
    meta = {"modality": "rgb", "model_type": "cnn_lstm", "class_names": ["No action", "Assemble system"], "class_ids": [0, 4],
            "preprocessing": {"kind": "rgb", "view": "full", "size_hw": [16, 24], "settings": {}, "normalizer": None},
            "window": {"window_s": 0.4, "hop_s": 0.2, "rate_hz": 10.0, "length": 4}}
    return save_model(tmp_path_factory.mktemp("models") / "tiny_rgb.safetensors", model, meta)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_every_process_the_graph_starts_gets_the_profile(ros_node, rgb_model, tmp_path, monkeypatch):
    """Not inherited by chance: the variables are removed from this process first."""
    for name in (*USER_TRANSPORT_VARIABLES, "HARNETS_DDS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    graph = NodeGraph(GraphSpec([NodeSpec("image_node", {"model_path": str(rgb_model), "input_topic": TOPIC}),
                                 NodeSpec("fusion_node", {"inputs": ["transport_test/a", "transport_test/b"]})], CONFIG),
                      log_dir=tmp_path / "logs")
    graph.start(ros_node)
    try:
        profile = str((package_paths()[1] / "config" / "fastdds.xml").resolve())
        assert set(graph.procs) == {"image_recognizer", "activity_fusion"}
        for name, proc in graph.procs.items():
            env = _environ(proc.pid)
            assert env.get(PROFILE_VARIABLES[0]) == profile, name
    finally:
        graph.stop()


def test_full_hd_raw_frames_arrive_through_the_graph(ros_node, rgb_model, tmp_path):
    """1920x1080 rgb8 at 25 fps, best effort (the camera's QoS), from this process into the
    image node: the node counts every frame received and none lost by the transport."""
    # (conftest applies the profile to this process; FASTDDS_BUILTIN_TRANSPORTS=DEFAULT in the
    # environment forces Fast DDS's default transports instead: then this test fails, none arrive)
    graph = NodeGraph(GraphSpec([NodeSpec("image_node", {"model_path": str(rgb_model), "input_topic": TOPIC})], CONFIG),
                      log_dir=tmp_path / "logs")
    diag: dict[str, str] = {}

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == "/image_recognizer":
                diag.update({kv.key: kv.value for kv in status.values})

    ros_node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    pub = ros_node.create_publisher(Image, TOPIC, SENSOR_QOS)
    h, w, n = 1080, 1920, 25
    frames = [array.array("B", np.random.default_rng(k).integers(0, 256, h * w * 3, dtype=np.uint8).tobytes()) for k in range(2)]
    graph.start(ros_node)
    try:
        assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, 20.0)
        spin_until(ros_node, lambda: False, 2.0)  # discovery, then the transport's data path, complete on each side on their own
        t0 = time.monotonic()
        for k in range(n):
            msg = Image(height=h, width=w, encoding="rgb8", step=w * 3, data=frames[k % 2])
            msg.header.stamp = ns_to_time(1_000_000_000_000 + k * 40_000_000)
            msg.header.frame_id = "camera"
            pub.publish(msg)
            spin_until(ros_node, lambda: time.monotonic() >= t0 + (k + 1) / 25.0, 1.0, step_s=0.005)
        received = lambda: int(diag.get("received", 0))  # noqa: E731
        spin_until(ros_node, lambda: received() >= n, 10.0)
        log = (tmp_path / "logs" / "image_recognizer.log").read_text()
        assert received() == n, f"{received()} of {n} full-HD frames received; diagnostics {diag}; log:\n{log}"
        assert int(diag.get("lost", 0)) == 0 and int(diag.get("invalid", 0)) == 0, diag
    finally:
        graph.stop()
