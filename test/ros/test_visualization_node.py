"""The visualization node as its own process over real DDS: SkeletonFrame + Activity (+
ActivityForecast, camera image) in, MarkerArray (bones = forward kinematics / 100, label and
forecast above the head) and the annotated image out; a stream of another skeleton is
reported, never a crash."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker, MarkerArray

from harnets.msg import Activity, ActivityForecast, SkeletonFrame
from harnets_core import topology
from harnets_core.features.kinematics import forward_kinematics
from harnets_core.formats.bvh import read_bvh
from harnets_core.visualization.annotate import banner_height
from harnets_core.visualization.markers import class_color
from harnets_ros.common import RESULT_QOS, SENSOR_QOS, ns_to_time, time_to_ns

from conftest import spin_until  # noqa: E402  (test/ros/conftest.py)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "harnets.yaml"
T0_NS = 1_700_000_000_000_000_000
NAME = topology.VISUALIZER.name


@pytest.fixture(scope="module")
def clip(real_clip_path):
    return read_bvh(real_clip_path)


def frame_msgs(clip, frame_id: str = "mocap", start_ns: int = T0_NS) -> list[SkeletonFrame]:
    joints = [j for j in clip.skeleton.joints if not j.is_end_site]
    msgs = []
    for i, values in enumerate(clip.motion):
        msg = SkeletonFrame(frame_index=i, frame_time_s=clip.frame_time_s, joint_names=[j.name for j in joints],
                            channel_counts=[len(j.channels) for j in joints],
                            channel_types=[c for j in joints for c in j.channels], values=values.astype(np.float32))
        msg.header.stamp = ns_to_time(start_ns + int(round(i * clip.frame_time_s * 1e9)))
        msg.header.frame_id = frame_id
        msgs.append(msg)
    return msgs


def activity_msg(label: str = "Assemble system", class_id: int = 11, confidence: float = 0.87) -> Activity:
    msg = Activity(source="fusion", label=label, class_id=class_id, confidence=confidence,
                   class_names=["Consult sheets", label], class_ids=[1, class_id], probabilities=[1 - confidence, confidence])
    msg.header.stamp = ns_to_time(T0_NS)
    msg.header.frame_id = "workcell"
    return msg


def forecast_msg(source: str = "skeleton", current_class_id: int = 11) -> ActivityForecast:
    msg = ActivityForecast(source=source, model_id="m", current_label="Assemble system", current_class_id=current_class_id,
                           elapsed_s=2.0, remaining_p10_s=1.2, remaining_p50_s=3.1, remaining_p90_s=5.0,
                           next_class_names=["Take component", "Picking left"], next_class_ids=[9, 6],
                           next_probabilities=[0.62, 0.38])
    msg.header.stamp = ns_to_time(T0_NS)
    msg.header.frame_id = "mocap"
    return msg


class Harness:
    def __init__(self, start_node, ros_node, params: dict | Path | None = None) -> None:
        self.node = ros_node
        if not isinstance(params, Path):
            params = {"rate_hz": 30.0, **(params or {})}
        self.proc = start_node("visualization_node", params, NAME)
        self.skeleton = ros_node.create_publisher(SkeletonFrame, "skeleton", SENSOR_QOS)
        self.activity = ros_node.create_publisher(Activity, "activity", RESULT_QOS)
        self.forecast = ros_node.create_publisher(ActivityForecast, "activity/forecast", RESULT_QOS)
        self.image = ros_node.create_publisher(Image, "camera/image_raw", SENSOR_QOS)
        self.markers: list[MarkerArray] = []
        self.images: list[Image] = []
        self.diags: list[DiagnosticArray] = []
        ros_node.create_subscription(MarkerArray, "visualization/markers", self.markers.append, RESULT_QOS)
        ros_node.create_subscription(Image, "visualization/image", self.images.append, SENSOR_QOS)
        ros_node.create_subscription(DiagnosticArray, "/diagnostics", self.diags.append, 10)
        for pub in (self.skeleton, self.activity, self.forecast):
            assert spin_until(ros_node, lambda p=pub: p.get_subscription_count() > 0, 20.0), self.proc.log()

    def send(self, msgs, period_s: float = 1 / 120) -> None:
        for msg in msgs:
            self.skeleton.publish(msg)
            self.node.executor_for_test.spin_once(timeout_sec=0)
            time.sleep(period_s)

    def texts(self) -> list[str]:
        return [m.text for a in self.markers for m in a.markers if m.ns == "activity"]

    def annotated(self, img: Image, timeout_s: float = 10.0) -> np.ndarray:
        """The next annotated image of ``img`` (H, W, 3)."""
        self.images.clear()
        deadline = time.monotonic() + timeout_s
        while not self.images and time.monotonic() < deadline:
            self.image.publish(img)
            spin_until(self.node, lambda: bool(self.images), 0.1)
        assert self.images, self.proc.log()
        out = self.images[-1]
        return np.frombuffer(bytes(out.data), np.uint8).reshape(out.height, out.width, 3)

    def statuses(self) -> list[DiagnosticStatus]:
        return [s for d in self.diags for s in d.status if s.name.endswith(NAME)]


def _points(marker: Marker) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in marker.points])


def test_markers_are_the_forward_kinematics_of_the_frame_with_the_label_above_the_head(start_node, ros_node, clip):
    h = Harness(start_node, ros_node, CONFIG)  # the shipped parameters
    sent = frame_msgs(clip)
    by_stamp = {time_to_ns(m.header.stamp): m for m in sent}
    h.send(sent[:60])
    assert spin_until(ros_node, lambda: len(h.markers) >= 3, 10.0), h.proc.log()
    before = list(h.markers)
    assert all(len(a.markers) == 1 for a in before)  # no activity yet: the bones alone, neutral colour
    h.activity.publish(activity_msg())
    spin_until(ros_node, lambda: False, 0.3)
    h.send(sent[60:])
    assert spin_until(ros_node, lambda: any(len(a.markers) == 2 for a in h.markers), 10.0), h.proc.log()
    pairs = [(j.parent, i) for i, j in enumerate(clip.skeleton.joints) if j.parent >= 0]
    labelled = [a for a in h.markers if len(a.markers) == 2]
    for array in labelled:
        bones, text = array.markers
        frame = by_stamp[time_to_ns(bones.header.stamp)]  # the markers carry the frame's own stamp
        assert bones.header.frame_id == text.header.frame_id == "mocap"
        assert (bones.ns, bones.type, text.ns, text.type) == ("skeleton", Marker.LINE_LIST, "activity", Marker.TEXT_VIEW_FACING)
        fk_m = forward_kinematics(clip.skeleton, np.asarray(frame.values, np.float64)[None])[0] / 100.0  # (J, 3)
        expected = np.array([fk_m[k] for pair in pairs for k in pair])  # parent, child, ...
        np.testing.assert_allclose(_points(bones), expected, rtol=0, atol=1e-12)
        q = bones.pose.orientation
        np.testing.assert_allclose([q.x, q.y, q.z, q.w], [np.sqrt(0.5), 0, 0, np.sqrt(0.5)], atol=1e-12)  # Y up -> Z up
        head = fk_m[clip.skeleton.index("Head")]
        p = text.pose.position
        np.testing.assert_allclose([p.x, p.y, p.z], [head[0], -head[2], head[1] + 0.3], atol=1e-9)
        assert text.text == "Assemble system 0.87"
        rgba = class_color(11)
        for m in (bones, text):
            np.testing.assert_allclose([m.color.r, m.color.g, m.color.b, m.color.a], rgba, atol=1e-6)
            assert (m.lifetime.sec, m.lifetime.nanosec) == (0, 500_000_000)
    assert not np.allclose([before[0].markers[0].color.r], [class_color(11)[0]])
    assert h.proc.alive()


def test_camera_image_is_annotated_with_the_label(start_node, ros_node):
    h = Harness(start_node, ros_node)
    h.activity.publish(activity_msg(confidence=0.5))
    spin_until(ros_node, lambda: False, 0.3)
    height, width = 240, 320
    img = Image(height=height, width=width, encoding="rgb8", step=width * 3, data=bytes([128]) * (height * width * 3))
    img.header.frame_id = "camera"
    img.header.stamp = ns_to_time(T0_NS)
    deadline = time.monotonic() + 10.0
    while not h.images and time.monotonic() < deadline:
        h.image.publish(img)
        spin_until(ros_node, lambda: bool(h.images), 0.1)
    assert h.images, h.proc.log()
    out = h.images[-1]
    assert (out.height, out.width, out.encoding, out.header.frame_id) == (height, width, "rgb8", "camera")
    assert time_to_ns(out.header.stamp) == T0_NS
    rgb = np.frombuffer(bytes(out.data), np.uint8).reshape(height, width, 3)
    bh = banner_height(height)
    assert (rgb[: bh // 2, -20:] == 20).all()  # the dark banner (no text at its right end)
    bar = rgb[bh + 1]
    colour = np.round(np.array(class_color(11)[:3]) * 255)
    assert (bar[: width // 2 - 1] == colour).all() and (bar[width // 2 + 1:] == 128).all()  # confidence 0.5: half the width
    assert (rgb[bh + bh // 6 + 1:] == 128).all()  # the picture below is untouched


def test_forecast_lines_go_under_the_label_until_stale(start_node, ros_node, clip):
    """A fresh forecast about the displayed activity adds its line to the text marker and to
    the camera's banner; one about another activity is not shown; a stale one goes."""
    h = Harness(start_node, ros_node, {"forecast_timeout_s": 5.0, "activity_timeout_s": 60.0})  # room for a busy host
    h.activity.publish(activity_msg())
    h.forecast.publish(forecast_msg())
    h.forecast.publish(forecast_msg(source="pose", current_class_id=3))  # newer, about another activity
    spin_until(ros_node, lambda: False, 0.3)
    sent = frame_msgs(clip)
    h.send(sent[:30])
    assert spin_until(ros_node, lambda: bool(h.texts()), 10.0), h.proc.log()
    assert h.texts()[-1] == "Assemble system 0.87\nnext: Take component 0.62 in ~3.1 s (p10-p90 1.2-5.0 s)"
    height, width = 240, 320
    img = Image(height=height, width=width, encoding="rgb8", step=width * 3, data=bytes([128]) * (height * width * 3))
    rgb = h.annotated(img)
    bh = banner_height(height)
    assert (rgb[bh: 2 * bh, :3] == 20).all()  # a second row of banner for the forecast line
    colour = np.round(np.array(class_color(11)[:3]) * 255)
    assert (rgb[2 * bh + 1, :10] == colour).all()  # the confidence bar under both rows
    spin_until(ros_node, lambda: False, 5.2)  # the forecast goes stale, the activity does not
    h.markers.clear()
    h.send(sent[30:60])
    assert spin_until(ros_node, lambda: bool(h.texts()), 10.0), h.proc.log()
    assert set(h.texts()) == {"Assemble system 0.87"}
    assert (h.annotated(img)[bh + 1, :10] == colour).all()  # one row again
    assert h.proc.alive()


