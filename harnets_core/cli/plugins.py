"""Subcommands that other packages add to `harnets`, found through entry points.

harnets_core never imports ROS. The ROS side (harnets_ros, built by colcon) declares its
commands (``graph``, ``demo``, ``record``) in the entry-point group :data:`COMMANDS_GROUP` and the live
replay in :data:`REPLAY_GROUP`; the command line discovers them when that package is on the
path, and says what to install where it is not.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable

from harnets_core.errors import HarnetsError

__all__ = ["COMMANDS_GROUP", "REPLAY_GROUP", "ROS_HINT", "Command", "discover_commands", "load_replayer"]

COMMANDS_GROUP = "harnets.commands"
REPLAY_GROUP = "harnets.replay"
ROS_HINT = ("needs ROS 2 and the built harnets ROS package: `make setup` here, or on a workcell "
            "`colcon build --packages-select harnets` and `source install/setup.bash`")

EXPECTED_COMMANDS: dict[str, str] = {
    "graph": "start the node graph without ros2 launch (needs ROS 2)",
    "demo": "synthetic data -> train -> bag -> live replay -> report (needs ROS 2)",
    "record": "record workcell topics into a rosbag2 without `ros2 bag` (needs ROS 2)",
}
"""The plugin commands the README promises; where none provides them, `harnets NAME` says
what to install instead of 'invalid choice'."""


@dataclass(frozen=True)
class Command:
    """One subcommand: its name and help, how it adds its arguments, and what it runs."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=group), key=lambda ep: ep.name)


def discover_commands() -> tuple[dict[str, Command], dict[str, str]]:
    """(commands found, {name: why it could not be loaded}) of :data:`COMMANDS_GROUP`."""
    found: dict[str, Command] = {}
    broken: dict[str, str] = {}
    for ep in _entry_points(COMMANDS_GROUP):
        try:
            command = ep.load()
        except Exception as err:  # noqa: BLE001 - an ImportError of ROS, or a broken plugin: reported, not fatal
            broken[ep.name] = f"{type(err).__name__}: {err}"
            continue
        if not isinstance(command, Command):
            broken[ep.name] = f"entry point {ep.value} is a {type(command).__name__}, not a harnets Command"
            continue
        found[command.name] = command
    return found, broken


def load_replayer(name: str = "live") -> Callable[..., Any]:
    """The function :data:`REPLAY_GROUP` names ``name`` (the live replay over DDS)."""
    for ep in _entry_points(REPLAY_GROUP):
        if ep.name == name:
            try:
                return ep.load()
            except Exception as err:  # noqa: BLE001
                raise HarnetsError(f"--{name} {ROS_HINT} (loading it failed: {type(err).__name__}: {err})") from err
    raise HarnetsError(f"--{name} {ROS_HINT} (no package provides the {REPLAY_GROUP!r} entry point {name!r})")
