"""Augmentation of training windows (RGB): one random similarity transform and one
brightness / contrast change per window, the same for all its frames."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from harnets_core.errors import ConfigError

__all__ = ["WindowAugment"]


class WindowAugment:
    """A (T, 3, h, w) uint8 window -> the same shape, transformed as one clip.

    Each window gets ONE random similarity transform (shift of up to ``max_shift`` pixels,
    scale by up to ``max_scale`` (relative), rotation by up to ``max_rotate_deg`` about the
    centre; edges repeated: a taller or shorter person, standing a little turned or
    off-centre) and one brightness / contrast change of up to ``jitter`` (relative), the same
    for all its frames, so the motion inside the window is untouched. No flips: left and right
    mean different actions. Random numbers come from torch's generator, which the trainer seeds.
    """

    def __init__(self, *, max_shift: int = 4, max_scale: float = 0.1, max_rotate_deg: float = 10.0,
                 jitter: float = 0.2) -> None:
        if max_shift < 0 or not 0.0 <= max_scale < 1.0 or max_rotate_deg < 0 or jitter < 0:
            raise ConfigError(f"WindowAugment: bad augmentation max_shift={max_shift}, max_scale={max_scale}, "
                              f"max_rotate_deg={max_rotate_deg}, jitter={jitter}")
        self.max_shift, self.jitter = int(max_shift), float(jitter)
        self.max_scale, self.max_rotate_deg = float(max_scale), float(max_rotate_deg)

    def _transform(self, h: int, w: int) -> np.ndarray | None:
        """A random 2 x 3 similarity matrix for (h, w) frames, None when it is the identity."""
        u = (2.0 * torch.rand(4) - 1.0).tolist()  # 4 numbers in [-1, 1]
        scale = 1.0 + self.max_scale * u[0]
        angle = self.max_rotate_deg * u[1]
        dx, dy = round(self.max_shift * u[2]), round(self.max_shift * u[3])
        if scale == 1.0 and angle == 0.0 and dx == 0 and dy == 0:
            return None
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, scale)  # (2, 3)
        m[:, 2] += (dx, dy)
        return m

    def __call__(self, window: np.ndarray) -> np.ndarray:
        """(T, 3, h, w) uint8 -> the same shape, transformed and jittered as one clip."""
        h, w = window.shape[-2:]
        m = self._transform(h, w)
        if m is not None:
            frames = window.transpose(0, 2, 3, 1)  # (T, h, w, 3)
            window = np.stack([cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                               for f in frames]).transpose(0, 3, 1, 2)  # (T, 3, h, w)
        if self.jitter > 0:
            gain, offset = (1.0 + self.jitter * (2.0 * torch.rand(2) - 1.0)).tolist()
            mean = float(window.mean())
            out = (window.astype(np.float32) - mean) * gain + mean * offset  # contrast, brightness
            window = np.clip(out, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(window)