def test_bad_frames_are_reported_and_the_node_goes_on(start_node, ros_node, clip):
    h = Harness(start_node, ros_node)
    sent = frame_msgs(clip)
    pelvis = frame_msgs(clip)[0]
    pelvis.joint_names = ["Pelvis"] + list(pelvis.joint_names[1:])
    h.send([pelvis], period_s=0.2)
    assert spin_until(ros_node, lambda: any(s.level == DiagnosticStatus.ERROR for s in h.statuses()), 10.0), h.proc.log()
    error = next(s for s in h.statuses() if s.level == DiagnosticStatus.ERROR)
    assert "Pelvis" in error.message and "inhard_skeleton.bvh" in error.message and "skeleton_bvh" in error.message
    assert int({kv.key: kv.value for kv in error.values}["invalid"]) >= 1
    nan = frame_msgs(clip)[0]
    nan.values = np.full(len(nan.values), np.nan, np.float32)
    h.send([nan], period_s=0.2)
    assert spin_until(ros_node, lambda: any("non-finite" in s.message for s in h.statuses()), 10.0), h.proc.log()
    assert h.markers == []
    h.send(sent[:40])  # good frames afterwards are drawn
    assert spin_until(ros_node, lambda: len(h.markers) >= 2, 10.0), h.proc.log()
    assert h.proc.alive()


