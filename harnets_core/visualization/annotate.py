"""The recognized activity drawn on an image: one drawing function for the annotated videos
(``harnets predict --video-out``) and the live annotated camera topic."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

__all__ = ["BANNER_RGB", "TEXT_RGB", "BAR_RGB", "banner_height", "draw_label"]

BANNER_RGB = (20, 20, 20)
TEXT_RGB = (255, 255, 255)
BAR_RGB = (60, 200, 90)


def banner_height(height_px: int, n_lines: int = 1) -> int:
    """Height in pixels of the banner of ``n_lines`` lines of text drawn on an image
    ``height_px`` pixels high (``max(14, height_px // 10)`` per line)."""
    return max(14, height_px // 10) * max(1, int(n_lines))


def draw_label(frame: np.ndarray, text: str, confidence: float | None,
               bar_rgb: Sequence[int] = BAR_RGB) -> np.ndarray:
    """Draw a dark banner on top of ``frame (H, W, 3) uint8`` (RGB, in place) with ``text``
    (one row per line, e.g. the activity and its forecast: ``banner_height(H, lines)`` high;
    letters as high as a row allows, smaller when the longest line would not fit the width)
    and, under it, a bar of colour ``bar_rgb`` as long as ``confidence`` (0..1) of the width
    (no bar when ``confidence`` is None). Returns ``frame``."""
    h, w = frame.shape[:2]
    lines = text.split("\n")
    line_h = banner_height(h)
    banner_h = banner_height(h, len(lines))
    cv2.rectangle(frame, (0, 0), (w - 1, banner_h), BANNER_RGB, -1)
    scale = line_h / 32.0
    widest_px = max(cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)[0][0] for line in lines)
    if widest_px > 0:  # the longest line fits between the margins (4 px each side)
        scale = min(scale, (w - 8) / widest_px)
    scale = max(0.3, scale)
    thickness = 1 if scale < 0.8 else 2
    for i, line in enumerate(lines):
        cv2.putText(frame, line, (4, i * line_h + int(line_h * 0.72)), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT_RGB,
                    thickness, cv2.LINE_AA)
    if confidence is not None:
        bar_h = max(2, line_h // 6)
        end_x = int(round(min(max(float(confidence), 0.0), 1.0) * (w - 1)))
        cv2.rectangle(frame, (0, banner_h), (end_x, banner_h + bar_h), tuple(int(c) for c in bar_rgb), -1)
    return frame
