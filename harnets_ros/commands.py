"""The `harnets` subcommands that need ROS 2 (`graph`, `demo`) and the live replay, declared
as entry points in harnets_ros.cfg, which the core command line discovers
(harnets_core.cli.plugins). harnets_core itself never imports this package."""
from __future__ import annotations

import argparse
from pathlib import Path

from harnets_core.cli.plugins import Command
from harnets_ros.demo import run_demo
from harnets_ros.graph import run_graph
from harnets_ros.live_replay import replay_live
from harnets_ros.record import record_bag

__all__ = ["GRAPH", "DEMO", "RECORD", "replay_live"]


def _graph_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, help="parameter file (default: the installed config/harnets.yaml)")
    p.add_argument("--skeleton-model", type=Path, default=None)
    p.add_argument("--rgb-model", type=Path, default=None)
    p.add_argument("--pose-model", type=Path, default=None)
    p.add_argument("--namespace", default="")
    p.add_argument("--use-sim-time", action="store_true")
    p.add_argument("--bvh", type=Path, default=None, help="also stream this BVH file (skeleton streamer)")
    p.add_argument("--video", type=Path, default=None, help="also stream this video (video streamer)")
    p.add_argument("--loop", action="store_true", help="stream --bvh / --video in a loop")
    p.add_argument("--print-activities", action="store_true")
    p.add_argument("--visualize", action="store_true",
                   help="also start the visualization node (markers on visualization/markers, the labelled camera on visualization/image)")
    p.add_argument("--duration-s", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("demo_out"))
    p.add_argument("--skeleton-epochs", type=int, default=40)
    p.add_argument("--rgb-epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)


def _record_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topics", nargs="+", required=True, help="topics to record (types are discovered)")
    p.add_argument("--out", type=Path, required=True, help="bag folder to create")
    p.add_argument("--storage", default="mcap", choices=["mcap", "sqlite3"])
    p.add_argument("--duration-s", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")


def _record(args: argparse.Namespace) -> int:
    counts = record_bag(args.topics, args.out, storage=args.storage, duration_s=args.duration_s)
    print(f"wrote {args.out}: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    return 0


GRAPH = Command("graph", "start the node graph without ros2 launch (needs ROS 2)", _graph_arguments, run_graph)
DEMO = Command("demo", "synthetic data -> train -> bag -> live replay -> report", _demo_arguments, run_demo)
RECORD = Command("record", "record workcell topics into a rosbag2 without `ros2 bag` (needs ROS 2)", _record_arguments, _record)
