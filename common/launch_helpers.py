"""Pieces shared by the launch files: the pipeline nodes with their per-node params files, the
shared launch arguments, and the namespace every node of a launch file runs in."""

from __future__ import annotations

import os
from pathlib import Path

from ament_index_python.packages import get_package_prefix, get_package_share_directory
from launch.actions import DeclareLaunchArgument, GroupAction, LogInfo, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.launch_context import LaunchContext
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue

from edge_rover.common.conventions import (
    ANGULAR_Z_CHOICES,
    ANGULAR_Z_DEFAULT,
    ANGULAR_Z_HELP,
    ANGULAR_Z_PARAM,
)
from edge_rover.common.dds_profile import INTERFACES_ENV, PROFILE_ENV, launch_profile
from edge_rover.common.sros2 import KEYSTORE_ENV, SECURITY_ENV, check_secured_launch, enclave_arguments
from edge_rover.perception.detection.model_card import DOMAIN_MODELS

PACKAGE = "edge_rover"

# Perception → control, in graph order. Each gets config/<name>.yaml when it exists.
PIPELINE = ["detector", "obstacle_mapper", "controller"]

# A node that dies is started again after this many seconds. The delay is the backoff: a node
# that exits at once with a configuration error (exit code 1, one clear line) restarts at most
# every RESPAWN_DELAY_S instead of spinning the CPU, and its one-line error repeats slowly enough
# to read in the log.
RESPAWN_DELAY_S = 3.0


# Values that several nodes must agree on come from one launch argument each (never from two
# params files that can drift): the /cmd_vel angular.z convention, and the rover half width that
# the mapper inflates the grid by and the controller subtracts again (its grid_inflation).
ROVER_HALF_WIDTH_ARG = "rover_half_width"
ROVER_HALF_WIDTH_DEFAULT = "0.35"

# The whole graph's ROS namespace. Node topics are relative (common/graph.py), so namespace:=rover1
# puts every topic under /rover1/ (two rovers on one network); empty = the root, today's names.
NAMESPACE_ARG = "namespace"


def shared_arguments() -> list[DeclareLaunchArgument]:
    """The launch arguments behind the values nodes share; every launch file declares them."""
    return [
        DeclareLaunchArgument(
            ANGULAR_Z_PARAM,
            default_value=ANGULAR_Z_DEFAULT,
            choices=list(ANGULAR_Z_CHOICES),
            description=ANGULAR_Z_HELP,
        ),
        DeclareLaunchArgument(
            ROVER_HALF_WIDTH_ARG,
            default_value=ROVER_HALF_WIDTH_DEFAULT,
            description="rover half width (m): the mapper's grid inflation, which the controller allows for",
        ),
        DeclareLaunchArgument(
            NAMESPACE_ARG,
            default_value="",
            description="ROS namespace of the whole graph, e.g. rover1: every topic under /rover1/ (empty: "
            "the root). /clock stays global",
        ),
    ]


# The detector model each world runs (docs/models.md): the simulator-trained model in the
# simulator, the COCO-trained real-world model on a camera or a bag recorded on a robot.
SIM_MODEL, REAL_MODEL = DOMAIN_MODELS["sim"], DOMAIN_MODELS["real"]
MODEL_ARG = "model"


def model_argument(source_domain: str) -> DeclareLaunchArgument:
    """The ``model`` launch argument, defaulting to the shipped model of this world (sim | real)."""
    default = {"sim": SIM_MODEL, "real": REAL_MODEL}[source_domain]
    world = "simulator-trained" if source_domain == "sim" else "real-world (COCO)"
    return DeclareLaunchArgument(
        MODEL_ARG,
        default_value=default,
        description=f"detector model: path, file:// or package:// (default: the {world} model; "
        "docs/models.md says which to use where)",
    )


SOURCE_DOMAIN_ARG = "source_domain"


def source_domain_argument(default: str) -> DeclareLaunchArgument:
    """Where the replayed images come from (a bag recorded in the simulator: ``sim``)."""
    return DeclareLaunchArgument(
        SOURCE_DOMAIN_ARG,
        default_value=default,
        choices=["sim", "real"],
        description="world the images come from: real (a robot's bag) or sim (a simulator bag); the "
        "detector warns when the model's card says the other",
    )


def detector_overrides(source_domain: str | LaunchConfiguration) -> dict[str, dict]:
    """The detector's model from the ``model`` argument, and the world its images come from (the
    domain guard warns when the model card says the other world)."""
    return {"detector": {"model_path": LaunchConfiguration(MODEL_ARG), "source_domain": source_domain}}


def in_namespace(actions: list) -> GroupAction:
    """``actions`` in the graph's namespace (launch argument ``namespace``; empty: the root).

    One scoped group with PushRosNamespace: every node in it resolves the graph table's relative
    topic names under /<namespace>/. RViz stays outside (its config names the root topics).
    """
    namespace = LaunchConfiguration(NAMESPACE_ARG, default="")
    return GroupAction([PushRosNamespace(namespace), *actions])


def angular_z_convention() -> dict[str, LaunchConfiguration]:
    """The /cmd_vel angular.z parameter for a node that writes or reads /cmd_vel."""
    # The default keeps launch files of users (and tests) that build on pipeline_nodes() working
    # without declaring shared_arguments().
    return {ANGULAR_Z_PARAM: LaunchConfiguration(ANGULAR_Z_PARAM, default=ANGULAR_Z_DEFAULT)}


