"""Video streamer: publishes a video file or a camera as sensor_msgs/Image (rgb8) or
CompressedImage (JPEG), so that the image and pose nodes can be fed without a ROS camera driver.

File mode (`video_path`): frames at the file's own frame rate times `rate`, optionally looping;
frame k (counted over loops) is stamped t0 + k / fps, t0 = the node clock at start (so
use_sim_time works); stamps are recording time, `rate` only changes the playback speed.
Camera mode (`device` >= 0): OpenCV device; each frame is stamped with the node clock
when it is read. Compressed transport publishes on `<topic>/compressed` (image_transport's
convention; a topic already ending in /compressed is kept), format "rgb8; jpeg compressed bgr8".
"""
from __future__ import annotations

import time
from typing import Any, Iterator

import cv2
import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image

from harnets_core.errors import ConfigError, StreamError, VideoError
from harnets_core.formats.messages import compressed_image_fields, image_fields
from harnets_core.formats.video import iter_frames, probe_video
from harnets_core.topology import VIDEO_STREAMER
from harnets_ros.common import SENSOR_QOS, Diagnostics, compressed_topic, declare, ns_to_time, ros_fields, run_node

__all__ = ["VideoStreamer", "main"]

_MAX_BURST = 5  # frames published per tick when catching up after a slow tick
_SETTLE_S = 2.0  # wait_for_subscriber: start this long after a subscriber is first seen (discovery ends on
# each side on its own: with the earlier LARGE_DATA profile best-effort frames sent in the first ~0.5-1 s were lost)


