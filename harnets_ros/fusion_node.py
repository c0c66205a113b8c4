"""Fusion node: several harnets/Activity streams in, their late fusion out (source "fusion").

The fusion itself (class alignment by name, weights, staleness, stamps, latency) is
harnets_core.streaming.fusion.LateFusion; this node only converts messages and publishes. The input
callback stores the prediction (one per input: bounded); with `rate_hz` = 0 the fusion is
published on every fresh input, otherwise a timer publishes at `rate_hz` when something new
came in. A bad input message is counted as invalid and reported on /diagnostics. With
`forecast_model_path` (a model file with a forecaster, e.g. the first recognizer's), the fused
timeline is forecast and published as harnets/ActivityForecast on `forecast_topic`.
"""
from __future__ import annotations

from functools import partial
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node

from harnets.msg import Activity
from harnets.msg import ActivityForecast
from harnets_core.errors import StreamError
from harnets_core.models.modelfile import read_meta
from harnets_core.streaming.forecast import forecaster_from_meta
from harnets_core.streaming.fusion import LateFusion, NoFusion
from harnets_core.topology import DEFAULT_FUSION_INPUTS, FORECAST_TOPIC, FUSION
from harnets_ros.common import (RESULT_QOS, SENSOR_QOS, Diagnostics, declare, forecast_to_msg, prediction_to_msg, run_node,
                                time_to_ns)

__all__ = ["FusionNode", "main"]


class FusionNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(FUSION.name, **kwargs)
        inputs = declare(self, "inputs", list(DEFAULT_FUSION_INPUTS), "Topics of the harnets/Activity streams to fuse.")
        weights = declare(self, "weights", [1.0, 1.0], "Weight of each input, same order and length as inputs (renormalized over the fresh inputs).")
        staleness_s = declare(self, "staleness_s", 0.5, "An input whose stamp is older than the newest input's by more than this is left out, in seconds.")
        min_inputs = declare(self, "min_inputs", 1, "Publish only when at least this many inputs are fresh.")
        self.rate_hz = declare(self, "rate_hz", 0.0, "Publish rate in Hz; 0: publish on every fresh input.")
        output_topic = declare(self, "output_topic", FUSION.output_topic, "Topic of the fused harnets/Activity.")
        self.frame_id = declare(self, "frame_id", "", "frame_id of the output; empty: that of the newest input used.")
        forecast_model = declare(self, "forecast_model_path", "", "Model file whose forecaster forecasts the fused timeline (a missing file is an error; one without a forecaster: a warning, no forecast); empty: no forecast.")
        forecast_topic = declare(self, "forecast_topic", FORECAST_TOPIC, "Topic of the harnets/ActivityForecast of the fused timeline.")
        # Bad parameters are an error at start, with the reason (ConfigError; ModelFileError: no such model file).
        forecaster = forecaster_from_meta(read_meta(forecast_model)) if forecast_model else None
        if forecast_model and forecaster is None:  # e.g. a model trained without the stream timeline
            self.get_logger().warn(f"{forecast_model}: the model file has no forecaster: no forecast of the fused timeline")
        self.fusion = LateFusion.from_lists(list(inputs), list(weights), float(staleness_s), min_sources=int(min_inputs),
                                            forecaster=forecaster)
        self._forecast_pub = self.create_publisher(ActivityForecast, forecast_topic, RESULT_QOS) if forecaster else None
        self.diag = Diagnostics(self.get_fully_qualified_name())
        self._frame_ids: dict[str, str] = {}
        self._new_input = False
        self._pub = self.create_publisher(Activity, output_topic, RESULT_QOS)
        self._subs = [self.create_subscription(Activity, topic, partial(self._on_input, topic), SENSOR_QOS) for topic in inputs]
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)
        if self.rate_hz > 0:
            self.create_timer(1.0 / float(self.rate_hz), self._on_timer)
        self.get_logger().info(f"fusing {list(inputs)} with weights {list(self.fusion.weights.values())} -> {output_topic}")

    def _on_input(self, topic: str, msg: Activity) -> None:
        self.diag.count("received")
        try:
            reason = self.fusion.add(topic, time_to_ns(msg.header.stamp), time_to_ns(msg.window_start),
                                     msg.class_names, msg.class_ids, msg.probabilities, float(msg.latency_ms))
        except StreamError as err:
            self.diag.count("invalid")
            self.diag.error(str(err))
            self.get_logger().warn(f"{topic}: {err}", throttle_duration_sec=2.0)
            return
        self._frame_ids[topic] = msg.header.frame_id
        if reason is NoFusion.STALE_INPUT:
            self.diag.count("stale")
            return
        self._new_input = True
        if self.rate_hz <= 0:
            self._publish()

    def _on_timer(self) -> None:
        if self._new_input:
            self._publish()

    def _publish(self) -> None:
        self._new_input = False
        fused = self.fusion.fuse()
        if fused is None:
            return
        frame_id = self.frame_id or self._frame_ids.get(fused.newest_source, "")
        self._pub.publish(prediction_to_msg(fused, frame_id, fused.latency_ms))
        self.diag.count("published")
        if self._forecast_pub is not None and fused.forecast is not None:
            self._forecast_pub.publish(forecast_to_msg(fused, frame_id))
        self.diag.latencies_ms.append(fused.latency_ms)

    def _publish_diagnostics(self) -> None:
        self.diag.publish(self, self._diag_pub, {"fresh_inputs": len(self.fusion.fresh()), **self.fusion.stats})


def main(args: list[str] | None = None) -> None:
    run_node(FusionNode, args)


if __name__ == "__main__":
    main()
