"""The skeleton node as its own process over real DDS: SkeletonFrame in, Activity out."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.publisher import Publisher

from harnets.msg import Activity, SkeletonFrame
from harnets_core.formats.bvh import read_bvh
from harnets_core.formats.messages import skeleton_frame_fields, skeleton_frame_layout
from harnets_ros.common import RESULT_QOS, SENSOR_QOS, ns_to_time, ros_fields, time_to_ns
from harnets_ros.lifecycle_client import bring_up, change_state, get_state

from conftest import NodeProcess, spin_until  # noqa: E402  (test/ros/conftest.py)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "harnets.yaml"
T0_NS = 1_700_000_000_000_000_000


def frames_of(clip, *, start_ns: int = T0_NS):
    """The clip as SkeletonFrames, built as the skeleton streamer builds them (formats.messages)."""
    layout = skeleton_frame_layout(clip.skeleton)
    for i, values in enumerate(clip.motion):
        msg = SkeletonFrame(**ros_fields(skeleton_frame_fields(layout, values, i, clip.frame_time_s)))
        msg.header.stamp = ns_to_time(start_ns + int(round(i * clip.frame_time_s * 1e9)))
        msg.header.frame_id = "mocap"
        yield msg


def publish_all(node, pub, msgs, period_s: float = 1 / 120):
    for msg in msgs:
        pub.publish(msg)
        node.executor_for_test.spin_once(timeout_sec=0)
        time.sleep(period_s)


def collect(node, topic, msg_type=Activity, qos=RESULT_QOS):
    got = []
    node.create_subscription(msg_type, topic, got.append, qos)
    return got


def wait_for_subscriber(node, pub, timeout_s=10.0):
    assert spin_until(node, lambda: pub.get_subscription_count() > 0, timeout_s), "node never subscribed"


@dataclass
class Recognizer:
    """The skeleton node, active, with the test node's publisher and subscriptions."""

    proc: NodeProcess
    pub: Publisher  # SkeletonFrame on "skeleton", matched by the node
    activities: list[Activity]  # received on "activity/skeleton"
    diagnostics: list[DiagnosticArray]


@pytest.fixture(scope="module")
def clip(real_clip_path):
    return read_bvh(real_clip_path)


@pytest.fixture
def recognizer(start_node, ros_node, untrained_skeleton_model):
    """Start the skeleton node (params: a dict or a file, default the untrained model at hop
    0.1 s), bring it up and connect to it."""

    def _start(params: dict[str, Any] | Path | None = None, extra_args: list[str] | None = None) -> Recognizer:
        if params is None:
            params = {"model_path": str(untrained_skeleton_model), "input_topic": "skeleton",
                      "output_topic": "activity/skeleton", "hop_s": 0.1}
        proc = start_node("skeleton_node", params, "skeleton_recognizer", extra_args)
        bring_up(ros_node, "/skeleton_recognizer", timeout_s=30.0)
        pub = ros_node.create_publisher(SkeletonFrame, "skeleton", SENSOR_QOS)
        node = Recognizer(proc, pub, collect(ros_node, "activity/skeleton"),
                          collect(ros_node, "/diagnostics", DiagnosticArray, 10))
        wait_for_subscriber(ros_node, pub)
        return node

    return _start


def test_node_from_install_with_config_file_publishes_activities(recognizer, ros_node, untrained_skeleton_model, clip):
    node = recognizer(CONFIG, ["-p", f"model_path:={untrained_skeleton_model}", "-p", "hop_s:=0.1"])
    assert get_state(ros_node, "/skeleton_recognizer") == "active"
    got = node.activities
    sent = list(frames_of(clip))
    publish_all(ros_node, node.pub, sent)
    assert spin_until(ros_node, lambda: len(got) >= 5, 20.0), node.proc.log()
    stamps = {time_to_ns(m.header.stamp) for m in sent}
    frame_ns = clip.frame_time_s * 1e9
    window_frames = 60  # build_skeleton_model's window
    for msg in got:
        newest, oldest = time_to_ns(msg.header.stamp), time_to_ns(msg.window_start)
        assert newest in stamps and oldest in stamps  # stamps are sensor times, not publish times
        # the window holds the last 60 frames received (best-effort sensor QoS may lose one)
        assert window_frames - 1 <= round((newest - oldest) / frame_ns) <= window_frames + 2
        assert msg.source == "skeleton" and msg.header.frame_id == "mocap"
        assert msg.model_id.startswith("skeleton_untrained.safetensors@")
        assert list(msg.class_names) == ["Consult sheets", "Assemble system"] and list(msg.class_ids) == [1, 11]
        assert abs(sum(msg.probabilities) - 1.0) < 1e-4
        assert msg.label == msg.class_names[int(np.argmax(msg.probabilities))]
        assert msg.confidence == pytest.approx(max(msg.probabilities))
        assert 0.0 < msg.latency_ms < 5000.0
    hops = np.diff(sorted(time_to_ns(m.header.stamp) for m in got)) / 1e9
    assert np.all(hops >= 0.1 - clip.frame_time_s)  # one prediction per hop of sensor time
    assert node.proc.alive()


