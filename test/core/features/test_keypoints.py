"""harnets_core.features.keypoints: extractor errors, heatmap argmax, OpenPose's forward pass through OpenCV on
a tiny hand-written Caffe model, keypoints over a video (cached), normalization."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from harnets_core.errors import ConfigError
from harnets_core.features.keypoints import (
    BLAZEPOSE_NAMES,
    HIP_NAMES,
    OPENPOSE_CHANNELS,
    OPENPOSE_NAMES,
    BlazePoseExtractor,
    KeypointExtractor,
    EXTRACTORS,
    OpenPoseExtractor,
    extractor_from_settings,
    heatmaps_to_keypoints,
    hip_indices,
    keypoints_from_video,
    normalize_keypoints,
)
from harnets_core.formats.frame_cache import FrameCache
from harnets_core.formats.video import write_video
from tiny_openpose import FAINT, N_DETECTORS, PEAK, STRIDE, rgb_of, write_tiny_openpose


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


# ----------------------------------------------------------------------------- OpenPose, run for real
# Heatmap k of the tiny model (test/tiny_openpose.py) peaks on spots of colour k; the spots
# sit in these stride-8 cells (row, column) of a 96 x 160 view (12 x 20 cells), one per keypoint.
MPI = OPENPOSE_NAMES["MPI"]
SPOT_CELLS = {"Head": (1, 9), "Neck": (3, 9), "RShoulder": (3, 6), "RElbow": (5, 4), "RWrist": (7, 3),
              "LShoulder": (3, 12), "LElbow": (5, 14)}
assert list(SPOT_CELLS) == list(MPI[:N_DETECTORS])


def _spots(h: int, w: int, shift_cells: int = 0) -> np.ndarray:
    """A black ``(h, w, 3)`` RGB frame (a multiple of 96 x 160) with keypoint k's colour on a
    6 x 6 spot (at 96 x 160) inside its cell, ``shift_cells`` cells to the right."""
    frame = np.zeros((h, w, 3), np.uint8)
    f = h // 96
    for k, (r, c) in enumerate(SPOT_CELLS.values()):
        y, x = STRIDE * r * f, STRIDE * (c + shift_cells) * f
        frame[y + f:y + 7 * f, x + f:x + 7 * f] = rgb_of(k)
    return frame


def _expected(shift_cells: int = 0) -> np.ndarray:
    """``(15, 3)``: the spot centres normalized by the frame's size, PEAK; the rest (0, 0, 0)."""
    out = np.zeros((len(MPI), 3), np.float32)
    for k, (r, c) in enumerate(SPOT_CELLS.values()):
        out[k] = ((c + shift_cells + 0.5) / 20, (r + 0.5) / 12, PEAK)
    return out


def test_openpose_forward_pass_finds_the_spots(tmp_path: Path) -> None:
    proto, model = write_tiny_openpose(tmp_path, input_hw=(96, 160))
    ex = OpenPoseExtractor(proto, model, "MPI", input_hw=(96, 160))
    assert isinstance(ex, KeypointExtractor) and ex.names == MPI
    want = _expected()
    for frame in (_spots(96, 160), _spots(192, 320)):  # the network's size, and twice it (resized)
        kps = ex(frame)
        assert kps.shape == (15, 3) and kps.dtype == np.float32
        # Exact cells (colour order BGR), confidence PEAK (the input scaled as x / 256 - 0.5).
        assert np.allclose(kps[:, :2], want[:, :2], atol=1e-6), kps
        assert np.allclose(kps[:N_DETECTORS, 2], PEAK, atol=0.02)
        # Heatmap 7 is FAINT everywhere, under the threshold; 8-14 are 0: all missing.
        assert FAINT < ex.threshold and not kps[N_DETECTORS:].any()
    assert not OpenPoseExtractor(proto, model, input_hw=(96, 160), threshold=0.9)(_spots(96, 160)).any()


