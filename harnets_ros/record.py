"""`harnets record`: record workcell topics into a rosbag2 where `ros2 bag` is missing.

Subscribes to each topic with its discovered type, takes the serialized (CDR) messages as they
arrive (``raw=True``: no deserialization) and writes them with rosbags
(:class:`harnets_core.formats.bags.BagWriter`, mcap or sqlite3) at their receive time, as
``ros2 bag record`` does. Subscriptions are best effort (they match sensor-data and reliable
publishers alike) with a queue of :data:`QUEUE_DEPTH` messages, so a burst of skeleton frames is
not dropped while the loop writes (the sensor-data profile keeps only 5).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from harnets_core.errors import BagError
from harnets_core.formats.bags import BagWriter

__all__ = ["record_bag"]


def get_message(kind: str) -> type:
    """The rclpy message class of ``"pkg/msg/Type"`` (``import pkg.msg``)."""
    import importlib

    pkg, _, name = kind.split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError) as err:
        raise BagError(f"message type {kind}: not importable here ({err})") from err

DISCOVERY_TIMEOUT_S = 10.0
QUEUE_DEPTH = 1000
"""Messages a subscription holds before the oldest is dropped (about 8 s of a 120 Hz suit)."""


def record_bag(topics: Sequence[str], out: str | Path, *, storage: str = "mcap", duration_s: float = 0.0) -> dict[str, int]:
    """Record ``topics`` into the bag folder ``out`` until Ctrl-C or ``duration_s`` (> 0)
    seconds; returns the message count of each topic. BagError when a topic's type is not
    discovered within :data:`DISCOVERY_TIMEOUT_S` or is unknown to the bag's type store."""
    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    from harnets_ros.graph import use_graph_transport

    use_graph_transport()  # the graph's transport profile: large images arrive (docs/TRANSPORT.md)
    rclpy.init()
    node = rclpy.create_node("harnets_record")
    counts = {t: 0 for t in topics}
    try:
        types: dict[str, str] = {}
        deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
        while len(types) < len(topics) and time.monotonic() < deadline:
            for name, kinds in node.get_topic_names_and_types():
                if name in counts and kinds:
                    types[name] = kinds[0]
            rclpy.spin_once(node, timeout_sec=0.1)
        missing = [t for t in topics if t not in types]
        if missing:
            raise BagError(f"{out}: no publisher of {missing} found within {DISCOVERY_TIMEOUT_S:g} s")
        with BagWriter(out, storage=storage) as writer:
            for topic, kind in types.items():
                writer.add_topic(topic, kind)

                def store(data: bytes, topic: str = topic) -> None:
                    writer.write_raw(topic, node.get_clock().now().nanoseconds, data)
                    counts[topic] += 1

                qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=QUEUE_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT)
                node.create_subscription(get_message(kind), topic, store, qos, raw=True)
            end = time.monotonic() + duration_s if duration_s > 0 else None
            try:
                while rclpy.ok() and (end is None or time.monotonic() < end):
                    rclpy.spin_once(node, timeout_sec=0.1)
            except KeyboardInterrupt:
                pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return counts
