"""Run every benchmark of bench/ in turn (`make bench`); each prints its numbers and the ratio
against its baseline measured in the same run. docs/BENCHMARKS.md records them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ["bench_bvh.py", "--repeat", "3", "--bvh-repeat", "1"],
    ["bench_video_cache.py"],
    ["bench_streaming.py"],
    ["bench_backends.py"],
]


def main() -> int:
    failed = []
    for name, *args in BENCHES:
        print(f"\n=== {name} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name), *args]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
