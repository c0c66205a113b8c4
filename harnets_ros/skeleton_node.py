"""Skeleton node: harnets/SkeletonFrame in, harnets/Activity out (source "skeleton").

The joint names and channel layout of the stream are checked against the model's skeleton;
a mismatch is rejected with a clear error at the first message (never wrong predictions).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from harnets.msg import SkeletonFrame
from harnets_core.streaming.recognizer import load_recognizer
from harnets_core.errors import StreamError
from harnets_ros.common import run_node
from harnets_ros.recognizer_node import RecognizerNode

__all__ = ["SkeletonNode", "main"]


class SkeletonNode(RecognizerNode):
    msg_type = SkeletonFrame
    default_input = "skeleton"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("skeleton_recognizer", **kwargs)
        self._checked_layout: tuple | None = None

    def load(self, path: str) -> Any:
        return load_recognizer(path, modality="skeleton", hop_s=self.hop_s or None, max_gap_s=self.max_gap_s,
                               backend=self.backend, providers=self.onnx_providers,
                               threads=int(self.compute_threads) or None)

    def check(self, msg: SkeletonFrame) -> None:
        nbytes = 4 * len(msg.values)
        if self.max_message_bytes and nbytes > self.max_message_bytes:
            raise StreamError(f"{self.input_topic}: SkeletonFrame of {nbytes} value bytes > max_message_bytes {self.max_message_bytes}")
        layout = (tuple(msg.joint_names), tuple(msg.channel_types), tuple(int(c) for c in msg.channel_counts))
        if layout != self._checked_layout:
            self.recognizer.check_layout(msg.joint_names, msg.channel_types, where=self.input_topic,
                                         channel_counts=layout[2])
            self._checked_layout = layout

    def convert(self, msg: SkeletonFrame) -> np.ndarray:
        return np.asarray(msg.values, dtype=np.float32)


def main(args: list[str] | None = None) -> None:
    run_node(SkeletonNode, args)


if __name__ == "__main__":
    main()
