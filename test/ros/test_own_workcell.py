"""Your own workcell over real DDS, without InHARD:

- the skeleton recognizer from install/, configured with a model trained on a `sessions`
  layout of a CMU-style 31-joint skeleton (6 channels at the root, 3 elsewhere) with the
  user's class names, publishes Activity messages carrying those names; a SkeletonFrame stream
  of another skeleton (InHARD's Axis Neuron) is counted invalid, named on /diagnostics, and
  the node lives on;
- `harnets record` (a subprocess, as a user runs it) records SkeletonFrames and camera Images
  published here, and `harnets dataset from-bag` turns the bag into the sessions layout with
  the same frame counts.

Training is one epoch of a 4-unit LSTM (only the class names and the skeleton matter here).
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import Image

from harnets.msg import Activity, SkeletonFrame
from harnets_core.cli.main import main
from harnets_core.formats.bags import bag_topics
from harnets_core.formats.bvh import read_bvh
from harnets_core.synth.layouts import generate_own_dataset
from harnets_ros.common import RESULT_QOS, SENSOR_QOS, ns_to_time, time_to_ns
from harnets_ros.lifecycle_client import bring_up

from conftest import ChildProcess, spin_until  # noqa: E402  (test/ros/conftest.py)
from test_skeleton_node import frames_of  # noqa: E402  (the SkeletonFrames of a clip)

CLASSES = ["Glue seam", "Clamp", "Wipe"]
T0_NS = 1_700_000_000_000_000_000


@pytest.fixture(scope="module")
def cmu_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("own_ros") / "cell"
    generate_own_dataset(root, layout="sessions", classes=CLASSES, recordings=["rec01", "rec02", "rec03", "rec04"],
                         duration_s=14.0, seed=1, skeleton="cmu31", videos=False)
    return root


@pytest.fixture(scope="module")
def cmu_model(cmu_root: Path, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("own_ros") / "run"
    assert main(["train", "skeleton", "--data", str(cmu_root), "--out", str(run), "--epochs", "1", "--hidden-size", "4",
                 "--layers", "1", "--no-progress", "--window-frames", "80", "--hop-s", "0.5"]) == 0
    return run / "model.safetensors"


def _publish(node, pub, msgs, period_s: float) -> None:
    for msg in msgs:
        pub.publish(msg)
        node.executor_for_test.spin_once(timeout_sec=0)
        time.sleep(period_s)


def test_node_publishes_the_users_classes_and_rejects_another_skeleton(start_node, ros_node, cmu_model, cmu_root,
                                                                       real_clip_path):
    start_node("skeleton_node", {"model_path": str(cmu_model), "input_topic": "skeleton",
                                 "output_topic": "activity/skeleton", "hop_s": 0.1}, "skeleton_recognizer")
    bring_up(ros_node, "/skeleton_recognizer", timeout_s=30.0)
    pub = ros_node.create_publisher(SkeletonFrame, "skeleton", SENSOR_QOS)
    got: list[Activity] = []
    diags: list[DiagnosticArray] = []
    ros_node.create_subscription(Activity, "activity/skeleton", got.append, RESULT_QOS)
    ros_node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0, 10.0), "node never subscribed"

    cmu = read_bvh(cmu_root / "rec01.bvh", end_frame=150)  # 2.5 s at 60 Hz
    assert len(cmu.skeleton.joint_names) == 31
    _publish(ros_node, pub, frames_of(cmu), 1 / 120)
    assert spin_until(ros_node, lambda: len(got) >= 3, 20.0)
    for msg in got:  # whole recordings: idle ("No action", id 0) is a class, the user's ids count from 1
        assert list(msg.class_names) == ["No action", *CLASSES] and list(msg.class_ids) == [0, 1, 2, 3]
        assert msg.label in ["No action", *CLASSES] and msg.source == "skeleton"

    axis = read_bvh(real_clip_path)  # InHARD's Axis Neuron suit, 6 channels a joint
    _publish(ros_node, pub, frames_of(axis, start_ns=T0_NS + 3_000_000_000), 1 / 240)

    def rejected() -> DiagnosticStatus | None:
        for d in reversed(diags):
            st = d.status[0]
            values = {kv.key: kv.value for kv in st.values}
            if st.level in (DiagnosticStatus.WARN, DiagnosticStatus.ERROR) and int(values.get("invalid", 0)) >= 10:
                return st
        return None

    assert spin_until(ros_node, lambda: rejected() is not None, 10.0)
    status = rejected()
    text = status.message + " " + " ".join(kv.value for kv in status.values)
    assert re.search(r"joint|channel", text), text
    # the node is alive: the CMU stream is recognized again; nothing was recognized from the other skeleton
    again_ns = T0_NS + 10_000_000_000
    _publish(ros_node, pub, frames_of(cmu, start_ns=again_ns), 1 / 120)
    assert spin_until(ros_node, lambda: sum(time_to_ns(m.header.stamp) >= again_ns for m in got) >= 3, 20.0)
    axis_span = [m for m in got if T0_NS + 3_000_000_000 <= time_to_ns(m.header.stamp) < again_ns]
    assert axis_span == [] and all(list(m.class_names) == ["No action", *CLASSES] for m in got)


def _image(stamp_ns: int, k: int) -> Image:
    msg = Image()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = "camera"
    msg.height, msg.width, msg.encoding, msg.step = 48, 64, "rgb8", 64 * 3
    msg.data = np.full((48, 64, 3), (k * 9) % 255, np.uint8).tobytes()
    return msg


def test_record_then_dataset_from_bag(ros_node, cmu_root, tmp_path):
    """2 s of a 60 Hz suit and a 10 Hz camera, recorded by `harnets record` in its own process."""
    skel_pub = ros_node.create_publisher(SkeletonFrame, "/cell/skeleton", SENSOR_QOS)
    cam_pub = ros_node.create_publisher(Image, "/cell/camera", SENSOR_QOS)
    bag = tmp_path / "take1"
    cmd = [sys.executable, "-m", "harnets_core.cli", "record", "--topics", "/cell/skeleton", "/cell/camera",
           "--out", str(bag), "--duration-s", "6"]
    proc = ChildProcess(cmd, tmp_path / "record.log")
    try:
        assert spin_until(ros_node, lambda: skel_pub.get_subscription_count() > 0 and cam_pub.get_subscription_count() > 0,
                          20.0), proc.log()
        clip = read_bvh(cmu_root / "rec02.bvh", end_frame=120)  # 2 s at 60 Hz
        frames = list(frames_of(clip))
        images = [_image(T0_NS + k * 100_000_000, k) for k in range(20)]  # 0 .. 1.9 s
        messages = sorted([(f.header.stamp.sec * 10**9 + f.header.stamp.nanosec, 0, f) for f in frames]
                          + [(T0_NS + k * 100_000_000, 1, m) for k, m in enumerate(images)], key=lambda m: m[:2])
        for _, kind, msg in messages:
            (skel_pub if kind == 0 else cam_pub).publish(msg)
            time.sleep(1 / 120)
        proc.proc.wait(30)
    finally:
        code = proc.stop()
    log = proc.log_path.read_text()
    assert code == 0, log
    topics = bag_topics(bag)
    assert topics["/cell/skeleton"].msgtype == "harnets/msg/SkeletonFrame" and topics["/cell/camera"].msgtype == "sensor_msgs/msg/Image"
    assert (topics["/cell/skeleton"].count, topics["/cell/camera"].count) == (120, 20), log
    assert "/cell/skeleton 120" in log and "/cell/camera 20" in log

    labels = tmp_path / "labels.csv"
    labels.write_text("start_s,end_s,label\n0.2,1.0,Clamp\n1.0,1.8,Wipe\n")
    out = tmp_path / "cell"
    skeleton = tmp_path / "suit.bvh"
    skeleton.write_text((cmu_root / "rec02.bvh").read_text())  # the suit's hierarchy
    assert main(["dataset", "from-bag", str(bag), "--out", str(out), "--labels", str(labels), "--skeleton", str(skeleton)]) == 0
    bvh = read_bvh(out / "take1.bvh")
    from harnets_core.formats.video import probe_video

    # both streams cut to their common span (0 .. 1.9 s, the camera's last stamp): the suit frames stamped in it
    last_image_ns = T0_NS + 19 * 100_000_000
    n_suit = sum(1 for f in frames if f.header.stamp.sec * 10**9 + f.header.stamp.nanosec <= last_image_ns)
    assert 113 <= n_suit <= 115
    assert bvh.n_frames == n_suit and bvh.skeleton.joint_names == clip.skeleton.joint_names
    np.testing.assert_allclose(bvh.motion, clip.motion[:n_suit], atol=1e-3)
    assert probe_video(out / "take1.mp4").n_frames == 20
    rows = [line.split(",")[:4] for line in (out / "labels.csv").read_text().splitlines()[1:]]
    assert [(r[0], float(r[1]), float(r[2]), r[3]) for r in rows] == [("take1", 0.2, 1.0, "Clamp"), ("take1", 1.0, 1.8, "Wipe")]


def test_live_replay_of_an_own_bag_scores_the_users_classes(cmu_root, cmu_model, tmp_path):
    """`harnets bag from-dataset` of a sessions take -> `replay-eval --live` through the node graph
    (lock-step) -> the report on the user's classes, as the offline replay scores it."""
    from harnets_core.evaluation.dataset_bag import bag_from_dataset
    from harnets_core.evaluation.replay import replay_offline
    from harnets_ros.live_replay import replay_live

    bag = tmp_path / "rec04_bag"
    bag_from_dataset(cmu_root, "rec04", bag, end_s=8.0)
    models = {"skeleton": cmu_model}
    offline = replay_offline(bag, models, tmp_path / "offline")
    live = replay_live(bag, models, tmp_path / "live", rate=0)
    assert live["classes"]["names"] == offline["classes"]["names"] == [*CLASSES, "No action"]
    a, b = live["sources"]["skeleton"], offline["sources"]["skeleton"]
    assert abs(a["n_predictions"] - b["n_predictions"]) <= 3 and a["n_predictions"] > 5
    report = (tmp_path / "live" / "report.md").read_text()
    assert all(f"{k} {name}" in report for k, name in enumerate(CLASSES))
