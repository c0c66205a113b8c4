"""`harnets demo` (`make demo`): the main job on the embedded default, end to end.

Every step is an ordinary `harnets` command, printed before it runs, so that each also runs
alone (and on the real dataset's layout):
  1. harnets synth             a synthetic InHARD-layout dataset (skeleton + mosaic videos)
  2. harnets train skeleton    the IMU-suit LSTM
  3. harnets train rgb         the side-view CNN-LSTM (HARNets' "RGB" scenario)
  4. harnets bag from-inhard   one validation session as a rosbag2
  5. harnets replay-eval       offline: the streaming recognizers on the bag
  6. harnets replay-eval --live  the bag over DDS through the node graph, activities printed
"""
from __future__ import annotations

import json
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

from harnets_core.cli.main import main as harnets
from harnets_core.errors import HarnetsError
from harnets_core.models.modelfile import read_meta

__all__ = ["run_demo"]

MARKER = ".harnets-demo"

SKELETON_STREAM_ARGS = ["--hop-s", "0.125", "--window-frames", "120", "--features", "velocities", "--min-fill-s", "0.25",
                        "--members", "3"]
"""The skeleton settings recommended for the streaming timeline (docs/RESULTS.md, "Timeline for a
planner"): a 1 s window every 0.125 s (training and streaming), velocity features, the first
windows of a stream classified once 0.25 s of frames are in, an ensemble of three LSTMs."""


def _step(title: str, argv: list[str]) -> None:
    print(f"\n=== {title}\n$ harnets {shlex.join(argv)}", flush=True)
    start = time.monotonic()
    code = harnets(argv)
    if code != 0:
        raise HarnetsError(f"step failed ({title}): harnets {shlex.join(argv)} exited with {code}")
    print(f"--- {title}: {time.monotonic() - start:.0f} s", flush=True)


def _prepare_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise HarnetsError(f"{out} exists and was not made by harnets demo: choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by harnets demo; removed by the next demo run\n")


def _headline(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def run_demo(args: Any) -> int:
    out = Path(args.out).resolve()
    _prepare_out(out)
    data, runs, bags = out / "data", out / "runs", out / "bags"
    started = time.monotonic()
    _step("1/6 synthetic dataset in InHARD's layout", ["synth", str(data), "--seed", str(args.seed)])
    skeleton = runs / "skeleton"
    _step("2/6 train the skeleton (IMU suit) LSTM",
          ["train", "skeleton", "--data", str(data), "--out", str(skeleton), "--epochs", str(args.skeleton_epochs),
           "--patience", "10", "--seed", str(args.seed), "--batch-size", "16", *SKELETON_STREAM_ARGS])
    rgb = runs / "rgb_side"
    _step("3/6 train the RGB side-view CNN-LSTM",
          ["train", "rgb", "--data", str(data), "--out", str(rgb), "--view", "left", "--epochs", str(args.rgb_epochs),
           "--patience", "15", "--seed", str(args.seed), "--batch-size", "16"])
    session = read_meta(skeleton / "model.safetensors")["data"]["val_sessions"][0]
    bag = bags / session
    _step(f"4/6 record validation session {session} as a rosbag2",
          ["bag", "from-inhard", "--data", str(data), "--session", session, "--out", str(bag), "--images", "compressed"])
    models = ["--skeleton-model", str(skeleton / "model.safetensors"), "--rgb-model", str(rgb / "model.safetensors")]
    _step("5/6 offline replay evaluation (streaming recognizers, as fast as the CPU allows)",
          ["replay-eval", str(bag), *models, "--out", str(out / "replay_offline")])
    _step("6/6 live replay through the node graph over DDS (use_sim_time, 1x)",
          ["replay-eval", str(bag), *models, "--out", str(out / "replay_live"), "--live", "--print-activities"])
    offline = _headline(out / "replay_offline" / "summary.json")
    live = _headline(out / "replay_live" / "summary.json")
    print(f"\n=== harnets demo done in {(time.monotonic() - started) / 60:.1f} min")
    print(f"{'source':<10}{'offline acc':>12}{'live acc':>10}{'offline F1@0.5':>16}{'live F1@0.5':>13}{'live p95 latency':>18}")
    for src in live:
        o, l_ = offline.get(src, {}), live[src]
        lat = (l_.get("latency") or {}).get("p95_ms")
        print(f"{src:<10}{_acc(o):>12}{_acc(l_):>10}{_f1(o):>16}{_f1(l_):>13}{(f'{lat:.1f} ms' if lat else '-'):>18}")
    for src, m in offline.items():  # idle and anticipation (models trained with the stream timeline)
        whole, fc = m.get("all_time") or {}, m.get("forecast") or {}
        if whole:
            print(f"{src}: all time (idle included) accuracy {whole['frame']['accuracy']:.3f}, "
                  f"idle recall {whole.get('idle_recall') or 0:.3f}, edit {whole['edit']:.1f}")
        nxt, rem = fc.get("next_activity") or {}, fc.get("remaining_time") or {}
        if nxt.get("accuracy") is not None:
            print(f"{src}: forecast next activity {nxt['accuracy']:.3f} (majority transition "
                  f"{nxt['majority_transition_accuracy']:.3f}); remaining-time MAE "
                  f"{rem.get('mae_s') or 0:.2f} s (mean duration {rem.get('mean_duration_baseline_mae_s') or 0:.2f} s)")
    print(f"reports: {out / 'replay_live' / 'report.md'} and {out / 'replay_offline' / 'report.md'}")
    print(f"training reports: {skeleton / 'report'} and {rgb / 'report'}")
    return 0


def _acc(m: dict[str, Any]) -> str:
    v = (m.get("frame") or {}).get("accuracy")
    return "-" if v is None else f"{v:.3f}"


def _f1(m: dict[str, Any]) -> str:
    v = (m.get("segment_f1") or {}).get("0.5")
    if isinstance(v, dict):
        v = v.get("f1")
    return "-" if v is None else f"{v:.3f}"
