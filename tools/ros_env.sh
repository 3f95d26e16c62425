# Source me: the environment the ROS 2 tools need with the project's venv.
#   . tools/ros_env.sh
_er_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export VIRTUAL_ENV=${VENV:-$_er_root/.venv}
export PATH=$VIRTUAL_ENV/bin:$PATH
if [[ -n "${ROS_DISTRO:-}" ]]; then
  export AMENT_PREFIX_PATH=$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}
else
  export AMENT_PREFIX_PATH=$VIRTUAL_ENV
fi
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROS_LOG_DIR=${ROS_LOG_DIR:-$(mktemp -d -t edge_rover_roslog.XXXXXX)}
export PYTHONUNBUFFERED=1
unset _er_root
# Large images need a larger shared-memory segment and UDP buffers than Fast DDS's defaults.
export FASTRTPS_DEFAULT_PROFILES_FILE=${FASTRTPS_DEFAULT_PROFILES_FILE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/config/fastdds_profiles.xml}
