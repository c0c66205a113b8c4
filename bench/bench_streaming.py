"""Benchmark: streaming latency of the skeleton and image nodes under a live load, and the CNN
cost per window with the per-frame feature cache vs. recomputing the whole window.

1. Core (no ROS), default RGB CNN-LSTM (frames.RgbOptions / runs.ModelOptions: "small"
   encoder, 48x80 top view, 20 frames a window at 10 Hz): per window, "cached" = prepare + encode ONE
   new 640x480 frame + LSTM head over the T cached encodings (what FrameRecognizer does);
   "recompute" = prepare + encode all T frames + head. Median of --windows windows each,
   interleaved in the same run; the ratio is recompute / cached.
2. ROS (nodes as processes from install/, real DDS), one case per resolution x number of
   cameras x transport (x the nodes' compute_threads), each case in a child process of its own
   (Fast DDS reads the transport once per process): a 120 Hz skeleton stream (the real InHARD
   clip test/data/P01_R01_0026.48_0028.80.bvh, looped) and one or two 25 fps raw rgb8 camera
   streams (noise frames; "top" and "side", each into an image node of its own) published AT
   THE SAME TIME from the case process into the skeleton node (default skeleton LSTM: real
   59-joint skeleton meta, FeatureConfig(), 1.68 s windows at 30 Hz) and the image nodes
   (default CNN-LSTM above), untrained weights (timing only). Transport "profile": every
   process with config/fastdds.xml (the graph's default, docs/TRANSPORT.md); "default": Fast
   DDS's own transports, the baseline of the same run (ratio of frames not received).
   Reports p50/p95/p99 of Activity.latency_ms (newest sample received by the node -> Activity
   published) and end to end (newest sample published here -> Activity received here), after
   a warm-up, and the counters of the nodes' /diagnostics (not received = published -
   received by the node; lost events = the subscription's message_lost; queue drops; frames
   skipped by the model's frame rate).

Usage: source tools/env.sh && python bench/bench_streaming.py [--duration-s 10] [--warmup-s 3]
       [--resolutions 640x480,1280x720,1920x1080] [--cameras 1,2] [--transports profile,default]
       [--compute-threads 1] [--windows 40] [--json PATH] [--keep]
       (needs the package built into install/; uses its own ROS_DOMAIN_ID (200-232) and ROS_HOME,
       in a temporary folder removed at the end unless --keep)
"""
from __future__ import annotations

import argparse
import array
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harnets_core.formats.bvh import read_bvh  # noqa: E402
from harnets_core.features.skeleton import FeatureConfig  # noqa: E402
from harnets_core.runs.options import ModelOptions, RgbOptions, SkeletonOptions  # noqa: E402
from harnets_core.datasets.inhard import META_ACTIONS  # noqa: E402
from harnets_core.models.modelfile import save_model  # noqa: E402
from harnets_core.models import CNNLSTM, CNNLSTMConfig, LSTMClassifier, LSTMConfig  # noqa: E402
from harnets_core.features.pipeline import FramePipeline, SkeletonPipeline, skeleton_meta  # noqa: E402
from harnets_core.streaming.recognizer import load_recognizer  # noqa: E402

CLIP = REPO / "test" / "data" / "P01_R01_0026.48_0028.80.bvh"
EXE_DIR = REPO / "install" / "harnets" / "lib" / "harnets"
CAMERA_HW = (480, 640)
CAMERA_FPS = 25.0


