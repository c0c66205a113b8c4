"""ROS plumbing shared by the harnets nodes: QoS, time, parameters, diagnostics, Activity, message fields.

Everything that is not ROS plumbing lives in harnets_core.
"""
from __future__ import annotations

import threading
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from harnets.msg import Activity
from harnets_core.topology import compressed_topic

__all__ = [
    "SENSOR_QOS",
    "RESULT_QOS",
    "Diagnostics",
    "PeriodicThread",
    "WARN_COUNTERS",
    "declare",
    "ns_to_time",
    "time_to_ns",
    "prediction_to_msg",
    "run_node",
    "sensor_qos",
    "compressed_topic",
    "ros_fields",
]

SENSOR_QOS = qos_profile_sensor_data
RESULT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def sensor_qos(depth: int) -> QoSProfile:
    """Sensor-data QoS (best effort, volatile) with a deeper history: a 120 Hz stream must
    not lose frames while the node's inference thread holds the CPU for a few ms."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=max(1, int(depth)),
                      reliability=qos_profile_sensor_data.reliability, durability=qos_profile_sensor_data.durability)


def ns_to_time(stamp_ns: int) -> Time:
    """builtin_interfaces/Time from nanoseconds."""
    return Time(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))


def time_to_ns(stamp: Any) -> int:
    """Nanoseconds from builtin_interfaces/Time (or anything with sec/nanosec)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def declare(node: Node, name: str, default: Any, description: str) -> Any:
    """Declare a parameter with its description and return its value."""
    return node.declare_parameter(name, default, ParameterDescriptor(description=description)).value


# rclpy stores a primitive array field as array.array: one given as array.array of the right
# type code is taken as it is, a numpy array is copied element by element (0.3 s for a full-HD
# rgb8 frame, measured here).
_TYPECODES = {np.dtype(np.uint8): "B", np.dtype(np.int32): "i", np.dtype(np.float32): "f", np.dtype(np.float64): "d"}


def ros_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of an rclpy message from a field dict of harnets_core.formats.messages
    (``Image(**ros_fields(image_fields(rgb)))``): numpy arrays become array.array (one copy)."""
    out = dict(fields)
    for key, value in fields.items():
        if isinstance(value, np.ndarray):
            values = array(_TYPECODES[value.dtype])
            values.frombytes(np.ascontiguousarray(value).reshape(-1).view(np.uint8).data)
            out[key] = values
    return out


def prediction_to_msg(prediction: Any, frame_id: str, latency_ms: float) -> Activity:
    """harnets/Activity from a harnets_core.streaming.recognizer.Prediction."""
    msg = Activity()
    msg.header.stamp = ns_to_time(prediction.stamp_ns)
    msg.header.frame_id = frame_id
    msg.window_start = ns_to_time(prediction.window_start_ns)
    msg.source = prediction.source
    msg.model_id = prediction.model_id
    msg.label = prediction.label
    msg.class_id = int(prediction.class_id)
    msg.confidence = float(prediction.confidence)
    msg.class_names = list(prediction.class_names)
    msg.class_ids = [int(i) for i in prediction.class_ids]
    msg.probabilities = [float(p) for p in prediction.probabilities]
    msg.latency_ms = float(latency_ms)
    return msg


def forecast_to_msg(prediction: Any, frame_id: str) -> Any:
    """harnets/ActivityForecast from a Prediction's ``forecast`` (None when it has none)."""
    from harnets.msg import ActivityForecast
    from harnets_core.datasets.inhard import META_ACTIONS

    f = prediction.forecast
    if f is None:
        return None
    name = {int(i): n for i, n in zip(prediction.class_ids, prediction.class_names)}
    msg = ActivityForecast()
    msg.header.stamp = ns_to_time(f.stamp_ns)
    msg.header.frame_id = frame_id
    msg.source = prediction.source
    msg.model_id = prediction.model_id
    msg.current_class_id = int(f.current_id)
    msg.current_label = name.get(int(f.current_id), META_ACTIONS[f.current_id] if 0 <= f.current_id < len(META_ACTIONS) else "")
    msg.elapsed_s = float(f.elapsed_s)
    msg.remaining_p10_s, msg.remaining_p50_s, msg.remaining_p90_s = (float(x) for x in f.remaining_s)
    msg.next_class_ids = [int(i) for i in f.next_ids]
    msg.next_class_names = [name.get(int(i), "") for i in f.next_ids]
    msg.next_probabilities = [float(p) for p in f.next_probabilities]
    return msg


# Counters whose growth in a period makes the level WARN: an input that was not used.
WARN_COUNTERS = ("dropped", "invalid", "lost", "duplicate_stamps", "stamps_backwards")