def test_openpose_files_as_openpose_declares_them(tmp_path: Path) -> None:
    """The input declared as OpenPose's prototxts do (``input_dim: 1 3 1 1``), the default
    368 x 368 input: the 96 x 160 frame is stretched (a 6 x 6 spot covers several cells,
    argmax takes the first) and each keypoint is a cell (half a stride around its centre)
    that overlaps its spot (3 frame pixels around the spot's centre)."""
    proto, model = write_tiny_openpose(tmp_path, legacy_input=True)
    ex = OpenPoseExtractor(proto, model)
    kps, want = ex(_spots(96, 160)), _expected()
    assert np.all(np.abs(kps[:, 0] - want[:, 0]) < 3 / 160 + STRIDE / 2 / 368)
    assert np.all(np.abs(kps[:, 1] - want[:, 1]) < 3 / 96 + STRIDE / 2 / 368)
    assert np.allclose(kps[:N_DETECTORS, 2], PEAK, atol=0.02) and not kps[N_DETECTORS:].any()


def test_openpose_output_of_another_variant_is_a_config_error(tmp_path: Path) -> None:
    proto, model = write_tiny_openpose(tmp_path, input_hw=(96, 160))  # MPI's 44 maps
    ex = OpenPoseExtractor(proto, model, "COCO", input_hw=(96, 160))
    with pytest.raises(ConfigError, match=rf"tiny_mpi\.caffemodel: the network outputs \(44, 12, 20\), "
                                          rf"OpenPose COCO has {OPENPOSE_CHANNELS['COCO']} maps"):
        ex(_spots(96, 160))


def test_openpose_keypoints_from_video_cached_per_model_files(tmp_path: Path, monkeypatch) -> None:
    """Through the model-file settings and keypoints_from_video on an MP4 (2 x 2 mosaic, the
    spots moving one cell right per frame in ``top``, decoys in the other views). The cache
    key holds a digest of both files and the threshold: a caffemodel of the same size with
    other weights, another prototxt, or another threshold is computed afresh."""
    n = 4
    frames = np.zeros((n, 192, 320, 3), np.uint8)  # (N, H, W, 3) mosaic of 96 x 160 views
    for i in range(n):
        frames[i, :96, :160] = _spots(96, 160, shift_cells=i)  # top
        frames[i, 96:, 160:] = _spots(96, 160)[::-1]  # right: decoys upside down
    video = tmp_path / "session.mp4"
    write_video(video, frames, 10)
    proto, model = write_tiny_openpose(tmp_path / "m", input_hw=(96, 160))
    settings = {"name": "openpose", "prototxt": str(proto), "caffemodel": str(model), "variant": "MPI",
                "input_hw": [96, 160]}
    ex = extractor_from_settings(settings)
    assert isinstance(ex, OpenPoseExtractor) and ex.input_hw == (96, 160)
    cache = FrameCache(tmp_path / "cache")
    kps = keypoints_from_video(video, "top", ex, cache)
    assert kps.shape == (n, 15, 3)
    for i in range(n):  # MPEG-4 blurs colours a little: same cells, confidence near PEAK
        want = _expected(shift_cells=i)
        assert np.allclose(kps[i, :, :2], want[:, :2], atol=1e-6), (i, kps[i])
        assert np.allclose(kps[i, :N_DETECTORS, 2], PEAK, atol=0.1) and not kps[i, N_DETECTORS:].any()
    with monkeypatch.context() as m:
        m.setattr(cv2, "VideoCapture", lambda *a, **k: pytest.fail("decoded again"))
        assert np.array_equal(keypoints_from_video(video, "top", extractor_from_settings(settings), cache), kps)
    assert (cache.hits, cache.misses) == (1, 1)

    # Other weights, same file size (heatmaps 0 and 1 swapped): a new cache entry.
    order = [1, 0] + list(range(2, N_DETECTORS))
    size = model.stat().st_size
    write_tiny_openpose(tmp_path / "m", input_hw=(96, 160), order=order)
    assert model.stat().st_size == size
    swapped = keypoints_from_video(video, "top", extractor_from_settings(settings), cache)
    assert cache.misses == 2 and np.array_equal(swapped[:, [1, 0]], kps[:, [0, 1]])
    # Same caffemodel under another prototxt (average pooling: a weaker peak), another threshold.
    proto.write_text(proto.read_text().replace("pool: MAX", "pool: AVE"))
    averaged = keypoints_from_video(video, "top", extractor_from_settings(settings), cache)
    assert cache.misses == 3 and (averaged[:, :N_DETECTORS, 2] < kps[:, :N_DETECTORS, 2]).all()
    strict = keypoints_from_video(video, "top", extractor_from_settings({**settings, "threshold": 0.9}), cache)
    assert cache.misses == 4 and not strict.any()


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


