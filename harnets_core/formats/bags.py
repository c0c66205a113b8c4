"""rosbag2 files without ROS: the project's typestore, message builders, a session bag writer, a reader.

Everything here uses the pure-Python ``rosbags`` library (no rclpy, no rosbag2 install).

Typestore
    ``make_typestore()`` is the ROS 2 Jazzy store of rosbags (std_msgs, sensor_msgs, ...) extended
    with the project's own messages ``harnets/msg/Activity`` and ``harnets/msg/SkeletonFrame``,
    parsed from their ``.msg`` texts. The texts are looked up, in this order, in the installed
    package data ``harnets_core/msg/*.msg`` (``importlib.resources``; the package build copies the
    repository's ``msg/`` there) and in the repository's ``msg/`` folder next to ``harnets_core/``
    (a source checkout). ``msg_dir()`` says which one is used.

Bags
    ``BagWriter`` writes rosbag2 version 8 (the format of ROS 2 Jazzy; Humble and Iron read it too,
    they ignore the newer keys; version 9 changes ``offered_qos_profiles`` to a YAML list that
    Jazzy cannot parse), storage ``mcap`` (default) or ``sqlite3``, serialization ``cdr``. Every
    connection carries the full message definition (mcap: a ``ros2msg`` schema per type;
    sqlite3: the ``message_definitions`` table) and its RIHS01 type hash, and an explicit offered
    QoS profile (reliable, volatile, keep-last 10), so ``ros2 bag play`` publishes with a profile
    that both reliable and best-effort subscribers accept instead of guessing one.

Session bags (``write_session_bag``)
    One clock for everything: bag time = ``start_time_ns`` + session time, where session time 0
    is the first BVH frame and the first video frame (InHARD records both from the session
    start). BVH frame ``i`` is at ``i * frame_time_s``, video frame ``k`` at ``k / fps``; header
    stamps equal the bag's log times. Ground truth is an ``Activity`` stream with
    ``source="ground_truth"`` (``topology.GROUND_TRUTH_SOURCE``): one message at every change of the
    annotated class (each segment start, and each segment end that opens an unannotated gap) plus one every
    ``1 / ground_truth_rate_hz`` seconds from ``start_s`` (a late subscriber learns the current
    label quickly), over ``[start_s, end_s)``; ``end_s`` defaults to the end of the BVH.
    Annotated time is ``[bvh_start_frame, bvh_end_frame + 1) * frame_time_s`` (the csv's end frame
    is inclusive); inside a segment the message has confidence 1 and a one-hot probability vector;
    in a gap ``class_id`` is -1, ``label`` is ``""``, confidence and probabilities are 0.
    ``window_start`` is the time the current label (or gap) began.
"""
from __future__ import annotations

import heapq
import importlib.resources
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from harnets_core.formats.image_limits import ImageLimits, check_image
from harnets_core.errors import BagError, StreamError
from harnets_core.formats.messages import (
    IMAGE_CHANNELS,
    SkeletonFrameLayout,
    compressed_image_fields,
    image_fields,
    skeleton_frame_fields,
    skeleton_frame_layout,
)
from harnets_core.formats.video import iter_frames, probe_video
from harnets_core.topology import (
    BAG_GROUND_TRUTH_TOPIC,
    BAG_IMAGE_TOPIC,
    BAG_SKELETON_TOPIC,
    GROUND_TRUTH_SOURCE,
    compressed_topic,
)

__all__ = [
    "ACTIVITY_TYPE",
    "SKELETON_FRAME_TYPE",
    "IMAGE_TYPE",
    "COMPRESSED_IMAGE_TYPE",
    "BAG_VERSION",
    "DEFAULT_QOS",
    "BagMessage",
    "TopicSummary",
    "BagWriter",
    "msg_dir",
    "make_typestore",
    "time_msg",
    "skeleton_frame_msg",
    "image_msg",
    "compressed_image_msg",
    "activity_msg",
    "default_topics",
    "write_session_bag",
    "read_bag",
    "bag_topics",
    "image_to_numpy",
]

ACTIVITY_TYPE = "harnets/msg/Activity"
SKELETON_FRAME_TYPE = "harnets/msg/SkeletonFrame"
IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
_PROJECT_TYPES = {ACTIVITY_TYPE: "Activity.msg", SKELETON_FRAME_TYPE: "SkeletonFrame.msg"}

