#!/usr/bin/env bash
# Runs the whole suite (core unit tests and ROS integration tests over real DDS).
# Each run gets its own ROS_DOMAIN_ID and ROS_HOME so that two runs never see each other;
# a ROS_HOME made here is removed on exit (pass ROS_HOME=... to keep the nodes' ROS logs).
# pytest's exit code 5 (no tests collected) is a failure here, like every other non-zero.
set -euo pipefail
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 100 ))}"
if [ -z "${ROS_HOME:-}" ]; then
  ROS_HOME="$(mktemp -d /tmp/harnets-ros-home.XXXXXX)"
  trap 'rm -rf "$ROS_HOME"' EXIT
fi
export ROS_HOME
export ROS_LOG_DIR="$ROS_HOME/log"
export MPLBACKEND=Agg
export PYTHONDONTWRITEBYTECODE=1
status=0
python -m pytest -p no:cacheprovider "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "run_tests: pytest collected no tests: failing" >&2
fi
exit "$status"
