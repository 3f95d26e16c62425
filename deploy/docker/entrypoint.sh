#!/usr/bin/env bash
# Container entry: ROS setup, then the workspace, then the command (default: the rover launch).
set -e
source "/opt/ros/${ROS_DISTRO}/setup.bash"
source "${EDGE_ROVER_WS:-/opt/edge_rover_ws}/install/setup.bash"
exec "$@"
