"""Live replay evaluation: play a session bag over DDS into the running node graph with
/clock (use_sim_time), record the nodes' Activity output into a result bag, score it.

The bag's messages are published as they are stored (CDR bytes deserialized by rclpy), at
`rate` times real time, or with rate 0 in lock-step: one hop of sensor time at a time,
waiting until every recognizer has answered for it (as fast as the nodes keep up).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

import rclpy
from rclpy.node import Node
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.highlevel import AnyReader
from diagnostic_msgs.msg import DiagnosticArray
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image

from harnets.msg import Activity, SkeletonFrame
from harnets_core.formats.bags import (
    ACTIVITY_TYPE,
    COMPRESSED_IMAGE_TYPE,
    IMAGE_TYPE,
    SKELETON_FRAME_TYPE,
    BagWriter,
    make_typestore,
)
from harnets_core.errors import BagError
from harnets_core.evaluation.class_table import align_classes, bag_class_names
from harnets_core.evaluation.replay import BAG_START_NS, ground_truth_from_bag, score_replay
from harnets_core.topology import FUSION_SOURCE, GROUND_TRUTH_SOURCE, RECOGNIZERS, SOURCES, source_of_topic
from harnets_core.models.backends import read_model_meta
from harnets_ros.common import RESULT_QOS, SENSOR_QOS, ns_to_time, time_to_ns
from harnets_ros.graph import NodeGraph, format_activity, graph_spec, use_graph_transport

__all__ = ["replay_live"]

TYPES = {
    SKELETON_FRAME_TYPE: SkeletonFrame,
    IMAGE_TYPE: Image,
    COMPRESSED_IMAGE_TYPE: CompressedImage,
}
SOURCE_OF_TOPIC = source_of_topic()
"""The graph's Activity topics (root namespace) -> their source: recorded into the result bag."""


class _Player(Node):
    """Publishes the bag's sensor topics and /clock; records every Activity it hears."""

    def __init__(self, topics: Mapping[str, str], writer: BagWriter, print_activities: bool) -> None:
        super().__init__("harnets_replay")
        self.clock_pub = self.create_publisher(Clock, "/clock", 10)
        self.types = dict(topics)
        self._executor = rclpy.executors.SingleThreadedExecutor()
        self._executor.add_node(self)
        self.pubs = {topic: self.create_publisher(TYPES[msgtype], topic, SENSOR_QOS) for topic, msgtype in topics.items()}
        self.writer = writer
        self.print_activities = print_activities
        self.newest: dict[str, int] = {}
        self.received = 0
        self.sent: dict[str, int] = {topic: 0 for topic in topics}
        self.diagnostics: dict[str, dict[str, str]] = {}  # node (fully qualified) -> its last /diagnostics values
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50)
        for topic in SOURCE_OF_TOPIC:
            writer.add_topic(topic, ACTIVITY_TYPE)
            self.create_subscription(Activity, topic, lambda m, t=topic: self._on_activity(t, m), RESULT_QOS)

    def _on_activity(self, topic: str, msg: Activity) -> None:
        stamp = time_to_ns(msg.header.stamp)
        self.writer.write_raw(topic, stamp, serialize_message(msg))
        self.newest[msg.source] = max(stamp, self.newest.get(msg.source, 0))
        self.received += 1
        if self.print_activities:
            print(format_activity(msg), flush=True)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            self.diagnostics[status.name] = {kv.key: kv.value for kv in status.values}

    def spin(self, timeout_s: float) -> None:
        """Handle what has arrived (Activity messages, lifecycle answers)."""
        self._executor.spin_once(timeout_sec=timeout_s)

    def publish(self, topic: str, stamp_ns: int, raw: bytes) -> None:
        clock = Clock()
        clock.clock = ns_to_time(stamp_ns)
        self.clock_pub.publish(clock)
        self.pubs[topic].publish(deserialize_message(raw, TYPES[self.types[topic]]))
        self.sent[topic] += 1