def shared_overrides() -> dict[str, dict]:
    """Per pipeline node, the parameters that come from ``shared_arguments``."""
    half_width = ParameterValue(
        LaunchConfiguration(ROVER_HALF_WIDTH_ARG, default=ROVER_HALF_WIDTH_DEFAULT), value_type=float
    )
    return {
        "obstacle_mapper": {"rover_half_width": half_width},
        "controller": {**angular_z_convention(), "grid_inflation": half_width},
    }


def config_path(name: str) -> str:
    return os.path.join(get_package_share_directory(PACKAGE), "config", name)


def installed(executable: str) -> bool:
    return os.path.isfile(os.path.join(get_package_prefix(PACKAGE), "lib", PACKAGE, executable))


def node_params(name: str, extra: dict | None = None) -> list:
    params: list = []
    path = config_path(f"{name}.yaml")
    if os.path.isfile(path):
        params.append(path)
    if extra:
        params.append(extra)
    return params


def pipeline_nodes(
    use_sim_time: LaunchConfiguration | bool,
    names: list[str] | None = None,
    overrides: dict[str, dict] | None = None,
) -> list[Node]:
    """The perception/control nodes that are installed (parts not built yet are left out).

    ``overrides`` maps a node name to parameters applied over its config/<name>.yaml.
    """
    nodes = []
    for name in names or PIPELINE:
        if not installed(name):
            continue
        extra = {
            "use_sim_time": use_sim_time,
            **shared_overrides().get(name, {}),
            **(overrides or {}).get(name, {}),
        }
        nodes.append(
            Node(
                package=PACKAGE,
                executable=name,
                name=name,
                output="screen",
                emulate_tty=True,
                parameters=node_params(name, extra),
                arguments=enclave_arguments(name),
                respawn=True,
                respawn_delay=RESPAWN_DELAY_S,
            )
        )
    return nodes


def rviz_node(condition_arg: str = "rviz") -> Node:
    """RViz with the committed config (only where rviz2 is installed, e.g. on a ROS desktop)."""
    return Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", os.path.join(get_package_share_directory(PACKAGE), "rviz", "edge_rover.rviz")],
        condition=IfCondition(LaunchConfiguration(condition_arg)),
        output="screen",
    )


def dds_network_actions() -> list:
    """Launch arguments ``dds_profile`` / ``dds_interfaces`` and the environment they give every node.

    Whatever starts the launch (a shell without tools/ros_env.sh, a systemd unit), the nodes get a
    Fast DDS profile whose UDP sockets listen only on named interfaces: by default the package's
    loopback-only profile (or the one FASTRTPS_DEFAULT_PROFILES_FILE already names, if it is
    restricted); ``dds_interfaces:=lo,wlan0`` (or $EDGE_ROVER_DDS_INTERFACES) writes a copy that
    also listens on wlan0; ``dds_interfaces:=all`` is the explicit, logged choice of every
    interface. A profile that would listen everywhere without that choice stops the launch.
    """
    return [
        DeclareLaunchArgument(
            "dds_profile",
            default_value=EnvironmentVariable(PROFILE_ENV, default_value=config_path("fastdds_profiles.xml")),
            description="Fast DDS XML profile for every node (default: $FASTRTPS_DEFAULT_PROFILES_FILE "
            "or the package's loopback-only profile)",
        ),
        DeclareLaunchArgument(
            "dds_interfaces",
            default_value=EnvironmentVariable(INTERFACES_ENV, default_value=""),
            description="network interfaces DDS listens on, e.g. lo,wlan0 (empty: the profile's own "
            "allowlist, loopback in the shipped profiles; 'all': every interface, on purpose)",
        ),
        OpaqueFunction(function=_dds_environment),
    ]


def _dds_environment(context: LaunchContext) -> list:
    profile = Path(LaunchConfiguration("dds_profile").perform(context))
    interfaces = LaunchConfiguration("dds_interfaces").perform(context)
    path, note = launch_profile(profile, interfaces)
    return [SetEnvironmentVariable(PROFILE_ENV, str(path)), LogInfo(msg=f"edge_rover: {note}")]


def security_actions(nodes: list[str]) -> list:
    """Launch arguments ``security`` / ``keystore`` and, with ``security:=true``, the SROS2
    environment every node gets: ROS_SECURITY_KEYSTORE, ROS_SECURITY_ENABLE=true,
    ROS_SECURITY_STRATEGY=Enforce (each node's enclave comes from ``enclave_arguments``).

    ``nodes``: the enclaves the launch needs; a keystore without one of them, or a Fast DDS built
    without DDS Security, stops the launch with one line (docs/security.md, "SROS2 on the robot").
    """
    return [
        DeclareLaunchArgument(
            "security",
            default_value="false",
            choices=["true", "false"],
            description="SROS2: authenticate every participant, enforce per-node permissions, encrypt "
            "the command topics (needs keystore:=DIR; docs/security.md)",
        ),
        DeclareLaunchArgument(
            "keystore",
            default_value=EnvironmentVariable(KEYSTORE_ENV, default_value=""),
            description="SROS2 keystore, an enclave per node (python -m edge_rover.tools.keystore create)",
        ),
        OpaqueFunction(function=_security_environment, args=[list(nodes)]),
    ]


def _security_environment(context: LaunchContext, nodes: list[str]) -> list:
    if LaunchConfiguration("security").perform(context) != "true":
        return []
    keystore = check_secured_launch(LaunchConfiguration("keystore").perform(context), nodes)
    settings = {KEYSTORE_ENV: str(keystore), **SECURITY_ENV}
    return [
        *(SetEnvironmentVariable(name, value) for name, value in settings.items()),
        LogInfo(msg=f"edge_rover: SROS2 enforced, keystore {keystore}, enclaves for {', '.join(nodes)}"),
    ]
