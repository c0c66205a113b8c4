"""Image node: sensor_msgs/Image or CompressedImage in, harnets/Activity out (source "rgb").

No cv_bridge: `harnets_core.formats.bags.image_to_numpy` reads rgb8/bgr8/mono8 Images as a zero-copy
numpy view (mono8 repeated to 3 channels) and decodes CompressedImage (JPEG/PNG) with OpenCV.
Another encoding, or data whose size does not match height, width and step, is a StreamError:
counted as invalid and reported on /diagnostics; the node goes on. The model's own pipeline
crops the view ("top"/"left"/"right" quadrant of the mosaic, or "full") and resizes.

Transport (parameter `image_transport`, fixed at construction) follows image_transport's topic
convention: "raw" subscribes to `input_topic`, "compressed" to `<input_topic>/compressed` (a
topic already ending in /compressed is kept).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from harnets_core.formats.bags import image_to_numpy
from harnets_core.errors import ConfigError
from harnets_core.streaming.recognizer import load_recognizer
from harnets_ros.common import compressed_topic, declare, run_node, time_to_ns
from harnets_ros.recognizer_node import RecognizerNode

__all__ = ["ImageNode", "TRANSPORTS", "main"]

TRANSPORTS = {"raw": Image, "compressed": CompressedImage}


class ImageNode(RecognizerNode):
    modality = "rgb"
    default_input = "image_raw"
    default_input_depth = 8  # images are large; the model takes a few per second

    def __init__(self, name: str = "image_recognizer", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.image_transport = declare(
            self, "image_transport", "raw",
            "'raw' (sensor_msgs/Image on input_topic) or 'compressed' (sensor_msgs/CompressedImage on "
            "<input_topic>/compressed, unless input_topic already ends so); read once, at start.")
        self.msg_type = TRANSPORTS.get(self.image_transport)  # None: configure fails, with the reason
        if self.image_transport == "compressed":
            self.input_topic = compressed_topic(self.input_topic)

    def load(self, path: str) -> Any:
        if self.msg_type is None:
            raise ConfigError(f"parameter image_transport = {self.image_transport!r}: use one of {sorted(TRANSPORTS)}")
        return load_recognizer(path, modality=self.modality, hop_s=self.hop_s or None, max_gap_s=self.max_gap_s,
                               backend=self.backend, providers=self.onnx_providers)

    def convert(self, msg: Image | CompressedImage) -> tuple[np.ndarray, int, str]:
        frame = image_to_numpy(msg, to_rgb=True, topic=self.input_topic)  # (H, W, 3) uint8 RGB
        return frame, time_to_ns(msg.header.stamp), msg.header.frame_id


def main(args: list[str] | None = None) -> None:
    run_node(ImageNode, args)


if __name__ == "__main__":
    main()
