"""Preprocessing shared by training and streaming."""
from __future__ import annotations

import numpy as np
import pytest

from harnets_core.formats.bvh import read_bvh
from harnets_core.errors import ConfigError
from harnets_core.features.skeleton import FeatureConfig
from harnets_core.features.pipeline import FrameSampler, SkeletonPipeline, _resample_end_anchored, skeleton_from_meta, skeleton_meta


def test_frame_sampler_takes_5_of_25_fps_exactly():
    stamps = (np.arange(50) * 40_000_000).astype(np.int64)  # 25 fps
    assert FrameSampler(5.0).select(stamps).tolist() == list(range(0, 50, 5))
    # 30 fps to 10 Hz: every third frame although 1/30 s stamps are rounded to the ns
    stamps30 = np.round(np.arange(30) * 1e9 / 30).astype(np.int64)
    assert FrameSampler(10.0).select(stamps30).tolist() == list(range(0, 30, 3))


def test_resampling_is_anchored_at_the_newest_sample():
    x = np.arange(12, dtype=np.float32).reshape(1, 12, 1)  # 12 samples at 120 Hz, value = index
    y = _resample_end_anchored(x, 120.0, 30.0, 3)
    np.testing.assert_allclose(y[0, :, 0], [3.0, 7.0, 11.0], atol=1e-9)  # every 4th sample, ending at the last


def test_skeleton_round_trips_through_model_metadata(real_clip_path):
    clip = read_bvh(real_clip_path)
    meta = skeleton_meta(clip.skeleton, clip.frame_time_s)
    again = skeleton_from_meta(meta)
    assert again.signature() == clip.skeleton.signature()
    assert [j.offset_cm.tolist() for j in again.joints] == [j.offset_cm.tolist() for j in clip.skeleton.joints]


def test_window_features_shape_and_resample_guard(real_clip_path):
    clip = read_bvh(real_clip_path)
    p = SkeletonPipeline(clip.skeleton, clip.frame_time_s, FeatureConfig(), 200 * clip.frame_time_s, 30.0)
    assert (p.raw_length, p.length) == (200, 50)
    x = p.window_features(np.stack([clip.motion[:200], clip.motion[50:250]]))
    assert x.shape == (2, 50, p.dim) and x.dtype == np.float32 and np.isfinite(x).all()
    with pytest.raises(ConfigError, match="resample"):
        SkeletonPipeline(clip.skeleton, clip.frame_time_s, FeatureConfig(resample_hz=30.0), 1.0, 30.0)
