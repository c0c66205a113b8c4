"""harnets_core.features.skeleton: shapes, names, resampling, normalizer, config dicts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harnets_core.formats.bvh import read_bvh
from harnets_core.errors import ConfigError
from harnets_core.features.skeleton import (
    FeatureConfig, Normalizer, SkeletonFeatures, feature_names, resample, select_joints, skeleton_features,
)
from harnets_core.features.kinematics import forward_kinematics

CLIP = Path(__file__).resolve().parents[3] / "test" / "data" / "P01_R01_0026.48_0028.80.bvh"


@pytest.fixture(scope="module")
def clip():
    return read_bvh(CLIP)


def test_default_config_shape_and_names(clip) -> None:
    x = skeleton_features(clip)
    names = feature_names(clip.skeleton)
    assert x.shape == (276, 120) and x.dtype == np.float32
    assert len(names) == 120 and len(set(names)) == 120
    assert names[0] == "RightUpLeg.rel_x" and names[60] == "RightUpLeg.vel_x"
    body = [clip.skeleton.joints[i].name for i in select_joints(clip.skeleton, "body")]
    assert len(body) == 21 and "RightHand" in body and "RightHandIndex1" not in body
    assert len(select_joints(clip.skeleton, "all")) == 59
    assert SkeletonFeatures().transform(clip).shape == x.shape


@pytest.mark.parametrize("kinds,joints,dim", [
    (("rotations",), "all", 59 * 6), (("positions",), "body", 21 * 3),
    (("rotations", "positions", "relative_positions", "velocities"), "body", 21 * 6 + 21 * 3 + 20 * 3 * 2),
])
def test_kinds_dimensions(clip, kinds, joints, dim) -> None:
    cfg = FeatureConfig(kinds=kinds, joints=joints)
    x = skeleton_features(clip.skeleton, clip.motion, clip.frame_time_s, cfg)
    assert x.shape == (276, dim) and len(feature_names(clip.skeleton, cfg)) == dim
    assert np.isfinite(x).all()


def test_values(clip) -> None:
    sk = clip.skeleton
    cfg = FeatureConfig(kinds=("relative_positions", "velocities", "rotations"))
    x = skeleton_features(clip, config=cfg)
    names = feature_names(sk, cfg)
    world = forward_kinematics(sk, clip.motion)
    rel = world[:, sk.index("Head"), 0] - world[:, sk.index("Hips"), 0]
    np.testing.assert_allclose(x[:, names.index("Head.rel_x")], rel, rtol=1e-5, atol=1e-4)
    vel = (rel[101] - rel[99]) / (2 * clip.frame_time_s)             # cm/s, central difference
    assert x[100, names.index("Head.vel_x")] == pytest.approx(vel, rel=1e-4, abs=1e-3)
    ang = np.deg2rad(clip.motion[:, sk.joints[sk.index("Neck")].channel_start + 3])   # Neck.Yrotation
    np.testing.assert_allclose(x[:, names.index("Neck.Yrotation.sin")], np.sin(ang), atol=1e-6)
    np.testing.assert_allclose(x[:, names.index("Neck.Yrotation.cos")], np.cos(ang), atol=1e-6)


def test_resampling(clip) -> None:
    t = np.arange(11) * 0.1                                           # 10 Hz, 1 s
    x = np.stack([t, 2 * t + 1], axis=1)
    y = resample(x, 0.1, 25.0)
    assert y.shape == (26, 2)
    np.testing.assert_allclose(y[:, 0], np.arange(26) / 25.0, atol=1e-12)
    np.testing.assert_allclose(y[:, 1], 2 * np.arange(26) / 25.0 + 1, atol=1e-12)
    assert resample(x, 0.1, 10.0).shape == (11, 2) and np.allclose(resample(x, 0.1, 10.0), x)
    cfg = FeatureConfig(resample_hz=30.0)
    f = skeleton_features(clip, config=cfg)
    assert f.shape == (int(275 * 0.008401 * 30) + 1, 120)
    full = skeleton_features(clip)
    np.testing.assert_allclose(f[0], full[0], rtol=1e-6)


def test_config_dict_round_trip_and_validation() -> None:
    cfg = FeatureConfig(kinds=("rotations", "velocities"), resample_hz=30, joints="all")
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown key"):
        FeatureConfig.from_dict({**cfg.to_dict(), "window": 3})
    with pytest.raises(ConfigError, match="unknown"):
        FeatureConfig(kinds=("angles",))
    with pytest.raises(ConfigError):
        FeatureConfig(joints="fingers")
    with pytest.raises(ConfigError):
        FeatureConfig(resample_hz=0)


def test_normalizer_round_trip() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(50, 20, 4)).astype(np.float32)
    x[..., 3] = 7.0                                                    # constant feature: std floored
    norm = Normalizer.fit(x)
    y = norm(x)
    assert y.dtype == np.float32 and np.isfinite(y).all()
    np.testing.assert_allclose(y[..., :3].reshape(-1, 3).mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(y[..., :3].reshape(-1, 3).std(0), 1, atol=1e-3)
    assert np.all(y[..., 3] == 0)
    back = Normalizer.from_dict(norm.to_dict())
    np.testing.assert_array_equal(back.apply(x), y)
    with pytest.raises(ConfigError, match="unknown key"):
        Normalizer.from_dict({**norm.to_dict(), "scale": 1})
    with pytest.raises(ValueError):
        norm(np.zeros((2, 5)))
