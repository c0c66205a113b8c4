"""The harnets node graph by name: its nodes, their executables and default topics.

One definition, pure data (no ROS import), for everything that names a node or a topic:
launch/harnets.launch.py, ``harnets graph`` (harnets_ros.graph), the live replay
(harnets_ros.live_replay), the nodes' parameter defaults, and core where it needs topic
names (the session bags of harnets_core.formats.bags). config/harnets.yaml repeats the
defaults for the user to edit; a test checks that it agrees with this module.

The graph::

    skeleton_streamer ──skeleton──────────► skeleton_recognizer ──activity/skeleton──┐
    video_streamer ──camera/image_raw──┬──► image_recognizer ─────activity/rgb───────┼──► activity_fusion ──activity──►
                                       └──► pose_recognizer ──────activity/pose──────┘

Graph topics are relative: a namespace prefixes them (``qualified``). The launch file lets a
single recognizer publish on ``ACTIVITY_TOPIC`` itself (no fusion). With compressed transport
an image topic becomes ``<topic>/compressed`` (``compressed_topic``, image_transport's
convention). Session bags (``harnets bag from-inhard``) keep their own absolute names
(``BAG_*``): the live replay hands the bag's sensor topics to the graph.

A foundation module beside errors.py (it imports nothing else of harnets_core), so that every
layer may use it: formats (bags) as well as streaming and evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass

from harnets_core.errors import ConfigError

__all__ = [
    "SKELETON_TOPIC",
    "IMAGE_TOPIC",
    "ACTIVITY_TOPIC",
    "FORECAST_TOPIC",
    "FUSION_SOURCE",
    "GROUND_TRUTH_SOURCE",
    "BAG_SKELETON_TOPIC",
    "BAG_IMAGE_TOPIC",
    "BAG_GROUND_TRUTH_TOPIC",
    "GraphNode",
    "SKELETON_RECOGNIZER",
    "IMAGE_RECOGNIZER",
    "POSE_RECOGNIZER",
    "FUSION",
    "SKELETON_STREAMER",
    "VIDEO_STREAMER",
    "RECOGNIZERS",
    "STREAMERS",
    "NODES",
    "SOURCES",
    "DEFAULT_FUSION_INPUTS",
    "graph_node",
    "recognizer",
    "qualified",
    "compressed_topic",
    "activity_topics",
    "source_of_topic",
]

# ------------------------------------------------------------------------------ graph topics
SKELETON_TOPIC = "skeleton"
"""harnets/msg/SkeletonFrame from the suit (or the skeleton streamer)."""
IMAGE_TOPIC = "camera/image_raw"
"""sensor_msgs/msg/Image from the camera (or the video streamer)."""
ACTIVITY_TOPIC = "activity"
"""harnets/msg/Activity of the graph: the fusion's, or the single recognizer's."""
FORECAST_TOPIC = "activity/forecast"
"""harnets/msg/ActivityForecast of every recognizer whose model has a forecaster (``source`` tells them apart)."""

FUSION_SOURCE = "fusion"
"""``Activity.source`` of the fused stream."""
GROUND_TRUTH_SOURCE = "ground_truth"
"""``Activity.source`` of the annotated labels in a session bag."""

# ------------------------------------------------------------------------ session bag topics
BAG_SKELETON_TOPIC = "/harnets/skeleton"
BAG_IMAGE_TOPIC = f"/{IMAGE_TOPIC}"
BAG_GROUND_TRUTH_TOPIC = "/harnets/ground_truth"


# ------------------------------------------------------------------------------------ nodes
@dataclass(frozen=True)
class GraphNode:
    """One node of the graph.

    Attributes:
        name: ROS node name, also its section in config/harnets.yaml.
        executable: program in ``lib/harnets`` (``ros2 run harnets <executable>``).
        role: ``"recognizer"`` (a lifecycle node), ``"fusion"``, ``"streamer"`` or ``"visualizer"``.
        input_topic: default input topic; ``""`` for the fusion (parameter ``inputs``) and
            the streamers (they read a file, a device or a suit).
        output_topic: default output topic.
        source: recognizers: the modality, the ``Activity.source`` they publish and the key of
            their model (``skeleton``, ``rgb``, ``pose``); the fusion: ``"fusion"``.
        image_input: the input is a camera image (raw or compressed transport).
        file_parameter: streamers: the parameter naming the file to stream.
    """

    name: str
    executable: str
    role: str
    input_topic: str
    output_topic: str
    source: str = ""
    image_input: bool = False
    file_parameter: str = ""

    @property
    def lifecycle(self) -> bool:
        """Recognizers are lifecycle nodes (configure loads the model, activate subscribes)."""
        return self.role == "recognizer"

    @property
    def model_argument(self) -> str:
        """Recognizers: the launch argument (and ``harnets graph`` option) of their model file."""
        return f"{self.source}_model" if self.role == "recognizer" else ""


SKELETON_RECOGNIZER = GraphNode("skeleton_recognizer", "skeleton_node", "recognizer", SKELETON_TOPIC, "activity/skeleton", "skeleton")
IMAGE_RECOGNIZER = GraphNode("image_recognizer", "image_node", "recognizer", IMAGE_TOPIC, "activity/rgb", "rgb", image_input=True)
POSE_RECOGNIZER = GraphNode("pose_recognizer", "pose_node", "recognizer", IMAGE_TOPIC, "activity/pose", "pose", image_input=True)
FUSION = GraphNode("activity_fusion", "fusion_node", "fusion", "", ACTIVITY_TOPIC, FUSION_SOURCE)
SKELETON_STREAMER = GraphNode("skeleton_streamer", "skeleton_streamer", "streamer", "", SKELETON_TOPIC, file_parameter="bvh_path")
VIDEO_STREAMER = GraphNode("video_streamer", "video_streamer", "streamer", "", IMAGE_TOPIC, image_input=True, file_parameter="video_path")

MARKERS_TOPIC = "visualization/markers"
"""The visualizer's visualization_msgs/MarkerArray (skeleton bones, activity label)."""
ANNOTATED_IMAGE_TOPIC = "visualization/image"
"""The visualizer's camera image with the activity drawn on it."""
VISUALIZER = GraphNode("activity_visualization", "visualization_node", "visualizer", SKELETON_TOPIC, MARKERS_TOPIC,
                       image_input=True)

