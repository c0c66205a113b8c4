"""Image limits from the header, before decoding (issue 15 items 3 and 4): PNG and JPEG
sizes read without decoding, too small / too many pixels / too many bytes rejected with a
StreamError naming the limit; image_to_numpy never decodes a rejected image."""
from __future__ import annotations

import array
import time
import zlib
import struct
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from harnets_core.errors import StreamError
from harnets_core.formats import messages
from harnets_core.formats.image_limits import ImageLimits, check_image, compressed_size_hw


def encoded(ext: str, h: int, w: int) -> np.ndarray:
    img = np.random.default_rng(0).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.reshape(-1)


def huge_png(h: int, w: int) -> bytes:
    """A valid PNG of h x w black mono pixels: tiny compressed, huge decoded."""
    raw = zlib.compress(b"\x00" * (w + 1) * 64)  # not needed to be complete: the header is what counts
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@pytest.mark.parametrize("ext", [".png", ".jpg"])
@pytest.mark.parametrize("hw", [(24, 32), (1, 1), (480, 640), (17, 3)])
def test_compressed_size_from_header(ext, hw):
    buf = encoded(ext, *hw)
    assert compressed_size_hw(buf) == hw
    assert compressed_size_hw(array.array("B", buf.tobytes())) == hw  # rclpy's uint8[] type
    assert compressed_size_hw(buf.tobytes()) == hw


def test_progressive_jpeg_and_exif_segments():
    img = np.random.default_rng(1).integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert compressed_size_hw(buf) == (40, 50)
    # an APP1 segment of 1000 bytes before the frame header
    data = buf.tobytes()
    app1 = b"\xff\xe1" + struct.pack(">H", 1002) + b"x" * 1000
    assert compressed_size_hw(data[:2] + app1 + data[2:]) == (40, 50)


@pytest.mark.parametrize("data, match", [(b"not an image", "neither PNG nor JPEG"), (b"", "neither PNG nor JPEG"),
                                         (b"\x89PNG\r\n\x1a\n\x00", "IHDR"), (b"\xff\xd8\xff", "frame header")])
def test_unreadable_headers(data, match):
    with pytest.raises(StreamError, match=match):
        compressed_size_hw(data)


def raw(h: int, w: int, encoding: str = "rgb8") -> SimpleNamespace:
    ch = 1 if encoding == "mono8" else 3
    return SimpleNamespace(height=h, width=w, encoding=encoding, step=w * ch, data=np.zeros(h * w * ch, np.uint8))


def test_limits_on_raw_images():
    limits = ImageLimits(min_side_px=16, max_pixels=100 * 100, max_message_bytes=20_000)
    assert check_image(raw(24, 32), limits) == (24, 32)
    with pytest.raises(StreamError, match="topic t: image of 1x1 is smaller than min_image_side_px 16"):
        check_image(raw(1, 1), limits, "topic t: ")
    with pytest.raises(StreamError, match="2x2"):
        check_image(raw(2, 2), limits)
    with pytest.raises(StreamError, match="max_image_pixels 10000"):
        check_image(raw(101, 100, "mono8"), ImageLimits(max_pixels=100 * 100, max_message_bytes=0))
    with pytest.raises(StreamError, match="30000 bytes > max_message_bytes 20000"):
        check_image(raw(100, 100), limits)


def test_image_to_numpy_rejects_before_decoding():
    """A 12000x12000 PNG of a few KB: rejected from its header in well under the time a decode takes."""
    png = huge_png(12000, 12000)
    assert compressed_size_hw(png) == (12000, 12000)
    msg = SimpleNamespace(format="png", data=array.array("B", png))
    t0 = time.perf_counter()
    with pytest.raises(StreamError, match="12000x12000 = 144000000 pixels > max_image_pixels"):
        messages.image_to_numpy(msg, topic="cam", limits=ImageLimits())
    assert time.perf_counter() - t0 < 0.05
    tiny = SimpleNamespace(format="jpeg", data=array.array("B", encoded(".jpg", 1, 1).tobytes()))
    with pytest.raises(StreamError, match="topic cam: image of 1x1"):
        messages.image_to_numpy(tiny, topic="cam", limits=ImageLimits())
    ok = SimpleNamespace(format="jpeg", data=array.array("B", encoded(".jpg", 24, 32).tobytes()))
    assert messages.image_to_numpy(ok, limits=ImageLimits()).shape == (24, 32, 3)
    assert messages.image_to_numpy(raw(1, 1)).shape == (1, 1, 3)  # no limits given: none applied
