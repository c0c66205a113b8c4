"""Preprocessing shared by training, offline prediction and streaming (no train/serve skew).

A pipeline is rebuilt from a model file's metadata alone (`pipeline_from_meta`), so the
live node preprocesses exactly as training did.

Skeleton: a window is `window_s` of RAW frames (e.g. 200 frames at 120 Hz). Its features are
computed from that raw window alone (`window_features`): features at the raw rate, then
resampled to `rate_hz` on a grid anchored at the NEWEST frame, then normalized. Offline
windows and the streaming ring buffer both hold raw frames, so both give identical inputs.

Frames (rgb, pose): frames are taken at `rate_hz` by a `FrameSampler` on their stamps (the
same rule offline and live); each taken frame is cropped to the view, resized and encoded
once (CNN features or pose keypoints); the model's head classifies `length` encodings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch

from harnets_core.formats.bvh import Skeleton, format_bvh, parse_bvh
from harnets_core.errors import ConfigError, ModelFileError, StreamError
from harnets_core.features.skeleton import FeatureConfig, Normalizer, combine_frame_features, feature_names, frame_features

__all__ = [
    "SkeletonPipeline",
    "FramePipeline",
    "FrameSampler",
    "skeleton_meta",
    "skeleton_from_meta",
    "pipeline_from_meta",
]


def skeleton_meta(skeleton: Skeleton, frame_time_s: float) -> dict[str, Any]:
    """What a model file stores of its skeleton: names, layout, signature and the hierarchy."""
    n = skeleton.n_channels
    text = format_bvh(skeleton, frame_time_s, np.zeros((1, n)))
    return {
        "joint_names": list(skeleton.joint_names),
        "channel_names": list(skeleton.channel_names),
        "signature": skeleton.signature(),
        "frame_time_s": float(frame_time_s),
        "hierarchy_bvh": text.split("MOTION")[0],
    }


def skeleton_from_meta(skel: dict[str, Any], source: str = "model file") -> Skeleton:
    """Rebuild the Skeleton (for forward kinematics) from `skeleton_meta` output."""
    try:
        n = len(skel["channel_names"])
        text = f"{skel['hierarchy_bvh']}MOTION\nFrames: 1\nFrame Time: {skel['frame_time_s']}\n" + " ".join(["0"] * n) + "\n"
    except KeyError as err:
        raise ModelFileError(f"{source}: skeleton metadata lacks {err}") from err
    return parse_bvh(text, path=f"{source} (skeleton)").skeleton


def _resample_end_anchored(x: np.ndarray, src_hz: float, dst_hz: float, length: int) -> np.ndarray:
    """(N, L, D) at src_hz -> (N, length, D) float64 at dst_hz, the last output sample = the last input.

    Linear interpolation; output sample k sits at t = t_last - (length - 1 - k) / dst_hz.
    """
    n, l, d = x.shape
    t_src = np.arange(l) / src_hz  # (L,)
    t_dst = t_src[-1] - (length - 1 - np.arange(length)) / dst_hz  # (T,)
    t_dst = np.clip(t_dst, 0.0, t_src[-1])
    pos = t_dst * src_hz
    i0 = np.floor(pos).astype(np.int64).clip(0, l - 1)
    i1 = (i0 + 1).clip(0, l - 1)
    w = (pos - i0)[None, :, None]  # (1, T, 1)
    return x[:, i0] * (1.0 - w) + x[:, i1] * w


@dataclass
class SkeletonPipeline:
    """Raw BVH windows (N, L, C) -> normalized features (N, T, D)."""

    skeleton: Skeleton
    frame_time_s: float
    features: FeatureConfig
    window_s: float
    rate_hz: float
    normalizer: Normalizer | None = None

    def __post_init__(self) -> None:
        if self.features.resample_hz is not None:
            raise ConfigError("SkeletonPipeline resamples each window to rate_hz itself; "
                              "leave FeatureConfig.resample_hz unset")

    @property
    def raw_length(self) -> int:
        """Raw frames per window (L)."""
        return max(2, int(round(self.window_s / self.frame_time_s)))

    @property
    def length(self) -> int:
        """Model input steps per window (T)."""
        return max(2, int(round(self.window_s * self.rate_hz)))

    def frame_parts(self, motion: np.ndarray) -> np.ndarray:
        """Per-frame part of the features (..., S) of raw frames (..., C): computed once per
        frame (forward kinematics); windows are then built from these parts."""
        motion = np.asarray(motion, dtype=np.float64)
        if motion.shape[-1] != self.skeleton.n_channels:
            raise StreamError(f"raw frames with {motion.shape[-1]} channels; the skeleton has {self.skeleton.n_channels}")
        return frame_features(self.skeleton, motion, self.features)

    def features_from_parts(self, parts: np.ndarray, normalize: bool = True) -> np.ndarray:
        """(N, L, S) per-frame parts of raw windows -> (N, T, D) float32 model input."""
        x = combine_frame_features(self.skeleton, parts, self.frame_time_s, self.features)  # (N, L, D)
        x = _resample_end_anchored(x, 1.0 / self.frame_time_s, self.rate_hz, self.length)  # (N, T, D)
        if normalize and self.normalizer is not None:
            x = self.normalizer(x)
        return x.astype(np.float32)

    def raw_window_features(self, raw: np.ndarray) -> np.ndarray:
        """(N, L, C) raw windows -> (N, T, D) features, not normalized."""
        raw = np.asarray(raw, dtype=np.float64)
        if raw.ndim != 3:
            raise StreamError(f"raw windows of shape {raw.shape}; expected (N, L, {self.skeleton.n_channels})")
        return self.features_from_parts(self.frame_parts(raw), normalize=False)

    def window_features(self, raw: np.ndarray) -> np.ndarray:
        """(N, L, C) raw windows -> (N, T, D) normalized float32 model input."""
        return self.features_from_parts(self.frame_parts(raw))

    @property
    def dim(self) -> int:
        return len(feature_names(self.skeleton, self.features))

    def to_meta(self) -> dict[str, Any]:
        return {
            "kind": "skeleton",
            "features": self.features.to_dict(),
            "normalizer": None if self.normalizer is None else self.normalizer.to_dict(),
        }


class FrameSampler:
    """Takes frames at `rate_hz` from a stream of stamps: a frame is taken when its stamp
    reaches the next grid point (grid anchored at the first taken frame). The same rule
    selects frames offline (`select`), so offline windows equal the live ring."""

    def __init__(self, rate_hz: float) -> None:
        self.period_ns = int(round(1e9 / rate_hz))
        self._next_ns: int | None = None

    def reset(self) -> None:
        self._next_ns = None

    def take(self, stamp_ns: int) -> bool:
        tolerance_ns = 1_000_000  # stamps rounded to the millisecond still hit the grid
        if self._next_ns is None:
            self._next_ns = stamp_ns + self.period_ns
            return True
        if stamp_ns < self._next_ns - tolerance_ns:
            return False
        steps = (stamp_ns + tolerance_ns - self._next_ns) // self.period_ns + 1
        self._next_ns += steps * self.period_ns
        return True

    def select(self, stamps_ns: np.ndarray) -> np.ndarray:
        """Indices of the frames `take` would keep from these stamps."""
        self.reset()
        keep = [i for i, s in enumerate(np.asarray(stamps_ns, dtype=np.int64)) if self.take(int(s))]
        self.reset()
        return np.asarray(keep, dtype=np.int64)


def crop_and_resize(frame: np.ndarray, view: str, size_hw: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 mosaic or camera frame -> (h, w, 3) uint8 of the view."""
    from harnets_core.formats.video import crop_view

    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise StreamError(f"frame of shape {frame.shape} and dtype {frame.dtype}; expected (H, W, 3) uint8")
    part = crop_view(frame, view)
    h, w = size_hw
    if part.shape[:2] == (h, w):
        return np.ascontiguousarray(part)
    return cv2.resize(part, (w, h), interpolation=cv2.INTER_AREA)