BAG_VERSION = 8
"""rosbag2 metadata version written: 8 is ROS 2 Jazzy's (see the module docstring)."""

DEFAULT_QOS = Qos(
    history=QosHistory.KEEP_LAST,
    depth=10,
    reliability=QosReliability.RELIABLE,
    durability=QosDurability.VOLATILE,
    deadline=QosTime(0, 0),
    lifespan=QosTime(0, 0),
    liveliness=QosLiveliness.AUTOMATIC,
    liveliness_lease_duration=QosTime(0, 0),
    avoid_ros_namespace_conventions=False,
)
"""Offered QoS recorded for every topic: reliable + volatile, keep last 10, durations unspecified."""

_STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
_NS_PER_S = 1_000_000_000


# ---------------------------------------------------------------------------------------- typestore
def msg_dir() -> Path:
    """Folder holding ``Activity.msg`` and ``SkeletonFrame.msg``: package data, else the repo's ``msg/``.

    Raises:
        BagError: neither place has both files.
    """
    candidates: list[Path] = []
    try:
        candidates.append(Path(str(importlib.resources.files("harnets_core") / "msg")))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - namespace/zip oddities
        pass
    package = Path(__file__).resolve().parents[1]  # harnets_core/
    candidates.append(package / "msg")
    candidates.append(package.parent / "msg")  # a source checkout: the repository's msg/
    for folder in candidates:
        if all((folder / name).is_file() for name in _PROJECT_TYPES.values()):
            return folder
    tried = ", ".join(str(c) for c in candidates)
    raise BagError(f"message definitions {sorted(_PROJECT_TYPES.values())} not found (looked in {tried})")


@lru_cache(maxsize=1)
def make_typestore() -> Any:
    """The ROS 2 Jazzy typestore of rosbags plus ``harnets/msg/Activity`` and ``harnets/msg/SkeletonFrame``.

    Cached: every call returns the same store (do not register conflicting types into it).
    """
    folder = msg_dir()
    typestore = get_typestore(Stores.ROS2_JAZZY)
    types: dict[str, Any] = {}
    for typename, filename in _PROJECT_TYPES.items():
        path = folder / filename
        try:
            types.update(get_types_from_msg(path.read_text(encoding="utf-8"), typename))
        except Exception as err:  # rosbags raises its own parse errors
            raise BagError(f"{path}: cannot parse message definition {typename}: {err}") from err
    typestore.register(types)
    return typestore


