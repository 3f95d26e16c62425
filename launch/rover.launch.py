"""The rover: camera + perception + control on live hardware (e.g. a Jetson).

ros2 launch edge_rover rover.launch.py [camera_source:=0 camera_info_url:=... use_sim_time:=false rviz:=false]
    [model:=package://edge_rover/models/edge_rover_yolov8n_coco_int8.onnx]   # the real-world model
    [dds_interfaces:=lo,wlan0]   # DDS listens on loopback only unless interfaces are named (docs/security.md)
    [namespace:=rover1]          # every topic under /rover1/ (two rovers on one network)
    [security:=true keystore:=DIR]   # SROS2: enclave per node, authentication, encrypted commands
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from edge_rover.common.conventions import ROVER_MCU_DEVICE
from edge_rover.common.launch_helpers import (
    PACKAGE,
    PIPELINE,
    RESPAWN_DELAY_S,
    angular_z_convention,
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
)
from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    use_sim_time = LaunchConfiguration("use_sim_time")
    args = [
        DeclareLaunchArgument(
            "camera_source",
            default_value="0",
            description="device index, /dev/videoN, csi://N (Jetson CSI camera N), GStreamer pipeline, "
            "video file or image folder",
        ),
        DeclareLaunchArgument(
            "camera_info_url",
            default_value="package://edge_rover/config/camera_info.yaml",
            description="camera_info YAML from calibration",
        ),
        DeclareLaunchArgument("camera_fps", default_value="30.0", description="camera frame rate"),
        DeclareLaunchArgument(
            "camera_loop", default_value="false", description="loop a video file / image folder source"
        ),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="run on /clock"),
        DeclareLaunchArgument(
            "serial_port",
            default_value=ROVER_MCU_DEVICE,
            description="motor MCU serial device or pyserial URL (udev name from deploy/udev; the emulator: "
            "/tmp/edge_rover_mcu)",
        ),
        DeclareLaunchArgument(
            "serial", default_value="true", description="start the serial bridge to the MCU"
        ),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz"),
        model_argument("real"),
        *shared_arguments(),
        *dds_network_actions(),  # before any node: the Fast DDS profile (docs/security.md)
        *security_actions(["camera", *PIPELINE, "serial_bridge"]),  # security:=true: SROS2
    ]
    # The watchdog counts stale inputs in camera frame periods: the camera's own rate.
    frame_period = ParameterValue(
        PythonExpression(["1.0 / float(", LaunchConfiguration("camera_fps"), ")"]), value_type=float
    )
    camera = Node(
        package=PACKAGE,
        executable="camera",
        name="camera",
        arguments=enclave_arguments("camera"),
        output="screen",
        emulate_tty=True,
        respawn=True,
        respawn_delay=RESPAWN_DELAY_S,
        parameters=node_params(
            "camera",
            {
                "source": LaunchConfiguration("camera_source"),
                "camera_info_url": LaunchConfiguration("camera_info_url"),
                "fps": LaunchConfiguration("camera_fps"),
                "loop": ParameterValue(LaunchConfiguration("camera_loop"), value_type=bool),
                "use_sim_time": use_sim_time,
            },
        ),
    )
    serial_bridge = Node(
        package=PACKAGE,
        executable="serial_bridge",
        name="serial_bridge",
        arguments=enclave_arguments("serial_bridge"),
        output="screen",
        emulate_tty=True,
        respawn=True,
        respawn_delay=RESPAWN_DELAY_S,
        condition=IfCondition(LaunchConfiguration("serial")),
        parameters=node_params(
            "serial_bridge",
            {
                "port": LaunchConfiguration("serial_port"),
                "use_sim_time": use_sim_time,
                **angular_z_convention(),
            },
        ),
    )
    pipeline = pipeline_nodes(
        use_sim_time, overrides={"controller": {"frame_period": frame_period}, **detector_overrides("real")}
    )
    return LaunchDescription(
        [
            *args,
            in_namespace([camera, *pipeline, serial_bridge]),
            rviz_node(),
        ]
    )
