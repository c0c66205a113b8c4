# Source me: the environment of the pip-installed ROS 2 in .venv plus this package's install/.
# (On a workcell with ROS from apt, source /opt/ros/<distro>/setup.bash and install/setup.bash.)
_harnets_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export VIRTUAL_ENV="${HARNETS_VENV:-$HOME/.cache/harnets/venv-py311}"
export PATH="$VIRTUAL_ENV/bin:$PATH"
export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# The graph's Fast DDS transport profile (docs/TRANSPORT.md) for every ROS process of this shell
# (nodes, tests, ros2 tools), unless a transport was chosen already or HARNETS_DDS_PROFILE=none.
if [ -z "${FASTDDS_DEFAULT_PROFILES_FILE:-}${FASTRTPS_DEFAULT_PROFILES_FILE:-}${FASTDDS_BUILTIN_TRANSPORTS:-}" ] \
   && [ "${HARNETS_DDS_PROFILE:-}" != none ]; then
  export FASTDDS_DEFAULT_PROFILES_FILE="${HARNETS_DDS_PROFILE:-$_harnets_root/config/fastdds.xml}"
  case "${ROS_DISTRO:-}" in humble|iron|jazzy) export FASTRTPS_DEFAULT_PROFILES_FILE="$FASTDDS_DEFAULT_PROFILES_FILE";; esac
fi
if [ -f "$_harnets_root/install/setup.sh" ]; then
  # colcon's setup.sh needs COLCON_CURRENT_PREFIX when sourced from elsewhere.
  # (colcon's scripts read unset variables: relax `set -u` while sourcing them.)
  case $- in *u*) _harnets_u=1; set +u;; *) _harnets_u=;; esac
  COLCON_CURRENT_PREFIX="$_harnets_root/install" . "$_harnets_root/install/setup.sh"
  [ -n "$_harnets_u" ] && set -u
  unset _harnets_u
fi
unset _harnets_root
