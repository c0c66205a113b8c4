"""Point the ROS 2 wheels' exported CMake targets at this interpreter's include dirs.

The ros-* wheels were built on a machine whose Python lived in /opt/python/cp311-cp311;
their exported CMake targets name that interpreter's include directory and numpy's, and
CMake refuses targets whose include paths do not exist. Rewrites them in
$VIRTUAL_ENV/share/**/*.cmake. Idempotent. A ROS install from apt needs none of this.
"""
from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import numpy

REPLACEMENTS = {
    "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include": numpy.get_include(),
    "/opt/python/cp311-cp311/include/python3.11": sysconfig.get_paths()["include"],
}


def main(prefix: str) -> int:
    changed = 0
    for path in Path(prefix, "share").rglob("*.cmake"):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        new = text
        for old, repl in REPLACEMENTS.items():
            new = new.replace(old, repl)
        if new != text:
            path.write_text(new, encoding="utf-8", errors="surrogateescape")
            changed += 1
    print(f"fix_ros_wheels: rewrote include paths in {changed} CMake file(s) under {prefix}/share")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else sys.prefix))
