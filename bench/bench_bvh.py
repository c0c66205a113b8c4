#!/usr/bin/env python3
"""Benchmark: harnets_core.formats.bvh.read_bvh vs the `bvh` package (0.3) on a full-size InHARD session.

A synthetic session is generated into a temporary directory (never the repo) from the real
clip test/data/P01_R01_0026.48_0028.80.bvh: its 276 motion lines are tiled to --frames
frames (default 72,000 = 10 min at 120 Hz) and the root position drifts randomly, written in
the clip's own number style (6 decimals, some exponents). Both readers load the same file in
the same run; values must be identical (bit for bit). The `bvh` package is read the fastest
fair way it offers: ``np.array(Bvh(text).frames, dtype=float64)`` (file read included for both).

    .venv/bin/python bench/bench_bvh.py [--frames 72000] [--repeat 3] [--bvh-repeat 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from harnets_core.formats.bvh import read_bvh  # noqa: E402

CLIP = ROOT / "test" / "data" / "P01_R01_0026.48_0028.80.bvh"


def make_session(path: Path, n_frames: int, seed: int = 0) -> int:
    """Write a synthetic session of ``n_frames`` frames; returns its size in bytes."""
    src = CLIP.read_bytes()
    header = src[:src.index(b"Frames:")]
    body = src[src.index(b"\n", src.index(b"Frame Time")) + 1:]
    lines = body.rstrip(b"\n").split(b"\n")
    drift = np.cumsum(np.random.default_rng(seed).normal(0, 0.05, (n_frames, 3)), axis=0)
    out = [header, b"Frames: %d\nFrame Time: 0.008401\n" % n_frames]
    rows = []
    for f in range(n_frames):
        x, y, z, rest = lines[f % len(lines)].split(b" ", 3)
        dx, dy, dz = drift[f]
        rows.append(b"%.6f %.6f %.6f %s" % (float(x) + dx, float(y) + dy, float(z) + dz, rest))
    out.append(b"\n".join(rows) + b"\n")
    data = b"".join(out)
    path.write_bytes(data)
    return len(data)


def read_with_bvh_package(path: Path) -> np.ndarray:
    from bvh import Bvh
    mocap = Bvh(path.read_text())
    return np.array(mocap.frames, dtype=np.float64)


def timed(fn, repeat: int):
    """Median wall and CPU (process) time of ``repeat`` calls. On a shared machine the CPU
    time is the fairer figure: it does not count the time other processes held the cores."""
    wall, cpu, result = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), wall, result


def bench(path: Path, repeat: int, bvh_repeat: int) -> dict:
    h_med, h_cpu, h_all, clip = timed(lambda: read_bvh(path), repeat)
    b_med, b_cpu, b_all, ref = timed(lambda: read_with_bvh_package(path), bvh_repeat)
    identical = ref.shape == clip.motion.shape and bool(np.array_equal(ref.view(np.int64), clip.motion.view(np.int64)))
    assert identical, "harnets and the bvh package disagree"
    return {
        "frames": clip.n_frames, "channels": clip.skeleton.n_channels,
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "harnets_s": round(h_med, 3), "harnets_runs_s": [round(t, 3) for t in h_all],
        "bvh_package_s": round(b_med, 2), "bvh_package_runs_s": [round(t, 2) for t in b_all],
        "harnets_cpu_s": round(h_cpu, 3), "bvh_package_cpu_s": round(b_cpu, 2),
        "speedup": round(b_med / h_med, 1), "speedup_cpu": round(b_cpu / h_cpu, 1), "identical": identical,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=72_000, help="frames of the full session (120 Hz)")
    ap.add_argument("--slice-frames", type=int, default=7_200, help="also bench a slice this long (0: skip)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of read_bvh (median reported)")
    ap.add_argument("--bvh-repeat", type=int, default=3, help="runs of the bvh package (median reported)")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    import bvh  # noqa: F401  (fail early if the reference package is missing)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = {"machine": f"{platform.machine()} {os.cpu_count()} CPU, {platform.python_version()}, numpy {np.__version__}",
               "load_avg_1min_at_start": load,
               "runs": []}
    with tempfile.TemporaryDirectory(prefix="bench_bvh_") as tmp:
        for n in [args.frames] + ([args.slice_frames] if args.slice_frames else []):
            path = Path(tmp) / f"session_{n}.bvh"
            make_session(path, n)
            r = bench(path, args.repeat, args.bvh_repeat)
            results["runs"].append(r)
            print(f"{r['frames']:>6} frames ({r['file_mb']} MB): harnets {r['harnets_s']:.3f} s "
                  f"(cpu {r['harnets_cpu_s']:.3f} s), bvh package {r['bvh_package_s']:.2f} s "
                  f"(cpu {r['bvh_package_cpu_s']:.2f} s) -> {r['speedup']}x faster wall, "
                  f"{r['speedup_cpu']}x cpu, identical={r['identical']}", flush=True)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
