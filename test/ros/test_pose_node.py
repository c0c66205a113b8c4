"""The pose node with the OpenPose extractor, end to end: a tiny but genuine OpenPose-MPI Caffe
model (test/tiny_openpose.py) run by OpenCV inside the node process, a pose-LSTM model file
naming it as `harnets train pose --extractor openpose` does, camera images with coloured spots
over real DDS, Activity out, /diagnostics, and bad images counted while the node goes on."""
from __future__ import annotations

import array
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import Image

from harnets.msg import Activity
from harnets_core.datasets.frames import pose_encodings
from harnets_core.models.modelfile import save_model
from harnets_core.models import LSTMClassifier, LSTMConfig
from harnets_core.features.keypoints import extractor_from_settings
from harnets_core.streaming.recognizer import load_recognizer
from harnets_ros.common import RESULT_QOS, SENSOR_QOS, ns_to_time, time_to_ns
from harnets_ros.lifecycle_client import bring_up
from tiny_openpose import N_DETECTORS, STRIDE, rgb_of, write_tiny_openpose

from conftest import REPO, spin_until

CLASSES = ["Picking left", "Assemble system", "No action"]
CLASS_IDS = [1, 4, 0]
RATE_HZ = 5.0  # frames taken per second by the model: every 2nd camera image
LENGTH = 4  # taken frames per window
PERIOD_NS = 100_000_000  # the camera: 10 Hz
T0_NS = 2_000 * 1_000_000_000
H, W = 96, 160  # camera images = the model's size_hw (12 x 20 cells of the network's stride)
# Stride-8 cells (row, column) of the spots: keypoints 0-6 (Head ... LElbow) of MPI.
CELLS = [(1, 9), (3, 9), (3, 6), (5, 4), (7, 3), (3, 12), (5, 14)]
WRIST = 4  # its spot moves from frame to frame: the keypoints change, and so do the features


