"""The skeleton node on onnxruntime publishes the same activities as on torch: two node
processes from install/ (backend torch with the .safetensors, backend onnxruntime with its
ONNX export) take the same SkeletonFrame stream over real DDS at once."""
from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray

from harnets.msg import SkeletonFrame
from harnets_core.formats.bvh import read_bvh
from harnets_core.models.export import export_onnx
from harnets_ros.common import SENSOR_QOS, time_to_ns
from harnets_ros.lifecycle_client import bring_up
from test_skeleton_node import collect, frames_of, publish_all, wait_for_subscriber

from conftest import spin_until  # noqa: E402  (test/ros/conftest.py)


@pytest.fixture(scope="module")
def onnx_model(untrained_skeleton_model, tmp_path_factory):
    return export_onnx(untrained_skeleton_model, tmp_path_factory.mktemp("onnx") / "skeleton.onnx").path


def test_skeleton_node_on_onnxruntime_publishes_what_torch_publishes(start_node, ros_node, untrained_skeleton_model,
                                                                     onnx_model, real_clip_path):
    common = {"input_topic": "skeleton", "hop_s": 0.1, "input_depth": 1000}  # deep: no frame lost on a busy host
    nodes = {
        "torch": start_node("skeleton_node", {**common, "model_path": str(untrained_skeleton_model), "backend": "torch",
                                              "output_topic": "activity/torch"}, "skeleton_torch",
                            ["-r", "__node:=skeleton_torch"]),
        "onnxruntime": start_node("skeleton_node", {**common, "model_path": str(onnx_model), "backend": "onnxruntime",
                                                    "output_topic": "activity/onnx"}, "skeleton_onnx",
                                  ["-r", "__node:=skeleton_onnx"]),
    }
    diags = collect(ros_node, "/diagnostics", DiagnosticArray, 10)
    for name in ("/skeleton_torch", "/skeleton_onnx"):
        bring_up(ros_node, name, timeout_s=30.0)
    got = {"torch": collect(ros_node, "activity/torch"), "onnxruntime": collect(ros_node, "activity/onnx")}
    pub = ros_node.create_publisher(SkeletonFrame, "skeleton", SENSOR_QOS)
    wait_for_subscriber(ros_node, pub)
    assert spin_until(ros_node, lambda: pub.get_subscription_count() >= 2, 10.0)
    clip = read_bvh(real_clip_path)
    publish_all(ros_node, pub, list(frames_of(clip)))
    assert spin_until(ros_node, lambda: all(len(v) >= 8 for v in got.values()), 30.0), \
        nodes["onnxruntime"].log() + nodes["torch"].log()
    spin_until(ros_node, lambda: False, 1.0)  # the last ones

    def by_window(msgs):
        return {(time_to_ns(m.header.stamp), time_to_ns(m.window_start)): m for m in msgs}

    a, b = by_window(got["torch"]), by_window(got["onnxruntime"])
    same = sorted(set(a) & set(b))
    # a frame lost by one process (best-effort DDS on a busy host) shifts that process's later
    # windows; the windows both saw must agree
    assert len(same) >= 5
    for key in same:
        pa, pb = np.asarray(a[key].probabilities), np.asarray(b[key].probabilities)
        assert np.abs(pa - pb).max() <= 1e-5
        assert a[key].label == b[key].label and list(a[key].class_names) == list(b[key].class_names)
        assert a[key].model_id.startswith("skeleton_untrained.safetensors@")
        assert b[key].model_id.startswith("skeleton.onnx@")
    # the node says which backend and which onnxruntime providers run (here: no CUDA, the CPU)
    log = nodes["onnxruntime"].log()
    assert "on onnxruntime providers ['CPUExecutionProvider']" in log, log
    assert "on torch" in nodes["torch"].log()
    assert spin_until(ros_node, lambda: any(s.name.lstrip("/") == "skeleton_onnx" and
                                            {kv.key: kv.value for kv in s.values}.get("onnx_providers") == "CPUExecutionProvider"
                                            for d in diags for s in d.status), 5.0)
    assert all(p.alive() for p in nodes.values())