# ------------------------------------------------------------------------------------------ builders
def time_msg(typestore: Any, stamp_ns: int) -> Any:
    """``builtin_interfaces/msg/Time`` for a timestamp in nanoseconds (must be >= 0, else StreamError)."""
    stamp_ns = int(stamp_ns)
    if stamp_ns < 0:
        raise StreamError(f"stamp_ns must be >= 0, got {stamp_ns}")
    return typestore.types["builtin_interfaces/msg/Time"](sec=stamp_ns // _NS_PER_S, nanosec=stamp_ns % _NS_PER_S)


def _header(typestore: Any, stamp_ns: int, frame_id: str) -> Any:
    return typestore.types["std_msgs/msg/Header"](stamp=time_msg(typestore, stamp_ns), frame_id=frame_id)


def skeleton_frame_msg(
    typestore: Any,
    stamp_ns: int,
    frame_index: int,
    frame_time_s: float,
    joint_names: Sequence[str],
    channel_counts: Sequence[int] | np.ndarray,
    channel_types: Sequence[str],
    values: Sequence[float] | np.ndarray,
    frame_id: str = "mocap",
) -> Any:
    """A ``harnets/msg/SkeletonFrame``: one BVH MOTION line (values cast to float32, BVH order).

    Fields from ``harnets_core.formats.messages.skeleton_frame_fields`` (as the skeleton streamer's).

    Raises:
        StreamError: the lengths of joint_names/channel_counts/channel_types/values disagree.
    """
    layout = SkeletonFrameLayout(tuple(joint_names), np.asarray(channel_counts), tuple(channel_types))
    return typestore.types[SKELETON_FRAME_TYPE](
        header=_header(typestore, stamp_ns, frame_id),
        **skeleton_frame_fields(layout, values, frame_index, frame_time_s),
    )


def image_msg(
    stamp_ns: int, frame_id: str, rgb: np.ndarray, encoding: str = "rgb8", *, typestore: Any = None
) -> Any:
    """A ``sensor_msgs/msg/Image`` from an RGB frame (fields from ``messages.image_fields``).

    Args:
        rgb: (H, W, 3) uint8 in RGB order; (H, W) uint8 for ``mono8``.
        encoding: ``rgb8`` (stored as given), ``bgr8`` (channels reversed) or ``mono8``.

    Raises:
        StreamError: not uint8, a shape that does not fit the encoding, another encoding.
    """
    typestore = typestore or make_typestore()
    return typestore.types[IMAGE_TYPE](header=_header(typestore, stamp_ns, frame_id), **image_fields(rgb, encoding))


def compressed_image_msg(
    stamp_ns: int, frame_id: str, rgb: np.ndarray, quality: int = 90, *, typestore: Any = None
) -> Any:
    """A ``sensor_msgs/msg/CompressedImage`` (format ``rgb8; jpeg compressed bgr8``) from (H, W, 3) uint8 RGB
    (fields from ``messages.compressed_image_fields``).

    Raises:
        StreamError: not (H, W, 3) uint8.
    """
    typestore = typestore or make_typestore()
    return typestore.types[COMPRESSED_IMAGE_TYPE](
        header=_header(typestore, stamp_ns, frame_id), **compressed_image_fields(rgb, quality)
    )


def activity_msg(
    typestore: Any,
    stamp_ns: int,
    *,
    window_start_ns: int,
    source: str,
    label: str,
    class_id: int,
    confidence: float,
    class_names: Sequence[str] = (),
    class_ids: Sequence[int] | np.ndarray = (),
    probabilities: Sequence[float] | np.ndarray = (),
    model_id: str = "",
    latency_ms: float = 0.0,
    frame_id: str = "",
) -> Any:
    """A ``harnets/msg/Activity`` with every field of Activity.msg (times in nanoseconds).

    Raises:
        StreamError: class_names, class_ids and probabilities differ in length.
    """
    ids = np.asarray(class_ids, dtype=np.int32).reshape(-1)
    probs = np.asarray(probabilities, dtype=np.float32).reshape(-1)
    if not (len(class_names) == ids.size == probs.size):
        raise StreamError(f"{len(class_names)} class names, {ids.size} class ids, {probs.size} probabilities")
    return typestore.types[ACTIVITY_TYPE](
        header=_header(typestore, stamp_ns, frame_id),
        window_start=time_msg(typestore, window_start_ns),
        source=source,
        model_id=model_id,
        label=label,
        class_id=int(class_id),
        confidence=float(confidence),
        class_names=list(class_names),
        class_ids=ids,
        probabilities=probs,
        latency_ms=float(latency_ms),
    )


# ------------------------------------------------------------------------------------------- writer
class BagWriter:
    """Write a rosbag2 (version 8, cdr) with embedded message definitions; a context manager.

    ``add_topic(topic, msgtype)`` once per topic, then ``write(topic, stamp_ns, msg)``
    (messages from ``make_typestore()``'s classes) or ``write_raw`` (already serialized cdr).
    On an exception inside ``with`` the bag is closed anyway, so what was written stays readable.
    """

    def __init__(self, path: str | Path, *, storage: str = "mcap", typestore: Any = None) -> None:
        if storage not in _STORAGES:
            raise BagError(f"{path}: unknown storage {storage!r} (mcap, sqlite3)")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path}: exists already, not overwriting")
        self.storage = storage
        self.typestore = typestore or make_typestore()
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=_STORAGES[storage])
        self._connections: dict[str, tuple[Any, str]] = {}
        self._open = False

    def __enter__(self) -> BagWriter:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self._writer.open()
        except Exception as err:
            raise BagError(f"{self.path}: cannot create bag: {err}") from err
        self._open = True

    def add_topic(self, topic: str, msgtype: str, qos: Qos = DEFAULT_QOS) -> None:
        """Register a topic (its message definition and type hash are embedded)."""
        if topic in self._connections:
            raise BagError(f"{self.path}: topic {topic} added twice")
        if msgtype not in self.typestore.types:
            raise BagError(f"{self.path}: topic {topic}: unknown message type {msgtype}")
        conn = self._writer.add_connection(
            topic, msgtype, typestore=self.typestore, serialization_format="cdr", offered_qos_profiles=[qos]
        )
        self._connections[topic] = (conn, msgtype)

    def write(self, topic: str, stamp_ns: int, msg: Any) -> None:
        """Serialize ``msg`` to cdr and write it at log time ``stamp_ns`` (nanoseconds)."""
        conn, msgtype = self._connection(topic)
        try:
            data = self.typestore.serialize_cdr(msg, msgtype)
        except Exception as err:
            raise BagError(f"{self.path}: topic {topic}: cannot serialize {msgtype}: {err}") from err
        self._writer.write(conn, int(stamp_ns), data)

    def write_raw(self, topic: str, stamp_ns: int, data: bytes | memoryview) -> None:
        """Write an already cdr-serialized message at log time ``stamp_ns`` (nanoseconds)."""
        conn, _ = self._connection(topic)
        self._writer.write(conn, int(stamp_ns), data)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._writer.close()

    def _connection(self, topic: str) -> tuple[Any, str]:
        try:
            return self._connections[topic]
        except KeyError:
            raise BagError(f"{self.path}: topic {topic} was not added") from None


