"""Skeleton streamer: publishes harnets/SkeletonFrame from a BVH file at its own frame rate
(optionally looping), or from a live Perception Neuron suit: the Axis Neuron / Axis Studio BVH
data broadcast over TCP (reconnects with backoff) or UDP, text or binary (harnets_core
axis_neuron decoders, suit_transport sockets). docs/SUIT.md tells how to connect a suit.

Stamps: file mode stamps frame i at t0 + i * frame_time_s (t0 = the node clock when the first
frame is due; under use_sim_time, once /clock has arrived); suit modes stamp each frame with the
node clock on arrival, frame_index being the broadcast's frame counter (binary) or a running
count (text, which has none).
Diagnostics: frames, frame-counter gaps (missing frames count as dropped: WARN), decode
errors (invalid: WARN; a value count that does not fit the skeleton: ERROR), reconnects.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node

from harnets.msg import SkeletonFrame
from harnets_core.formats.axis_neuron import BroadcastLayout
from harnets_core.formats.bvh import read_bvh
from harnets_core.errors import ChannelCountError, HarnetsError, StreamError
from harnets_core.formats.messages import skeleton_frame_fields, skeleton_frame_layout
from harnets_core.formats.suit_transport import SuitReceiver, open_receiver
from harnets_ros.common import SENSOR_QOS, Diagnostics, declare, ns_to_time, ros_fields, run_node

__all__ = ["SkeletonStreamer", "main"]


class SkeletonStreamer(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("skeleton_streamer", **kwargs)
        self.source = declare(self, "source", "file", "'file' (bvh_path), 'tcp' or 'udp' (Axis Neuron / Axis Studio BVH broadcast).")
        bvh_path = declare(self, "bvh_path", "", "BVH file to stream; in tcp/udp mode, the BVH export of the suit's skeleton (its layout).")
        self.topic = declare(self, "topic", "skeleton", "Output topic of harnets/SkeletonFrame.")
        self.frame_id = declare(self, "frame_id", "mocap", "frame_id of the published frames.")
        self.loop = declare(self, "loop", False, "File mode: start again at the end.")
        self.rate = declare(self, "rate", 1.0, "File mode: playback speed (1.0 = the file's frame rate).")
        fmt = declare(self, "format", "auto", "Suit modes: broadcast format 'text' (String), 'binary' or 'auto' (detected).")
        host = declare(self, "host", "127.0.0.1", "TCP mode: host of Axis Neuron / Axis Studio.")
        port = declare(self, "port", 0, "Suit modes: TCP port to connect to / UDP port to bind; 0: 7001 (tcp), 7002 (udp).")
        bind_address = declare(self, "bind_address", "0.0.0.0", "UDP mode: local address to bind (0.0.0.0: every interface).")
        reconnect_s = declare(self, "reconnect_s", 1.0, "TCP mode: first delay before reconnecting (doubles while attempts fail).")
        reconnect_max_s = declare(self, "reconnect_max_s", 10.0, "TCP mode: longest delay between reconnection attempts.")
        avatar_index = declare(self, "avatar_index", -1, "Suit modes: avatar to publish (-1: every frame received).")
        fill_positions = declare(self, "fill_positions", True, "Suit modes: a broadcast without displacement gets the template's OFFSETs as positions (false: rejected).")
        self.diag = Diagnostics(self.get_fully_qualified_name())
        self.clip = read_bvh(bvh_path)  # a bad file is an error at start, with its path and line
        self._layout = skeleton_frame_layout(self.clip.skeleton)  # the fields every frame repeats
        self._pub = self.create_publisher(SkeletonFrame, self.topic, SENSOR_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)
        self._index = 0
        self._t0_ns: int | None = None  # read at the first tick with a clock (see _start_time)
        self._wall0 = time.monotonic()
        self._receiver: SuitReceiver | None = None
        self._last_decode_error = ""
        if self.source == "file":
            self.create_timer(0.005, self._tick_file)
        elif self.source in ("tcp", "udp"):
            layout = BroadcastLayout(self.clip.skeleton, fill_positions=fill_positions, source=str(bvh_path))
            self._receiver = open_receiver(self.source, layout, fmt=fmt, host=host, port=port, bind_address=bind_address,
                                           reconnect_s=reconnect_s, reconnect_max_s=reconnect_max_s,
                                           avatar_index=None if avatar_index < 0 else avatar_index)
            self.create_timer(0.002, self._tick_suit)
        else:
            raise HarnetsError(f"parameter source = {self.source!r}: use 'file', 'tcp' or 'udp'")
        where = f" from {self._receiver} ({fmt})" if self._receiver else ""
        self.get_logger().info(f"streaming {bvh_path} ({self.clip.n_frames} frames, {self.clip.fps:.1f} Hz){where} on {self.topic} [{self.source}]")

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

    def _start_time(self) -> bool:
        """File mode: t0 from the node clock at the first tick where it runs; under
        use_sim_time that is once /clock has arrived (the clock reads 0 before)."""
        if self._t0_ns is None:
            now_ns = self.get_clock().now().nanoseconds
            if now_ns == 0:
                self.get_logger().info("use_sim_time: waiting for /clock", throttle_duration_sec=5.0)
                return False
            self._t0_ns, self._wall0 = now_ns, time.monotonic()
        return True

    def _tick_file(self) -> None:
        if not self._start_time():
            return
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

    def _tick_suit(self) -> None:
        try:
            result = self._receiver.poll()
        except Exception as err:  # noqa: BLE001 - a bug must not end the stream: logged, counted, retried
            self.diag.error(f"{self._receiver}: {type(err).__name__}: {err}")
            self.get_logger().error(f"{self._receiver}: {err!r}", throttle_duration_sec=2.0)
            return
        for event in result.events:
            self.get_logger().info(event)
        for message in result.connection_errors:
            self.diag.error(message)
            self.get_logger().warn(message, throttle_duration_sec=2.0)
        for err in result.errors:
            self.diag.count("invalid")
            self._last_decode_error = str(err)
            if isinstance(err, ChannelCountError):  # the broadcast is set up unlike the BVH export
                self.diag.error(str(err))
            self.get_logger().warn(str(err), throttle_duration_sec=2.0)
        if result.missing_frames:
            self.diag.count("dropped", result.missing_frames)
        for frame in result.frames:
            index = self._index if frame.frame_index is None else frame.frame_index
            self._publish(frame.values, self.get_clock().now().nanoseconds, index)
            self._index += 1

    def _publish_diagnostics(self) -> None:
        extra: dict[str, Any] = {"source": self.source}
        if self._receiver is not None:
            extra.update(format=self._receiver.format, **self._receiver.counters.as_dict())
            if self._last_decode_error:
                extra["last_decode_error"] = self._last_decode_error
        self.diag.publish(self, self._diag_pub, extra)

    def destroy_node(self) -> None:
        if self._receiver is not None:
            self._receiver.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(SkeletonStreamer, args)


if __name__ == "__main__":
    main()
