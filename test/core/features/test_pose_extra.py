"""The ``harnets[pose]`` install as a user makes it: both extractors work in one environment.

mediapipe 0.10.14 requires ``opencv-contrib-python`` without an upper bound, and that package
writes the same ``cv2`` module as harnets' ``opencv-python-headless``: left alone, pip picks
OpenCV 5, which has no Caffe importer, and the OpenPose extractor stops working. setup.py's
``pose`` extra therefore bounds it to OpenCV 4. The first test reads that bound from setup.py
(it runs everywhere); the others run only where the extra is installed (mediapipe importable)
and are skipped with the reason elsewhere (CI's venv has no mediapipe).
"""
from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import socket
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement

from tiny_openpose import PEAK, rgb_of, write_tiny_openpose

REPO = Path(__file__).resolve().parents[3]
OPENCV_DISTRIBUTIONS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
                        "opencv-contrib-python-headless")
needs_extra = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None,
    reason="the harnets[pose] extra is not installed (no mediapipe): pip install 'harnets[pose]'",
)


def _setup_kwargs() -> dict[str, object]:
    """The literal keyword arguments of setup.py's ``setup(...)`` call (setup.py is not run)."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "setup")
    out = {}
    for kw in call.keywords:
        try:
            out[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            pass  # not a literal (long_description, cmdclass)
    return out


def test_pose_extra_keeps_opencv_4() -> None:
    kwargs = _setup_kwargs()
    core = {Requirement(r).name: Requirement(r) for r in kwargs["install_requires"]}
    pose = {Requirement(r).name: Requirement(r) for r in kwargs["extras_require"]["pose"]}
    assert "mediapipe" in pose
    contrib = pose.get("opencv-contrib-python")
    assert contrib is not None, f"the pose extra {sorted(pose)} leaves mediapipe's opencv-contrib-python unbounded"
    headless = core["opencv-python-headless"]
    for req in (contrib, headless):
        assert not req.specifier.contains("5.1.0.95"), f"{req} admits OpenCV 5 (no Caffe importer)"
        assert req.specifier.contains("4.14.0.94"), f"{req} excludes OpenCV 4.14"
    # the same range, so pip picks the same OpenCV for both packages that write cv2/
    assert contrib.specifier == headless.specifier


@needs_extra
def test_resolved_opencv_is_4_with_the_caffe_importer() -> None:
    import cv2

    installed = {}
    for name in OPENCV_DISTRIBUTIONS:
        try:
            installed[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    assert "opencv-contrib-python" in installed  # what mediapipe requires
    assert all(v.split(".")[0] == "4" for v in installed.values()), f"OpenCV distributions {installed}"
    assert cv2.__version__.split(".")[0] == "4", f"import cv2 loads OpenCV {cv2.__version__} ({installed})"
    assert hasattr(cv2.dnn, "readNetFromCaffe")


@needs_extra
def test_openpose_runs_beside_mediapipe(tmp_path: Path) -> None:
    import mediapipe  # noqa: F401  (both loaded in one process, as a pose node may)

    from harnets_core.features.keypoints import OpenPoseExtractor

    proto, model = write_tiny_openpose(tmp_path, input_hw=(96, 160))
    extractor = OpenPoseExtractor(proto, model, "MPI", input_hw=(96, 160))
    frame = np.zeros((96, 160, 3), np.uint8)
    frame[9:15, 73:79] = rgb_of(0)  # keypoint 0 ("Head") in stride-8 cell (1, 9)
    kps = extractor(frame)  # (15, 3)
    assert kps[0, :2].tolist() == pytest.approx([9.5 / 20, 1.5 / 12], abs=1e-6)
    assert kps[0, 2] == pytest.approx(PEAK, abs=0.02)  # test_pose.py: x / 256 - 0.5 is not exactly +-0.5
    assert not kps[1:].any()


@needs_extra
def test_blazepose_constructs_and_runs_offline(monkeypatch) -> None:
    from harnets_core.errors import ConfigError
    from harnets_core.features.keypoints import BLAZEPOSE_NAMES, BlazePoseExtractor

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access while building BlazePose: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    extractor = BlazePoseExtractor()  # model_complexity=1: the landmark model the wheel ships
    try:
        kps = extractor(np.zeros((96, 160, 3), np.uint8))  # nobody in a black frame
        extractor.reset()
    finally:
        extractor.close()
    assert kps.shape == (len(BLAZEPOSE_NAMES), 3) and not kps.any()
    # mediapipe downloads the lite model at first use: a ConfigError naming it instead
    with pytest.raises(ConfigError, match=r"pose_landmark_lite\.tflite: BlazePose model_complexity 0"):
        BlazePoseExtractor(model_complexity=0)


@needs_extra
def test_blazepose_names_are_mediapipes_landmarks() -> None:
    """The hip centre (pose.normalize_keypoints) finds BlazePose's hips by these names."""
    import mediapipe as mp

    from harnets_core.features.keypoints import BLAZEPOSE_NAMES, hip_indices

    assert BLAZEPOSE_NAMES == tuple(lm.name.lower() for lm in mp.solutions.pose.PoseLandmark)
    pair, _ = hip_indices(BLAZEPOSE_NAMES)
    assert pair == [mp.solutions.pose.PoseLandmark.LEFT_HIP, mp.solutions.pose.PoseLandmark.RIGHT_HIP]