class VideoStreamer(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(VIDEO_STREAMER.name, **kwargs)
        self.video_path = declare(self, "video_path", "", "Video file to stream (OpenCV/FFmpeg); ignored when device >= 0.")
        self.device = declare(self, "device", -1, "OpenCV camera device index (e.g. 0 for /dev/video0); -1: stream video_path.")
        self.camera_fps = declare(self, "camera_fps", 25.0, "Camera mode: frame rate asked of the device, in Hz.")
        self.topic = declare(self, "topic", VIDEO_STREAMER.output_topic, "Output topic; compressed transport publishes on <topic>/compressed (unless it already ends so).")
        self.transport = declare(self, "image_transport", "raw", "'raw' (sensor_msgs/Image, rgb8) or 'compressed' (sensor_msgs/CompressedImage, JPEG).")
        self.jpeg_quality = declare(self, "jpeg_quality", 90, "Compressed transport: JPEG quality, 1 to 100.")
        self.frame_id = declare(self, "frame_id", "camera", "frame_id of the published images.")
        self.rate = declare(self, "rate", 1.0, "File mode: playback speed (1.0 = the file's frame rate).")
        self.loop = declare(self, "loop", False, "File mode: start again at the end.")
        self.wait_for_subscriber = declare(self, "wait_for_subscriber", False, "File mode: start the file (and t0) only 2 s after a subscriber is connected (the data path of the transport is set up after discovery).")
        if self.transport not in ("raw", "compressed"):
            raise ConfigError(f"parameter image_transport = {self.transport!r}: use 'raw' or 'compressed'")
        if not self.rate > 0:
            raise ConfigError(f"parameter rate = {self.rate!r}: must be > 0")
        self.diag = Diagnostics(self.get_fully_qualified_name())
        self._cap: cv2.VideoCapture | None = None
        self._frames: Iterator[np.ndarray] | None = None
        if self.device >= 0:
            self._cap = cv2.VideoCapture(int(self.device))
            if not self._cap.isOpened():
                raise VideoError(f"camera {self.device}: OpenCV cannot open it")
            self._cap.set(cv2.CAP_PROP_FPS, float(self.camera_fps))
            self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or float(self.camera_fps)
            what = f"camera {self.device}"
        else:
            self.info = probe_video(self.video_path)  # a bad file is an error at start, naming it
            self.fps = self.info.fps
            self._frames = self._file_frames()
            what = f"{self.video_path} ({self.info.n_frames} frames, {self.info.width}x{self.info.height})"
        compressed = self.transport == "compressed"
        self._out_topic = compressed_topic(self.topic) if compressed else self.topic
        self._pub = self.create_publisher(CompressedImage if compressed else Image, self._out_topic, SENSOR_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)
        self._index = 0
        self._done = False
        self._seen_subscriber_s: float | None = None
        self._t0_ns = self.get_clock().now().nanoseconds
        self._wall0 = time.monotonic()
        period_s = 1.0 / (self.fps * (self.rate if self._cap is None else 1.0))
        self.create_timer(min(max(period_s / 4, 0.002), 0.02), self._tick)
        self.get_logger().info(f"streaming {what} at {self.fps:.2f} fps on {self._out_topic} [{self.transport}]")

    def _file_frames(self) -> Iterator[np.ndarray]:
        while True:
            yield from iter_frames(self.video_path, view="full", size_hw=None, info=self.info)  # (H, W, 3) RGB
            if not self.loop:
                return

    def _tick(self) -> None:
        if self._done:
            return
        if self._cap is not None:
            ok, bgr = self._cap.read()
            if not ok:
                self.diag.error(f"camera {self.device}: no frame")
                return
            self._publish(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.get_clock().now().nanoseconds)
            return
        if self._index == 0 and self.wait_for_subscriber and not self._subscriber_settled():
            self._t0_ns = self.get_clock().now().nanoseconds
            self._wall0 = time.monotonic()
            return
        due = int((time.monotonic() - self._wall0) * self.rate * self.fps) + 1
        for _ in range(min(due - self._index, _MAX_BURST)):
            try:
                frame = next(self._frames)
            except StopIteration:
                self._done = True
                self.get_logger().info(f"end of {self.video_path}: {self._index} frames published")
                return
            except VideoError as err:  # a truncated file: stop with the reason
                self._done = True
                self.diag.error(str(err))
                self.get_logger().error(str(err))
                return
            self._publish(frame, self._t0_ns + int(round(self._index * 1e9 / self.fps)))
        if due - self._index > self.fps:  # more than 1 s behind (slow host): re-anchor the schedule (counted)
            self.diag.count("schedule_resets")
            self._wall0 += (due - self._index) / (self.rate * self.fps)

    def _subscriber_settled(self) -> bool:
        """A subscriber has been seen for _SETTLE_S (discovery completes on each side on its own:
        frames sent right after this side sees the reader can still be lost there)."""
        if self._pub.get_subscription_count() == 0:
            self._seen_subscriber_s = None
            return False
        if self._seen_subscriber_s is None:
            self._seen_subscriber_s = time.monotonic()
        return time.monotonic() - self._seen_subscriber_s >= _SETTLE_S

    def _publish(self, rgb: np.ndarray, stamp_ns: int) -> None:
        # The same fields as the images of a session bag (harnets_core.formats.messages).
        try:
            if self.transport == "compressed":
                msg = CompressedImage(**ros_fields(compressed_image_fields(rgb, int(self.jpeg_quality))))
            else:
                msg = Image(**ros_fields(image_fields(rgb, "rgb8")))
        except StreamError as err:  # a frame that cannot be encoded: reported, the stream goes on
            self.diag.error(str(err))
            return
        msg.header.stamp = ns_to_time(stamp_ns)
        msg.header.frame_id = self.frame_id
        self._pub.publish(msg)
        self._index += 1
        self.diag.count("published")

    def _publish_diagnostics(self) -> None:
        self.diag.publish(self, self._diag_pub, {"fps": f"{self.fps:.2f}", "frames": self._index, "finished": self._done})

    def destroy_node(self) -> None:
        if self._cap is not None:
            self._cap.release()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(VideoStreamer, args)


if __name__ == "__main__":
    main()