# ----------------------------------------------------------------------------- models
def build_models(folder: Path) -> tuple[Path, Path, float]:
    """Default-size skeleton LSTM and RGB CNN-LSTM model files (untrained). Returns also the clip's frame time."""
    clip = read_bvh(CLIP)
    opts, mopts = SkeletonOptions(), ModelOptions()
    pipe = SkeletonPipeline(skeleton=clip.skeleton, frame_time_s=clip.frame_time_s, features=FeatureConfig(),
                            window_s=opts.window_s, rate_hz=opts.rate_hz)
    lstm = LSTMConfig(input_dim=pipe.dim, num_classes=len(META_ACTIONS), hidden_size=mopts.hidden_size,
                      num_layers=mopts.num_layers, dropout=mopts.dropout)
    common = {"class_names": list(META_ACTIONS), "class_ids": list(range(len(META_ACTIONS)))}
    skel_path = save_model(folder / "skeleton_default.safetensors", LSTMClassifier(lstm), {
        "model_type": "skeleton_lstm", "modality": "skeleton", **common,
        "preprocessing": pipe.to_meta(),
        "window": {"window_s": opts.window_s, "hop_s": opts.hop_s, "rate_hz": opts.rate_hz, "length": pipe.length,
                   "raw_length": pipe.raw_length, "short_policy": "pad"},
        "skeleton": skeleton_meta(clip.skeleton, clip.frame_time_s),
    })
    ro = RgbOptions()
    frame_pipe = FramePipeline(kind="rgb", view=ro.view, size_hw=ro.size_hw, rate_hz=ro.rate_hz, window_s=ro.window_s)
    cnn = CNNLSTMConfig(num_classes=len(META_ACTIONS), height=ro.size_hw[0], width=ro.size_hw[1], encoder=ro.encoder,
                        feature_dim=ro.feature_dim, hidden_size=mopts.hidden_size, num_layers=mopts.num_layers,
                        dropout=mopts.dropout)
    rgb_path = save_model(folder / "rgb_default.safetensors", CNNLSTM(cnn), {
        "model_type": "cnn_lstm", "modality": "rgb", **common, "preprocessing": frame_pipe.to_meta(),
        "window": {"window_s": ro.window_s, "hop_s": ro.hop_s, "rate_hz": ro.rate_hz, "length": ro.length, "short_policy": "pad"},
    })
    return skel_path, rgb_path, clip.frame_time_s


# ----------------------------------------------------------------------------- core part
def bench_feature_cache(rgb_path: Path, windows: int) -> dict:
    rec = load_recognizer(rgb_path, modality="rgb")
    pipe, model, t = rec.pipeline, rec.model, rec.length
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=(*CAMERA_HW, 3), dtype=np.uint8) for _ in range(t + 4)]
    cache = np.stack([pipe.encode_frame(model, f) for f in frames[:t]])  # (T, D)

    def cached(i: int) -> None:
        enc = pipe.encode_frame(model, frames[i % len(frames)])  # (D,) one new frame
        window = np.concatenate([cache[1:], enc[None]])  # (T, D)
        with torch.no_grad():
            pipe.classify(model, window[None])

    def recompute(i: int) -> None:
        prepared = np.stack([pipe.prepare(frames[(i + k) % len(frames)]) for k in range(t)])  # (T, h, w, 3)
        window = pipe.encode_prepared(model, prepared)  # (T, D)
        with torch.no_grad():
            pipe.classify(model, window[None])

    out = {"T": t, "size_hw": list(pipe.size_hw), "view": pipe.view, "torch_threads": torch.get_num_threads()}
    variants = {"cached": cached, "recompute": recompute}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(3):
        for fn in variants.values():
            fn(i)  # warm-up
    for i in range(windows):  # interleaved: both variants see the same load of the (shared) machine
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn(i)
            times[name].append((time.perf_counter() - t0) * 1e3)
    for name in variants:
        out[f"{name}_ms"] = statistics.median(times[name])
    out["ratio"] = out["recompute_ms"] / out["cached_ms"]
    return out


# ----------------------------------------------------------------------------- ROS part
CAMERAS = ("top", "side")


