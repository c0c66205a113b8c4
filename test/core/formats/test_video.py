"""harnets_core.formats.video: probing, views, frame ranges, sampling, writing, FrameCache, errors.

Every video is a tiny MP4 written by OpenCV into tmp_path (64 x 96 mosaics, a few dozen
frames); frame ``i`` shows its index in binary as six black/white bars, so indices can be
checked exactly through the lossy codec.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from harnets_core.errors import ConfigError, VideoError
from harnets_core.formats.frame_cache import FrameCache
from harnets_core.formats.video import DEFAULT_VIEW_SIZE_HW, VIEWS, VideoInfo, crop_view, frame_indices, probe_video, read_frames, read_frames_at, sample_indices, time_range_to_frames, write_video

N_FRAMES = 40
QUADRANT_RGB = {"top": (220, 30, 30), "left": (30, 220, 30), "right": (30, 30, 220),
                "skeleton": (220, 220, 30)}


def grey_frames(n: int = N_FRAMES, hw: tuple[int, int] = (64, 96)) -> np.ndarray:
    """Frame ``i`` shows ``i`` in binary: bar ``b`` (16 px wide) is white when bit ``b`` is set."""
    frames = np.zeros((n,) + hw + (3,), np.uint8)  # (N, H, W, 3)
    bar = hw[1] // 6
    for i in range(n):
        for b in range(6):
            if i >> b & 1:
                frames[i, :, b * bar:(b + 1) * bar] = 255
    return frames


def frame_ids(frames: np.ndarray) -> list[int]:
    """Read back the index painted by :func:`grey_frames` (bar centres, any frame size)."""
    w = frames.shape[2]
    centres = [int((b + 0.5) * w / 6) for b in range(6)]
    return [sum(1 << b for b, x in enumerate(centres) if f[:, x].mean() > 128) for f in frames]


def mosaic_frames(n: int = 10) -> np.ndarray:
    frames = np.zeros((n, 64, 96, 3), np.uint8)
    h, w = 32, 48
    frames[:, :h, :w] = QUADRANT_RGB["top"]
    frames[:, :h, w:] = QUADRANT_RGB["left"]
    frames[:, h:, :w] = QUADRANT_RGB["skeleton"]
    frames[:, h:, w:] = QUADRANT_RGB["right"]
    return frames


@pytest.fixture(scope="module")
def grey_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "P01_R01.mp4"
    write_video(path, grey_frames(), 25)
    return path


# ----------------------------------------------------------------------------- probing
@pytest.mark.parametrize("fps", [25.0, 30.0])
def test_fps_and_count_are_read_from_the_file(tmp_path: Path, fps: float) -> None:
    path = tmp_path / f"v{int(fps)}.mp4"
    written = write_video(path, grey_frames(12), fps)
    info = probe_video(path)
    assert info == written
    assert info == VideoInfo(path, fps, 12, 96, 64)
    assert info.duration_s == pytest.approx(12 / fps)
    assert probe_video(path, exact=True).n_frames == 12


def test_time_and_frames_use_the_real_fps(tmp_path: Path) -> None:
    info25 = VideoInfo(Path("a.mp4"), 25.0, 1000, 96, 64)
    info30 = VideoInfo(Path("b.mp4"), 30.0, 1000, 96, 64)
    assert info25.frame_at(2.72) == 68  # InHARD annotation: frame 68 at 2.72 s
    assert info25.frame_at(26.48) == 662 and info25.frame_at(28.80) == 720
    assert info30.frame_at(2.72) == 82
    assert info25.time_of(68) == pytest.approx(2.72)
    assert time_range_to_frames(info25, 26.48, 28.80) == (662, 721)  # end frame included
    short = VideoInfo(Path("c.mp4"), 25.0, 50, 96, 64)
    assert time_range_to_frames(short, 1.0, 2.0) == (25, 50)  # one past the end: clipped
    with pytest.raises(VideoError, match="c.mp4.*outside the video"):
        time_range_to_frames(short, 1.0, 2.5)


# ----------------------------------------------------------------------------- views
def test_crop_view_quadrants_are_exact() -> None:
    frame = mosaic_frames(1)[0]
    for view, rgb in QUADRANT_RGB.items():
        q = crop_view(frame, view)
        assert q.shape == (32, 48, 3)
        assert (q == rgb).all(), view
    assert crop_view(frame, "full") is frame
    with pytest.raises(ConfigError, match="front"):
        crop_view(frame, "front")
    assert set(VIEWS) == set(QUADRANT_RGB) | {"full"}


def test_read_frames_crops_views_from_a_video(tmp_path: Path) -> None:
    path = tmp_path / "mosaic.mp4"
    write_video(path, mosaic_frames(), 25)
    for view, rgb in QUADRANT_RGB.items():
        frames = read_frames(path, view=view, size_hw=(12, 20))
        assert frames.shape == (10, 12, 20, 3) and frames.dtype == np.uint8
        inner = frames[:, 3:-3, 4:-4].astype(int)  # away from the codec's blurred seams
        assert np.abs(inner - np.array(rgb)).max() <= 12, view
    full = read_frames(path, view="full", size_hw=None)
    assert full.shape == (10, 64, 96, 3)
    assert read_frames(path, 0, 1).shape[1:3] == DEFAULT_VIEW_SIZE_HW


# ----------------------------------------------------------------------------- ranges
def test_frame_ranges_are_exact(grey_video: Path) -> None:
    assert frame_ids(read_frames(grey_video, 0, 5, size_hw=None)) == [0, 1, 2, 3, 4]
    assert frame_ids(read_frames(grey_video, 13, 17, size_hw=None)) == [13, 14, 15, 16]
    assert frame_ids(read_frames(grey_video, 37, None, size_hw=None)) == [37, 38, 39]
    assert frame_ids(read_frames(grey_video, 3, 20, stride=5, size_hw=None)) == [3, 8, 13, 18]
    got = read_frames(grey_video, 10, 30, sequence_length=4, size_hw=None)
    assert frame_ids(got) == [12, 17, 22, 27]
    assert frame_ids(read_frames_at(grey_video, [33, 2, 2, 20], size_hw=None)) == [33, 2, 2, 20]


def test_sample_indices_are_uniform() -> None:
    assert sample_indices(0, 10, 5).tolist() == [1, 3, 5, 7, 9]
    assert sample_indices(100, 200, 20).tolist() == list(range(102, 200, 5))
    assert sample_indices(5, 8, 6).tolist() == [5, 5, 6, 6, 7, 7]  # short range repeats
    for n in (20, 50, 70):
        idx = sample_indices(662, 721, n)
        assert len(idx) == n and idx.min() >= 662 and idx.max() < 721
        assert (np.diff(idx) >= 0).all()
    assert frame_indices(0, 7, stride=3).tolist() == [0, 3, 6]
    with pytest.raises(ConfigError):
        sample_indices(5, 5, 3)


# ----------------------------------------------------------------------------- errors
def test_missing_empty_and_garbage_files(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"nope\.mp4: video file not found"):
        probe_video(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"empty\.mp4: empty file"):
        read_frames(empty, 0, 1)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoError, match=r"garbage\.mp4: not a video or corrupt"):
        probe_video(garbage)


def test_range_outside_the_video(grey_video: Path) -> None:
    for start, end in ((35, 41), (-1, 3), (5, 5), (50, 60)):
        with pytest.raises(VideoError, match=r"P01_R01\.mp4: frame range .* outside the video"):
            read_frames(grey_video, start, end)
    with pytest.raises(VideoError, match="outside the video"):
        read_frames_at(grey_video, [3, 40])


def test_truncated_video_is_an_error(tmp_path: Path, grey_video: Path) -> None:
    cut = tmp_path / "cut.mp4"
    data = grey_video.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"cut\.mp4"):
        read_frames(cut, 0, N_FRAMES)


def test_write_video_rejects_bad_frames(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="must be even"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 63, 96, 3), np.uint8), 25)
    with pytest.raises(VideoError, match="uint8"):
        write_video(tmp_path / "f.mp4", np.zeros((2, 64, 96, 3), np.float32), 25)
    with pytest.raises(VideoError, match="no frame"):
        write_video(tmp_path / "none.mp4", [], 25)
    assert not any(tmp_path.iterdir())  # nothing half-written left behind


# ----------------------------------------------------------------------------- cache
def test_cache_hit_never_decodes(tmp_path: Path, grey_video: Path, monkeypatch) -> None:
    cache = FrameCache(tmp_path / "cache")
    first = cache.read_frames(grey_video, 10, 30, view="top", size_hw=(16, 24), sequence_length=4)
    direct = read_frames(grey_video, 10, 30, view="top", size_hw=(16, 24), sequence_length=4)
    assert np.array_equal(first, direct)
    assert (cache.hits, cache.misses) == (0, 1)
    info = cache.video_info(grey_video)

    def no_decoding(*args, **kwargs):
        raise AssertionError("video decoded although cached")

    monkeypatch.setattr(cv2, "VideoCapture", no_decoding)
    again = cache.read_frames(grey_video, 10, 30, view="top", size_hw=(16, 24), sequence_length=4)
    assert np.array_equal(again, first)
    allf = cache.frames(grey_video, view="top", size_hw=(16, 24))
    assert allf.shape == (N_FRAMES, 16, 24, 3) and isinstance(allf, np.memmap)
    assert not allf.flags.writeable
    assert cache.video_info(grey_video) == info
    assert cache.hits == 2
    with pytest.raises(VideoError, match="outside the video"):
        cache.read_frames(grey_video, 30, 41, view="top", size_hw=(16, 24))


def test_cache_detects_a_changed_video(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    write_video(video, grey_frames(10), 25)
    cache = FrameCache(tmp_path / "cache")
    assert frame_ids(cache.read_frames(video, size_hw=None)) == list(range(10))
    write_video(video, grey_frames(20)[10:], 25)  # same length and fps, other content
    assert frame_ids(cache.read_frames(video, size_hw=None)) == list(range(10, 20))
    assert cache.stale == 1
    assert frame_ids(cache.read_frames(video, size_hw=None)) == list(range(10, 20))
    assert cache.hits == 1


def test_cache_keys_view_and_size_apart(tmp_path: Path) -> None:
    video = tmp_path / "mosaic.mp4"
    write_video(video, mosaic_frames(4), 25)
    cache = FrameCache(tmp_path / "cache")
    top = cache.frames(video, view="top", size_hw=(8, 12))
    right = cache.frames(video, view="right", size_hw=(8, 12))
    big = cache.frames(video, view="top", size_hw=(16, 24))
    assert top.shape == (4, 8, 12, 3) and big.shape == (4, 16, 24, 3)
    assert top[0, 4, 6, 0] > 150 and right[0, 4, 6, 2] > 150
    assert cache.misses == 3 and cache.hits == 0


def test_generic_array_cache(tmp_path: Path, grey_video: Path) -> None:
    cache = FrameCache(tmp_path / "cache")
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.arange(12, dtype=np.float32).reshape(4, 3)

    a = cache.array("feat", grey_video, compute, settings={"k": 1})
    b = cache.array("feat", grey_video, compute, settings={"k": 1})
    c = cache.array("feat", grey_video, compute, settings={"k": 2})
    assert len(calls) == 2 and np.array_equal(a, b) and np.array_equal(b, c)
    with pytest.raises(ConfigError, match="object arrays"):
        cache.array("obj", grey_video, lambda: np.array([{}], dtype=object))
    with pytest.raises(VideoError, match="not found"):
        cache.array("feat", tmp_path / "gone.mp4", compute)
