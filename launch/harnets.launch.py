"""Launch the harnets node graph on a workcell.

    ros2 launch harnets harnets.launch.py skeleton_model:=/models/skeleton.safetensors \
        rgb_model:=/models/rgb_top.safetensors namespace:=cell1 use_sim_time:=false

Recognizers are lifecycle nodes: each is configured (loads its model) when its process
starts and activated (subscribes) once configured. A modality runs when its model is given;
the fusion node runs when two or more do. The same graph starts without `ros2 launch`
through `harnets graph` (harnets_ros/graph.py).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

ARGUMENTS = [
    ("config_file", [FindPackageShare("harnets"), "/config/harnets.yaml"], "Parameter file of the nodes."),
    ("namespace", "", "Namespace of every node and topic (e.g. the workcell's name)."),
    ("use_sim_time", "false", "Use /clock (rosbag replay) instead of the wall clock."),
    ("skeleton_model", "", "Skeleton LSTM model file; empty: no skeleton recognizer."),
    ("rgb_model", "", "RGB CNN-LSTM model file; empty: no image recognizer."),
    ("pose_model", "", "Pose-keypoint LSTM model file (needs harnets[pose]); empty: no pose recognizer."),
    ("skeleton_topic", "skeleton", "Input topic of harnets/msg/SkeletonFrame."),
    ("image_topic", "camera/image_raw", "Input topic of the camera images."),
    ("image_transport", "raw", "raw (sensor_msgs/Image) or compressed (sensor_msgs/CompressedImage)."),
    ("activity_topic", "activity", "Output topic of the fused activity (or of the single recognizer's)."),
    ("bvh", "", "Optional BVH file to stream as SkeletonFrame (demo without a suit)."),
    ("video", "", "Optional video file to stream as images (demo without cameras)."),
]


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


def _graph(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    namespace = arg["namespace"]
    sim_time = arg["use_sim_time"].lower() in ("true", "1", "yes")
    common = [arg["config_file"], {"use_sim_time": sim_time}]
    image_in = arg["image_topic"] + ("/compressed" if arg["image_transport"] == "compressed" and not arg["image_topic"].endswith("/compressed") else "")
    recognizers = [
        ("skeleton_model", "skeleton_node", "skeleton_recognizer", arg["skeleton_topic"], "activity/skeleton"),
        ("rgb_model", "image_node", "image_recognizer", image_in, "activity/rgb"),
        ("pose_model", "pose_node", "pose_recognizer", image_in, "activity/pose"),
    ]
    active = [r for r in recognizers if arg[r[0]]]
    fused = len(active) > 1
    actions = []
    for model_arg, executable, name, input_topic, output_topic in active:
        params = {"model_path": arg[model_arg], "input_topic": input_topic,
                  "output_topic": output_topic if fused else arg["activity_topic"]}
        if executable != "skeleton_node":
            params["image_transport"] = arg["image_transport"]
        node = LifecycleNode(package="harnets", executable=executable, name=name, namespace=namespace,
                             parameters=[*common, params], output="screen")
        actions += [node, *_lifecycle_bring_up(node)]
    if fused:
        actions.append(Node(package="harnets", executable="fusion_node", name="activity_fusion", namespace=namespace,
                            parameters=[*common, {"inputs": [r[4] for r in active], "weights": [1.0] * len(active),
                                                  "output_topic": arg["activity_topic"]}],
                            output="screen"))
    if arg["bvh"]:
        actions.append(Node(package="harnets", executable="skeleton_streamer", name="skeleton_streamer", namespace=namespace,
                            parameters=[*common, {"bvh_path": arg["bvh"], "topic": arg["skeleton_topic"]}], output="screen"))
    if arg["video"]:
        actions.append(Node(package="harnets", executable="video_streamer", name="video_streamer", namespace=namespace,
                            parameters=[*common, {"video_path": arg["video"], "topic": image_in,
                                                  "image_transport": arg["image_transport"]}], output="screen"))
    return actions


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description) for name, default, description in ARGUMENTS]
        + [OpaqueFunction(function=_graph)]
    )
