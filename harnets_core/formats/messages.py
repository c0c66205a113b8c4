"""Field values of the sensor messages harnets publishes and records, computed in one place.

``sensor_msgs/msg/Image``, ``sensor_msgs/msg/CompressedImage`` and ``harnets/msg/SkeletonFrame``
are built twice: as rosbags messages by the session bag writer (harnets_core.formats.bags) and
as rclpy messages by the streamers (harnets_ros.video_streamer, harnets_ros.skeleton_streamer).
Both take their fields (all but ``header``) from the functions here, so a bag and a live stream
carry the same bytes. Field dicts hold numpy arrays for the primitive arrays (what rosbags
takes; harnets_ros.common.ros_fields turns them into what rclpy takes) and lists of str.

Pure numpy/OpenCV: no ROS.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from harnets_core.errors import StreamError
from harnets_core.formats.image_limits import ImageLimits, bytes_view, check_image

__all__ = [
    "image_to_numpy",
    "IMAGE_CHANNELS",
    "COMPRESSED_FORMAT",
    "image_fields",
    "compressed_image_fields",
    "SkeletonFrameLayout",
    "skeleton_frame_layout",
    "skeleton_frame_fields",
]

IMAGE_CHANNELS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "mono8": 1}
"""Image encodings harnets writes and reads, with their channel count (8 bits each)."""

COMPRESSED_FORMAT = "rgb8; jpeg compressed bgr8"
"""image_transport's compressed format string: the original encoding; codec and what it holds."""


def image_fields(rgb: np.ndarray, encoding: str = "rgb8") -> dict[str, Any]:
    """Fields of a ``sensor_msgs/msg/Image`` holding an RGB frame.

    Args:
        rgb: (H, W, 3) uint8 in RGB order; (H, W) uint8 for ``mono8``.
        encoding: ``rgb8`` (stored as given), ``bgr8`` (channels reversed) or ``mono8``.

    Returns:
        ``height``, ``width``, ``encoding``, ``is_bigendian`` (0), ``step`` (bytes a row, no
        padding) and ``data`` ((H * step,) uint8, contiguous; a view of ``rgb`` when it is
        contiguous rgb8/mono8).

    Raises:
        StreamError: not uint8, a shape that does not fit the encoding, another encoding.
    """
    img = np.asarray(rgb)
    if img.dtype != np.uint8:
        raise StreamError(f"image must be uint8, got {img.dtype}")
    if encoding not in IMAGE_CHANNELS:
        raise StreamError(f"unsupported encoding {encoding!r} ({', '.join(IMAGE_CHANNELS)})")
    channels = IMAGE_CHANNELS[encoding]
    if channels == 3 and (img.ndim != 3 or img.shape[2] != 3):
        raise StreamError(f"{encoding} image must be (H, W, 3), got {img.shape}")
    if channels == 1 and img.ndim != 2:
        raise StreamError(f"{encoding} image must be (H, W), got {img.shape}")
    if encoding == "bgr8":
        img = img[..., ::-1]
    height, width = img.shape[:2]
    return {
        "height": int(height),
        "width": int(width),
        "encoding": encoding,
        "is_bigendian": 0,
        "step": int(width * channels),
        "data": np.ascontiguousarray(img).reshape(-1),
    }


