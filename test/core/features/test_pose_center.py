"""Pose keypoints centred on the hips in training and in streaming alike (issue 16), while
model files written before ``preprocessing.keypoint_center`` existed keep the mean rule they
were trained with."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harnets_core.datasets.frames import pose_encodings
from harnets_core.runs.options import PoseOptions
from harnets_core.runs.prepare import prepare_pose
from harnets_core.datasets.selection import select_data
from harnets_core.errors import ModelFileError
from harnets_core.models.modelfile import ModelMeta, load_model, save_model
from harnets_core.models import LSTMClassifier, LSTMConfig
from harnets_core.features.pipeline import FramePipeline, pipeline_from_meta
from harnets_core.features.keypoints import normalize_keypoints
from harnets_core.runs.options import ModelOptions
from harnets_core.formats.video import iter_frames
from band_centroids import BandCentroids


class HipBands(BandCentroids):
    """TEST-ONLY: BandCentroids' three band centroids, named as OpenPose names a neck and hips,
    so the hip mid-point (bands 1 and 2) and the mean of all three are different centres."""

    names = ("Neck", "LHip", "RHip")
    cache_key = "test-hip-bands-v1"


@pytest.fixture()
def hip_bands(monkeypatch):
    from harnets_core.features import keypoints as pose

    monkeypatch.setitem(pose.EXTRACTORS, "test-hip-bands", HipBands)


def _frames(n: int = 4) -> np.ndarray:
    """(n, 48, 80, 3) uint8: bright blobs at other places in every frame."""
    rng = np.random.default_rng(5)
    out = np.zeros((n, 48, 80, 3), np.uint8)
    for i in range(n):
        for band in range(3):
            y, x = 16 * band + rng.integers(2, 10), rng.integers(0, 70)
            out[i, y:y + 5, x:x + 9] = 255
    return out


def _meta(preprocessing_extra: dict) -> dict:
    return {
        "model_type": "pose_lstm",
        "model_config": LSTMConfig(input_dim=9, num_classes=2, hidden_size=4).to_dict(),
        "modality": "pose",
        "class_names": ["a", "b"],
        "class_ids": [0, 1],
        "preprocessing": {"kind": "pose", "view": "full", "size_hw": [48, 80], "settings": {"name": "test-hip-bands"},
                          "normalizer": None, "keypoint_names": list(HipBands.names), **preprocessing_extra},
        "window": {"window_s": 1.2, "hop_s": 0.4, "rate_hz": 5.0, "length": 6, "short_policy": "pad"},
    }


def test_old_model_files_keep_the_mean_rule(hip_bands, tmp_path: Path) -> None:
    frames = _frames()
    kps = np.stack([HipBands()(f) for f in frames])  # (4, 3, 3)
    hips = normalize_keypoints(kps, HipBands.names, center="hips")
    mean = normalize_keypoints(kps, center="mean")
    assert np.abs(hips - mean).max() > 0.05
    model = LSTMClassifier(LSTMConfig(input_dim=9, num_classes=2, hidden_size=4)).eval()
    for extra, rule, want in (({}, "mean", mean), ({"keypoint_center": "hips"}, "hips", hips)):
        path = save_model(tmp_path / f"{rule}.safetensors", model, _meta(extra))
        pipeline = pipeline_from_meta(load_model(path).meta)
        assert isinstance(pipeline, FramePipeline) and pipeline.keypoint_center == rule
        np.testing.assert_allclose(pipeline.encode_prepared(model, frames), want, atol=1e-6)
        np.testing.assert_allclose(pose_encodings(kps, pipeline), want, atol=1e-6)
    np.testing.assert_allclose(pose_encodings(kps), mean, atol=1e-6)  # no pipeline: the old rule
    with pytest.raises(ModelFileError, match=r"keypoint_center 'chest'"):
        pipeline_from_meta(ModelMeta.from_dict(_meta({"keypoint_center": "chest"}), source="m.safetensors"))


def test_new_pose_models_centre_on_the_hips_in_training_and_streaming(hip_bands, tmp_path: Path) -> None:
    from harnets_core.synth.sessions import generate_dataset

    root = tmp_path / "synth"
    generate_dataset(root, sessions=["P01_R01", "P02_R01"], duration_s=8.0, write_videos=True, write_segmented=False)
    selection = select_data(root, modality="pose")
    options = PoseOptions(view="top", size_hw=(48, 80), rate_hz=5.0, window_s=1.2, hop_s=0.4)
    prepared = prepare_pose(selection, options, {"name": "test-hip-bands"}, tmp_path / "cache",
                               model_options=ModelOptions(hidden_size=8, num_layers=1, dropout=0.0))
    assert prepared.meta["preprocessing"]["keypoint_center"] == "hips"
    pipeline = pipeline_from_meta(ModelMeta.from_dict(prepared.meta))  # what the model file gives streaming
    assert pipeline.keypoint_center == "hips" and pipeline.normalizer is not None
    train = prepared.train
    row = len(train) // 2
    sf = train.meta["sessions"][train.meta["source"][row]]
    idx = train.meta["index"][row]  # (T,) positions among the session's taken frames
    kps = np.asarray(sf.data)  # (M, 3, 3) the extractor's keypoints of the taken frames
    want = pipeline.normalizer(normalize_keypoints(kps, HipBands.names, center="hips"))[idx]  # (T, 9)
    np.testing.assert_allclose(train.x[row], want, rtol=1e-5, atol=1e-5)
    mean = pipeline.normalizer(normalize_keypoints(kps, center="mean"))[idx]
    assert np.abs(train.x[row] - mean).max() > 0.05  # the hip rule, not the mean rule
    # streaming: the same frames through the rebuilt pipeline give the same window
    wanted = set(sf.frame_index[idx].tolist())
    prepared_frames = [pipeline.prepare(f) for k, f in enumerate(iter_frames(sf.video, view="full", size_hw=None))
                       if k in wanted]
    stream = pipeline.encode_prepared(None, np.stack(prepared_frames))  # (T', D)
    np.testing.assert_allclose(stream, train.x[row][np.unique(idx, return_index=True)[1]], rtol=1e-5, atol=1e-5)
