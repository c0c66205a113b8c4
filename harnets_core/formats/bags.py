"""rosbag2 files without ROS: the project's typestore, message builders, a writer, a reader.

Session bags (a recording as a bag, with its ground truth): ``formats.session_bag``. Images of
messages as numpy: ``formats.messages.image_to_numpy``.

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
"""
from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from harnets_core.errors import BagError, StreamError
from harnets_core.formats.messages import (
    SkeletonFrameLayout,
    compressed_image_fields,
    image_fields,
    skeleton_frame_fields,
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
    "header_msg",
    "skeleton_frame_msg",
    "image_msg",
    "compressed_image_msg",
    "activity_msg",
    "read_bag",
    "bag_topics",
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


def header_msg(typestore: Any, stamp_ns: int, frame_id: str) -> Any:
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
        header=header_msg(typestore, stamp_ns, frame_id),
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
    return typestore.types[IMAGE_TYPE](header=header_msg(typestore, stamp_ns, frame_id), **image_fields(rgb, encoding))


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
        header=header_msg(typestore, stamp_ns, frame_id), **compressed_image_fields(rgb, quality)
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
        header=header_msg(typestore, stamp_ns, frame_id),
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
        if self.path.suffix.lower() == ".bag":
            raise BagError(f"{self.path}: a rosbag2 folder named *.bag is read back as a ROS 1 bag; choose a name "
                           "without the .bag suffix")
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
    if path.is_dir() and path.suffix.lower() == ".bag":
        raise BagError(f"{path}: a rosbag2 folder named *.bag is taken for a ROS 1 bag; rename it without the .bag suffix")
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


