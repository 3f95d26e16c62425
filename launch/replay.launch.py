"""Replay a rosbag2 through the pipeline: bag_replay publishes the recorded topics and /clock,
the nodes run on sim time.

    ros2 launch edge_rover replay.launch.py bag:=/path/to/bag [rate:=1.0 loop:=false rviz:=false namespace:=]
        [security:=true keystore:=DIR]
        [model:=...]   # default the real-world model; a simulator bag:
        # model:=package://edge_rover/models/edge_rover_yolov8n_int8.onnx source_domain:=sim

The bag's graph topics are played under the namespace, whatever namespace they were recorded in.
"""

from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from edge_rover.common.launch_helpers import (
    PACKAGE,
    PIPELINE,
    dds_network_actions,
    detector_overrides,
    enclave_arguments,
    in_namespace,
    model_argument,
    node_params,
    pipeline_nodes,
    rviz_node,
    security_actions,
    shared_arguments,
    source_domain_argument,
)
from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    args = [
        DeclareLaunchArgument("bag", description="rosbag2 directory (MCAP or sqlite3)"),
        DeclareLaunchArgument("rate", default_value="1.0", description="playback rate factor"),
        DeclareLaunchArgument("loop", default_value="false", description="restart the bag at its end"),
        DeclareLaunchArgument("start_offset", default_value="0.0", description="seconds to skip"),
        DeclareLaunchArgument("topics", default_value="", description="comma-separated topics; empty = all"),
        DeclareLaunchArgument(
            "wait_for_subscribers",
            default_value="0",
            description="wait for this many subscribers on the image topic before playing",
        ),
        DeclareLaunchArgument(
            "rviz", default_value="false", description="start RViz with rviz/edge_rover.rviz"
        ),
        model_argument("real"),  # a bag recorded on a robot is real footage
        source_domain_argument("real"),
        *shared_arguments(),
        *dds_network_actions(),  # before any node: the Fast DDS profile (docs/security.md)
        *security_actions(["bag_replay", *PIPELINE]),  # security:=true: SROS2
    ]
    replay = Node(
        package=PACKAGE,
        executable="bag_replay",
        name="bag_replay",
        arguments=enclave_arguments("bag_replay"),
        output="screen",
        emulate_tty=True,
        parameters=node_params(
            "bag_replay",
            {
                "bag": LaunchConfiguration("bag"),
                "rate": LaunchConfiguration("rate"),
                "loop": LaunchConfiguration("loop"),
                "start_offset": LaunchConfiguration("start_offset"),
                "topics": LaunchConfiguration("topics"),
                "wait_for_subscribers": LaunchConfiguration("wait_for_subscribers"),
            },
        ),
    )
    # The graph ends with the bag (unless it loops).
    shutdown_at_end = RegisterEventHandler(
        OnProcessExit(target_action=replay, on_exit=[EmitEvent(event=Shutdown(reason="bag ended"))])
    )
    graph = in_namespace(
        [replay, *pipeline_nodes(True, overrides=detector_overrides(LaunchConfiguration("source_domain")))]
    )
    return LaunchDescription([*args, graph, shutdown_at_end, rviz_node()])
