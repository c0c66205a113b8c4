"""Harness of the ROS integration tests: node executables from install/ as their own
processes, real rclpy and DDS in the test process, real harnets messages.

`make test` builds install/ first and gives each run its own ROS_DOMAIN_ID and ROS_HOME.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "install"
EXE_DIR = INSTALL / "harnets" / "lib" / "harnets"

rclpy = pytest.importorskip("rclpy", reason="ROS 2 (rclpy) is not installed: run `make test`")
if not EXE_DIR.is_dir():  # pragma: no cover - a clear failure, never a silent skip
    raise RuntimeError(f"{EXE_DIR} missing: build the package first (`make build`, done by `make test`)")

from harnets_core.transport import apply_transport_env  # noqa: E402

# The shipped transport profile for this process (before any rclpy.init: Fast DDS reads it at
# the first participant) and, by inheritance, for every node process a test starts: the
# tests run over the transport the graph uses on a workcell (docs/TRANSPORT.md).
apply_transport_env(INSTALL / "harnets" / "share" / "harnets" / "config")

from rclpy.node import Node  # noqa: E402

pytestmark = pytest.mark.ros


class ChildProcess:
    """A command running as its own process, stdout and stderr into `log_path`.

    SIGINT is restored in the child (a background child inherits it ignored) and `stop`
    sends it to the child alone: a launch process forwards it to its own children (a signal
    to the whole group would reach them twice)."""

    def __init__(self, cmd: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,  # None: this process's
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGINT, then SIGKILL after `timeout_s`; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class NodeProcess(ChildProcess):
    """One node executable from install/ running as its own process, with a params file."""

    def __init__(self, executable: str, params: dict[str, Any] | Path, tmp_path: Path, name: str, extra_args: list[str] | None = None) -> None:
        self.executable = EXE_DIR / executable
        if not self.executable.exists():
            raise FileNotFoundError(f"{self.executable}: no such node executable in install/")
        if isinstance(params, Path):  # an existing parameter file (e.g. config/harnets.yaml)
            self.params_file = params
        else:
            self.params_file = tmp_path / f"{name}.params.yaml"
            self.params_file.write_text(yaml.safe_dump({name: {"ros__parameters": params}}))
        cmd = [sys.executable, str(self.executable), "--ros-args", "--params-file", str(self.params_file), *(extra_args or [])]
        super().__init__(cmd, tmp_path / f"{name}.log")


@pytest.fixture
def start_node(tmp_path: Path):
    started: list[NodeProcess] = []

    def _start(executable: str, params: dict[str, Any] | Path, name: str, extra_args: list[str] | None = None) -> NodeProcess:
        proc = NodeProcess(executable, params, tmp_path, name, extra_args)
        started.append(proc)
        return proc

    yield _start
    for proc in started:
        proc.stop()


@pytest.fixture
def ros_node():
    """An rclpy node in the test process (its own context, shut down afterwards)."""
    context = rclpy.Context()
    rclpy.init(context=context)
    node = Node("harnets_test", context=context)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(node)
    node.executor_for_test = executor
    yield node
    node.destroy_node()
    rclpy.try_shutdown(context=context)


def spin_until(node: Node, condition: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
    """Spin the test node until `condition()` holds or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        node.executor_for_test.spin_once(timeout_sec=step_s)
        if condition():
            return True
    return condition()
