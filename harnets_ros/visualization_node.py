"""Visualization node: the skeleton, the recognized activity and the labelled camera, live.

In: harnets/SkeletonFrame (`skeleton_topic`), harnets/Activity (`activity_topic`) and, unless
`image_topic` is empty, the camera (sensor_msgs/Image, or CompressedImage with
`image_transport: compressed`). Out: visualization_msgs/MarkerArray on `marker_topic` (for RViz
and Foxglove): the bones as one LINE_LIST (ns "skeleton": points = forward kinematics / 100 in
the BVH's axes, the pose orientation turning them Z up) and the activity with its confidence
as TEXT_VIEW_FACING above the head (ns "activity"; under it, the activity forecast of
`forecast_topic` when a fresh one is about the displayed activity), both coloured by class, in the
SkeletonFrame's frame_id and stamp, with a short lifetime so they vanish when the stream
stops; and the camera image with the same text drawn on it (rgb8 Image, `annotated_image_topic`).
The geometry, colours, forecast text and drawing are harnets_core.visualization's.

Subscriptions only keep the newest message (those replaced before being drawn count as
skipped); a timer at `rate_hz` draws. SkeletonFrame carries no bone offsets: the hierarchy
comes from `skeleton_bvh` (default: the bundled InHARD template). A stream whose layout is
not the template's, or a bad frame or image, is logged, counted (invalid) and reported on
/diagnostics (ERROR); the node goes on.
"""
from __future__ import annotations

import array
import time
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from harnets.msg import Activity, ActivityForecast, SkeletonFrame
from harnets_core import topology
from harnets_core.errors import HarnetsError, StreamError
from harnets_core.formats.messages import image_to_numpy
from harnets_core.visualization.annotate import draw_label
from harnets_core.visualization.forecast_text import ReceivedForecast, forecast_lines, fresh_forecast
from harnets_core.visualization.markers import NEUTRAL_RGBA, SkeletonScene, SkeletonView, class_color, label_text
from harnets_ros.common import RESULT_QOS, SENSOR_QOS, Diagnostics, compressed_topic, declare, run_node, sensor_qos

__all__ = ["VisualizationNode", "main"]


class VisualizationNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(topology.VISUALIZER.name, **kwargs)
        bvh = declare(self, "skeleton_bvh", "", "BVH whose hierarchy (joints, offsets) the skeleton stream follows; empty: the bundled InHARD template.")
        self.skeleton_topic = declare(self, "skeleton_topic", topology.SKELETON_TOPIC, "Input topic of harnets/SkeletonFrame.")
        activity_topic = declare(self, "activity_topic", topology.ACTIVITY_TOPIC, "Input topic of harnets/Activity (the fused or single recognizer's).")
        forecast_topic = declare(self, "forecast_topic", topology.FORECAST_TOPIC, "Input topic of harnets/ActivityForecast (shown under the label); empty: no forecast.")
        image_topic = declare(self, "image_topic", topology.IMAGE_TOPIC, "Camera topic to annotate; empty: no annotated image.")
        transport = declare(self, "image_transport", "raw", "'raw' (sensor_msgs/Image) or 'compressed' (CompressedImage on <image_topic>/compressed).")
        marker_topic = declare(self, "marker_topic", topology.MARKERS_TOPIC, "Output topic of visualization_msgs/MarkerArray.")
        image_out = declare(self, "annotated_image_topic", topology.ANNOTATED_IMAGE_TOPIC, "Output topic of the annotated camera image (rgb8).")
        rate_hz = declare(self, "rate_hz", 30.0, "Drawing rate in Hz (newer input replaces older between two draws).")
        lifetime_s = declare(self, "marker_lifetime_s", 0.5, "Lifetime of the markers in seconds (they vanish when the stream stops).")
        self.activity_timeout_s = declare(self, "activity_timeout_s", 2.0, "The label is dropped when no Activity came for this long (seconds, wall clock).")
        self.forecast_timeout_s = declare(self, "forecast_timeout_s", 2.0, "A forecast older than this (seconds, wall clock) is not shown.")
        self.line_width_m = declare(self, "line_width_m", 0.02, "Width of the bone lines in metres.")
        self.text_size_m = declare(self, "text_size_m", 0.12, "Height of the label's letters in metres.")
        view_args = dict(head_joint=declare(self, "head_joint", "Head", "Joint the label is drawn above."),
                         label_height_m=declare(self, "label_height_m", 0.3, "Height of the label above the head joint in metres."),
                         up_axis="y" if declare(self, "y_up", True, "The skeleton data is Y up (BVH): turned Z up for ROS; false: already Z up.") else "z")
        self.diag = Diagnostics(self.get_fully_qualified_name())
        self.view = SkeletonView.from_bvh(bvh, **view_args)  # a bad file or parameter: a clear error at start
        self._lifetime = Duration(sec=int(lifetime_s), nanosec=int(round((lifetime_s % 1) * 1e9)))
        self._checked_layout: tuple | None = None
        self._frame: SkeletonFrame | None = None
        self._image: Any = None
        self._activity: Activity | None = None
        self._activity_wall_s = 0.0
        self._forecasts: dict[str, ReceivedForecast] = {}  # the newest per source
        self._marker_pub = self.create_publisher(MarkerArray, marker_topic, RESULT_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(SkeletonFrame, self.skeleton_topic, self._on_frame, sensor_qos(16))
        self.create_subscription(Activity, activity_topic, self._on_activity, RESULT_QOS)
        if forecast_topic:
            self.create_subscription(ActivityForecast, forecast_topic, self._on_forecast, RESULT_QOS)
        self._image_pub = None
        self.image_topic = image_topic
        if image_topic:
            image_type = CompressedImage if transport == "compressed" else Image
            self.image_topic = compressed_topic(image_topic) if transport == "compressed" else image_topic
            self.create_subscription(image_type, self.image_topic, self._on_image, sensor_qos(2))
            self._image_pub = self.create_publisher(Image, image_out, SENSOR_QOS)
        self.create_timer(1.0 / float(rate_hz), self._draw)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f"drawing {self.skeleton_topic} on {self.view.source} ({len(self.view.pairs)} bones), "
                               f"{activity_topic}{', ' + image_topic if image_topic else ''} -> {marker_topic}")

    # ----------------------------------------------------------------- ingest: keep the newest
    def _on_frame(self, msg: SkeletonFrame) -> None:
        self.diag.count("frames")
        if self._frame is not None:
            self.diag.count("skipped")
        self._frame = msg

    def _on_image(self, msg: Any) -> None:
        self.diag.count("images")
        if self._image is not None:
            self.diag.count("skipped")
        self._image = msg

    def _on_activity(self, msg: Activity) -> None:
        self.diag.count("activities")
        self._activity, self._activity_wall_s = msg, time.monotonic()

    def _on_forecast(self, msg: ActivityForecast) -> None:
        self.diag.count("forecasts")
        self._forecasts[msg.source] = ReceivedForecast(
            msg.source, msg.current_class_id, time.monotonic(), (msg.remaining_p10_s, msg.remaining_p50_s, msg.remaining_p90_s),
            tuple(msg.next_class_names), tuple(msg.next_probabilities))

    # ----------------------------------------------------------------- drawing
    def _current(self) -> tuple[Activity | None, tuple[float, float, float, float], str]:
        """The fresh activity (None when stale), its colour and its text (label, forecast lines)."""
        act, now_s = self._activity, time.monotonic()
        if act is None or now_s - self._activity_wall_s > self.activity_timeout_s:
            return None, NEUTRAL_RGBA, "(no activity)"
        forecast = fresh_forecast(self._forecasts.values(), act.class_id, now_s, self.forecast_timeout_s)
        text = label_text(act.label, act.confidence, forecast_lines(forecast) if forecast else ())
        return act, class_color(act.class_id, act.label), text

    def _draw(self) -> None:
        frame, self._frame = self._frame, None
        image, self._image = self._image, None
        activity, rgba, text = self._current()
        if frame is not None:
            try:
                layout = (tuple(frame.joint_names), tuple(frame.channel_counts), tuple(frame.channel_types))
                if layout != self._checked_layout:
                    self.view.check_layout(*layout, where=self.skeleton_topic)
                    self._checked_layout = layout
                scene = self.view.scene(np.asarray(frame.values, dtype=np.float32), where=self.skeleton_topic)
            except HarnetsError as err:
                self._reject(err)
            else:
                self._marker_pub.publish(self._markers(frame, scene, text if activity else None, rgba))
                self.diag.count("published_markers")
        if image is not None and self._image_pub is not None:
            try:
                rgb = np.array(image_to_numpy(image, to_rgb=True, topic=self.image_topic))  # (H, W, 3) uint8, writable
            except StreamError as err:
                self._reject(err)
                return
            draw_label(rgb, text, activity.confidence if activity else None, bar_rgb=[int(round(255 * c)) for c in rgba[:3]])
            h, w = rgb.shape[:2]
            out = Image(header=image.header, height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3,
                        data=array.array("B", rgb.tobytes()))
            self._image_pub.publish(out)
            self.diag.count("published_images")

    def _markers(self, frame: SkeletonFrame, scene: SkeletonScene, label: str | None,
                 rgba: tuple[float, float, float, float]) -> MarkerArray:
        color = ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
        bones = Marker(header=frame.header, ns="skeleton", id=0, type=Marker.LINE_LIST, action=Marker.ADD,
                       lifetime=self._lifetime, color=color,
                       points=[Point(x=float(x), y=float(y), z=float(z)) for x, y, z in scene.line_points_m])
        bones.scale.x = float(self.line_width_m)
        (bones.pose.orientation.x, bones.pose.orientation.y,
         bones.pose.orientation.z, bones.pose.orientation.w) = scene.orientation_xyzw
        markers = [bones]
        if label is not None:
            text = Marker(header=frame.header, ns="activity", id=0, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD,
                          lifetime=self._lifetime, color=color, text=label)
            text.pose.position.x, text.pose.position.y, text.pose.position.z = (float(v) for v in scene.label_position_m)
            text.pose.orientation.w = 1.0
            text.scale.z = float(self.text_size_m)
            markers.append(text)
        return MarkerArray(markers=markers)

    def _reject(self, err: Exception) -> None:
        self.diag.count("invalid")
        self.diag.error(str(err))
        self.get_logger().warn(str(err), throttle_duration_sec=2.0)

    def _publish_diagnostics(self) -> None:
        self.diag.publish(self, self._diag_pub, {"skeleton_bvh": self.view.source})


def main(args: list[str] | None = None) -> None:
    run_node(VisualizationNode, args)


if __name__ == "__main__":
    main()
