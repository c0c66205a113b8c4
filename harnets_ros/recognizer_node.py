"""Base lifecycle node of the recognizers: ingest apart from inference, Activity out.

configure loads the model file (a missing or bad file makes configure fail with a clear
message, reported on /diagnostics); activate subscribes. The subscription callback only
stores the message (bounded queue, drops counted); a timer converts and pushes the queued
samples through the core's streaming recognizer and publishes the predictions it returns.
A bad message is logged, counted and reported; it never kills the node.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from harnets.msg import Activity
from harnets_core.errors import HarnetsError, StreamError
from harnets_ros.common import RESULT_QOS, Diagnostics, declare, prediction_to_msg, sensor_qos

__all__ = ["RecognizerNode"]


class RecognizerNode(LifecycleNode):
    """Subclasses set `msg_type`/`default_input` and implement `load(path)` and `convert(msg)`."""

    msg_type: Any = None
    default_input = ""
    default_input_depth = 256  # 2 s of a 120 Hz skeleton stream

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.model_path = declare(self, "model_path", "", "Model file (.safetensors) written by `harnets train`.")
        self.input_topic = declare(self, "input_topic", self.default_input, "Topic of the sensor input.")
        self.output_topic = declare(self, "output_topic", "activity", "Topic of the harnets/Activity output.")
        self.hop_s = declare(self, "hop_s", 0.0, "Seconds of sensor time between two predictions; 0: the model's training hop.")
        self.max_gap_s = declare(self, "max_gap_s", 0.5, "A gap in sensor stamps longer than this (or a stamp going backwards) restarts the window.")
        self.queue_size = declare(self, "queue_size", 256, "Messages held between ingest and inference; older ones are dropped (counted).")
        self.process_rate_hz = declare(self, "process_rate_hz", 100.0, "Rate of the inference loop that drains the queue, in Hz.")
        self.frame_id = declare(self, "frame_id", "", "frame_id of the output; empty: the input's frame_id.")
        self.input_depth = declare(self, "input_depth", self.default_input_depth, "History depth of the (best-effort) input subscription.")
        self.backend = declare(self, "backend", "auto", "What runs the model: 'torch' (the .safetensors), 'onnxruntime' "
                               "(the .onnx given, or the export beside the .safetensors: `harnets export M --onnx`), or "
                               "'auto' (.onnx files on onnxruntime; .safetensors on the backend measured faster for the model type).")
        self.onnx_providers = declare(self, "onnx_providers", "auto", "onnxruntime execution providers, comma-separated "
                                      "(cpu, cuda, tensorrt or full names); 'auto': CUDA where available, else CPU.")
        # Ingest and inference in separate callback groups, ready for a multi-threaded
        # executor (run_node uses one thread: see there).
        self._ingest_group = MutuallyExclusiveCallbackGroup()
        self._process_group = MutuallyExclusiveCallbackGroup()
        self.diag = Diagnostics(self.get_fully_qualified_name())
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        # Compute and reporting run on the steady clock: with use_sim_time and no /clock yet,
        # the node still drains its queue and reports.
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics, clock=self._steady)
        self._queue: deque = deque(maxlen=max(1, int(self.queue_size)))
        self.recognizer: Any = None
        self._pub = None
        self._sub = None
        self._timer = None

    # ----------------------------------------------------------------- subclass API
    def load(self, path: str) -> Any:
        """Build the core streaming recognizer from a model file."""
        raise NotImplementedError

    def convert(self, msg: Any) -> tuple[Any, int, str]:
        """(sample, stamp_ns, frame_id) from a message; raise StreamError when it is bad."""
        raise NotImplementedError

    # ----------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.recognizer = self.load(self.model_path)
            self.recognizer.warm_up()
        except HarnetsError as err:
            self.get_logger().error(f"configure failed: {err}")
            self.diag.error(f"configure failed: {err}")
            return TransitionCallbackReturn.FAILURE
        self._pub = self.create_lifecycle_publisher(Activity, self.output_topic, RESULT_QOS)
        rec = self.recognizer
        runs_on = f"{rec.backend}" + (f" providers {list(rec.providers)}" if rec.providers else "")
        self.get_logger().info(
            f"loaded {rec.model_id} ({rec.source}, {len(rec.class_names)} classes) on {runs_on} "
            f"({rec.backend_reason}); input {self.input_topic}"
        )
        missing = getattr(rec.model, "missing_providers", ())
        if missing:  # onnxruntime falls back to the CPU without a word when CUDA libraries are missing
            self.get_logger().warn(f"onnxruntime did not start {list(missing)}; running on {list(rec.providers)}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._sub = self.create_subscription(self.msg_type, self.input_topic, self._ingest,
                                             sensor_qos(self.input_depth), callback_group=self._ingest_group)
        self._timer = self.create_timer(1.0 / float(self.process_rate_hz), self._process,
                                        callback_group=self._process_group, clock=self._steady)
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._drop_io()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._drop_io()
        if self._pub is not None:
            self.destroy_publisher(self._pub)
            self._pub = None
        self.recognizer = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._drop_io()
        return TransitionCallbackReturn.SUCCESS

    def _drop_io(self) -> None:
        if self._sub is not None:
            self.destroy_subscription(self._sub)
            self._sub = None
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        self._queue.clear()

    # ----------------------------------------------------------------- data path
    def _ingest(self, msg: Any) -> None:
        self.diag.count("received")
        if len(self._queue) == self._queue.maxlen:
            self.diag.count("dropped")  # deque drops the oldest
        self._queue.append((msg, time.monotonic_ns()))

    def _process(self) -> None:
        while self._queue:
            msg, received_ns = self._queue.popleft()
            try:
                sample, stamp_ns, frame_id = self.convert(msg)
                prediction = self.recognizer.push(sample, stamp_ns)
            except StreamError as err:
                self.diag.count("invalid")
                self.diag.error(str(err))
                self.get_logger().warn(f"{self.input_topic}: {err}", throttle_duration_sec=2.0)
                continue
            except Exception as err:  # noqa: BLE001 - one bad message never kills the node
                self.diag.count("failed")
                self.diag.error(f"{type(err).__name__}: {err}")
                self.get_logger().error(f"{self.input_topic}: {type(err).__name__}: {err}", throttle_duration_sec=2.0)
                continue
            self.diag.count("processed")
            if prediction is None:
                continue
            latency_ms = (time.monotonic_ns() - received_ns) / 1e6
            self._pub.publish(prediction_to_msg(prediction, self.frame_id or frame_id, latency_ms))
            self.diag.count("published")
            self.diag.latencies_ms.append(latency_ms)

    def _publish_diagnostics(self) -> None:
        extra = {"queue": len(self._queue), "state": "active" if self._timer is not None else "inactive"}
        if self.recognizer is not None:
            extra["model_id"] = self.recognizer.model_id
            extra["backend"] = self.recognizer.backend
            if self.recognizer.providers:
                extra["onnx_providers"] = ",".join(self.recognizer.providers)
                missing = getattr(self.recognizer.model, "missing_providers", ())
                if missing:
                    extra["onnx_providers_not_started"] = ",".join(missing)
            extra.update(getattr(self.recognizer, "stats", {}))
        self.diag.publish(self, self._diag_pub, extra)
