"""Pose node: camera images in, harnets/Activity out (source "pose").

Same input as the image node (raw or compressed transport, same conversion and checks); the
model's pipeline crops the view, runs its keypoint extractor (MediaPipe BlazePose, the
optional `harnets[pose]` extra, or OpenPose from the user's Caffe files, as the model file
says) and the LSTM over the normalized keypoints. Without mediapipe, configure of a BlazePose
model fails with a message saying what to install.

Keypoints are not published: no standard ROS 2 message carries named 2D body keypoints with
confidences (vision_msgs has no keypoint type; hri_msgs' Skeleton2D is a fixed 18-joint set,
not a dependency here). They stay internal to the recognizer.
"""
from __future__ import annotations

import importlib.util
from typing import Any

from harnets_core.errors import ConfigError, HarnetsError
from harnets_core.models.backends import read_model_meta
from harnets_core.streaming.recognizer import load_recognizer
from harnets_ros.common import run_node
from harnets_ros.image_node import TRANSPORTS, ImageNode

__all__ = ["PoseNode", "main"]

MEDIAPIPE_HINT = "install the pose extra: pip install 'harnets[pose]' (mediapipe==0.10.14)"


class PoseNode(ImageNode):
    modality = "pose"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("pose_recognizer", **kwargs)

    def load(self, path: str) -> Any:
        if self.msg_type is None:
            raise ConfigError(f"parameter image_transport = {self.image_transport!r}: use one of {sorted(TRANSPORTS)}")
        if path:
            settings = (read_model_meta(path).preprocessing or {}).get("settings", {}) or {}
            extractor = str(settings.get("name", "blazepose"))
            if extractor == "blazepose" and importlib.util.find_spec("mediapipe") is None:
                raise ConfigError(f"{path}: a BlazePose keypoint model; mediapipe is not installed: {MEDIAPIPE_HINT}")
        try:
            return load_recognizer(path, modality="pose", hop_s=self.hop_s or None, max_gap_s=self.max_gap_s,
                                   backend=self.backend, providers=self.onnx_providers,
                                   threads=int(self.compute_threads) or None)
        except HarnetsError:
            raise
        except ImportError as err:  # the extractor's optional dependency
            raise ConfigError(f"{path}: cannot build the keypoint extractor ({err}): {MEDIAPIPE_HINT}") from err


def main(args: list[str] | None = None) -> None:
    run_node(PoseNode, args)


if __name__ == "__main__":
    main()
