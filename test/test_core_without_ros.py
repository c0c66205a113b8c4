"""harnets_core imports and works where ROS 2 is absent (pip install . on a training box)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_core_works_with_rclpy_absent(real_clip_path):
    code = textwrap.dedent(f"""
        import sys, importlib.abc
        class NoRos(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split('.')[0] in ('rclpy', 'harnets', 'harnets_ros', 'rosidl_runtime_py', 'sensor_msgs', 'std_msgs'):
                    raise ImportError('ROS is absent in this test: ' + name)
        sys.meta_path.insert(0, NoRos())
        import pkgutil, importlib, harnets_core
        names = [m.name for m in pkgutil.walk_packages(harnets_core.__path__, 'harnets_core.')]
        for name in names:
            importlib.import_module(name)
        assert not any(m.split('.')[0] in ('rclpy', 'harnets_ros') for m in sys.modules), 'ROS was imported'
        from harnets_core.formats.bvh import read_bvh
        from harnets_core.features.skeleton import skeleton_features
        clip = read_bvh({str(real_clip_path)!r})
        x = skeleton_features(clip)
        print(len(names), x.shape)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    n_modules, shape = out.stdout.split(" ", 1)
    assert int(n_modules) >= 15 and "276" in shape


def test_ros_commands_say_what_to_install_where_ros_is_absent():
    """`harnets graph`, `harnets demo` and `replay-eval --live` come from harnets_ros through entry
    points; without ROS each says what to install (exit 2), and the core commands still work."""
    code = textwrap.dedent("""
        import sys, importlib.abc
        class NoRos(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split('.')[0] in ('rclpy', 'harnets', 'harnets_ros'):
                    raise ImportError('ROS is absent in this test: ' + name)
        sys.meta_path.insert(0, NoRos())
        from harnets_core.cli.main import main
        codes = [main(['graph', '--skeleton-model', 'm.safetensors']), main(['demo']),
                 main(['replay-eval', 'bag', '--skeleton-model', 'm', '--out', 'o', '--live'])]
        print(codes)
        assert not any(m.split('.')[0] in ('rclpy', 'harnets_ros') for m in sys.modules), 'ROS was imported'
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[2, 2, 2]"
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 3 and all("needs ROS 2" in line for line in lines), out.stderr
    assert lines[0].startswith("harnets graph: error:") and lines[2].startswith("harnets replay-eval: error: --live")