def test_template_of_another_skeleton_names_its_file(start_node, ros_node, clip, tmp_path):
    """skeleton_bvh is the hierarchy the stream is drawn on: a two-joint template does not fit
    the 59-joint stream, and the error says which file."""
    template = tmp_path / "arm.bvh"
    template.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation\n"
                        " JOINT Head\n {\n  OFFSET 0 50 0\n  CHANNELS 3 Yrotation Xrotation Zrotation\n"
                        "  End Site\n  {\n   OFFSET 0 10 0\n  }\n }\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0 0 0 0 0 0 0\n")
    h = Harness(start_node, ros_node, {"skeleton_bvh": str(template)})
    h.send(frame_msgs(clip)[:20])
    assert spin_until(ros_node, lambda: any(s.level == DiagnosticStatus.ERROR for s in h.statuses()), 10.0), h.proc.log()
    error = next(s for s in h.statuses() if s.level == DiagnosticStatus.ERROR)
    assert "arm.bvh" in error.message and "59 joints" in error.message and "2 joints" in error.message
    assert h.markers == [] and h.proc.alive()


# ----------------------------------------------------------------- the shipped configuration (static)
def _declared_parameters() -> set[str]:
    """Names of the parameters the node declares (declare(self, "name", ...) in its source)."""
    import ast

    tree = ast.parse((REPO / "harnets_ros" / "visualization_node.py").read_text())
    return {call.args[1].value for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "declare" and isinstance(call.args[1], ast.Constant)}


