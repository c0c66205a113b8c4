"""The harnets node graph without `ros2 launch`: the same nodes, parameters and lifecycle
bring-up as launch/harnets.launch.py, started as processes by `harnets graph`.

Used where `ros2 launch` is not installed (the pip-installed ROS 2 of CI), by the live
replay evaluation and by the demo.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import rclpy
import yaml
from rclpy.node import Node

from harnets.msg import Activity
from harnets_core import topology
from harnets_core.errors import HarnetsError
from harnets_core.transport import apply_transport_env, transport_env
from harnets_ros.common import RESULT_QOS, time_to_ns
from harnets_ros.lifecycle_client import bring_up

__all__ = ["GraphSpec", "NodeGraph", "package_paths", "graph_spec", "run_graph", "format_activity", "use_graph_transport"]


def package_paths() -> tuple[Path, Path]:
    """(lib/harnets with the node executables, share/harnets) of the installed package."""
    try:
        from ament_index_python.packages import get_package_prefix

        prefix = Path(get_package_prefix("harnets"))
    except Exception as err:  # noqa: BLE001 - PackageNotFoundError or AMENT_PREFIX_PATH unset
        raise HarnetsError(f"the harnets ROS package is not installed or not sourced ({err}); run `make build` "
                           "and `source tools/env.sh` (or install/setup.bash)") from err
    return prefix / "lib" / "harnets", prefix / "share" / "harnets"


def use_graph_transport() -> dict[str, str]:
    """Put the installed transport profile (share/harnets/config/fastdds.xml) into this
    process's environment, unless the user chose a transport (harnets_core.transport).
    Call before rclpy.init: Fast DDS reads it at the process's first participant."""
    _, share = package_paths()
    return apply_transport_env(share / "config")


@dataclass
class NodeSpec:
    """A node of harnets_core.topology (by executable) and this graph's parameter overrides."""

    executable: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def node(self) -> topology.GraphNode:
        return topology.graph_node(self.executable)

    @property
    def name(self) -> str:
        return self.node.name


@dataclass
class GraphSpec:
    nodes: list[NodeSpec]
    config: Path
    namespace: str = ""
    use_sim_time: bool = False

    def activity_topics(self) -> list[str]:
        return topology.activity_topics(self.namespace)


def graph_spec(
    *,
    config: Path | None = None,
    skeleton_model: Path | None = None,
    rgb_model: Path | None = None,
    pose_model: Path | None = None,
    bvh: Path | None = None,
    video: Path | None = None,
    namespace: str = "",
    use_sim_time: bool = False,
    fusion: bool | None = None,
    skeleton_topic: str | None = None,
    image_topic: str | None = None,
    image_transport: str | None = None,
    loop: bool = False,
    hop_s: float | None = None,
    backend: str | None = None,
    visualize: bool = False,
) -> GraphSpec:
    """Which nodes to start with which models (the choice launch/harnets.launch.py makes).
    Topics left None keep the parameter file's. ``visualize``: also the visualization node
    (launch's visualize:=true), on the graph's activity and the streamed BVH's skeleton."""
    _, share = package_paths()
    nodes = []
    models = {"skeleton": skeleton_model, "rgb": rgb_model, "pose": pose_model}
    for rec in topology.RECOGNIZERS:
        model = models[rec.source]
        if model is not None:
            params: dict[str, Any] = {"model_path": str(Path(model).resolve())}
            topic = image_topic if rec.image_input else skeleton_topic
            if topic:
                params["input_topic"] = topic
            if rec.image_input and image_transport:
                params["image_transport"] = image_transport
            if hop_s is not None:
                params["hop_s"] = float(hop_s)
            if backend is not None:
                params["backend"] = backend
            nodes.append(NodeSpec(rec.executable, params))
    if not nodes:
        raise HarnetsError(f"the graph needs at least one model ({', '.join(topology.SOURCES)})")
    if fusion if fusion is not None else len(nodes) > 1:
        # the first model's forecaster forecasts the fused timeline (source "fusion" on activity/forecast)
        nodes.append(NodeSpec(topology.FUSION.executable, {"inputs": [n.node.output_topic for n in nodes],
                                                           "forecast_model_path": nodes[0].params["model_path"]}))
    for streamer, path in ((topology.SKELETON_STREAMER, bvh), (topology.VIDEO_STREAMER, video)):
        if path is not None:
            nodes.append(NodeSpec(streamer.executable, {streamer.file_parameter: str(Path(path).resolve()), "loop": loop}))
    if visualize:
        fused = any(n.node is topology.FUSION for n in nodes)
        nodes.append(_visualizer(nodes[0], fused, bvh, skeleton_topic, image_topic, image_transport))
    return GraphSpec(nodes, Path(config) if config else share / "config" / "harnets.yaml", namespace, use_sim_time)


def _visualizer(first_recognizer: NodeSpec, fused: bool, bvh: Path | None, skeleton_topic: str | None,
                image_topic: str | None, image_transport: str | None) -> NodeSpec:
    """The visualization node of a graph: it draws the graph's activity (the fusion's, as in the
    parameter file, or the single recognizer's output) on the streamed BVH's skeleton."""
    params: dict[str, Any] = {} if fused else {"activity_topic": first_recognizer.node.output_topic}
    if bvh is not None:
        params["skeleton_bvh"] = str(Path(bvh).resolve())
    for key, value in (("skeleton_topic", skeleton_topic), ("image_topic", image_topic), ("image_transport", image_transport)):
        if value:
            params[key] = value
    return NodeSpec(topology.VISUALIZER.executable, params)


