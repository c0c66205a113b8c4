"""Launch the harnets node graph on a workcell.

    ros2 launch harnets harnets.launch.py skeleton_model:=/models/skeleton.safetensors \
        rgb_model:=/models/rgb_top.safetensors namespace:=cell1 use_sim_time:=false

Recognizers are lifecycle nodes: each is configured (loads its model) when its process
starts and activated (subscribes) once configured. A modality runs when its model is given;
the fusion node runs when two or more do. The demo streamers (bvh:=, video:=) start once
every recognizer is active, so that no recording is played to a graph not yet listening.

Parameters, weakest first: the node's section of config_file (also under a namespace, where
the file's plain `skeleton_recognizer:` keys would not match `/cell1/skeleton_recognizer`),
then what the launch arguments set. The same graph starts without `ros2 launch` through
`harnets graph` (harnets_ros/graph.py).

Node names, executables and default topics come from harnets_core.topology (installed with
the package), as they do for `harnets graph`.
"""
from pathlib import Path
from typing import List

import yaml
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, LogInfo, OpaqueFunction, RegisterEventHandler, SetEnvironmentVariable
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

from harnets_core.topology import (
    ACTIVITY_TOPIC,
    FUSION,
    IMAGE_TOPIC,
    RECOGNIZERS,
    SKELETON_STREAMER,
    SKELETON_TOPIC,
    VIDEO_STREAMER,
    VISUALIZER,
    compressed_topic,
)

# (name, default, description, choices or None): declared in this order (see --show-args).
ARGUMENTS = [
    ("config_file", [FindPackageShare("harnets"), "/config/harnets.yaml"], "Parameter file of the nodes.", None),
    ("namespace", "", "Namespace of every node and topic (e.g. the workcell's name).", None),
    ("use_sim_time", "false", "Use /clock (rosbag replay) instead of the wall clock.", None),
    ("skeleton_model", "", "Skeleton LSTM model file; empty: no skeleton recognizer.", None),
    ("rgb_model", "", "RGB CNN-LSTM model file; empty: no image recognizer.", None),
    ("pose_model", "", "Pose-keypoint LSTM model file (needs harnets[pose]); empty: no pose recognizer.", None),
    ("skeleton_topic", SKELETON_TOPIC, "Input topic of harnets/msg/SkeletonFrame.", None),
    ("image_topic", IMAGE_TOPIC, "Input topic of the camera images.", None),
    ("image_transport", "raw", "raw (sensor_msgs/Image) or compressed (sensor_msgs/CompressedImage).", ["raw", "compressed"]),
    ("activity_topic", ACTIVITY_TOPIC, "Output topic of the fused activity (or of the single recognizer's).", None),
    ("bvh", "", "Optional BVH file to stream as SkeletonFrame (demo without a suit); starts once the recognizers are active.", None),
    ("skeleton_source", "", "With bvh: 'tcp' or 'udp' streams a Perception Neuron suit's broadcast instead, bvh being the BVH export of its skeleton (docs/SUIT.md); empty: the config_file's source (file).", None),
    ("video", "", "Optional video file to stream as images (demo without cameras); starts once the recognizers are active.", None),
    ("visualize", "false", "Start the visualization node: skeleton and activity markers on visualization/markers, the labelled camera on visualization/image.", ["true", "false"]),
    ("rviz", "false", "Start RViz 2 with config/harnets.rviz (and the visualization node).", ["true", "false"]),
    ("dds_profile", [FindPackageShare("harnets"), "/config/fastdds.xml"], "Fast DDS profile of every node (docs/TRANSPORT.md: "
     "large images need it); 'none': Fast DDS's defaults. Ignored where FASTDDS_DEFAULT_PROFILES_FILE, "
     "FASTRTPS_DEFAULT_PROFILES_FILE or FASTDDS_BUILTIN_TRANSPORTS is already set.", None),
]


def _declare(name, default, description, choices):
    if choices:
        return DeclareLaunchArgument(name, default_value=default, description=description, choices=choices)
    return DeclareLaunchArgument(name, default_value=default, description=description)


def _typed(value):
    """A parameter value for launch_ros: strings kept strings (launch_ros would read 'true' or
    '1' as YAML otherwise), other values as they are."""
    if isinstance(value, str):
        return ParameterValue(value, value_type=str)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return ParameterValue(list(value), value_type=List[str])
    return value


def _flatten(params, prefix=""):
    out = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif not (isinstance(value, (list, tuple)) and not value):  # launch_ros refuses empty lists
            out[f"{prefix}{key}"] = value
    return out


def _config_section(config, namespace, name):
    """ros__parameters of node `name` in the parameter file: the `/**` section, then the
    node's own (`name`, `/name`, `/**/name`, `/<namespace>/name`), later ones winning."""
    fq = f"/{namespace}/{name}" if namespace else f"/{name}"
    wanted = [{"/**"}, {f"/{name}", f"/**/{name}"}, {fq}]
    params = {}
    for keys in wanted:
        for key, section in config.items():
            if ("/" + str(key).lstrip("/")) in keys and isinstance(section, dict):
                params.update(_flatten(section.get("ros__parameters") or {}))
    return params


def _params(config, namespace, name, common, overrides):
    merged = {**_config_section(config, namespace, name), **common, **overrides}
    return {key: _typed(value) for key, value in merged.items()}


def _lifecycle_bring_up(node):
    """Configure right away (launch_ros waits for the node's service), activate once inactive."""
    return [
        RegisterEventHandler(
            OnStateTransition(
                target_lifecycle_node=node, goal_state="inactive",
                entities=[EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                                      transition_id=Transition.TRANSITION_ACTIVATE))],
            )
        ),
        EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=Transition.TRANSITION_CONFIGURE)),
    ]