def test_config_file_sets_every_parameter_and_the_viewers_show_its_topics():
    import json

    import yaml

    config = yaml.safe_load(CONFIG.read_text())
    params = config[NAME]["ros__parameters"]
    assert set(params) == _declared_parameters()
    frame_id = config["skeleton_streamer"]["ros__parameters"]["frame_id"]
    rviz = yaml.safe_load((REPO / "config" / "harnets.rviz").read_text())["Visualization Manager"]
    assert rviz["Global Options"]["Fixed Frame"] == frame_id
    topics = {d["Class"]: d["Topic"]["Value"] for d in rviz["Displays"] if "Topic" in d}
    assert topics == {"rviz_default_plugins/MarkerArray": params["marker_topic"],
                      "rviz_default_plugins/Image": params["annotated_image_topic"]}
    fox = json.loads((REPO / "config" / "harnets.foxglove.json").read_text())["configById"]
    assert fox["3D!harnets3d"]["topics"] == {f"/{params['marker_topic']}": {"visible": True}}
    assert fox["3D!harnets3d"]["followTf"] == frame_id
    assert fox["Image!harnetsimage"]["imageMode"]["imageTopic"] == f"/{params['annotated_image_topic']}"
    assert fox["RawMessages!harnetsactivity"]["topicPath"] == f"/{params['activity_topic']}"
    assert fox["RawMessages!harnetsforecast"]["topicPath"] == f"/{params['forecast_topic']}"


def test_launch_file_starts_the_visualization_and_rviz_on_request():
    import ast

    source = (REPO / "launch" / "harnets.launch.py").read_text()
    strings = {n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert {"visualize", "rviz", "rviz2", "harnets.rviz"} <= strings
    # the node itself by its one definition (harnets_core.topology), not a name spelled here
    names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    assert "VISUALIZER" in names and topology.VISUALIZER.executable == "visualization_node"