class NodeGraph:
    """Starts the graph's processes, brings the lifecycle nodes up, stops everything.

    The per-node parameter files live in a temporary folder (`params_dir`) from `start` to
    `stop`; a `start` that fails stops what it started and removes it too.
    """

    def __init__(self, spec: GraphSpec, log_dir: Path | None = None) -> None:
        self.spec = spec
        self.lib, _ = package_paths()
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.params_dir: Path | None = None
        # Every node process gets the transport profile (a participant without it loses large images).
        self.env = {**os.environ, **transport_env(package_paths()[1] / "config")}

    def _params_file(self, node: NodeSpec) -> Path:
        """The node's section of the parameter file plus this graph's overrides, under a
        wildcard key (`/**/name`) so that it applies in any namespace."""
        try:
            config = yaml.safe_load(self.spec.config.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise HarnetsError(f"{self.spec.config}: cannot read the parameter file: {err}") from err
        params = dict((config.get(node.name) or {}).get("ros__parameters") or {})
        params.update(node.params)
        if self.spec.use_sim_time:
            params["use_sim_time"] = True
        assert self.params_dir is not None, "start() creates the parameter folder"
        path = self.params_dir / f"{node.name}.yaml"
        path.write_text(yaml.safe_dump({f"/**/{node.name}": {"ros__parameters": params}}))
        return path

    def _command(self, node: NodeSpec) -> list[str]:
        args = [sys.executable, str(self.lib / node.executable), "--ros-args", "--params-file", str(self._params_file(node))]
        if self.spec.namespace:
            args += ["-r", f"__ns:=/{self.spec.namespace.strip('/')}"]
        return args

    def _launch(self, node: NodeSpec) -> None:
        with contextlib.ExitStack() as files:  # the child keeps its own handle of the log
            out: Any = subprocess.DEVNULL
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                out = files.enter_context(open(self.log_dir / f"{node.name}.log", "w"))
            self.procs[node.name] = subprocess.Popen(
                self._command(node), stdout=out, stderr=subprocess.STDOUT, env=self.env,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )

    def start(self, control: Node, timeout_s: float = 60.0) -> None:
        """Recognizers and fusion first; once every recognizer is active, the streamers (a
        short file would otherwise be over before the models are loaded). On failure, what
        was started is stopped before the error propagates."""
        if not self.spec.config.exists():
            raise HarnetsError(f"{self.spec.config}: parameter file not found")
        self.params_dir = Path(tempfile.mkdtemp(prefix="harnets_graph_"))
        try:
            self._start(control, timeout_s)
        except BaseException:
            self.stop()
            raise

    def _start(self, control: Node, timeout_s: float) -> None:
        streamers = [n for n in self.spec.nodes if n.node in topology.STREAMERS]
        for node in self.spec.nodes:
            if node not in streamers:
                self._launch(node)
        ns = self.spec.namespace.strip("/")
        for node in self.spec.nodes:
            if node.node.lifecycle:
                self.check_alive()
                bring_up(control, topology.qualified(node.name, ns), timeout_s)
        for node in streamers:
            self._launch(node)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                where = f" (log: {self.log_dir / (name + '.log')})" if self.log_dir else ""
                raise HarnetsError(f"node {name} exited with code {proc.returncode}{where}")

    def stop(self, timeout_s: float = 10.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.params_dir is not None:
            shutil.rmtree(self.params_dir)
            self.params_dir = None


def format_activity(msg: Activity) -> str:
    stamp_s = time_to_ns(msg.header.stamp) / 1e9
    return (f"[{stamp_s:12.3f}] {msg.source:<8} {msg.label:<22} {msg.confidence:5.2f}  "
            f"latency {msg.latency_ms:6.1f} ms")


def subscribe_activities(node: Node, topics: Sequence[str], callback: Callable[[str, Activity], None]) -> list[Any]:
    return [node.create_subscription(Activity, t, lambda m, t=t: callback(t, m), RESULT_QOS) for t in topics]


def run_graph(args: Any) -> int:
    """`harnets graph`: start the graph, print activities, stop on Ctrl-C or --duration-s."""
    spec = graph_spec(config=args.config, skeleton_model=args.skeleton_model, rgb_model=args.rgb_model,
                      pose_model=args.pose_model, bvh=args.bvh, video=args.video, namespace=args.namespace,
                      use_sim_time=args.use_sim_time, loop=args.loop, visualize=args.visualize)
    use_graph_transport()
    rclpy.init()
    control = Node("harnets_graph")
    graph = NodeGraph(spec, log_dir=Path(os.environ.get("ROS_LOG_DIR", "/tmp")) / "harnets_graph")
    try:
        graph.start(control)
        print("started: " + ", ".join(n.name for n in spec.nodes), flush=True)
        if args.print_activities:
            subscribe_activities(control, spec.activity_topics(), lambda t, m: print(format_activity(m), flush=True))
        deadline = time.monotonic() + args.duration_s if args.duration_s > 0 else None
        while deadline is None or time.monotonic() < deadline:
            rclpy.spin_once(control, timeout_sec=0.1)
            graph.check_alive()
    except KeyboardInterrupt:
        pass
    finally:
        graph.stop()
        control.destroy_node()
        rclpy.try_shutdown()
    return 0
