"""Closed loop in the simulator: the sim node renders a scenario on sim time and obeys /cmd_vel;
the perception and control nodes that are installed run on sim time (parts not built yet are
left out, so the sim alone still runs and drives at cruise speed).

    ros2 launch edge_rover sim.launch.py scenario:=pedestrian_crossing \
        [real_time_factor:=1.0 lock_step:=false end_action:=shutdown metrics_path:= pipeline:=true \
         perfect_perception:=false rviz:=false namespace:= \
         security:=false keystore:=]

namespace:=rover1 runs the whole graph under /rover1/ (the sim's /clock stays global).

perfect_perception:=true tests the controller alone: the sim publishes /obstacles from the ground
truth it sees and only the controller is started (no detector, no mapper).
"""

from launch.actions import DeclareLaunchArgument, EmitEvent, GroupAction, RegisterEventHandler
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from edge_rover.common.launch_helpers import (
    PACKAGE,
    PIPELINE,
    RESPAWN_DELAY_S,
    angular_z_convention,
    dds_network_actions,
    detector_overrides,
    enclave_arguments,
    in_namespace,
    installed,
    model_argument,
    node_params,
    pipeline_nodes,
    rviz_node,
    security_actions,
    shared_arguments,
    shared_overrides,
)
from launch import LaunchDescription


def _controller_without_detector_watch() -> list[Node]:
    """The controller alone (perfect perception: no /detections to watch), when it is installed."""
    if not installed("controller"):
        return []
    extra = {
        **shared_overrides()["controller"],
        "use_sim_time": True,
        "watch_detections": False,
        "frame_period": ParameterValue(LaunchConfiguration("frame_period"), value_type=float),
    }
    return [
        Node(
            package=PACKAGE,
            executable="controller",
            name="controller",
            arguments=enclave_arguments("controller"),
            output="screen",
            emulate_tty=True,
            parameters=node_params("controller", extra),
            respawn=True,  # like every node of ours (its liveness watch exits it when it cannot work)
            respawn_delay=RESPAWN_DELAY_S,
        )
    ]


def generate_launch_description() -> LaunchDescription:
    args = [
        DeclareLaunchArgument(
            "scenario", default_value="clear_road", description="config/scenarios name or path"
        ),
        DeclareLaunchArgument("real_time_factor", default_value="1.0", description="0 = as fast as possible"),
        DeclareLaunchArgument(
            "lock_step", default_value="false", description="wait for /detections per frame"
        ),
        DeclareLaunchArgument(
            "end_action", default_value="shutdown", description="hold | restart | shutdown"
        ),
        DeclareLaunchArgument(
            "metrics_path", default_value="", description="write the run metrics JSON here"
        ),
        DeclareLaunchArgument(
            "pipeline", default_value="true", description="start detector/mapper/controller"
        ),
        DeclareLaunchArgument(
            "perfect_perception",
            default_value="false",
            description="/obstacles from ground truth; controller only",
        ),
        DeclareLaunchArgument(
            "cruise_without_cmd_vel",
            default_value="false",
            description="drive at cruise speed before the first /cmd_vel (true: the sim alone drives; "
            "false: the rover waits until the controller is in charge)",
        ),
        DeclareLaunchArgument(
            "frame_period",
            default_value="0.05",
            description="camera frame period (s) the controller's watchdog counts in: the scenarios' step_s",
        ),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz"),
        model_argument("sim"),
        *shared_arguments(),
        *dds_network_actions(),  # before any node: the Fast DDS profile (docs/security.md)
        *security_actions(["sim", *PIPELINE]),  # security:=true: SROS2
    ]
    sim = Node(
        package=PACKAGE,
        executable="sim",
        name="sim",
        arguments=enclave_arguments("sim"),
        output="screen",
        emulate_tty=True,
        parameters=node_params(
            "sim",
            {
                "scenario": LaunchConfiguration("scenario"),
                "real_time_factor": ParameterValue(LaunchConfiguration("real_time_factor"), value_type=float),
                "lock_step": ParameterValue(LaunchConfiguration("lock_step"), value_type=bool),
                "end_action": LaunchConfiguration("end_action"),
                "metrics_path": LaunchConfiguration("metrics_path"),
                "cruise_without_cmd_vel": ParameterValue(
                    LaunchConfiguration("cruise_without_cmd_vel"), value_type=bool
                ),
                **angular_z_convention(),
                "obstacles_from_truth": ParameterValue(
                    LaunchConfiguration("perfect_perception"), value_type=bool
                ),
            },
        ),
    )
    # With end_action:=shutdown the graph ends with the scenario.
    shutdown_at_end = RegisterEventHandler(
        OnProcessExit(target_action=sim, on_exit=[EmitEvent(event=Shutdown(reason="scenario ended"))])
    )
    pipeline, perfect = LaunchConfiguration("pipeline"), LaunchConfiguration("perfect_perception")
    full = GroupAction(
        # The controller's watchdog counts stale inputs in camera frame periods: the simulator's.
        pipeline_nodes(
            True,
            overrides={
                "controller": {
                    "frame_period": ParameterValue(LaunchConfiguration("frame_period"), value_type=float)
                },
                **detector_overrides("sim"),
            },
        ),
        condition=IfCondition(PythonExpression(["'", pipeline, "' == 'true' and '", perfect, "' != 'true'"])),
    )
    controller_only = GroupAction(
        _controller_without_detector_watch(),
        condition=IfCondition(PythonExpression(["'", pipeline, "' == 'true' and '", perfect, "' == 'true'"])),
    )
    graph = in_namespace([sim, full, controller_only])
    return LaunchDescription([*args, graph, shutdown_at_end, rviz_node()])
