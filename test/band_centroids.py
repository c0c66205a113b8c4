"""A TEST-ONLY keypoint extractor shared by the core tests (test/ is on sys.path via test/conftest.py)."""
from __future__ import annotations

import numpy as np


class BandCentroids:
    """TEST-ONLY extractor (no model): in each of 3 horizontal bands, the centroid of the
    pixels brighter than the frame's median, confidence 1. Deterministic, cheap."""

    names = ("band0", "band1", "band2")
    cache_key = "test-band-centroids-v1"

    def __call__(self, frame_rgb: np.ndarray) -> np.ndarray:
        g = frame_rgb.astype(np.float32).sum(axis=2)  # (H, W)
        h, w = g.shape
        mask = g > np.median(g)
        out = np.zeros((3, 3), np.float32)
        for k in range(3):
            ys, xs = np.nonzero(mask[k * h // 3:(k + 1) * h // 3])
            if len(xs):
                out[k] = ((xs.mean() + 0.5) / w, (ys.mean() + k * h // 3 + 0.5) / h, 1.0)
        return out