# ------------------------------------------------------------------------------------ session bags
def default_topics(image_format: str = "raw") -> dict[str, str]:
    """Topic names of a session bag (``harnets_core.topology``'s ``BAG_*``): skeleton,
    image (``.../compressed`` for compressed), ground_truth."""
    image = compressed_topic(BAG_IMAGE_TOPIC) if image_format == "compressed" else BAG_IMAGE_TOPIC
    return {"skeleton": BAG_SKELETON_TOPIC, "image": image, "ground_truth": BAG_GROUND_TRUTH_TOPIC}


@dataclass(frozen=True)
class _GtSpan:
    start_s: float
    end_s: float
    class_id: int
    class_name: str


def _gt_spans(segments: Iterable[Any], frame_time_s: float) -> list[_GtSpan]:
    spans = [
        _GtSpan(s.bvh_start_frame * frame_time_s, (s.bvh_end_frame + 1) * frame_time_s, int(s.class_id), s.class_name)
        for s in segments
    ]
    return sorted(spans, key=lambda s: s.start_s)


def _gt_times(spans: Sequence[_GtSpan], t0_s: float, t1_s: float, rate_hz: float) -> list[float]:
    times = {t0_s}
    if rate_hz > 0:
        n = int(np.ceil((t1_s - t0_s) * rate_hz - 1e-9))
        times.update(t0_s + k / rate_hz for k in range(n))
    for s in spans:
        times.update(t for t in (s.start_s, s.end_s) if t0_s <= t < t1_s)
    return sorted(t for t in times if t < t1_s)


def _label_at(spans: Sequence[_GtSpan], t_s: float) -> tuple[_GtSpan | None, float]:
    """The span covering ``t_s`` (latest start wins) and when the current label/gap began."""
    active = [s for s in spans if s.start_s <= t_s < s.end_s]
    if active:
        span = max(active, key=lambda s: s.start_s)
        return span, span.start_s
    ended = [s.end_s for s in spans if s.end_s <= t_s]
    return None, max(ended, default=0.0)


