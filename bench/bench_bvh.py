#!/usr/bin/env python3
"""Benchmark: harnets_core.formats.bvh.read_bvh vs the `bvh` package (0.3) on full-size InHARD sessions.

Two synthetic sessions are generated into a temporary directory (never the repo) from the
real clip test/data/P01_R01_0026.48_0028.80.bvh: its 276 motion lines are tiled to --frames
frames (default 72,000 = 10 min at 120 Hz) and the root position drifts randomly. They
differ only in how the numbers are written:

* ``clip``: the clip's own number style (Axis Neuron's trimmed decimals: ``-22.167509``,
  ``0.0``, ``-20.0``, some ``-3.9e-05`` exponents);
* ``six``: every value with six decimals (``0.000000``, ``-0.000039``), as mocap exports
  (Axis Studio, Motive, MotionBuilder) write them: a larger file, longer tokens.

Both readers load the same files in the same run (file reading included for both); values
must be identical, bit for bit. The `bvh` package is read the fastest fair way it offers:
``np.array(Bvh(path.read_text()).frames, dtype=float64)``. A --slice-frames session of each
style is timed too. Reported: median wall and CPU (process) time of each reader and their
ratios, as Markdown rows on stdout and, with --json, as JSON.

    python bench/bench_bvh.py [--frames 72000] [--repeat 5] [--bvh-repeat 2] [--threads N] [--json out.json]
"""
from __future__ import annotations

import argparse
import datetime
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
import harnets_core.formats.bvh as bvh_module  # noqa: E402
from harnets_core.formats.bvh import read_bvh  # noqa: E402

CLIP = ROOT / "test" / "data" / "P01_R01_0026.48_0028.80.bvh"
STYLES = ("clip", "six")