def spots_frame(k: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB: black, a 6 x 6 spot of detector i's colour in cell CELLS[i];
    in frame ``k`` the wrist spot is in row ``3 + k % 5`` instead."""
    frame = np.zeros((H, W, 3), np.uint8)
    for i, (r, c) in enumerate(CELLS):
        r = 3 + k % 5 if i == WRIST else r
        frame[STRIDE * r + 1:STRIDE * r + 7, STRIDE * c + 1:STRIDE * c + 7] = rgb_of(i)
    return frame


def image_msg(k: int, encoding: str = "rgb8", nbytes: int | None = None) -> Image:
    """Camera image ``k`` (stamp ``T0_NS + k * PERIOD_NS``), its data cut to ``nbytes`` if given."""
    data = spots_frame(k).tobytes()[:nbytes]
    msg = Image(height=H, width=W, encoding=encoding, step=W * 3, data=array.array("B", data))
    msg.header.stamp = ns_to_time(T0_NS + k * PERIOD_NS)
    msg.header.frame_id = "camera"
    return msg


@pytest.fixture(scope="module")
def openpose_model(tmp_path_factory) -> Path:
    """A pose-LSTM model file whose extractor is the tiny OpenPose model, its settings as
    `harnets train pose --extractor openpose` writes them (no input_hw: OpenPose's 368 x 368,
    the prototxt declaring its input as OpenPose's own files do). Trained for a moment on the
    extractor's keypoints (frames.pose_encodings, as training does): the spots are
    "Picking left", the spots mirrored "Assemble system", black frames "No action"."""
    d = tmp_path_factory.mktemp("openpose")
    proto, caffemodel = write_tiny_openpose(d, legacy_input=True, stem="pose_deploy_mpi")
    settings = {"name": "openpose", "prototxt": str(proto), "caffemodel": str(caffemodel), "variant": "MPI"}
    extractor = extractor_from_settings(settings)
    clips = [[spots_frame(k) for k in range(10)],
             [np.ascontiguousarray(spots_frame(k)[:, ::-1]) for k in range(10)],
             [np.zeros((H, W, 3), np.uint8)] * 10]
    encodings = [pose_encodings(np.stack([extractor(f) for f in clip])) for clip in clips]  # 3 x (10, 45)
    x = torch.from_numpy(np.stack([e[i:i + LENGTH] for e in encodings for i in range(10 - LENGTH + 1)]))  # (N, T, 45)
    y = torch.arange(len(clips)).repeat_interleave(10 - LENGTH + 1)  # (N,)
    torch.manual_seed(0)
    model = LSTMClassifier(LSTMConfig(input_dim=len(extractor.names) * 3, num_classes=len(CLASSES), hidden_size=8))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(150):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    meta = {
        "model_type": "pose_lstm",
        "modality": "pose",
        "class_names": CLASSES,
        "class_ids": CLASS_IDS,
        "preprocessing": {"kind": "pose", "view": "full", "size_hw": [H, W], "settings": settings, "normalizer": None,
                          "keypoint_names": list(extractor.names)},
        "window": {"window_s": LENGTH / RATE_HZ, "hop_s": 0.4, "rate_hz": RATE_HZ, "length": LENGTH, "short_policy": "pad"},
    }
    return save_model(d / "tiny_openpose_lstm.safetensors", model.eval(), meta)


def test_pose_node_with_openpose_recognizes_camera_images(start_node, ros_node, openpose_model):
    # The shipped parameters of the pose recognizer (topics camera/image_raw -> activity/pose,
    # hop 0.4 s, queue 8), with the model file.
    params = yaml.safe_load((REPO / "config" / "harnets.yaml").read_text())["pose_recognizer"]["ros__parameters"]
    params["model_path"] = str(openpose_model)
    proc = start_node("pose_node", params, name="pose_recognizer")

    activities: list[Activity] = []
    diags: list[DiagnosticStatus] = []
    pub = ros_node.create_publisher(Image, "camera/image_raw", SENSOR_QOS)
    sub = ros_node.create_subscription(Activity, "activity/pose", activities.append, RESULT_QOS)
    ros_node.create_subscription(DiagnosticArray, "/diagnostics",
                                 lambda m: diags.extend(s for s in m.status if s.name.lstrip("/") == "pose_recognizer"), 10)

    def value(status: DiagnosticStatus, key: str) -> int:
        return int(next((kv.value for kv in status.values if kv.key == key), 0))

    def publish_at_camera_rate(msgs: list[Image]) -> None:
        for msg in msgs:
            pub.publish(msg)
            spin_until(ros_node, lambda: False, PERIOD_NS / 1e9, step_s=0.01)

    bring_up(ros_node, "/pose_recognizer", timeout_s=60.0)
    assert spin_until(ros_node, lambda: pub.get_subscription_count() > 0 and sub.get_publisher_count() > 0, 10.0), proc.log()
    spin_until(ros_node, lambda: False, 0.5)  # the node's side of the match too

    # What the core computes from the same model file and images, in this process.
    expected = load_recognizer(openpose_model, modality="pose", hop_s=params["hop_s"], max_gap_s=params["max_gap_s"])
    keypoints = expected.pipeline.extractor(spots_frame(0))
    assert (keypoints[:N_DETECTORS, 2] > 0.7).all() and not keypoints[N_DETECTORS:].any()  # the spots are found
    first, second = range(0, 12), range(14, 22)  # camera images 12 and 13: bad ones
    want = [p for k in [*first, *second] if (p := expected.push(spots_frame(k), T0_NS + k * PERIOD_NS)) is not None]

    def check(got: list[Activity], want_part: list) -> None:
        assert len(got) == len(want_part)
        for msg, p in zip(got, want_part):
            assert time_to_ns(msg.header.stamp) == p.stamp_ns and time_to_ns(msg.window_start) == p.window_start_ns
            assert msg.source == "pose" and msg.header.frame_id == "camera"
            assert msg.model_id.startswith("tiny_openpose_lstm") and msg.model_id == p.model_id
            assert list(msg.class_names) == CLASSES and list(msg.class_ids) == CLASS_IDS
            assert np.allclose(msg.probabilities, p.probabilities, atol=1e-5)
            assert sum(msg.probabilities) == pytest.approx(1.0, abs=1e-5)
            assert msg.label == CLASSES[int(np.argmax(msg.probabilities))] and msg.class_id == CLASS_IDS[CLASSES.index(msg.label)]
            assert msg.label == "Picking left" and msg.class_id == 1  # what the spots were trained as
            assert msg.confidence == pytest.approx(max(msg.probabilities)) and 0.9 < msg.confidence <= 1.0
            assert msg.latency_ms > 0

    # 12 images at 10 Hz; the model takes 0, 2, ..., 10: full window at 6, then every 0.4 s.
    publish_at_camera_rate([image_msg(k) for k in first])
    n_first = sum(1 for p in want if p.stamp_ns < T0_NS + 12 * PERIOD_NS)
    assert [(p.stamp_ns - T0_NS) // PERIOD_NS for p in want[:n_first]] == [6, 10]
    assert spin_until(ros_node, lambda: len(activities) >= n_first, 10.0), proc.log()
    check(activities, want[:n_first])

    def healthy() -> bool:
        return any(s.level == DiagnosticStatus.OK and value(s, "processed") == len(first) for s in diags)

    assert spin_until(ros_node, healthy, 5.0), [(s.level, s.message, [(kv.key, kv.value) for kv in s.values]) for s in diags[-2:]]
    ok = next(s for s in diags if s.level == DiagnosticStatus.OK and value(s, "processed") == len(first))
    assert value(ok, "samples") == 6 and value(ok, "skipped_by_rate") == 6 and value(ok, "predictions") == n_first
    assert value(ok, "errors") == value(ok, "invalid") == value(ok, "failed") == value(ok, "dropped") == 0
    # the input check: a person (7 spread keypoints of 15) in every taken frame, the view fits
    keys = {kv.key: kv.value for kv in ok.values}
    assert keys["person_fraction"] == "1.0" and keys["view_fits"] == "True" and keys["view"] == "full"

    # Bad images: an encoding the node does not read, data shorter than step * height.
    publish_at_camera_rate([image_msg(12, encoding="16UC1"), image_msg(13, nbytes=W * 3 * H - 7)])

    def reported() -> bool:
        return any(s.level == DiagnosticStatus.ERROR and value(s, "invalid") == 2 for s in diags)

    assert spin_until(ros_node, reported, 5.0), [(s.level, s.message, [(kv.key, kv.value) for kv in s.values]) for s in diags[-2:]]
    error = next(s for s in diags if s.level == DiagnosticStatus.ERROR and value(s, "invalid") == 2)
    assert error.message.startswith("topic camera/image_raw: rgb8 image data has 46073 bytes")  # the newest error
    assert "unsupported image encoding '16UC1'" in proc.log()  # the first, logged (then throttled)
    assert proc.alive()

    # It goes on: the rejected images never reach the recognizer, so the stream continues
    # (predictions at 14 and 18) exactly as the core's without them.
    publish_at_camera_rate([image_msg(k) for k in second])
    assert spin_until(ros_node, lambda: len(activities) >= len(want), 10.0), proc.log()
    assert [(p.stamp_ns - T0_NS) // PERIOD_NS for p in want[n_first:]] == [14, 18]
    check(activities, want)
    assert spin_until(ros_node, lambda: value(diags[-1], "processed") == len(first) + len(second), 3.0)
    assert value(diags[-1], "failed") == 0 and value(diags[-1], "invalid") == 2
    assert proc.alive()