def write_session_bag(
    out_path: str | Path,
    *,
    clip: Any,
    segments: Sequence[Any] = (),
    video_path: str | Path | None = None,
    view: str = "full",
    start_time_ns: int = 0,
    storage: str = "mcap",
    image_format: str = "compressed",
    jpeg_quality: int = 90,
    topics: Mapping[str, str] | None = None,
    class_names: Sequence[str],
    start_s: float = 0.0,
    end_s: float | None = None,
    ground_truth_rate_hz: float = 10.0,
    skeleton_frame_id: str = "mocap",
    camera_frame_id: str = "camera",
) -> dict[str, int]:
    """Write one InHARD session (or a time range of it) as a rosbag2 a robot cell could have recorded.

    Args:
        out_path: bag folder to create (must not exist).
        clip: a ``harnets_core.formats.bvh.BvhClip`` (``.skeleton.joints`` with ``name/channels/is_end_site``,
            ``.frame_time_s``, ``.motion`` (F, C)); frame ``i`` is at session time ``i * frame_time_s``.
        segments: ``harnets_core.datasets.inhard.Segment``s of this session (``class_id``, ``class_name``,
            ``bvh_start_frame``, ``bvh_end_frame`` inclusive) for the ground-truth stream; empty: none.
        video_path: the session's mosaic video; None: no images. Its frame rate is read from the
            file (``harnets_core.formats.video.probe_video``); video frame ``k`` is at ``k / fps``.
        view: ``"full"`` (default: the whole mosaic, as a camera driver would publish it; the
            recognition node crops) or one view of ``harnets_core.formats.video.VIEWS``.
        start_time_ns: bag time of session time 0, in nanoseconds.
        storage: ``mcap`` or ``sqlite3``.
        image_format: ``compressed`` (JPEG CompressedImage, default: a raw full-HD mosaic is about
            6 MB a frame) or ``raw`` (rgb8 Image).
        topics: overrides of ``default_topics(image_format)`` (keys skeleton, image, ground_truth).
        class_names: names by class id for the ground-truth probability vector (InHARD: its 14 meta-actions).
        start_s, end_s: session time range written, in seconds (end exclusive; None: to the end).
        ground_truth_rate_hz: periodic ground-truth rate (0: only at changes).

    Returns:
        Messages written per topic.
    """
    if image_format not in ("raw", "compressed"):
        raise BagError(f"{out_path}: unknown image_format {image_format!r} (raw, compressed)")
    unknown = set(topics or {}) - {"skeleton", "image", "ground_truth"}
    if unknown:
        raise BagError(f"{out_path}: unknown topic keys {sorted(unknown)} (skeleton, image, ground_truth)")
    names = {**default_topics(image_format), **(topics or {})}
    class_names = list(class_names)
    class_ids = np.arange(len(class_names), dtype=np.int32)

    typestore = make_typestore()
    frame_time_s = float(clip.frame_time_s)
    layout = skeleton_frame_layout(clip.skeleton)
    motion = np.ascontiguousarray(clip.motion, dtype=np.float32)  # (F, C)
    if motion.ndim != 2 or motion.shape[1] != layout.n_channels:
        raise BagError(f"{out_path}: motion {motion.shape} does not match {layout.n_channels} channels")
    n_frames = motion.shape[0]
    first = max(0, int(np.ceil(start_s / frame_time_s - 1e-9)))
    last = n_frames if end_s is None else min(n_frames, int(np.ceil(end_s / frame_time_s - 1e-9)))
    session_end_s = n_frames * frame_time_s if end_s is None else end_s

    def stamp(t_s: float) -> int:
        return int(start_time_ns) + int(round(t_s * _NS_PER_S))

    # Each stream yields (stamp_ns, order, topic, build) lazily; heapq.merge keeps the bag in time order.
    def skeleton_stream() -> Iterator[tuple[int, int, str, Any]]:
        for i in range(first, last):
            t_ns = stamp(i * frame_time_s)
            # the layout is checked once (skeleton_frame_msg would check it for every frame)
            yield t_ns, 0, names["skeleton"], lambda i=i, t_ns=t_ns: typestore.types[SKELETON_FRAME_TYPE](
                header=_header(typestore, t_ns, skeleton_frame_id),
                **skeleton_frame_fields(layout, motion[i], i, frame_time_s),
            )

    def image_stream() -> Iterator[tuple[int, int, str, Any]]:
        if video_path is None:
            return
        path = Path(video_path)
        info = probe_video(path)
        k0 = max(0, int(np.ceil(start_s * info.fps - 1e-9)))
        k1 = info.n_frames if end_s is None else min(info.n_frames, int(np.ceil(end_s * info.fps - 1e-9)))
        if k1 <= k0:
            return
        frames = iter_frames(path, k0, k1, view=view, size_hw=None, info=info)
        for k, rgb in zip(range(k0, k1), frames):
            t_ns = stamp(k / info.fps)
            if image_format == "raw":
                yield t_ns, 1, names["image"], lambda t_ns=t_ns, rgb=rgb: image_msg(
                    t_ns, camera_frame_id, rgb, typestore=typestore
                )
            else:
                yield t_ns, 1, names["image"], lambda t_ns=t_ns, rgb=rgb: compressed_image_msg(
                    t_ns, camera_frame_id, rgb, jpeg_quality, typestore=typestore
                )

    spans = _gt_spans(segments, frame_time_s)

    def gt_stream() -> Iterator[tuple[int, int, str, Any]]:
        if not spans:
            return
        for t_s in _gt_times(spans, start_s, session_end_s, ground_truth_rate_hz):
            span, began_s = _label_at(spans, t_s)
            t_ns = stamp(t_s)
            if span is None:
                fields = dict(label="", class_id=-1, confidence=0.0, probabilities=np.zeros(len(class_names)))
            else:
                probs = (class_ids == span.class_id).astype(np.float32)
                fields = dict(label=span.class_name, class_id=span.class_id, confidence=1.0, probabilities=probs)
            yield t_ns, 2, names["ground_truth"], lambda t_ns=t_ns, began_s=began_s, fields=fields: activity_msg(
                typestore, t_ns, window_start_ns=stamp(max(began_s, start_s)), source=GROUND_TRUTH_SOURCE,
                class_names=class_names, class_ids=class_ids, frame_id="inhard", **fields,
            )

    counts = {names["skeleton"]: 0}
    with BagWriter(out_path, storage=storage, typestore=typestore) as bag:
        bag.add_topic(names["skeleton"], SKELETON_FRAME_TYPE)
        if video_path is not None:
            bag.add_topic(names["image"], IMAGE_TYPE if image_format == "raw" else COMPRESSED_IMAGE_TYPE)
            counts[names["image"]] = 0
        if spans:
            bag.add_topic(names["ground_truth"], ACTIVITY_TYPE)
            counts[names["ground_truth"]] = 0
        merged = heapq.merge(skeleton_stream(), image_stream(), gt_stream(), key=lambda item: item[:2])
        for t_ns, _order, topic, build in merged:
            bag.write(topic, t_ns, build())
            counts[topic] += 1
    return counts