def make_session(path: Path, n_frames: int, seed: int = 0, style: str = "clip") -> int:
    """Write a synthetic session of ``n_frames`` frames in number ``style``; returns its size in bytes."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    src = CLIP.read_bytes()
    header = src[:src.index(b"Frames:")]
    body = src[src.index(b"\n", src.index(b"Frame Time")) + 1:]
    lines = body.rstrip(b"\n").split(b"\n")
    roots, rests = [], []
    for line in lines:
        x, y, z, rest = line.split(b" ", 3)
        roots.append((float(x), float(y), float(z)))
        if style == "six":
            rest = b" ".join(b"%.6f" % float(t) for t in rest.split())
        rests.append(rest)
    drift = np.cumsum(np.random.default_rng(seed).normal(0, 0.05, (n_frames, 3)), axis=0)
    rows = []
    for f in range(n_frames):
        (x, y, z), (dx, dy, dz) = roots[f % len(lines)], drift[f]
        rows.append(b"%.6f %.6f %.6f %s" % (x + dx, y + dy, z + dz, rests[f % len(lines)]))
    data = b"".join([header, b"Frames: %d\nFrame Time: 0.008401\n" % n_frames, b"\n".join(rows), b"\n"])
    path.write_bytes(data)
    return len(data)


def read_with_bvh_package(path: Path) -> np.ndarray:
    from bvh import Bvh
    mocap = Bvh(path.read_text())
    return np.array(mocap.frames, dtype=np.float64)


def timed(fn, repeat: int):
    """Median wall and CPU (process: user + system) time of ``repeat`` calls, and each call's
    (wall, user, system) seconds. On a shared machine the CPU time is the fairer figure: it
    does not count the time other processes held the cores."""
    wall, cpu, runs, result = [], [], [], None
    for _ in range(repeat):
        result = None                                  # the previous result is freed first
        t0, c0 = time.perf_counter(), os.times()
        result = fn()
        t1, c1 = time.perf_counter(), os.times()
        user, system = c1.user - c0.user, c1.system - c0.system
        wall.append(t1 - t0)
        cpu.append(user + system)
        runs.append((round(t1 - t0, 3), round(user, 3), round(system, 3)))
    return statistics.median(wall), statistics.median(cpu), runs, result


def bench(path: Path, style: str, repeat: int, bvh_repeat: int) -> dict:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    h_med, h_cpu, h_all, clip = timed(lambda: read_bvh(path), repeat)
    b_med, b_cpu, b_all, ref = timed(lambda: read_with_bvh_package(path), bvh_repeat)
    identical = ref.shape == clip.motion.shape and bool(np.array_equal(ref.view(np.int64), clip.motion.view(np.int64)))
    assert identical, f"{style}: harnets and the bvh package disagree"
    return {
        "style": style, "frames": clip.n_frames, "channels": clip.skeleton.n_channels,
        "file_mb": round(path.stat().st_size / 1e6, 1), "load_avg_1min_before": load,
        "harnets_s": round(h_med, 3), "harnets_runs_wall_user_sys_s": h_all,
        "bvh_package_s": round(b_med, 2), "bvh_package_runs_wall_user_sys_s": b_all,
        "harnets_cpu_s": round(h_cpu, 3), "bvh_package_cpu_s": round(b_cpu, 2),
        "speedup": round(b_med / h_med, 1), "speedup_cpu": round(b_cpu / h_cpu, 1), "identical": identical,
    }


def markdown(results: dict) -> str:
    """The runs as rows of docs/BENCHMARKS.md's BVH table."""
    out = ["| file | harnets wall / CPU | `bvh` package wall / CPU | speed-up wall / CPU |", "|---|---|---|---|"]
    for r in results["runs"]:
        out.append(
            f"| {r['style']}: {r['frames']:,} frames, {r['file_mb']} MB | {r['harnets_s']:.3f} s / {r['harnets_cpu_s']:.3f} s "
            f"| {r['bvh_package_s']:.2f} s / {r['bvh_package_cpu_s']:.2f} s | **{r['speedup']}x** / {r['speedup_cpu']}x |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=72_000, help="frames of the full session (120 Hz)")
    ap.add_argument("--slice-frames", type=int, default=7_200, help="also bench sessions this long (0: skip)")
    ap.add_argument("--styles", nargs="+", choices=STYLES, default=list(STYLES), help="number styles to bench")
    ap.add_argument("--repeat", type=int, default=5, help="runs of read_bvh (median reported)")
    ap.add_argument("--bvh-repeat", type=int, default=2, help="runs of the bvh package (median reported)")
    ap.add_argument("--threads", type=int, default=None,
                    help=f"threads parsing a large file's motion (default: one per core, at most 4; here "
                         f"{bvh_module._PARSE_THREADS})")
    ap.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = ap.parse_args(argv)
    if args.threads is not None:
        bvh_module._PARSE_THREADS = max(1, args.threads)
    import bvh  # noqa: F401  (fail early if the reference package is missing)

    results = {
        "command": "python bench/bench_bvh.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} CPU, {platform.python_version()}, numpy {np.__version__}",
        "parse_threads": bvh_module._PARSE_THREADS,
        "load_avg_1min_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench_bvh_") as tmp:
        for n in [args.frames] + ([args.slice_frames] if args.slice_frames else []):
            for style in args.styles:
                path = Path(tmp) / f"session_{style}_{n}.bvh"
                make_session(path, n, style=style)
                r = bench(path, style, args.repeat, args.bvh_repeat)
                path.unlink()
                results["runs"].append(r)
                print(f"{style:>4} {r['frames']:>6} frames ({r['file_mb']} MB): harnets {r['harnets_s']:.3f} s "
                      f"(cpu {r['harnets_cpu_s']:.3f} s), bvh package {r['bvh_package_s']:.2f} s "
                      f"(cpu {r['bvh_package_cpu_s']:.2f} s) -> {r['speedup']}x faster wall, "
                      f"{r['speedup_cpu']}x cpu, identical={r['identical']}", flush=True)
    results["load_avg_1min_at_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print()
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