def compressed_image_fields(rgb: np.ndarray, quality: int = 90) -> dict[str, Any]:
    """Fields of a ``sensor_msgs/msg/CompressedImage``: ``format`` (``COMPRESSED_FORMAT``) and
    ``data`` (JPEG bytes as (N,) uint8) of an (H, W, 3) uint8 RGB frame.

    Raises:
        StreamError: not (H, W, 3) uint8, or OpenCV cannot encode it.
    """
    img = np.asarray(rgb)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise StreamError(f"image must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - cv2 only fails on invalid input
        raise StreamError(f"JPEG encoding of a {img.shape} image failed")
    return {"format": COMPRESSED_FORMAT, "data": buf.reshape(-1)}


@dataclass(frozen=True)
class SkeletonFrameLayout:
    """The layout part of a ``harnets/msg/SkeletonFrame``: the same for every frame of a skeleton.

    Attributes:
        joint_names: joints with channels, BVH file order (End Sites left out).
        channel_counts: (J,) uint8, channels of each joint.
        channel_types: channel names in MOTION column order (``"Xposition"``, ``"Zrotation"``, ...).
    """

    joint_names: tuple[str, ...]
    channel_counts: np.ndarray
    channel_types: tuple[str, ...]

    def __post_init__(self) -> None:
        counts = np.asarray(self.channel_counts, dtype=np.uint8).reshape(-1)
        object.__setattr__(self, "joint_names", tuple(str(n) for n in self.joint_names))
        object.__setattr__(self, "channel_types", tuple(str(c) for c in self.channel_types))
        object.__setattr__(self, "channel_counts", counts)
        if len(self.joint_names) != counts.size:
            raise StreamError(f"{len(self.joint_names)} joint names but {counts.size} channel counts")
        if int(counts.sum()) != len(self.channel_types):
            raise StreamError(f"channel counts sum to {int(counts.sum())}, {len(self.channel_types)} channel types")

    @property
    def n_channels(self) -> int:
        """Values a frame carries (C)."""
        return len(self.channel_types)


def skeleton_frame_layout(skeleton: Any) -> SkeletonFrameLayout:
    """The SkeletonFrame layout of a ``harnets_core.formats.bvh.Skeleton`` (its joints with channels)."""
    joints = [j for j in skeleton.joints if not j.is_end_site]
    return SkeletonFrameLayout(
        joint_names=tuple(j.name for j in joints),
        channel_counts=np.array([len(j.channels) for j in joints], dtype=np.uint8),
        channel_types=tuple(c for j in joints for c in j.channels),
    )


def skeleton_frame_fields(
    layout: SkeletonFrameLayout, values: Sequence[float] | np.ndarray, frame_index: int, frame_time_s: float
) -> dict[str, Any]:
    """Fields of a ``harnets/msg/SkeletonFrame``: one BVH MOTION line (values as float32, BVH order).

    Returns:
        ``frame_index``, ``frame_time_s``, ``joint_names`` and ``channel_types`` (lists of str),
        ``channel_counts`` ((J,) uint8) and ``values`` ((C,) float32).

    Raises:
        StreamError: the number of values is not the layout's channel count.
    """
    vals = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    if vals.size != layout.n_channels:
        raise StreamError(f"{vals.size} values for a skeleton of {layout.n_channels} channels")
    return {
        "frame_index": int(frame_index),
        "frame_time_s": float(frame_time_s),
        "joint_names": list(layout.joint_names),
        "channel_counts": layout.channel_counts,
        "channel_types": list(layout.channel_types),
        "values": vals,
    }


# ----------------------------------------------------------------------------- messages to numpy
_CHANNELS = IMAGE_CHANNELS  # the encodings read are those written


def image_to_numpy(msg: Any, *, to_rgb: bool = True, topic: str = "", limits: ImageLimits | None = None) -> np.ndarray:
    """Pixels of a ``sensor_msgs`` Image or CompressedImage (rosbags or rclpy message: duck-typed).

    Image (fields height, width, encoding, step, data): ``rgb8``, ``bgr8``, ``mono8``; a zero-copy
    view of ``data`` (read-only when data is bytes; rows may be padded, ``step >= width * channels``).
    CompressedImage (fields format, data): decoded with ``cv2.imdecode``.

    Returns:
        ``to_rgb=True``: (H, W, 3) uint8 RGB (bgr8 as a channel-reversed view, mono8 repeated: a copy).
        ``to_rgb=False``: the message's own layout, (H, W, 3) for rgb8/bgr8, (H, W) for mono8;
        compressed images come back BGR as OpenCV decodes them.

    ``limits`` (optional): the size and byte limits, checked from the header (for compressed
    images, the PNG/JPEG header) before any pixel is decoded.

    Raises:
        StreamError: another encoding, data size/step not matching height and width, or an
            image outside ``limits``.
    """
    where = f"topic {topic}: " if topic else ""
    if limits is not None:
        check_image(msg, limits, where)
    if not hasattr(msg, "encoding") and hasattr(msg, "format"):
        buf = bytes_view(msg.data)
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
        if img is None:
            raise StreamError(f"{where}cannot decode compressed image (format {msg.format!r}, {buf.size} bytes)")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if to_rgb else img
    encoding = str(msg.encoding)
    if encoding not in _CHANNELS:
        raise StreamError(f"{where}unsupported image encoding {encoding!r} (supported: rgb8, bgr8, mono8)")
    channels = _CHANNELS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise StreamError(f"{where}{encoding} image has size {width}x{height}")
    if step < width * channels:
        raise StreamError(f"{where}{encoding} image step {step} < width {width} * {channels} channels")
    data = bytes_view(msg.data)
    if data.size != step * height:
        raise StreamError(
            f"{where}{encoding} image data has {data.size} bytes, "
            f"expected step {step} * height {height} = {step * height}"
        )
    rows = data.reshape(height, step)[:, : width * channels]
    if channels == 1:
        img = rows  # (H, W)
        return np.repeat(img[:, :, None], 3, axis=2) if to_rgb else img
    img = rows.reshape(height, width, 3)  # (H, W, 3), a view
    if to_rgb and encoding == "bgr8":
        return img[..., ::-1]
    return img