def replay_live(
    bag: str | Path,
    models: Mapping[str, str | Path],
    out_dir: str | Path,
    *,
    rate: float = 1.0,
    print_activities: bool = False,
    backend: str = "auto",
) -> dict[str, Any]:
    """Start the graph (use_sim_time) with `models`, play `bag` into it, record and score.
    The recognizers run at their models' training hop, as the offline replay does, on `backend`."""
    bag = Path(bag)
    gt_stream = ground_truth_from_bag(bag)  # first: a bag without it fails before anything starts
    metas = {src: read_model_meta(path) for src, path in models.items()}
    hops_ns = {src: int(meta.hop_s * 1e9) for src, meta in metas.items()}
    model_classes = {src: (meta.class_ids, meta.class_names) for src, meta in metas.items()}  # scored on the bag's classes
    align_classes(bag_class_names(bag), model_classes)  # a model of another dataset fails before the graph starts
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result_bag = out / "result_bag"
    if result_bag.exists():
        raise BagError(f"{result_bag}: already exists (choose another --out)")
    sources = [s for s in SOURCES if s in models]
    expected = sources + ([FUSION_SOURCE] if len(sources) > 1 else [])
    use_graph_transport()  # the player publishes the images: it needs the profile as the nodes do
    rclpy.init()
    graph: NodeGraph | None = None
    try:
        with AnyReader([bag]) as reader, BagWriter(result_bag, typestore=make_typestore()) as writer:
            sensor = {c.topic: c.msgtype for c in reader.connections if c.msgtype in TYPES and _wanted(c.msgtype, sources)}
            if not sensor:
                raise BagError(f"{bag}: no sensor topic for the models {sources}")
            player = _Player(sensor, writer, print_activities)
            skeleton_topic = next((t for t, m in sensor.items() if m == SKELETON_FRAME_TYPE), None)
            image_topic = next((t for t, m in sensor.items() if m != SKELETON_FRAME_TYPE), None)
            transport = "compressed" if image_topic and sensor[image_topic] == COMPRESSED_IMAGE_TYPE else "raw"
            graph = NodeGraph(graph_spec(skeleton_model=models.get("skeleton"), rgb_model=models.get("rgb"),
                                         pose_model=models.get("pose"), use_sim_time=True, skeleton_topic=skeleton_topic,
                                         image_topic=image_topic, image_transport=transport, hop_s=0.0,
                                         backend=backend),
                              log_dir=out / "node_logs")
            graph.start(player)
            _wait_for_subscribers(player, timeout_s=10.0)
            conns = [c for c in reader.connections if c.topic in sensor]
            wall0, t0, last_wall, last_spin = time.monotonic(), None, 0.0, 0.0
            step_end = None
            last_ns = BAG_START_NS
            for conn, stamp_ns, raw in reader.messages(connections=conns):
                t0 = stamp_ns if t0 is None else t0
                last_ns = stamp_ns
                if rate > 0:
                    # sleep to the message's wall time; handle arrivals every 5 ms meanwhile
                    target = wall0 + (stamp_ns - t0) / 1e9 / rate
                    while (now := time.monotonic()) < target:
                        if now - last_spin > 0.005:
                            player.spin(0)
                            last_spin = now
                        time.sleep(min(target - now, 0.002))
                else:
                    step_end = _lockstep(player, stamp_ns, t0, step_end, hops_ns)
                    # at most one message a millisecond: a burst must not overflow the nodes' input
                    while time.monotonic() - last_wall < 0.001:
                        time.sleep(0.0002)
                    last_wall = time.monotonic()
                player.publish(conn.topic, stamp_ns, raw)
                if time.monotonic() - last_spin > 0.005:
                    player.spin(0)
                    graph.check_alive()
                    last_spin = time.monotonic()
            inputs = {rec.name: skeleton_topic if rec.source == "skeleton" else image_topic
                      for rec in RECOGNIZERS if rec.source in sources}
            _drain(player, inputs, timeout_s=30.0)
    finally:
        if graph is not None:
            graph.stop()
        rclpy.try_shutdown()
    from harnets_core.evaluation.timeline import activities_from_bag

    predictions, latencies = activities_from_bag(result_bag, t0_ns=BAG_START_NS)
    predictions.pop(GROUND_TRUTH_SOURCE, None)
    missing = [s for s in expected if not predictions.get(s)]
    if missing:
        raise BagError(f"live replay: no Activity from {missing} (node logs in {out / 'node_logs'})")
    end_s = max((last_ns - BAG_START_NS) / 1e9, gt_stream[-1].stamp_s)
    metrics = score_replay(bag, predictions, gt_stream, out, model_classes=model_classes, end_s=end_s, latencies=latencies,
                           title=f"live replay of {bag.name} at rate {rate or 'lock-step'}")
    metrics["result_bag"] = str(result_bag)
    return metrics