class NodeProcess:
    def __init__(self, exe: str, name: str, params: dict, folder: Path, env: dict[str, str]) -> None:
        params_file = folder / f"{name}.yaml"
        params_file.write_text(yaml.safe_dump({name: {"ros__parameters": params}}))
        self.log = open(folder / f"{name}.log", "w")
        self.proc = subprocess.Popen([sys.executable, str(EXE_DIR / exe), "--ros-args", "--params-file", str(params_file),
                                      "-r", f"__node:={name}"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    a = np.asarray(values)
    return {"n": len(values), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "p99": float(np.percentile(a, 99))}


def case_env(transport: str) -> dict[str, str]:
    """The environment of every process of one case: the shipped profile ("profile") or Fast
    DDS's default transports ("default"), whatever this shell had set."""
    from harnets_core.transport import USER_TRANSPORT_VARIABLES, transport_env

    env = {k: v for k, v in os.environ.items() if k not in (*USER_TRANSPORT_VARIABLES, "HARNETS_DDS_PROFILE")}
    if transport == "profile":
        env.update(transport_env(REPO / "install" / "harnets" / "share" / "harnets" / "config", env))
    return env


def bench_ros(skel_path: Path, rgb_path: Path, frame_time_s: float, duration_s: float, warmup_s: float, folder: Path,
              camera_hw: tuple[int, int], cameras: int, env: dict[str, str], compute_threads: int = 1) -> dict:
    """One case, in a process whose environment (`env`) carries the case's transport: the
    120 Hz skeleton stream and `cameras` raw rgb8 streams of `camera_hw` at 25 fps."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import Image

    from harnets.msg import Activity, SkeletonFrame
    from harnets_ros.common import RESULT_QOS, SENSOR_QOS, ns_to_time, time_to_ns
    from harnets_ros.lifecycle_client import bring_up

    views = CAMERAS[:cameras]
    # Node names of the bench's own: another graph on the same domain (a test run) must not mix in.
    streams = {"skeleton": ("bench_skeleton_recognizer", "skeleton", "activity/skeleton")}
    streams |= {f"rgb_{v}": (f"bench_image_recognizer_{v}", f"camera/{v}/image_raw", f"activity/rgb_{v}") for v in views}
    nodes = [NodeProcess("skeleton_node", streams["skeleton"][0], {"model_path": str(skel_path), "input_topic": "skeleton",
                                                                   "output_topic": "activity/skeleton", "hop_s": 0.25,
                                                                   "queue_size": 512, "compute_threads": compute_threads},
                         folder, env)]
    for v in views:
        name, topic, out = streams[f"rgb_{v}"]
        nodes.append(NodeProcess("image_node", name, {"model_path": str(rgb_path), "input_topic": topic, "output_topic": out,
                                                      "hop_s": 0.4, "queue_size": 8, "compute_threads": compute_threads},
                                  folder, env))
    rclpy.init()
    node = Node("bench_streaming")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    result: dict = {}
    try:
        for name, _, _ in streams.values():
            bring_up(node, "/" + name, timeout_s=120.0)
        clip = read_bvh(CLIP)
        joints = [j for j in clip.skeleton.joints if not j.is_end_site]
        skel_msg = SkeletonFrame(frame_time_s=float(frame_time_s), joint_names=[j.name for j in joints],
                                 channel_counts=[len(j.channels) for j in joints],
                                 channel_types=[c for j in joints for c in j.channels])
        motion = clip.motion.astype(np.float32)
        rng = np.random.default_rng(0)
        h, w = camera_hw
        images = [array.array("B", rng.integers(0, 256, size=h * w * 3, dtype=np.uint8).tobytes()) for _ in range(4)]
        img_msg = Image(height=h, width=w, encoding="rgb8", step=w * 3)
        img_msg.header.frame_id = skel_msg.header.frame_id = "bench"
        pubs = {"skeleton": node.create_publisher(SkeletonFrame, "skeleton", SENSOR_QOS)}
        pubs |= {s: node.create_publisher(Image, streams[s][1], SENSOR_QOS) for s in streams if s != "skeleton"}
        lat: dict[str, list[float]] = {s: [] for s in streams}
        e2e: dict[str, list[float]] = {s: [] for s in streams}
        measuring = [False]
        diags: dict[str, dict[str, str]] = {}

        def on_activity(stream: str, msg: Activity) -> None:
            now_ns = time.time_ns()
            if measuring[0]:
                lat[stream].append(float(msg.latency_ms))
                e2e[stream].append((now_ns - time_to_ns(msg.header.stamp)) / 1e6)

        def on_diag(msg: DiagnosticArray) -> None:
            for st in msg.status:
                diags[st.name] = {kv.key: kv.value for kv in st.values} | {"_level": str(st.level), "_message": st.message}

        subs = [node.create_subscription(Activity, out, lambda m, s=s: on_activity(s, m), RESULT_QOS)
                for s, (_, _, out) in streams.items()]
        node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (all(p.get_subscription_count() for p in pubs.values())
                                                   and all(s.get_publisher_count() for s in subs)):
            executor.spin_once(timeout_sec=0.05)
        executor.spin_once(timeout_sec=0.5)

        published = {s: 0 for s in streams}
        wall0 = time.monotonic()

        def tick() -> None:
            # Publish every sample due by the wall clock; stamps = system time of publishing.
            elapsed = time.monotonic() - wall0
            while published["skeleton"] < int(elapsed / frame_time_s) + 1:
                i = published["skeleton"]
                skel_msg.header.stamp = ns_to_time(time.time_ns())
                skel_msg.frame_index = i
                skel_msg.values = motion[i % len(motion)]
                pubs["skeleton"].publish(skel_msg)
                published["skeleton"] += 1
            for s in streams:
                while s != "skeleton" and published[s] < int(elapsed * CAMERA_FPS) + 1:
                    img_msg.data = images[published[s] % len(images)]
                    img_msg.header.stamp = ns_to_time(time.time_ns())
                    pubs[s].publish(img_msg)
                    published[s] += 1

        timer = node.create_timer(0.002, tick)
        end_warmup = wall0 + warmup_s
        end = end_warmup + duration_s
        while time.monotonic() < end:
            measuring[0] = time.monotonic() >= end_warmup
            executor.spin_once(timeout_sec=0.01)
        node.destroy_timer(timer)
        measuring[0] = False
        drain = time.monotonic() + 2.5  # let the queues drain and the last diagnostics come
        while time.monotonic() < drain:
            executor.spin_once(timeout_sec=0.05)
        for stream, (name, _, _) in streams.items():
            d = diags.get("/" + name, {})
            received = int(d.get("received", 0))
            result[stream] = {
                "published": published[stream],
                "rate_hz": published[stream] / (warmup_s + duration_s),
                "node_received": received,
                "not_received": published[stream] - received,
                "lost_events": int(d.get("lost", 0)),
                "queue_dropped": int(d.get("dropped", 0)),
                "invalid": int(d.get("invalid", 0)) + int(d.get("failed", 0)),
                "skipped_by_rate": int(d.get("skipped_by_rate", 0)),
                "resets": int(d.get("resets", 0)),
                "predictions": int(d.get("published", 0)),
                "latency_ms": percentiles(lat[stream]),
                "end_to_end_ms": percentiles(e2e[stream]),
            }
    finally:
        for p in nodes:
            p.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    return result


def parse_hw(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return h, w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--warmup-s", type=float, default=3.0)
    parser.add_argument("--windows", type=int, default=40, help="windows timed per variant in the core part")
    parser.add_argument("--resolutions", default="640x480,1280x720,1920x1080", help="camera sizes WxH, comma-separated")
    parser.add_argument("--cameras", default="1,2", help="numbers of cameras (top, then side) at once, comma-separated")
    parser.add_argument("--transports", default="profile,default",
                        help="'profile' (config/fastdds.xml, the graph's default) and/or 'default' (Fast DDS's own)")
    parser.add_argument("--compute-threads", default="1",
                        help="the nodes' compute_threads, comma-separated (0: torch's default, one per core; 1: the nodes' default)")
    parser.add_argument("--skip-ros", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="write the figures as JSON there too")
    parser.add_argument("--keep", action="store_true", help="keep the models and node logs (removed otherwise)")
    parser.add_argument("--one-case", default=None, help=argparse.SUPPRESS)  # internal: WxH,cameras,transport -> JSON on stdout
    parser.add_argument("--models", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_case:
        run_case(args)
        return
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(200, 232)))  # tools/run_tests.sh takes 100-199
    folder = Path(tempfile.mkdtemp(prefix="bench_streaming_"))
    os.environ.setdefault("ROS_HOME", str(folder / "ros_home"))
    try:
        run(args, folder)
    finally:
        if args.keep:
            print(f"models and node logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def run_case(args: argparse.Namespace) -> None:
    """One case in this (child) process: its transport is in this process's environment."""
    size, cameras, _, threads = args.one_case.split(",")
    folder = Path(args.models)
    case_dir = Path(tempfile.mkdtemp(prefix="case_", dir=folder))
    frame_time_s = read_bvh(CLIP).frame_time_s
    try:
        ros = bench_ros(folder / "skeleton_default.safetensors", folder / "rgb_default.safetensors", frame_time_s,
                        args.duration_s, args.warmup_s, case_dir, parse_hw(size), int(cameras), dict(os.environ), int(threads))
    except Exception as err:  # noqa: BLE001 - reported with the node logs; the other cases go on
        logs = {log.stem: log.read_text()[-1500:] for log in sorted(case_dir.glob("*.log"))}
        print("CASE_ERROR " + json.dumps({"error": f"{type(err).__name__}: {err}", "node_logs": logs}), flush=True)
        return
    print("CASE_JSON " + json.dumps(ros), flush=True)


def fmt(p: dict) -> str:
    return f"{p['p50']:.1f} / {p['p95']:.1f} / {p['p99']:.1f} (n={p['n']})" if p.get("n") else "none"


def run(args: argparse.Namespace, folder: Path) -> None:
    skel_path, rgb_path, frame_time_s = build_models(folder)
    report: dict = {"command": " ".join(sys.argv), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "loadavg_start": os.getloadavg(), "cpus": os.cpu_count()}
    core = bench_feature_cache(rgb_path, args.windows)
    report["feature_cache"] = core
    print(f"CNN per window (T={core['T']} frames, {core['view']} view at {core['size_hw'][0]}x{core['size_hw'][1]}, "
          f"640x480 input, {core['torch_threads']} torch threads): cached {core['cached_ms']:.2f} ms, "
          f"recompute {core['recompute_ms']:.2f} ms, ratio {core['ratio']:.1f}x")
    cases = []
    if not args.skip_ros:
        for size in args.resolutions.split(","):
            for cameras in args.cameras.split(","):
                for transport, threads in [(t, n) for t in args.transports.split(",") for n in args.compute_threads.split(",")]:
                    cmd = [sys.executable, __file__, "--one-case", f"{size},{cameras},{transport},{threads}", "--models", str(folder),
                           "--duration-s", str(args.duration_s), "--warmup-s", str(args.warmup_s)]
                    t0 = time.monotonic()
                    out = subprocess.run(cmd, env=case_env(transport), capture_output=True, text=True, timeout=600)
                    line = next((l for l in out.stdout.splitlines() if l.startswith(("CASE_JSON ", "CASE_ERROR "))), None)
                    case = {"resolution": size, "cameras": int(cameras), "transport": transport,
                            "compute_threads": int(threads), "case_wall_s": time.monotonic() - t0, "loadavg_end": os.getloadavg()}
                    if line is None or line.startswith("CASE_ERROR "):  # recorded, and the other cases go on
                        case["error"] = json.loads(line[len("CASE_ERROR "):]) if line else {"stdout": out.stdout[-3000:], "stderr": out.stderr[-3000:]}
                        cases.append(case)
                        print(f"\n{size}, {cameras} camera(s), transport {transport}, compute_threads {threads}: FAILED: "
                              f"{case['error'].get('error', case['error'])}")
                        continue
                    case["streams"] = json.loads(line[len("CASE_JSON "):])
                    cases.append(case)
                    print_case(case, args)
    report["cases"] = cases
    report["loss_ratio_default_over_profile"] = loss_ratios(cases)
    for key, value in report["loss_ratio_default_over_profile"].items():
        print(f"frames not received, default / profile, {key}: {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
        print(f"figures written to {args.json}")


def print_case(case: dict, args: argparse.Namespace) -> None:
    print(f"\n{case['resolution']}, {case['cameras']} camera(s), transport {case['transport']}, "
          f"compute_threads {case['compute_threads']}: "
          f"{args.duration_s:.0f} s after {args.warmup_s:.0f} s warm-up (load {case['loadavg_end'][0]:.1f})")
    print("| stream | published | not received | lost events | queue dropped | predictions "
          "| latency_ms p50/p95/p99 | end-to-end ms p50/p95/p99 |")
    print("|---|---|---|---|---|---|---|---|")
    for stream, r in case["streams"].items():
        print(f"| {stream} | {r['published']} ({r['rate_hz']:.1f} Hz) | {r['not_received']} | {r['lost_events']} | "
              f"{r['queue_dropped']} | {r['predictions']} | {fmt(r['latency_ms'])} | {fmt(r['end_to_end_ms'])} |")


def loss_ratios(cases: list[dict]) -> dict[str, str]:
    """Per resolution and camera count: camera frames not received with Fast DDS's default
    transports vs. with the profile (the baseline of the same run)."""
    out = {}
    by_key = {(c["resolution"], c["cameras"], c["transport"], c["compute_threads"]): c for c in cases if "streams" in c}
    for (size, cameras, transport, threads), case in by_key.items():
        other = by_key.get((size, cameras, "default", threads))
        if transport != "profile" or other is None:
            continue
        def lost(c: dict) -> tuple[int, int]:
            rgb = [r for s, r in c["streams"].items() if s != "skeleton"]
            return sum(r["not_received"] for r in rgb), sum(r["published"] for r in rgb)
        (lp, np_), (ld, nd) = lost(case), lost(other)
        out[f"{size} x{cameras} threads {threads}"] = f"{ld}/{nd} vs {lp}/{np_}" + (f" ({ld / lp:.1f}x)" if lp else " (none lost with the profile)")
    return out


if __name__ == "__main__":
    main()
