"""Skeleton streamer: publishes harnets/SkeletonFrame from a BVH file at its own frame rate
(optionally looping), or from a live Perception Neuron suit (Axis Neuron / Axis Studio BVH
data broadcast over TCP, text format; reconnects), so that a real suit can feed the graph.

Stamps: file mode stamps frame i at t0 + i * frame_time_s (t0 = the node clock at start, so
use_sim_time works); TCP mode stamps each frame with the node clock on arrival.
"""
from __future__ import annotations

import socket
import time
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node

from harnets.msg import SkeletonFrame
from harnets_core.formats.axis_neuron import AxisNeuronLineParser
from harnets_core.formats.bvh import read_bvh
from harnets_core.errors import HarnetsError, StreamError
from harnets_core.formats.messages import skeleton_frame_fields, skeleton_frame_layout
from harnets_ros.common import SENSOR_QOS, Diagnostics, declare, ns_to_time, ros_fields, run_node

__all__ = ["SkeletonStreamer", "main"]


class SkeletonStreamer(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("skeleton_streamer", **kwargs)
        self.source = declare(self, "source", "file", "'file' (bvh_path) or 'tcp' (Axis Neuron broadcast).")
        bvh_path = declare(self, "bvh_path", "", "BVH file to stream; in tcp mode, the BVH export of the suit's skeleton (its layout).")
        self.topic = declare(self, "topic", "skeleton", "Output topic of harnets/SkeletonFrame.")
        self.frame_id = declare(self, "frame_id", "mocap", "frame_id of the published frames.")
        self.loop = declare(self, "loop", False, "File mode: start again at the end.")
        self.rate = declare(self, "rate", 1.0, "File mode: playback speed (1.0 = the file's frame rate).")
        self.host = declare(self, "host", "127.0.0.1", "TCP mode: host of Axis Neuron / Axis Studio.")
        self.port = declare(self, "port", 7001, "TCP mode: port of the BVH data broadcast.")
        self.reconnect_s = declare(self, "reconnect_s", 1.0, "TCP mode: seconds between reconnection attempts.")
        self.diag = Diagnostics(self.get_fully_qualified_name())
        self.clip = read_bvh(bvh_path)  # a bad file is an error at start, with its path and line
        self._layout = skeleton_frame_layout(self.clip.skeleton)  # the fields every frame repeats
        self._pub = self.create_publisher(SkeletonFrame, self.topic, SENSOR_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, lambda: self.diag.publish(self, self._diag_pub, {"source": self.source}))
        self._index = 0
        self._t0_ns = self.get_clock().now().nanoseconds
        self._wall0 = time.monotonic()
        self._sock: socket.socket | None = None
        self._parser = AxisNeuronLineParser(self.clip.skeleton.n_channels)
        self._next_connect = 0.0
        if self.source == "file":
            self.create_timer(0.005, self._tick_file)
        elif self.source == "tcp":
            self.create_timer(0.002, self._tick_tcp)
        else:
            raise HarnetsError(f"parameter source = {self.source!r}: use 'file' or 'tcp'")
        self.get_logger().info(f"streaming {bvh_path} ({self.clip.n_frames} frames, {self.clip.fps:.1f} Hz) on {self.topic} [{self.source}]")

    def _publish(self, values: np.ndarray, stamp_ns: int, index: int) -> None:
        # The same fields as the frames of a session bag (harnets_core.formats.messages).
        try:
            msg = SkeletonFrame(**ros_fields(skeleton_frame_fields(self._layout, values, index, self.clip.frame_time_s)))
        except StreamError as err:  # a frame that does not fit the skeleton: counted, the stream goes on
            self.diag.count("invalid")
            self.diag.error(str(err))
            return
        msg.header.stamp = ns_to_time(stamp_ns)
        msg.header.frame_id = self.frame_id
        self._pub.publish(msg)
        self.diag.count("published")

    def _tick_file(self) -> None:
        # Publish every frame that is due by the wall clock (catches up after a slow tick).
        due = int((time.monotonic() - self._wall0) * self.rate / self.clip.frame_time_s) + 1
        while self._index < due:
            n = self.clip.n_frames
            if self._index >= n and not self.loop:
                return
            i = self._index % n
            stamp = self._t0_ns + int(round(self._index * self.clip.frame_time_s * 1e9))
            self._publish(self.clip.motion[i], stamp, self._index)
            self._index += 1

    def _tick_tcp(self) -> None:
        if self._sock is None:
            if time.monotonic() < self._next_connect:
                return
            try:
                self._sock = socket.create_connection((self.host, int(self.port)), timeout=0.5)
                self._sock.setblocking(False)
                self.get_logger().info(f"connected to {self.host}:{self.port}")
            except OSError as err:
                self._next_connect = time.monotonic() + self.reconnect_s
                self.diag.error(f"cannot connect to {self.host}:{self.port}: {err}")
                return
        try:
            data = self._sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError as err:
            data, msg = b"", str(err)
        else:
            msg = "connection closed"
        if not data:
            self.diag.error(f"{self.host}:{self.port}: {msg}; reconnecting")
            self._sock.close()
            self._sock = None
            self._next_connect = time.monotonic() + self.reconnect_s
            return
        frames, errors = self._parser.feed(data)
        for err in errors:
            self.diag.count("invalid")
            self.diag.error(err)
            self.get_logger().warn(err, throttle_duration_sec=2.0)
        for values in frames:
            self._publish(values, self.get_clock().now().nanoseconds, self._index)
            self._index += 1


def main(args: list[str] | None = None) -> None:
    run_node(SkeletonStreamer, args)


if __name__ == "__main__":
    main()