@dataclass
class FramePipeline:
    """rgb: CNN features per frame; pose: normalized 2D keypoints per frame."""

    kind: str  # "rgb" or "pose"
    view: str
    size_hw: tuple[int, int]
    rate_hz: float
    window_s: float
    extractor: Any = None  # pose only: a harnets_core.features.keypoints keypoint extractor
    settings: dict[str, Any] = field(default_factory=dict)
    normalizer: Normalizer | None = None  # pose only
    keypoint_center: str = "hips"  # pose only: pose.normalize_keypoints' centre ("mean": models without the key)

    @property
    def length(self) -> int:
        return max(2, int(round(self.window_s * self.rate_hz)))

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        return crop_and_resize(frame, self.view, self.size_hw)

    def encode_prepared(self, model: torch.nn.Module, frames: np.ndarray) -> np.ndarray:
        """(N, h, w, 3) uint8 prepared frames -> (N, D) float32 per-frame encodings."""
        if self.kind == "rgb":
            x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # (N, 3, h, w)
            with torch.no_grad():
                return model.encode_frames(x).numpy().astype(np.float32)
        return self.encode_keypoints(self.keypoints(frames))

    def keypoints(self, frames: np.ndarray) -> np.ndarray:
        """pose: (N, h, w, 3) uint8 prepared frames -> (N, K, 3) float32 keypoints of the extractor."""
        return np.stack([self.extractor(f) for f in frames]).astype(np.float32, copy=False)  # (N, K, 3)

    def encode_keypoints(self, kps: np.ndarray) -> np.ndarray:
        """pose: (N, K, 3) keypoints -> (N, K*3) float32 model inputs (centred, scaled, normalized)."""
        x = self.keypoint_features(kps)  # (N, K*3)
        return x if self.normalizer is None else self.normalizer(x).astype(np.float32)

    def keypoint_features(self, kps: np.ndarray) -> np.ndarray:
        """pose: (N, K, 3) keypoints -> (N, K*3) float32 before the normalizer, centred by
        ``keypoint_center`` on the extractor's named keypoints (training and streaming)."""
        from harnets_core.features.keypoints import normalize_keypoints

        return normalize_keypoints(kps, self.extractor.names, center=self.keypoint_center).astype(np.float32, copy=False)

    def encode_frame(self, model: torch.nn.Module, frame: np.ndarray) -> np.ndarray:
        return self.encode_prepared(model, self.prepare(frame)[None])[0]

    def classify(self, model: torch.nn.Module, encodings: np.ndarray) -> torch.Tensor:
        """(B, T, D) encodings -> (B, K) logits."""
        x = torch.from_numpy(np.asarray(encodings, dtype=np.float32))
        if self.kind == "rgb":
            return model.classify_features(x)
        return model(x)

    def to_meta(self) -> dict[str, Any]:
        meta = {
            "kind": self.kind,
            "view": self.view,
            "size_hw": list(self.size_hw),
            "settings": self.settings,
            "normalizer": None if self.normalizer is None else self.normalizer.to_dict(),
        }
        if self.kind == "pose":
            meta["keypoint_center"] = self.keypoint_center
        return meta


