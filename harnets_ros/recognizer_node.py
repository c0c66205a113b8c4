"""Base lifecycle node of the recognizers: ingest apart from inference, Activity out.

configure reads the parameters (so that `ros2 param set` before a new configure takes
effect) and loads the model file; any failure makes configure fail with the reason logged
and an ERROR on /diagnostics that stays until a configure succeeds. activate subscribes.
The subscription callback only stores the message (bounded queue, drops counted); a timer
checks each queued message from its header (`check`: limits, layout), asks the core's
streaming recognizer whether the sample is wanted (`admit`: duplicate stamps and rate
sampling, before any decoding), converts it and publishes the predictions returned.
A bad message is logged, counted and reported; it never kills the node. Samples the
transport lost (the subscription's message_lost event) are counted as `lost`.

/diagnostics is published at 1 Hz from a thread of its own, so it keeps coming while a
slow input is handled; its `state` key is the lifecycle state. The shutdown transition
ends the process (see common.run_node).
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import QoSMessageLostInfo, SubscriptionEventCallbacks
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from harnets.msg import Activity
from harnets_core import topology
from harnets_core.errors import HarnetsError, StreamError
from harnets_core.models.threads import limit_compute_threads
from harnets_ros.common import RESULT_QOS, Diagnostics, PeriodicThread, declare, forecast_to_msg, prediction_to_msg, sensor_qos, time_to_ns

__all__ = ["RecognizerNode"]

# (name, default, description): declared at construction, read at each configure.
PARAMETERS = [
    ("model_path", "", "Model file (.safetensors) written by `harnets train`."),
    ("input_topic", None, "Topic of the sensor input."),
    ("output_topic", "activity", "Topic of the harnets/Activity output."),
    ("forecast_topic", topology.FORECAST_TOPIC, "Topic of the harnets/ActivityForecast output (models with a forecaster; empty: none)."),
    ("hop_s", 0.0, "Seconds of sensor time between two predictions; 0: the model's training hop."),
    ("max_gap_s", 0.5, "A gap in sensor stamps longer than this (or a stamp going backwards) restarts the window."),
    ("queue_size", 256, "Messages held between ingest and inference; older ones are dropped (counted)."),
    ("process_rate_hz", 100.0, "Rate of the inference loop that drains the queue, in Hz."),
    ("frame_id", "", "frame_id of the output; empty: the input's frame_id."),
    ("input_depth", None, "History depth of the (best-effort) input subscription."),
    ("backend", "auto", "What runs the model: 'torch' (the .safetensors), 'onnxruntime' (the .onnx given, or the export "
     "beside the .safetensors: `harnets export M --onnx`), or 'auto' (.onnx files on onnxruntime; .safetensors on "
     "onnxruntime where an up-to-date export lies beside it, else torch)."),
    ("onnx_providers", "auto", "onnxruntime execution providers, comma-separated (cpu, cuda, tensorrt or full names); "
     "'auto': CUDA where available, else CPU."),
    ("max_message_bytes", 64 * 1024 * 1024, "A message with more data bytes than this is rejected (counted invalid) before conversion."),
    ("compute_threads", 1, "CPU threads of the model (torch intra-op; onnxruntime intra-op); 0: the library's default (one "
     "per core). One keeps the latency tail short where several nodes share a few cores (docs/BENCHMARKS.md)."),
]

_OK_MESSAGES = {
    "unconfigured": "unconfigured: no model loaded (configure to start)",
    "inactive": "inactive: model loaded, not subscribed (activate to start)",
    "active": "ok",
    "finalized": "finalized: shut down",
}


class RecognizerNode(LifecycleNode):
    """Subclasses set `msg_type`/`default_input` and implement `load(path)` and `convert(msg)`
    (and may override `check(msg)`)."""

    msg_type: Any = None
    default_input = ""
    default_input_depth = 256  # 2 s of a 120 Hz skeleton stream
    parameters = PARAMETERS  # a subclass adds its own

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        defaults = {"input_topic": self.default_input, "input_depth": self.default_input_depth}
        for pname, default, description in self.parameters:
            declare(self, pname, defaults.get(pname, default), description)
        self.read_parameters()
        # Ingest and inference in separate callback groups, ready for a multi-threaded
        # executor (run_node uses one thread: see there).
        self._ingest_group = MutuallyExclusiveCallbackGroup()
        self._process_group = MutuallyExclusiveCallbackGroup()
        self.diag = Diagnostics(self.get_fully_qualified_name())
        self.lifecycle_state = "unconfigured"
        self.finished = False  # the shutdown transition ends the process (common.run_node)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        # Compute runs on the steady clock: with use_sim_time and no /clock yet, the node still
        # drains its queue. Diagnostics come from their own thread (not blocked by a slow input).
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._queue: deque = deque(maxlen=max(1, int(self.queue_size)))
        self.recognizer: Any = None
        self._pub = None
        self._forecast_pub = None
        self._sub = None
        self._timer = None
        self._diag_thread = PeriodicThread(self._publish_diagnostics, 1.0, name=f"{name}-diagnostics")

    def read_parameters(self) -> None:
        """The parameters' current values as attributes (at construction and each configure)."""
        for pname, _, _ in self.parameters:
            setattr(self, pname, self.get_parameter(pname).value)

    # ----------------------------------------------------------------- subclass API
    def load(self, path: str) -> Any:
        """Build the core streaming recognizer from a model file."""
        raise NotImplementedError

    def check(self, msg: Any) -> None:
        """Cheap checks from the message's header, before the sample is admitted or decoded;
        raise StreamError when it is bad."""

    def convert(self, msg: Any) -> Any:
        """The sample of a checked, admitted message; raise StreamError when it is bad."""
        raise NotImplementedError

    # ----------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.read_parameters()
        self._queue = deque(maxlen=max(1, int(self.queue_size)))
        try:
            threads = limit_compute_threads(int(self.compute_threads))
            recognizer = self.load(self.model_path)
            recognizer.warm_up()
        except Exception as err:  # noqa: BLE001 - whatever the cause, configure fails with it said
            reason = str(err) if isinstance(err, HarnetsError) else f"{type(err).__name__}: {err}"
            self.get_logger().error(f"configure failed: {reason}")
            self.diag.set_fault(f"configure failed: {reason}")
            self.recognizer = None
            return TransitionCallbackReturn.FAILURE
        self.recognizer = recognizer
        self.diag.clear_fault()
        self._pub = self.create_lifecycle_publisher(Activity, self.output_topic, RESULT_QOS)
        if self.forecast_topic and getattr(self.recognizer, "forecaster", None) is not None:
            from harnets.msg import ActivityForecast

            self._forecast_pub = self.create_lifecycle_publisher(ActivityForecast, self.forecast_topic, RESULT_QOS)
        rec = self.recognizer
        runs_on = f"{rec.backend}" + (f" providers {list(rec.providers)}" if rec.providers else "")
        self.get_logger().info(
            f"loaded {rec.model_id} ({rec.source}, {len(rec.class_names)} classes) on {runs_on} "
            f"({rec.backend_reason}); input {self.input_topic}; {threads} compute thread(s)"
        )
        self.lifecycle_state = "inactive"
        missing = getattr(rec.model, "missing_providers", ())
        if missing:  # onnxruntime falls back to the CPU without a word when CUDA libraries are missing
            self.get_logger().warning(f"onnxruntime did not start {list(missing)}; running on {list(rec.providers)}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        events = SubscriptionEventCallbacks(message_lost=self._on_lost)
        self._sub = self.create_subscription(self.msg_type, self.input_topic, self._ingest, sensor_qos(self.input_depth),
                                             callback_group=self._ingest_group, event_callbacks=events)
        self._timer = self.create_timer(1.0 / float(self.process_rate_hz), self._process,
                                        callback_group=self._process_group, clock=self._steady)
        self.lifecycle_state = "active"
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._drop_io()
        self.lifecycle_state = "inactive"
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._drop_io()
        if self._pub is not None:
            self.destroy_publisher(self._pub)
            self._pub = None
        if self._forecast_pub is not None:
            self.destroy_publisher(self._forecast_pub)
            self._forecast_pub = None
        self.recognizer = None
        self.lifecycle_state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._drop_io()
        self.lifecycle_state = "finalized"
        self.finished = True
        self.get_logger().info("shut down: the process ends")
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._diag_thread.stop()
        super().destroy_node()

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

    def _on_lost(self, info: QoSMessageLostInfo) -> None:
        """The transport lost samples before they reached the node (e.g. too large for it)."""
        self.diag.count("lost", int(info.total_count_change))
        # (rclpy identifies a throttled call site by its caller: warning() here, warn() below)
        self.get_logger().warning(f"{self.input_topic}: {info.total_count} message(s) lost by the transport so far "
                                  "(too large for it, or arriving faster than taken)", throttle_duration_sec=2.0)

    def _process(self) -> None:
        while self._queue:
            msg, received_ns = self._queue.popleft()
            try:
                self.check(msg)
                stamp_ns, frame_id = time_to_ns(msg.header.stamp), msg.header.frame_id
                if self.recognizer.admit(stamp_ns):  # before decoding: duplicates, rate sampling
                    prediction = self.recognizer.push_admitted(self.convert(msg), stamp_ns)
                else:
                    prediction = None
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
            if self._forecast_pub is not None and getattr(prediction, "forecast", None) is not None:
                self._forecast_pub.publish(forecast_to_msg(prediction, self.frame_id or frame_id))
            self.diag.latencies_ms.append(latency_ms)

    def _publish_diagnostics(self) -> None:
        """1 Hz, from the diagnostics thread: counters (the recognizer's stats among them,
        so that duplicate or backwards stamps make the level WARN), queue and state."""
        state = self.lifecycle_state
        extra = {"queue": len(self._queue), "state": state}
        recognizer = self.recognizer
        if recognizer is not None:
            extra["model_id"] = recognizer.model_id
            self.diag.counters.update(dict(recognizer.stats))
            extra["backend"] = recognizer.backend
            if recognizer.providers:
                extra["onnx_providers"] = ",".join(recognizer.providers)
                missing = getattr(recognizer.model, "missing_providers", ())
                if missing:
                    extra["onnx_providers_not_started"] = ",".join(missing)
        warning = ""
        if hasattr(recognizer, "input_check"):  # video recognizers: view fit, person fraction
            check = recognizer.input_check().to_dict()
            extra.update({k: check[k] for k in ("view", "view_fits", "seam_score", "person_fraction")})
            warning = "; ".join(check["warnings"])
        extra["compute_threads"] = self.compute_threads
        self.diag.publish(self, self._diag_pub, extra, ok_message=_OK_MESSAGES.get(state, state), warning=warning)
