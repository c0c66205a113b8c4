"""Benchmark: decoding video segments every epoch vs. reading them from FrameCache.

Renders one synthetic session mosaic (a stick-figure motion, harnets_core.synth.render), cuts it
into segments of 1 to 4 s, then times, in the same run:

- "first epoch": decode + crop + resize every segment's frames (read_frames), as a
  loader without a cache does each epoch;
- "cache build": FrameCache.frames for the view (one decode of the whole session);
- "cached epoch": the same segments from the cache (memory-mapped .npy).

Usage: python bench/bench_video_cache.py [--duration-s 60] [--view top] [--size 96 160]
       [--sequence-length 20] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harnets_core.synth.render import DEFAULT_MOSAIC_SIZE_HW, render_mosaic_video  # noqa: E402
from harnets_core.formats.frame_cache import FrameCache  # noqa: E402
from harnets_core.formats.video import probe_video, read_frames  # noqa: E402

FRAME_TIME_S = 0.008401
PARENTS = (-1, 0, 1, 2, 3, 0, 5, 6, 0, 8, 9, 2, 11, 12, 2, 14, 15)
NAMES = ("Hips", "Spine", "Neck", "Head", "Head_End", "RightUpLeg", "RightLeg", "RightFoot",
         "LeftUpLeg", "LeftLeg", "LeftFoot", "RightArm", "RightForeArm", "RightHand",
         "LeftArm", "LeftForeArm", "LeftHand")  # fmt: skip
REST = np.array([
    [0, 95, 0], [0, 130, 0], [0, 150, 0], [0, 160, 0], [0, 175, 0],
    [-10, 93, 0], [-10, 50, 0], [-10, 5, 0], [10, 93, 0], [10, 50, 0], [10, 5, 0],
    [-18, 145, 0], [-20, 118, 0], [-20, 95, 0], [18, 145, 0], [20, 118, 0], [20, 95, 0],
], dtype=np.float64)  # fmt: skip


def motion(duration_s: float, seed: int = 0) -> np.ndarray:
    """(F, J, 3) cm: arms reaching forward and sideways at random rates, some sway."""
    rng = np.random.default_rng(seed)
    n = int(duration_s / FRAME_TIME_S)
    t = np.arange(n) * FRAME_TIME_S
    pos = np.repeat(REST[None], n, axis=0)
    for hand, elbow, sign in ((13, 12, -1), (16, 15, 1)):
        f1, f2 = rng.uniform(0.2, 0.6, 2)
        reach = 0.5 - 0.5 * np.cos(2 * np.pi * f1 * t)
        side = np.sin(2 * np.pi * f2 * t)
        pos[:, hand] += np.stack([sign * 25 * side, 35 * reach, 45 * reach], axis=1)
        pos[:, elbow] += np.stack([sign * 10 * side, 15 * reach, 20 * reach], axis=1)
    pos[:, :, 0] += 8 * np.sin(2 * np.pi * 0.1 * t)[:, None]
    return pos


def segments(n_frames: int, fps: float, seed: int = 0) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    out, start = [], 0
    while start < n_frames - 1:
        end = min(n_frames, start + int(rng.uniform(1, 4) * fps))
        out.append((start, end))
        start = end
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration-s", type=float, default=60.0)
    ap.add_argument("--view", default="top")
    ap.add_argument("--size", type=int, nargs=2, default=(96, 160), metavar=("H", "W"))
    ap.add_argument("--mosaic", type=int, nargs=2, default=DEFAULT_MOSAIC_SIZE_HW, metavar=("H", "W"))
    ap.add_argument("--sequence-length", type=int, default=None,
                    help="sample this many frames per segment (default: every frame)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    size_hw = tuple(args.size)

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        video = tmp / "P01_R01.mp4"
        t0 = time.perf_counter()
        render_mosaic_video(motion(args.duration_s), PARENTS, FRAME_TIME_S, video,
                            joint_names=NAMES, size_hw=tuple(args.mosaic))
        t_render = time.perf_counter() - t0
        info = probe_video(video)
        segs = segments(info.n_frames, info.fps)
        print(f"cpu cores: {os.cpu_count()}, video: {info.n_frames} frames {info.width}x{info.height} "
              f"at {info.fps:g} fps ({os.path.getsize(video) / 1e6:.1f} MB), rendered in {t_render:.2f} s; "
              f"{len(segs)} segments, view {args.view} at {size_hw[0]}x{size_hw[1]}, "
              f"sequence_length {args.sequence_length}")

        def epoch(read) -> float:
            best = float("inf")
            for _ in range(args.repeats):
                t = time.perf_counter()
                total = 0
                for s, e in segs:
                    total += int(read(s, e).sum(dtype=np.int64) > 0)  # touch the pixels
                best = min(best, time.perf_counter() - t)
            return best

        t_decode = epoch(lambda s, e: read_frames(video, s, e, view=args.view, size_hw=size_hw,
                                                   sequence_length=args.sequence_length, info=info))
        cache = FrameCache(tmp / "cache")
        t0 = time.perf_counter()
        cache.frames(video, view=args.view, size_hw=size_hw)
        t_build = time.perf_counter() - t0
        t_cached = epoch(lambda s, e: cache.read_frames(video, s, e, view=args.view, size_hw=size_hw,
                                                        sequence_length=args.sequence_length))
        cache_mb = sum(p.stat().st_size for p in (tmp / "cache").glob("*.npy")) / 1e6
        print(f"first epoch (decode+resize): {t_decode:.3f} s (best of {args.repeats})")
        print(f"cache build (one full decode): {t_build:.3f} s, {cache_mb:.1f} MB on disk")
        print(f"cached epoch: {t_cached:.3f} s (best of {args.repeats}), hits {cache.hits}")
        print(f"speed-up cached vs decode: {t_decode / t_cached:.1f}x")


if __name__ == "__main__":
    main()