def _wanted(msgtype: str, sources: list[str]) -> bool:
    """A sensor topic one of the models reads (skeleton frames: the skeleton recognizer's; images: the others')."""
    needs = {node.source for node in RECOGNIZERS if node.image_input == (msgtype != SKELETON_FRAME_TYPE)}
    return bool(needs & set(sources))


def _wait_for_subscribers(player: _Player, timeout_s: float) -> None:
    """Discovery: wait until each sensor topic has a subscriber before playing (and a moment
    more: each side completes discovery on its own, the first messages could be lost)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(pub.get_subscription_count() > 0 for pub in player.pubs.values()):
            settle = time.monotonic() + 0.5
            while time.monotonic() < settle:
                player.spin(0.05)
            return
        player.spin(0.05)
    raise BagError(f"no subscriber on {[t for t, p in player.pubs.items() if p.get_subscription_count() == 0]} after {timeout_s:.0f} s")


def _lockstep(player: _Player, stamp_ns: int, t0: int, step_end: int | None, hops_ns: Mapping[str, int]) -> int:
    """Rate 0: before crossing into the next step of sensor time (the shortest model hop),
    wait (up to 0.5 s) until every recognizer has published for the data already sent."""
    step_ns = min(hops_ns.values())
    if step_end is None:
        return t0 + step_ns
    if stamp_ns < step_end:
        return step_end
    deadline = time.monotonic() + 0.5
    warm = step_end - t0 > 3 * 1e9  # recognizers answer only once their window is full
    while warm and time.monotonic() < deadline:
        if all(player.newest.get(s, 0) >= step_end - hop - 20_000_000 for s, hop in hops_ns.items()):
            break
        player.spin(0.005)
    return step_end + step_ns * max(1, (stamp_ns - step_end) // step_ns + 1)


def _drain(player: _Player, inputs: Mapping[str, str | None], timeout_s: float) -> None:
    """After the last message: wait until every recognizer has taken and handled all it was
    sent (its /diagnostics: `received` + `lost` reach what the player sent to its topic, the
    queue is empty and every message received is processed or refused), then until no
    Activity came for 0.5 s (the fusion's last ones). Deterministic however slow the nodes
    are (a quiet period alone ended before a lagging node had finished); `timeout_s` bounds
    a node that never reports."""
    deadline = time.monotonic() + timeout_s
    wanted = {f"/{name}": player.sent.get(topic or "", 0) for name, topic in inputs.items()}

    def handled(name: str, sent: int) -> bool:
        d = player.diagnostics.get(name)
        if d is None:
            return False
        n = {k: int(d.get(k, 0)) for k in ("received", "lost", "processed", "invalid", "failed", "dropped")}
        return (n["received"] + n["lost"] >= sent and int(d.get("queue", 1)) == 0
                and n["processed"] + n["invalid"] + n["failed"] + n["dropped"] >= n["received"])

    player.diagnostics.clear()  # only reports made after the last message count
    while time.monotonic() < deadline and not all(handled(name, sent) for name, sent in wanted.items()):
        player.spin(0.05)
    unfinished = [name for name, sent in wanted.items() if not handled(name, sent)]
    if unfinished:  # samples lost unreported (e.g. a history overwritten), or a node that stopped reporting
        print(f"live replay: {unfinished} had not handled all {wanted} messages sent after {timeout_s:.0f} s: "
              f"scoring what arrived (last /diagnostics: {[player.diagnostics.get(n) for n in unfinished]})", flush=True)
    quiet_since, count = time.monotonic(), player.received
    while time.monotonic() < deadline and time.monotonic() - quiet_since < 0.5:
        player.spin(0.05)
        if player.received != count:
            count, quiet_since = player.received, time.monotonic()