@pytest.mark.parametrize("variant", ["BlazePose", "COCO", "MPI", "BODY_25"])
def test_normalize_keypoints_centres_on_the_hip_midpoint(variant: str) -> None:
    names = BLAZEPOSE_NAMES if variant == "BlazePose" else OPENPOSE_NAMES[variant]
    (left, right), _ = hip_indices(names)
    assert (names[left], names[right]) in HIP_NAMES  # each extractor's own hip names
    k = len(names)
    rng = np.random.default_rng(1)
    kps = np.concatenate([rng.uniform(0.1, 0.9, (4, k, 2)), rng.uniform(0.5, 1.0, (4, k, 1))], axis=2)
    out = normalize_keypoints(kps, names).reshape(4, k, 3)
    rel = kps[..., :2] - (kps[:, left, None, :2] + kps[:, right, None, :2]) / 2  # (4, K, 2) from the hip mid-point
    rms = np.sqrt((rel ** 2).sum(axis=(1, 2)) / k)  # (4,)
    np.testing.assert_allclose(out[..., :2], rel / rms[:, None, None], atol=1e-5)
    np.testing.assert_allclose(out[..., 2], kps[..., 2], atol=1e-6)
    np.testing.assert_allclose(out[:, left, :2], -out[:, right, :2], atol=1e-6)  # hips symmetric about 0
    mean_rule = normalize_keypoints(kps, names, center="mean").reshape(4, k, 3)
    np.testing.assert_allclose(mean_rule[..., :2].mean(axis=1), 0, atol=1e-6)
    assert np.abs(mean_rule - out).max() > 0.05  # the two rules differ


def test_normalize_keypoints_centre_falls_back_hip_by_hip() -> None:
    names = OPENPOSE_NAMES["BODY_25"]
    lhip, rhip, mid = names.index("LHip"), names.index("RHip"), names.index("MidHip")
    rng = np.random.default_rng(2)
    kps = np.concatenate([rng.uniform(0.1, 0.9, (4, 25, 2)), np.ones((4, 25, 1))], axis=2)
    kps[1, rhip, 2] = 0.05  # one hip confident: centred on it
    kps[2, [lhip, rhip], 2] = 0.0  # no hip, MidHip confident: centred on MidHip
    kps[3, [lhip, rhip, mid], 2] = 0.0  # nothing of the hips: the mean of the confident keypoints
    out = normalize_keypoints(kps, names).reshape(4, 25, 3)
    np.testing.assert_allclose(out[0, lhip, :2], -out[0, rhip, :2], atol=1e-6)
    np.testing.assert_allclose(out[1, lhip, :2], 0, atol=1e-6)
    assert not out[1, rhip].any()
    np.testing.assert_allclose(out[2, mid, :2], 0, atol=1e-6)
    np.testing.assert_allclose(out[3, :, :2].sum(axis=0), 0, atol=1e-5)
    # MPI has no MidHip: without a confident hip, the mean
    mpi = OPENPOSE_NAMES["MPI"]
    m = np.concatenate([rng.uniform(0.1, 0.9, (1, 15, 2)), np.ones((1, 15, 1))], axis=2)
    m[0, [mpi.index("LHip"), mpi.index("RHip")], 2] = 0.0
    np.testing.assert_allclose(normalize_keypoints(m, mpi).reshape(15, 3)[:, :2].sum(axis=0), 0, atol=1e-5)
    # no names, or names without hips: the mean
    for unnamed in (None, tuple(f"k{i}" for i in range(25))):
        np.testing.assert_allclose(normalize_keypoints(kps, unnamed), normalize_keypoints(kps, names, center="mean"))
    with pytest.raises(ConfigError, match="keypoint centre 'chest'"):
        normalize_keypoints(kps, names, center="chest")


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
