"""harnets_core.pose: extractor errors, heatmap argmax, keypoints over a video (cached), normalization."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from harnets_core.errors import ConfigError
from harnets_core.pose import (
    OPENPOSE_NAMES,
    BlazePoseExtractor,
    KeypointExtractor,
    EXTRACTORS,
    OpenPoseExtractor,
    extractor_from_settings,
    heatmaps_to_keypoints,
    keypoints_from_video,
    normalize_keypoints,
)
from harnets_core.video import FrameCache, write_video


class BrightSpot:
    """Test extractor: one keypoint at the brightest pixel, one at the darkest."""

    names = ("bright", "dark")
    cache_key = "bright-spot-v1"

    def __init__(self) -> None:
        self.calls = 0
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def __call__(self, frame_rgb: np.ndarray) -> np.ndarray:
        self.calls += 1
        g = frame_rgb.sum(axis=2)
        h, w = g.shape
        out = []
        for idx in (g.argmax(), g.argmin()):
            y, x = divmod(int(idx), w)
            out.append(((x + 0.5) / w, (y + 0.5) / h, 1.0))
        return np.array(out, np.float32)


def test_openpose_missing_files_are_named(tmp_path: Path) -> None:
    proto = tmp_path / "pose_deploy_linevec_faster_4_stages.prototxt"
    with pytest.raises(ConfigError, match=r"pose_deploy_linevec_faster_4_stages\.prototxt: OpenPose MPI prototxt file not found"):
        OpenPoseExtractor(proto, tmp_path / "pose_iter_160000.caffemodel")
    proto.write_text("name: 'x'\n")
    with pytest.raises(ConfigError, match=r"pose_iter_160000\.caffemodel: OpenPose MPI caffemodel file not found"):
        OpenPoseExtractor(proto, tmp_path / "pose_iter_160000.caffemodel")
    with pytest.raises(ConfigError, match="variant 'MPII'"):
        OpenPoseExtractor(proto, proto, variant="MPII")
    assert len(OPENPOSE_NAMES["MPI"]) == 15 and len(OPENPOSE_NAMES["BODY_25"]) == 25


def test_openpose_unloadable_model_is_a_config_error(tmp_path: Path) -> None:
    proto, model = tmp_path / "a.prototxt", tmp_path / "b.caffemodel"
    proto.write_text("garbage {")
    model.write_bytes(b"\x00" * 64)
    with pytest.raises(ConfigError, match=r"b\.caffemodel"):
        OpenPoseExtractor(proto, model)


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None, reason="mediapipe installed")
def test_blazepose_without_mediapipe_says_what_to_install() -> None:
    with pytest.raises(ConfigError, match=r"install harnets\[pose\]"):
        BlazePoseExtractor()


def test_heatmap_argmax() -> None:
    heat = np.zeros((3, 46, 46), np.float32)  # (K, h, w)
    heat[0, 10, 20] = 0.9
    heat[1, 45, 0] = 0.5
    heat[2, 5, 5] = 0.05  # under the threshold
    kps = heatmaps_to_keypoints(heat, threshold=0.1)
    assert kps.shape == (3, 3) and kps.dtype == np.float32
    assert kps[0].tolist() == pytest.approx([20.5 / 46, 10.5 / 46, 0.9])
    assert kps[1].tolist() == pytest.approx([0.5 / 46, 45.5 / 46, 0.5])
    assert kps[2].tolist() == [0, 0, 0]


def test_keypoints_from_video_are_cached(tmp_path: Path, monkeypatch) -> None:
    frames = np.full((6, 64, 96, 3), 128, np.uint8)
    for i in range(6):
        frames[i, 4:12, 4 + 6 * i:12 + 6 * i] = 255  # bright square moving right, in "top"
    video = tmp_path / "v.mp4"
    write_video(video, frames, 25)
    ex = BrightSpot()
    assert isinstance(ex, KeypointExtractor)
    cache = FrameCache(tmp_path / "cache")
    kps = keypoints_from_video(video, "top", ex, cache)
    assert kps.shape == (6, 2, 3) and ex.calls == 6 and ex.resets == 1
    assert (np.diff(kps[:, 0, 0]) > 0).all()  # the bright keypoint moves right
    assert (kps[:, 0, 1] < 0.5).all()
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a, **k: pytest.fail("decoded again"))
    again = keypoints_from_video(video, "top", ex, cache)
    assert np.array_equal(again, kps) and ex.calls == 6


def test_normalize_keypoints_is_position_and_scale_invariant() -> None:
    names = OPENPOSE_NAMES["MPI"]
    rng = np.random.default_rng(0)
    kps = np.concatenate([rng.uniform(0.2, 0.8, (5, 15, 2)), np.ones((5, 15, 1))], axis=2)
    moved = kps.copy()
    moved[..., :2] = kps[..., :2] * 0.5 + 0.1  # smaller and elsewhere in the image
    a, b = normalize_keypoints(kps, names), normalize_keypoints(moved, names)
    assert a.shape == (5, 45) and a.dtype == np.float32
    assert np.allclose(a, b, atol=1e-5)
    f = a.reshape(5, 15, 3)
    hips = [names.index("RHip"), names.index("LHip")]
    assert np.allclose(f[:, hips, :2].mean(axis=1), 0, atol=1e-5)  # centred on the hips
    assert np.allclose(np.sqrt((f[..., :2] ** 2).sum(axis=(1, 2)) / 15), 1, atol=1e-5)


def test_normalize_keypoints_drops_unconfident_points() -> None:
    kps = np.zeros((3, 4, 3), np.float32)
    kps[0] = [[0.1, 0.1, 0.9], [0.3, 0.1, 0.9], [0.9, 0.9, 0.05], [0.2, 0.5, 0.8]]
    kps[1, 0] = [0.5, 0.5, 1.0]  # a single keypoint: no scale, all zeros
    out = normalize_keypoints(kps).reshape(3, 4, 3)
    assert out[0, 2].tolist() == [0, 0, 0]  # under min_confidence
    assert np.allclose(out[0, [0, 1, 3], :2].mean(axis=0), 0, atol=1e-6)  # centred (no names)
    assert out[0, 0, 2] == pytest.approx(0.9)
    assert not out[1].any() and not out[2].any()
    with pytest.raises(ConfigError, match="want"):
        normalize_keypoints(np.zeros((3, 4)))


def test_extractor_from_settings(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(EXTRACTORS, "bright-spot", BrightSpot)
    assert isinstance(extractor_from_settings({"name": "bright-spot"}), BrightSpot)
    with pytest.raises(ConfigError, match="unknown pose extractor 'nope'"):
        extractor_from_settings({"name": "nope"})
    with pytest.raises(ConfigError, match="need a 'name'"):
        extractor_from_settings({})
    with pytest.raises(ConfigError, match="bad settings"):
        extractor_from_settings({"name": "bright-spot", "colour": 3})
    with pytest.raises(ConfigError, match=r"missing\.prototxt: OpenPose MPI prototxt file not found"):
        extractor_from_settings({"name": "openpose", "prototxt": str(tmp_path / "missing.prototxt"),
                                 "caffemodel": str(tmp_path / "m.caffemodel"), "input_hw": [184, 184]})
    if importlib.util.find_spec("mediapipe") is None:
        with pytest.raises(ConfigError, match=r"install harnets\[pose\]"):
            extractor_from_settings({"name": "blazepose", "model_complexity": 0})
