"""Image node: sensor_msgs/Image or CompressedImage in, harnets/Activity out (source "rgb").

No cv_bridge: `harnets_core.formats.messages.image_to_numpy` reads rgb8/bgr8/mono8 Images as a zero-copy
numpy view (mono8 repeated to 3 channels) and decodes CompressedImage (JPEG/PNG) with OpenCV.
Another encoding, or data whose size does not match height, width and step, is a StreamError:
counted as invalid and reported on /diagnostics; the node goes on. Before anything is decoded,
the size is checked from the header (a CompressedImage's PNG/JPEG header): an image with a
side under `min_image_side_px`, more than `max_image_pixels` pixels or more than
`max_message_bytes` bytes is rejected the same way; a compressed image is decoded only when
the model's rate sampler takes it. The model's own pipeline
crops the view ("top"/"left"/"right" quadrant of the mosaic, or "full") and resizes.

Transport (parameter `image_transport`, read at configure) follows image_transport's topic
convention: "raw" subscribes to `input_topic`, "compressed" to `<input_topic>/compressed` (a
topic already ending in /compressed is kept).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from harnets_core.formats.messages import image_to_numpy
from harnets_core.formats.image_limits import ImageLimits, check_image
from harnets_core.errors import ConfigError
from harnets_core.streaming.recognizer import load_recognizer
from harnets_ros.common import compressed_topic, run_node
from harnets_ros.recognizer_node import PARAMETERS, RecognizerNode

__all__ = ["ImageNode", "TRANSPORTS", "main"]

TRANSPORTS = {"raw": Image, "compressed": CompressedImage}


class ImageNode(RecognizerNode):
    modality = "rgb"
    default_input = "image_raw"
    default_input_depth = 8  # images are large; the model takes a few per second
    parameters = [
        *PARAMETERS,
        ("image_transport", "raw", "'raw' (sensor_msgs/Image on input_topic) or 'compressed' (sensor_msgs/CompressedImage on "
                                   "<input_topic>/compressed, unless input_topic already ends so); read at configure."),
        ("min_image_side_px", ImageLimits.min_side_px, "Images with a side shorter than this are rejected (counted invalid)."),
        ("max_image_pixels", ImageLimits.max_pixels, "Images with more pixels than this are rejected from their header, "
                                                     "before decoding (counted invalid); 0: no limit."),
    ]

    def __init__(self, name: str = "image_recognizer", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)

    def read_parameters(self) -> None:
        super().read_parameters()
        self.msg_type = TRANSPORTS.get(self.image_transport)  # None: configure fails, with the reason
        if self.image_transport == "compressed":
            self.input_topic = compressed_topic(self.input_topic)
        self.limits = ImageLimits(min_side_px=int(self.min_image_side_px), max_pixels=int(self.max_image_pixels),
                                  max_message_bytes=int(self.max_message_bytes))

    def load(self, path: str) -> Any:
        if self.msg_type is None:
            raise ConfigError(f"parameter image_transport = {self.image_transport!r}: use one of {sorted(TRANSPORTS)}")
        return load_recognizer(path, modality=self.modality, hop_s=self.hop_s or None, max_gap_s=self.max_gap_s,
                               backend=self.backend, providers=self.onnx_providers,
                               threads=int(self.compute_threads) or None)

    def check(self, msg: Image | CompressedImage) -> None:
        check_image(msg, self.limits, f"topic {self.input_topic}: ")  # from the header: no decoding
        if isinstance(msg, Image):  # encoding, step and data size: a view, no copy (a bad one counts even if not sampled)
            image_to_numpy(msg, to_rgb=False, topic=self.input_topic)

    def convert(self, msg: Image | CompressedImage) -> np.ndarray:
        return image_to_numpy(msg, to_rgb=True, topic=self.input_topic)  # (H, W, 3) uint8 RGB


def main(args: list[str] | None = None) -> None:
    run_node(ImageNode, args)


if __name__ == "__main__":
    main()
