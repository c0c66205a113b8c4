"""Limits on incoming images, checked from the header before any pixel is decoded.

A camera driver or a bag can send an image the recognizer must not touch: a 1x1 frame (the
model's crop and resize have nothing to work on), a 12000x12000 PNG of a few hundred KB
whose decode takes seconds and gigabytes, or a message of many megabytes. `check_image`
reads the size from a raw Image's fields, or from the PNG/JPEG header of a CompressedImage
(`compressed_size_hw`: no decoding), and raises StreamError naming the limit.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from harnets_core.errors import StreamError

__all__ = ["bytes_view", "ImageLimits", "compressed_size_hw", "check_image"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers carry the size: SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC).
_JPEG_SOF = {m for m in range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class ImageLimits:
    """Accepted images: each side at least `min_side_px`, at most `max_pixels` pixels and
    `max_message_bytes` bytes of data (0: no limit)."""

    min_side_px: int = 16
    max_pixels: int = 4096 * 4096
    max_message_bytes: int = 64 * 1024 * 1024


def bytes_view(data: Any) -> np.ndarray:
    """A uint8 view of message data (bytes, array.array, numpy array or a list of ints)."""
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8) if data.dtype.itemsize == 1 else data.astype(np.uint8).reshape(-1)
    try:
        return np.frombuffer(memoryview(data), dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def compressed_size_hw(data: Any, where: str = "") -> tuple[int, int]:
    """(height, width) of a PNG or JPEG from its header, without decoding the pixels.

    Raises:
        StreamError: neither a PNG nor a JPEG, or a header cut short.
    """
    data = bytes_view(data)
    buf = data[:64].tobytes()
    if buf.startswith(_PNG_SIGNATURE):
        if len(buf) < 24 or buf[12:16] != b"IHDR":
            raise StreamError(f"{where}PNG without an IHDR header ({len(data)} bytes)")
        width, height = struct.unpack(">II", buf[16:24])
        return int(height), int(width)
    if buf[:2] == b"\xff\xd8":
        return _jpeg_size_hw(data, where)
    raise StreamError(f"{where}compressed image is neither PNG nor JPEG (first bytes {buf[:8].hex()}, {len(data)} bytes)")


def _jpeg_size_hw(data: np.ndarray, where: str) -> tuple[int, int]:
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if int(data[pos]) != 0xFF:
            raise StreamError(f"{where}corrupt JPEG: no marker at byte {pos}")
        marker = int(data[pos + 1])
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4].tobytes())
        if marker in _JPEG_SOF:
            if pos + 9 > n:
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9].tobytes())
            return int(height), int(width)
        if marker == 0xDA or length < 2:  # start of scan before any frame header
            break
        pos += 2 + length
    raise StreamError(f"{where}JPEG without a frame header (size unknown, {n} bytes)")


def check_image(msg: Any, limits: ImageLimits, where: str = "") -> tuple[int, int]:
    """(height, width) of a sensor_msgs Image or CompressedImage (duck-typed) within `limits`.

    Raises:
        StreamError: data larger than `max_message_bytes`, a side under `min_side_px`, more
            than `max_pixels` pixels, or a compressed header that cannot be read.
    """
    nbytes = len(msg.data)
    if limits.max_message_bytes and nbytes > limits.max_message_bytes:
        raise StreamError(f"{where}image message of {nbytes} bytes > max_message_bytes {limits.max_message_bytes}")
    if not hasattr(msg, "encoding") and hasattr(msg, "format"):
        height, width = compressed_size_hw(msg.data, where)
    else:
        height, width = int(msg.height), int(msg.width)
    if min(height, width) < limits.min_side_px:
        raise StreamError(f"{where}image of {width}x{height} is smaller than min_image_side_px {limits.min_side_px}")
    if limits.max_pixels and height * width > limits.max_pixels:
        raise StreamError(f"{where}image of {width}x{height} = {height * width} pixels > max_image_pixels {limits.max_pixels}")
    return height, width
