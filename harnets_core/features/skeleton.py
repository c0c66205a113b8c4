"""Skeleton features for activity recognition: (F, C) BVH motion -> (F', D) float32.

Kinds (concatenated in the order given in ``FeatureConfig.kinds``, each joint-major):

* ``"rotations"``: sin and cos of every rotation channel of the selected joints (angles
  in degrees converted to radians), so 359 deg and -1 deg are close; 6 values a joint.
* ``"positions"``: world positions in cm (forward kinematics), 3 a joint.
* ``"relative_positions"``: world positions minus the root (Hips) position, in cm, for the
  selected joints except the root (always 0), 3 a joint. Invariant to walking around.
* ``"velocities"``: time derivative of the relative positions in cm/s (``np.gradient``,
  central differences, computed at the file's frame rate before any resampling).

``joints="body"`` keeps the 21 non-finger joints of InHARD (Hips, legs, spine, neck, head,
shoulders, arms, forearms, hands: no ``*InHand*``/``*Thumb*``/``*Index*``/``*Middle*``/
``*Ring*``/``*Pinky*`` joints, no End Sites); ``"all"`` keeps every joint but End Sites.

Default (the product's): ``kinds=("relative_positions", "velocities"), joints="body"``:
D = 20 * 3 * 2 = 120 on InHARD; one forward-kinematics pass, about 2 ms a second of motion.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from harnets_core.formats.bvh import BvhClip, Skeleton
from harnets_core.errors import ConfigError
from harnets_core.serialization import reject_unknown
from harnets_core.features.kinematics import forward_kinematics

__all__ = [
    "FEATURE_KINDS",
    "JOINT_SETS",
    "FeatureConfig",
    "select_joints",
    "feature_names",
    "skeleton_features",
    "frame_features",
    "combine_frame_features",
    "resample",
    "SkeletonFeatures",
    "Normalizer",
]

FEATURE_KINDS = ("rotations", "positions", "relative_positions", "velocities")
JOINT_SETS = ("all", "body")
_FINGER = re.compile(r"InHand|Thumb|Index|Middle|Ring|Pinky|Finger|Carpal|Phalan", re.IGNORECASE)
"""Finger joints across exporters (left out by ``joints="body"``): Axis Neuron / Perception
Neuron (``LeftHandThumb1``, ``LeftInHandIndex``), Mixamo (``mixamorig:LeftHandIndex1``),
Rokoko (``LeftFinger1Metacarpal``), OptiTrack Motive (``LThumb1``, ``LIndex2``), CMU 31-joint
(``lthumb``, ``lfingers``), Xsens MVN (``LeftFirstCarpal``...). Hands and wrists stay."""




@dataclass(frozen=True)
class FeatureConfig:
    """Which features to compute. ``resample_hz``: output rate (None keeps the file's rate)."""

    kinds: tuple[str, ...] = ("relative_positions", "velocities")
    resample_hz: float | None = None
    joints: str = "body"

    def __post_init__(self) -> None:
        kinds = (self.kinds,) if isinstance(self.kinds, str) else tuple(self.kinds)
        object.__setattr__(self, "kinds", kinds)
        if not kinds:
            raise ConfigError("FeatureConfig.kinds: at least one kind is needed")
        bad = [k for k in kinds if k not in FEATURE_KINDS]
        if bad:
            raise ConfigError(f"FeatureConfig.kinds: unknown {bad} (known: {list(FEATURE_KINDS)})")
        if len(set(kinds)) != len(kinds):
            raise ConfigError(f"FeatureConfig.kinds: repeated kind in {list(kinds)}")
        if self.joints not in JOINT_SETS and not joint_list(self.joints):
            raise ConfigError(f"FeatureConfig.joints: {self.joints!r}: use {' or '.join(JOINT_SETS)} or a comma-separated joint list")
        if self.resample_hz is not None:
            try:
                hz = float(self.resample_hz)
            except (TypeError, ValueError):
                raise ConfigError(f"FeatureConfig.resample_hz: {self.resample_hz!r} is not a number") from None
            if not (np.isfinite(hz) and hz > 0):
                raise ConfigError(f"FeatureConfig.resample_hz must be > 0, got {self.resample_hz!r}")
            object.__setattr__(self, "resample_hz", hz)

    def to_dict(self) -> dict[str, Any]:
        return {"kinds": list(self.kinds), "resample_hz": self.resample_hz, "joints": self.joints}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeatureConfig":
        reject_unknown(d, {"kinds", "resample_hz", "joints"}, "FeatureConfig")
        return cls(**{k: (tuple(v) if k == "kinds" else v) for k, v in d.items()})


def joint_list(joints: str) -> list[str]:
    """The names of an explicit joint list ``"Hips,Spine,Head"`` (it has a comma; empty for a
    set name)."""
    if joints in JOINT_SETS or "," not in str(joints):
        return []  # a single word is a set name (a typo of one is an error, not a one-joint list)
    return [n.strip() for n in str(joints).split(",") if n.strip()]


def select_joints(skeleton: Skeleton, joints: str) -> list[int]:
    """Indices into ``skeleton.joints`` (no End Sites) of the joint set ``"all"``, ``"body"``
    (every joint but the fingers, by :data:`_FINGER`'s name patterns) or an explicit
    comma-separated list of joint names (skeleton order; an unknown name is a ConfigError)."""
    names = joint_list(joints)
    if names:
        known = {j.name: i for i, j in enumerate(skeleton.joints) if not j.is_end_site}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ConfigError(f"joints {unknown} are not in the skeleton (joints: {', '.join(known)})")
        return sorted(known[n] for n in names)
    if joints not in JOINT_SETS:
        raise ConfigError(f"joint set {joints!r} is not one of {list(JOINT_SETS)}")
    return [i for i, j in enumerate(skeleton.joints)
            if not j.is_end_site and (joints == "all" or not _FINGER.search(j.name))]


def _root(skeleton: Skeleton) -> int:
    return next(i for i, j in enumerate(skeleton.joints) if j.parent < 0)


def _rotation_columns(skeleton: Skeleton, idx: list[int]) -> list[tuple[int, str]]:
    out = []
    for i in idx:
        j = skeleton.joints[i]
        out += [(j.channel_start + k, f"{j.name}.{c}") for k, c in enumerate(j.channels) if c.endswith("rotation")]
    return out


def feature_names(skeleton: Skeleton, config: FeatureConfig = FeatureConfig()) -> list[str]:
    """One name per feature column, e.g. ``"RightHand.rel_x"``, ``"RightHand.Yrotation.sin"``."""
    idx = select_joints(skeleton, config.joints)
    root = _root(skeleton)
    rel = [i for i in idx if i != root]
    names: list[str] = []
    for kind in config.kinds:
        if kind == "rotations":
            for _, name in _rotation_columns(skeleton, idx):
                names += [f"{name}.sin", f"{name}.cos"]
        elif kind == "positions":
            names += [f"{skeleton.joints[i].name}.pos_{a}" for i in idx for a in "xyz"]
        elif kind == "relative_positions":
            names += [f"{skeleton.joints[i].name}.rel_{a}" for i in rel for a in "xyz"]
        else:
            names += [f"{skeleton.joints[i].name}.vel_{a}" for i in rel for a in "xyz"]
    return names


def resample(x: np.ndarray, frame_time_s: float, rate_hz: float) -> np.ndarray:
    """Linear interpolation in time of ``x`` (F, ...) sampled every ``frame_time_s`` seconds
    to ``rate_hz``: output frame k is at time k / rate_hz, up to the last input frame's time.
    Returns (F', ...) with F' = floor((F - 1) * frame_time_s * rate_hz) + 1 (1e-9 s tolerance).
    """
    x = np.asarray(x)
    n = x.shape[0]
    if n == 0:
        raise ValueError("resample: empty input")
    if not (frame_time_s > 0 and rate_hz > 0):
        raise ValueError(f"resample: frame_time_s and rate_hz must be > 0, got {frame_time_s}, {rate_hz}")
    duration_s = (n - 1) * frame_time_s
    n_out = int(np.floor(duration_s * rate_hz + 1e-9)) + 1
    pos = np.arange(n_out) / rate_hz / frame_time_s          # (F',) fractional input index
    i0 = np.minimum(np.floor(pos).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (pos - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return x[i0] * (1.0 - w) + x[i1] * w


def _frame_kinds(config: FeatureConfig) -> list[str]:
    """Per-frame parts stored by :func:`frame_features`: every kind but velocities, plus the
    relative positions that velocities are derived from."""
    kinds = [k for k in config.kinds if k != "velocities"]
    if "velocities" in config.kinds and "relative_positions" not in kinds:
        kinds.append("relative_positions")
    return kinds


def frame_features(skeleton: Skeleton, motion: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The per-frame part of the features, (..., S) float64 from motion (..., C).

    Each frame's values depend on that frame alone (forward kinematics, rotations), so they
    can be computed once per frame, on arrival, and kept: :func:`combine_frame_features` then
    builds the features of any window from them (velocities need neighbours).
    """
    motion = np.asarray(motion, dtype=np.float64)
    lead = motion.shape[:-1]
    flat = motion.reshape(-1, motion.shape[-1])                            # (F, C)
    n = flat.shape[0]
    idx = select_joints(skeleton, config.joints)
    root = _root(skeleton)
    rel_idx = [i for i in idx if i != root]
    kinds = _frame_kinds(config)
    world = forward_kinematics(skeleton, flat) if any(k != "rotations" for k in kinds) else None  # (F, J, 3)
    parts = []
    for kind in kinds:
        if kind == "rotations":
            cols = [c for c, _ in _rotation_columns(skeleton, idx)]
            ang = np.deg2rad(flat[:, cols])                                # (F, R)
            parts.append(np.stack([np.sin(ang), np.cos(ang)], axis=-1).reshape(n, -1))
        elif kind == "positions":
            parts.append(world[:, idx].reshape(n, -1))
        else:  # relative_positions
            parts.append((world[:, rel_idx] - world[:, root:root + 1]).reshape(n, -1))
    out = np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))
    return out.reshape(*lead, out.shape[-1])


def combine_frame_features(skeleton: Skeleton, frames: np.ndarray, frame_time_s: float,
                           config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Features (..., F, D) float64 of windows of per-frame parts (..., F, S) from
    :func:`frame_features`: the columns of ``config.kinds`` in order; velocities (per second)
    are the time gradient of the relative positions inside each window."""
    frames = np.asarray(frames, dtype=np.float64)
    widths = {}
    idx = select_joints(skeleton, config.joints)
    n_rel = 3 * len([i for i in idx if i != _root(skeleton)])
    for kind in _frame_kinds(config):
        widths[kind] = {"rotations": 2 * len(_rotation_columns(skeleton, idx)),
                        "positions": 3 * len(idx), "relative_positions": n_rel}[kind]
    offsets, pos = {}, 0
    for kind in _frame_kinds(config):
        offsets[kind] = slice(pos, pos + widths[kind])
        pos += widths[kind]
    if frames.shape[-1] != pos:
        raise ConfigError(f"per-frame features have {frames.shape[-1]} columns; this config needs {pos}")
    parts = []
    for kind in config.kinds:
        if kind != "velocities":
            parts.append(frames[..., offsets[kind]])
        elif frames.shape[-2] > 1:
            parts.append(np.gradient(frames[..., offsets["relative_positions"]], frame_time_s, axis=-2))
        else:
            parts.append(np.zeros_like(frames[..., offsets["relative_positions"]]))
    return np.concatenate(parts, axis=-1)


def skeleton_features(clip_or_skeleton: BvhClip | Skeleton, motion: np.ndarray | None = None,
                      frame_time_s: float | None = None,
                      config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Features (F', D) float32 of a clip (or skeleton + motion (F, C) + frame time in s).

    Columns are named by :func:`feature_names`; F' = F unless ``config.resample_hz`` is set.
    """
    if isinstance(clip_or_skeleton, BvhClip):
        skeleton = clip_or_skeleton.skeleton
        motion = clip_or_skeleton.motion if motion is None else motion
        frame_time_s = clip_or_skeleton.frame_time_s if frame_time_s is None else frame_time_s
    else:
        skeleton = clip_or_skeleton
    if motion is None or frame_time_s is None:
        raise ValueError("skeleton_features(skeleton, motion, frame_time_s, config): motion and frame_time_s needed")
    x = combine_frame_features(skeleton, frame_features(skeleton, motion, config), frame_time_s, config)  # (F, D)
    if config.resample_hz is not None:
        x = resample(x, frame_time_s, config.resample_hz)
    return x.astype(np.float32)


class SkeletonFeatures:
    """Callable transform ``clip -> (F', D) float32``; the same object serves training and live use."""

    def __init__(self, config: FeatureConfig = FeatureConfig()) -> None:
        self.config = config

    def names(self, skeleton: Skeleton) -> list[str]:
        return feature_names(skeleton, self.config)

    def transform(self, clip: BvhClip) -> np.ndarray:
        return skeleton_features(clip, config=self.config)

    __call__ = transform


@dataclass
class Normalizer:
    """Per-feature standardization ``(x - mean) / std``; ``std`` is floored at ``min_std``."""

    mean: np.ndarray
    std: np.ndarray
    min_std: float = 1e-6

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float32).reshape(-1)
        self.std = np.maximum(np.asarray(self.std, dtype=np.float32).reshape(-1), np.float32(self.min_std))
        if self.mean.shape != self.std.shape:
            raise ConfigError(f"Normalizer: mean {self.mean.shape} and std {self.std.shape} differ")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.std).all()):
            raise ConfigError("Normalizer: mean/std contain NaN or inf")

    @classmethod
    def fit(cls, x: np.ndarray, min_std: float = 1e-6) -> "Normalizer":
        """Statistics over every axis but the last of ``x`` (..., D)."""
        x = np.asarray(x, dtype=np.float64)
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[0] == 0:
            raise ValueError("Normalizer.fit: no samples")
        return cls(flat.mean(axis=0), flat.std(axis=0), min_std)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """(..., D) -> (..., D) float32."""
        x = np.asarray(x)
        if x.shape[-1] != self.mean.size:
            raise ValueError(f"Normalizer: expected {self.mean.size} features, got {x.shape[-1]}")
        return ((x - self.mean) / self.std).astype(np.float32)

    __call__ = apply

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "min_std": self.min_std}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Normalizer":
        reject_unknown(d, {"mean", "std", "min_std"}, "Normalizer")
        if "mean" not in d or "std" not in d:
            raise ConfigError("Normalizer: 'mean' and 'std' are required")
        return cls(d["mean"], d["std"], float(d.get("min_std", 1e-6)))