RECOGNIZERS: tuple[GraphNode, ...] = (SKELETON_RECOGNIZER, IMAGE_RECOGNIZER, POSE_RECOGNIZER)
STREAMERS: tuple[GraphNode, ...] = (SKELETON_STREAMER, VIDEO_STREAMER)
NODES: tuple[GraphNode, ...] = (*RECOGNIZERS, FUSION, *STREAMERS, VISUALIZER)
SOURCES: tuple[str, ...] = tuple(r.source for r in RECOGNIZERS)
"""Recognizer sources in graph order: ``("skeleton", "rgb", "pose")``."""

DEFAULT_FUSION_INPUTS: tuple[str, ...] = (SKELETON_RECOGNIZER.output_topic, IMAGE_RECOGNIZER.output_topic)
"""The fusion node's default ``inputs`` (the suit and the camera)."""


def graph_node(key: str) -> GraphNode:
    """The node with this node name or executable.

    Raises:
        ConfigError: no such node.
    """
    for node in NODES:
        if key in (node.name, node.executable):
            return node
    raise ConfigError(f"no harnets node {key!r} (nodes: {', '.join(n.name for n in NODES)})")


def recognizer(source: str) -> GraphNode:
    """The recognizer of a source (``skeleton``, ``rgb``, ``pose``).

    Raises:
        ConfigError: no recognizer for it.
    """
    for node in RECOGNIZERS:
        if node.source == source:
            return node
    raise ConfigError(f"no recognizer for source {source!r} (sources: {', '.join(SOURCES)})")


# ----------------------------------------------------------------------------------- names
def qualified(topic: str, namespace: str = "") -> str:
    """Absolute name of a relative topic in ``namespace`` (``""``: the root); absolute topics are kept."""
    if topic.startswith("/"):
        return topic
    ns = namespace.strip("/")
    return f"/{ns}/{topic}" if ns else f"/{topic}"


def compressed_topic(topic: str) -> str:
    """image_transport's name of the compressed topic of ``topic`` (kept if it already is one)."""
    topic = topic.rstrip("/")
    return topic if topic.endswith("/compressed") else f"{topic}/compressed"


def activity_topics(namespace: str = "") -> list[str]:
    """Absolute names of every Activity output: the recognizers' (graph order), then the fusion's."""
    return [qualified(node.output_topic, namespace) for node in (*RECOGNIZERS, FUSION)]


def source_of_topic(namespace: str = "") -> dict[str, str]:
    """Absolute Activity topic -> the ``Activity.source`` published there (default topics)."""
    return {qualified(node.output_topic, namespace): node.source for node in (*RECOGNIZERS, FUSION)}