@dataclass
class Diagnostics:
    """Counters and timings of one node, published on /diagnostics at 1 Hz.

    Level: ERROR while a `fault` is set (a condition that lasts, e.g. a failed configure,
    until `clear_fault`) or while the last `error` is newer than `error_hold_s`; WARN when
    one of `warn_counters` grew in the last period (the message names them); OK otherwise,
    with `ok_message`. Safe to publish from a thread other than the one counting (it reads
    copies).
    """

    name: str
    hardware_id: str = "harnets"
    error_hold_s: float = 5.0
    warn_counters: tuple[str, ...] = WARN_COUNTERS
    counters: dict[str, int] = field(default_factory=dict)
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=500))
    last_error: str = ""
    last_error_wall_s: float = 0.0
    fault: str = ""
    _last_counters: dict[str, int] = field(default_factory=dict)
    _last_wall_s: float = field(default_factory=time.monotonic)

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def error(self, message: str) -> None:
        self.count("errors")
        self.last_error = message
        self.last_error_wall_s = time.monotonic()

    def set_fault(self, message: str) -> None:
        """ERROR with `message` until `clear_fault` (also recorded as the last error)."""
        self.error(message)
        self.fault = message

    def clear_fault(self) -> None:
        self.fault = ""

    def status(self, extra: dict[str, Any] | None = None, ok_message: str = "ok", warning: str = "") -> DiagnosticStatus:
        """``warning``: a standing problem of the input (e.g. it does not fit the model's
        view): WARN with it as the message when nothing worse is to report."""
        now = time.monotonic()
        period_s = max(now - self._last_wall_s, 1e-9)
        counters = dict(self.counters)  # a copy: another thread may be counting
        values = [KeyValue(key=k, value=str(v)) for k, v in sorted(counters.items())]
        deltas = {key: max(0, value - self._last_counters.get(key, 0)) for key, value in counters.items()}
        for key in sorted(counters):
            values.append(KeyValue(key=f"{key}_per_s", value=f"{deltas[key] / period_s:.2f}"))
        latencies = sorted(list(self.latencies_ms))
        if latencies:
            for q in (50, 95, 99):
                values.append(KeyValue(key=f"latency_p{q}_ms", value=f"{latencies[min(len(latencies) - 1, len(latencies) * q // 100)]:.2f}"))
        for key, value in (extra or {}).items():
            values.append(KeyValue(key=key, value=str(value)))
        problems = {key: deltas[key] for key in self.warn_counters if deltas.get(key, 0) > 0}
        if self.fault:
            level, message = DiagnosticStatus.ERROR, self.fault
        elif self.last_error and now - self.last_error_wall_s < self.error_hold_s:
            level, message = DiagnosticStatus.ERROR, self.last_error
        elif problems:
            named = ", ".join(f"{n} {key}" for key, n in problems.items())
            level, message = DiagnosticStatus.WARN, f"inputs not used in the last {period_s:.1f} s: {named}"
        elif warning:
            level, message = DiagnosticStatus.WARN, warning
        else:
            level, message = DiagnosticStatus.OK, ok_message
        if self.last_error:
            values.append(KeyValue(key="last_error", value=self.last_error))
        self._last_counters = counters
        self._last_wall_s = now
        return DiagnosticStatus(level=level, name=self.name, message=message, hardware_id=self.hardware_id, values=values)

    def publish(self, node: Node, publisher: Any, extra: dict[str, Any] | None = None, ok_message: str = "ok",
                warning: str = "") -> None:
        array = DiagnosticArray()
        array.header.stamp = node.get_clock().now().to_msg()
        array.status = [self.status(extra, ok_message, warning)]
        publisher.publish(array)


class PeriodicThread:
    """Calls `fn()` every `period_s` seconds in its own daemon thread, outside the executor:
    /diagnostics keeps coming while a callback holds the executor (a slow decode or model).
    An exception from `fn` ends the thread (e.g. the context was shut down)."""

    def __init__(self, fn: Callable[[], None], period_s: float, name: str = "harnets-periodic") -> None:
        self._fn = fn
        self._period_s = float(period_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self._fn()
            except Exception:  # noqa: BLE001 - the node is going away; nothing to report to
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


def run_node(factory: Callable[..., Node], args: list[str] | None = None) -> None:
    """`main()` body of every node: init, spin, and a quiet end on Ctrl-C or shutdown.

    One thread: rclpy's MultiThreadedExecutor was measured to take in at most ~100 skeleton
    frames a second here (its per-callback overhead), the single-threaded one all 240 of a
    2x replay. Inference per hop costs a few ms (per-frame feature parts are cached), and
    the input subscription's deep history holds what arrives meanwhile. /diagnostics of the
    recognizers comes from a thread of its own (PeriodicThread), not from this executor.
    A node whose `finished` attribute turns true (a lifecycle node shut down) ends the process."""
    rclpy.init(args=args)
    node = None
    try:
        node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        # A lifecycle node sets `finished` on its shutdown transition: the process ends then.
        while rclpy.ok() and not getattr(node, "finished", False):
            executor.spin_once(timeout_sec=0.2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