# ------------------------------------------------------------------------------------------- reader
class BagMessage(NamedTuple):
    """One message of a bag: topic, ROS type name, log time in nanoseconds, deserialized message."""

    topic: str
    msgtype: str
    stamp_ns: int
    msg: Any


class TopicSummary(NamedTuple):
    """A topic of a bag: its ROS type name and message count."""

    msgtype: str
    count: int


def _open_reader(path: Path) -> AnyReader:
    if not path.exists():
        raise BagError(f"{path}: bag not found")
    reader = AnyReader([path], default_typestore=make_typestore())
    try:
        reader.open()
    except Exception as err:
        raise BagError(f"{path}: cannot open bag: {err}") from err
    return reader


def bag_topics(path: str | Path) -> dict[str, TopicSummary]:
    """Topics of a bag with their type and message count."""
    path = Path(path)
    reader = _open_reader(path)
    try:
        return {name: TopicSummary(info.msgtype or "", info.msgcount) for name, info in reader.topics.items()}
    finally:
        reader.close()


def read_bag(path: str | Path, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
    """Messages of a bag in log-time order, deserialized with the bag's own message definitions.

    Args:
        topics: only these topics (each must exist); None: all.

    Raises:
        BagError: missing or unreadable bag, a requested topic absent (names bag and topic), a
            message that cannot be deserialized (names bag, topic and log time).
    """
    path = Path(path)
    reader = _open_reader(path)
    try:
        conns = reader.connections
        if topics is not None:
            wanted = set(topics)
            missing = sorted(wanted - {c.topic for c in conns})
            if missing:
                raise BagError(f"{path}: topic {', '.join(missing)} not in bag (has {sorted(reader.topics)})")
            conns = [c for c in conns if c.topic in wanted]
        if not conns:
            return
        for conn, stamp_ns, raw in reader.messages(connections=conns):
            try:
                msg = reader.deserialize(raw, conn.msgtype)
            except Exception as err:
                raise BagError(
                    f"{path}: topic {conn.topic}: cannot deserialize {conn.msgtype} at {stamp_ns} ns: {err}"
                ) from err
            yield BagMessage(conn.topic, conn.msgtype, int(stamp_ns), msg)
    finally:
        reader.close()


# ------------------------------------------------------------------------------------------- images
_CHANNELS = IMAGE_CHANNELS  # the encodings read are those written


def _as_uint8(data: Any) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8) if data.dtype.itemsize == 1 else data.astype(np.uint8).reshape(-1)
    try:
        return np.frombuffer(memoryview(data), dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


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
        buf = _as_uint8(msg.data)
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
    data = _as_uint8(msg.data)
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