def _after_all_active(nodes, actions):
    """`actions` once every lifecycle node of `nodes` has reached 'active' (right away if none)."""
    if not nodes or not actions:
        return list(actions)
    pending = {id(node) for node in nodes}
    started = []

    def on_active(node):
        def _function(context):
            pending.discard(id(node))
            if pending or started:
                return None
            started.append(True)
            return [LogInfo(msg="harnets: recognizers active, starting the streamers"), *actions]
        return _function

    return [
        RegisterEventHandler(OnStateTransition(target_lifecycle_node=node, goal_state="active",
                                               entities=[OpaqueFunction(function=on_active(node))]))
        for node in nodes
    ]


def _installed(package):
    """Whether ROS package `package` is installed (on AMENT_PREFIX_PATH)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix(package)
    except PackageNotFoundError:
        return False
    return True


def _transport(context):
    """The transport profile for every node started here (harnets_core.transport): set in
    the launch environment, which the node processes inherit."""
    from harnets_core.transport import SELECT_VARIABLE, transport_env

    profile = LaunchConfiguration("dds_profile").perform(context).strip()
    env = transport_env(Path(profile).parent, {**context.environment, SELECT_VARIABLE: profile or "none"})
    return [SetEnvironmentVariable(name, value) for name, value in env.items()]


def _graph(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _, _ in ARGUMENTS}
    namespace = arg["namespace"].strip("/")
    sim_time = arg["use_sim_time"].strip().lower() in ("true", "1", "yes")
    config_file = arg["config_file"]
    if not Path(config_file).is_file():
        raise RuntimeError(f"config_file {config_file!r}: no such parameter file")
    config = yaml.safe_load(Path(config_file).read_text()) or {}
    common = {"use_sim_time": sim_time}

    def start(action, graph_node, overrides):
        # The file itself first (any section of it rcl matches), then this node's section of it
        # with the launch arguments on top, under the node's fully qualified name.
        return action(package="harnets", executable=graph_node.executable, name=graph_node.name, namespace=namespace,
                      parameters=[config_file, _params(config, namespace, graph_node.name, common, overrides)],
                      output="screen")

    image_in = compressed_topic(arg["image_topic"]) if arg["image_transport"] == "compressed" else arg["image_topic"]
    active = [r for r in RECOGNIZERS if arg[r.model_argument]]
    if not active:  # nothing would run: say so and fail rather than exit 0 having started nothing
        raise RuntimeError("harnets: no model given: set at least one of skeleton_model:=, rgb_model:=, "
                           "pose_model:= (ros2 launch harnets harnets.launch.py --show-args)")
    fused = len(active) > 1
    actions = []
    lifecycle_nodes = []
    for rec in active:
        overrides = {"model_path": str(Path(arg[rec.model_argument]).expanduser().resolve()),
                     "input_topic": image_in if rec.image_input else arg["skeleton_topic"],
                     "output_topic": rec.output_topic if fused else arg["activity_topic"]}
        if rec.image_input:
            overrides["image_transport"] = arg["image_transport"]
        node = start(LifecycleNode, rec, overrides)
        lifecycle_nodes.append(node)
        actions += [node, *_lifecycle_bring_up(node)]
    if fused:
        # the first model's forecaster (when its file has one) forecasts the fused timeline:
        # source "fusion" on activity/forecast, beside the recognizers' own
        actions.append(start(Node, FUSION, {"inputs": [r.output_topic for r in active], "weights": [1.0] * len(active),
                                            "output_topic": arg["activity_topic"],
                                            "forecast_model_path": str(Path(arg[active[0].model_argument]).expanduser().resolve())}))
    streamers = []
    if arg["bvh"]:
        streamers.append(start(Node, SKELETON_STREAMER, {
            SKELETON_STREAMER.file_parameter: str(Path(arg["bvh"]).expanduser().resolve()), "topic": arg["skeleton_topic"],
            **({"source": arg["skeleton_source"]} if arg["skeleton_source"] else {})}))
    if arg["video"]:
        streamers.append(start(Node, VIDEO_STREAMER, {
            VIDEO_STREAMER.file_parameter: str(Path(arg["video"]).expanduser().resolve()), "topic": image_in,
            "image_transport": arg["image_transport"]}))
    rviz = arg["rviz"] == "true"
    if arg["visualize"] == "true" or rviz:
        # The stream's skeleton: the bvh argument (the file streamed, or the suit's export), else the template.
        actions.append(start(Node, VISUALIZER, {
            "skeleton_topic": arg["skeleton_topic"], "activity_topic": arg["activity_topic"],
            "image_topic": arg["image_topic"], "image_transport": arg["image_transport"],
            **({"skeleton_bvh": str(Path(arg["bvh"]).expanduser().resolve())} if arg["bvh"] else {})}))
    if rviz and not _installed("rviz2"):
        actions.append(LogInfo(msg="harnets: rviz2 is not installed (apt install ros-$ROS_DISTRO-rviz2); "
                                   "the markers are on visualization/markers for any viewer (config/harnets.foxglove.json)"))
    elif rviz:
        rviz_config = str(Path(FindPackageShare("harnets").perform(context)) / "config" / "harnets.rviz")
        actions.append(Node(package="rviz2", executable="rviz2", name="rviz2", namespace=namespace,
                            arguments=["-d", rviz_config], parameters=[common], output="screen"))
    return actions + _after_all_active(lifecycle_nodes, streamers)


def generate_launch_description():
    return LaunchDescription([_declare(*argument) for argument in ARGUMENTS]
                             + [OpaqueFunction(function=_transport), OpaqueFunction(function=_graph)])