def pipeline_from_meta(meta: Any) -> SkeletonPipeline | FramePipeline:
    """The preprocessing a model file describes."""
    source = getattr(meta, "source", None) or "model file"
    pre = dict(meta.preprocessing or {})
    win = dict(meta.window or {})
    try:
        kind = pre["kind"]
        norm = Normalizer.from_dict(pre["normalizer"]) if pre.get("normalizer") else None
        if kind == "skeleton":
            skel = meta.skeleton or {}
            return SkeletonPipeline(
                skeleton=skeleton_from_meta(skel, source),
                frame_time_s=float(skel["frame_time_s"]),
                features=FeatureConfig.from_dict(pre["features"]),
                window_s=float(win["window_s"]),
                rate_hz=float(win["rate_hz"]),
                normalizer=norm,
            )
        if kind in ("rgb", "pose"):
            extractor = None
            center = "hips"
            if kind == "pose":
                from harnets_core.features.keypoints import KEYPOINT_CENTERS, extractor_from_settings

                center = str(pre.get("keypoint_center", "mean"))  # absent: trained with the mean rule
                if center not in KEYPOINT_CENTERS:
                    raise ModelFileError(f"{source}: keypoint_center {center!r} is not one of {', '.join(KEYPOINT_CENTERS)}")
                extractor = extractor_from_settings(pre.get("settings", {}))
            return FramePipeline(
                kind=kind,
                view=str(pre["view"]),
                size_hw=tuple(int(v) for v in pre["size_hw"]),
                rate_hz=float(win["rate_hz"]),
                window_s=float(win["window_s"]),
                extractor=extractor,
                settings=dict(pre.get("settings", {})),
                normalizer=norm,
                keypoint_center=center,
            )
    except KeyError as err:
        raise ModelFileError(f"{source}: preprocessing/window metadata lacks {err}") from err
    raise ModelFileError(f"{source}: unknown preprocessing kind {pre.get('kind')!r}")