def test_bad_messages_are_counted_reported_and_survived(recognizer, ros_node, clip):
    node = recognizer()
    got, diags = node.activities, node.diagnostics
    msgs = list(frames_of(clip))
    nan = msgs[0]
    nan.values = np.full(len(nan.values), np.nan, dtype=np.float32)
    few_joints = next(frames_of(clip))
    few_joints.joint_names = few_joints.joint_names[:-1]
    few_joints.channel_counts = few_joints.channel_counts[:-1]
    few_joints.channel_types = few_joints.channel_types[:-6]
    few_joints.values = few_joints.values[:-6]
    publish_all(ros_node, node.pub, [nan, few_joints])
    assert spin_until(ros_node, lambda: any(_status(d).level == DiagnosticStatus.ERROR for d in diags), 10.0)
    error = next(_status(d) for d in diags if _status(d).level == DiagnosticStatus.ERROR)
    values = {kv.key: kv.value for kv in error.values}
    assert int(values["invalid"]) >= 2
    assert "joints" in values["last_error"] or "non-finite" in values["last_error"]
    publish_all(ros_node, node.pub, msgs[1:])  # good data afterwards is still recognized
    assert spin_until(ros_node, lambda: len(got) >= 3, 20.0), node.proc.log()
    assert node.proc.alive()


def test_missing_model_file_fails_configure_with_a_clear_report(start_node, ros_node, tmp_path):
    missing = tmp_path / "nope.safetensors"
    proc = start_node("skeleton_node", {"model_path": str(missing)}, "skeleton_recognizer")
    diags = collect(ros_node, "/diagnostics", DiagnosticArray, 10)
    assert get_state(ros_node, "/skeleton_recognizer", timeout_s=20.0) == "unconfigured"
    assert change_state(ros_node, "/skeleton_recognizer", "configure") is False
    assert spin_until(ros_node, lambda: any(str(missing) in _status(d).message for d in diags), 5.0)
    assert proc.alive()


def test_model_of_another_skeleton_is_rejected_at_the_first_message(recognizer, ros_node, clip):
    """A stream whose joint names differ from the model's: a clear error, no predictions."""
    node = recognizer()
    msgs = list(frames_of(clip))
    for m in msgs:
        m.joint_names = ["Pelvis" if n == "Hips" else n for n in m.joint_names]
    publish_all(ros_node, node.pub, msgs[:120])
    assert spin_until(ros_node, lambda: any("Pelvis" in _status(d).message for d in node.diagnostics), 10.0)
    assert node.activities == []
    assert node.proc.alive()


def _status(array: DiagnosticArray) -> DiagnosticStatus:
    return array.status[0]


def test_forecast_is_published_with_the_documented_fields(recognizer, ros_node, clip, forecasting_skeleton_model):
    from harnets.msg import ActivityForecast

    node = recognizer({"model_path": str(forecasting_skeleton_model), "input_topic": "skeleton",
                       "output_topic": "activity/skeleton", "forecast_topic": "activity/forecast", "hop_s": 0.1})
    forecasts = collect(ros_node, "activity/forecast", ActivityForecast)
    publish_all(ros_node, node.pub, list(frames_of(clip)))
    assert spin_until(ros_node, lambda: len(forecasts) >= 5 and len(node.activities) >= 5, 20.0), node.proc.log()
    by_stamp = {time_to_ns(a.header.stamp): a for a in node.activities}
    for f in forecasts:
        activity = by_stamp.get(time_to_ns(f.header.stamp))
        if activity is None:
            continue  # its Activity not received yet
        assert f.header.frame_id == "mocap" and f.source == "skeleton" and f.model_id == activity.model_id
        assert f.current_class_id == activity.class_id and f.current_label == activity.label  # the filtered class
        assert f.elapsed_s >= 0.0
        assert 0.0 <= f.remaining_p10_s <= f.remaining_p50_s <= f.remaining_p90_s
        assert len(f.next_class_names) == len(f.next_class_ids) == len(f.next_probabilities) > 0
        assert set(f.next_class_ids) <= {1, 11} and abs(sum(f.next_probabilities) - 1.0) < 1e-4
        assert list(f.next_probabilities) == sorted(f.next_probabilities, reverse=True)
    assert any(time_to_ns(f.header.stamp) in by_stamp for f in forecasts)
