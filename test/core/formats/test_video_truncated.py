"""Truncated video files (issue 16): the error comes at probe time, with the declared and the
decodable frame counts, for every container whose header survives the cut.

Real files written by OpenCV (``cv2.VideoWriter``) into tmp_path and cut at half their bytes:
MPEG-4 part 2 in an MP4 whose index (``moov``) comes first, as web videos have it ("fast
start"; OpenCV writes it last, and an MP4 cut before its index does not open at all), and
Motion JPEG in Matroska and AVI. Before the fix each read back as a shorter video without
any error.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from harnets_core.errors import VideoError
from harnets_core.formats.frame_cache import FrameCache
from harnets_core.formats.video import probe_video, read_frames

N_FRAMES = 100
FPS = 25.0
HW = (64, 96)
CONTAINERS = {"mp4": "mp4v", "mkv": "MJPG", "avi": "MJPG"}


def _frames(n: int = N_FRAMES) -> np.ndarray:
    """A moving textured pattern (every frame differs, so the codecs spend bytes on each)."""
    yy, xx = np.mgrid[0:HW[0], 0:HW[1]]
    out = np.empty((n,) + HW + (3,), np.uint8)  # (N, H, W, 3)
    for i in range(n):
        g = (np.sin((xx + 3 * i) / 6.0) + np.cos((yy - 2 * i) / 5.0)) * 60 + 128
        out[i] = np.stack([g, np.roll(g, i, axis=1), 255 - g], axis=2).astype(np.uint8)
    return out


def _write(path: Path, fourcc: str) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*fourcc), FPS, (HW[1], HW[0]))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} into {path.suffix}"
    for frame in _frames():
        writer.write(frame)
    writer.release()
    return path


_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _boxes(data: bytes | bytearray, start: int, end: int):
    """(type, offset, size) of the MP4 boxes in ``data[start:end]`` (32-bit sizes only)."""
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        assert size >= 8, "64-bit box sizes are not handled"
        yield kind, i, size
        i += size


def _shift_chunk_offsets(moov: bytearray, start: int, end: int, delta: int) -> None:
    for kind, i, size in _boxes(moov, start, end):
        if kind in _MP4_CONTAINERS:
            _shift_chunk_offsets(moov, i + 8, i + size, delta)
        elif kind == b"stco":  # version/flags, entry count, then 32-bit file offsets
            (count,) = struct.unpack(">I", moov[i + 12:i + 16])
            for k in range(count):
                p = i + 16 + 4 * k
                (offset,) = struct.unpack(">I", moov[p:p + 4])
                moov[p:p + 4] = struct.pack(">I", offset + delta)
        assert kind != b"co64", "64-bit chunk offsets are not handled"


def _index_first(path: Path) -> Path:
    """Move the MP4's ``moov`` box in front of its media data (as ``-movflags faststart``)."""
    data = path.read_bytes()
    boxes = {kind: (i, size) for kind, i, size in _boxes(data, 0, len(data))}
    (ftyp_at, ftyp_size), (moov_at, moov_size) = boxes[b"ftyp"], boxes[b"moov"]
    assert ftyp_at == 0 and moov_at > boxes[b"mdat"][0]
    moov = bytearray(data[moov_at:moov_at + moov_size])
    _shift_chunk_offsets(moov, 8, moov_size, moov_size)  # the media data moves down by moov's size
    path.write_bytes(data[:ftyp_size] + bytes(moov) + data[ftyp_size:moov_at] + data[moov_at + moov_size:])
    return path


def _video(tmp_path: Path, ext: str) -> Path:
    path = _write(tmp_path / f"clip.{ext}", CONTAINERS[ext])
    return _index_first(path) if ext == "mp4" else path


def _cut(src: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst = src.with_name(f"cut_{int(fraction * 100)}{src.suffix}")
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def _decodable(path: Path) -> int:
    """Frames OpenCV decodes from the start, counted without harnets."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


@pytest.mark.parametrize("ext", sorted(CONTAINERS))
def test_whole_files_probe_exactly(tmp_path: Path, ext: str) -> None:
    video = _video(tmp_path, ext)
    assert _decodable(video) == N_FRAMES
    for exact in (False, True):
        info = probe_video(video, exact=exact)
        assert (info.n_frames, info.fps, info.width, info.height) == (N_FRAMES, FPS, HW[1], HW[0])
    assert read_frames(video, N_FRAMES - 3, size_hw=None).shape == (3,) + HW + (3,)


@pytest.mark.parametrize("fraction", [0.5, 0.8])
@pytest.mark.parametrize("ext", sorted(CONTAINERS))
def test_truncated_file_is_an_error_at_probe_time(tmp_path: Path, ext: str, fraction: float) -> None:
    cut = _cut(_video(tmp_path, ext), fraction)
    n = _decodable(cut)
    assert 0 < n < N_FRAMES * fraction + 5  # the cut lost frames, and some still decode
    message = (rf"{re.escape(str(cut))}: truncated video: the container declares {N_FRAMES} frames "
               rf"\(4\.00 s at 25 fps\) but only {n} decode")
    for exact in (False, True):
        with pytest.raises(VideoError, match=message):
            probe_video(cut, exact=exact)
    with pytest.raises(VideoError, match=message):
        read_frames(cut, 0, 2)
    with pytest.raises(VideoError, match=message):
        FrameCache(tmp_path / "cache").frames(cut)
