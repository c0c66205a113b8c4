"""The DDS transport of the harnets graph: which environment every process needs so that
raw camera frames (0.9 to 6.2 MB) are not dropped by Fast DDS's default transports.

The profile is `config/fastdds.xml` (installed as share/harnets/config/fastdds.xml): shared
memory with a 32 MB segment plus UDPv4, no TCP (docs/TRANSPORT.md). Fast DDS loads it from
FASTDDS_DEFAULT_PROFILES_FILE (3.x) or FASTRTPS_DEFAULT_PROFILES_FILE (2.x), once per
process, when the process creates its first participant (rclpy.init): so the variables must
be set before that, in every process, the parent of the node processes included.

What the user has chosen wins: when one of those variables, or FASTDDS_BUILTIN_TRANSPORTS,
is already set, nothing is added; HARNETS_DDS_PROFILE=none turns the shipped profile off,
HARNETS_DDS_PROFILE=<file> names another profile. Pure data: no ROS import.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, MutableMapping

from harnets_core.errors import ConfigError

__all__ = [
    "PROFILE_FILE",
    "PROFILE_VARIABLES",
    "USER_TRANSPORT_VARIABLES",
    "SELECT_VARIABLE",
    "FAST_DDS_2_DISTROS",
    "transport_env",
    "apply_transport_env",
]

PROFILE_FILE = "fastdds.xml"
"""The shipped profile's name in the package's config folder."""
PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
"""Fast DDS 3.x (Kilted and later) reads the first, Fast DDS 2.x (Humble, Jazzy) the second
(Kilted's rmw_fastrtps still takes the second, with a deprecation warning in every node's log:
so it is set only for the distributions of Fast DDS 2.x)."""
FAST_DDS_2_DISTROS = ("humble", "iron", "jazzy")
"""ROS_DISTRO values whose Fast DDS reads FASTRTPS_DEFAULT_PROFILES_FILE."""
USER_TRANSPORT_VARIABLES = (*PROFILE_VARIABLES, "FASTDDS_BUILTIN_TRANSPORTS")
"""Any of these set by the user: the user's transport choice stands."""
SELECT_VARIABLE = "HARNETS_DDS_PROFILE"
"""'none' (or 'off'): no profile; a path: that profile instead of the shipped one."""


def transport_env(config_dir: str | Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables to add to `environ` (default: this process's) for the profile in
    `config_dir` (the package's config folder): FASTDDS_DEFAULT_PROFILES_FILE (and
    FASTRTPS_DEFAULT_PROFILES_FILE where ROS_DISTRO is one of FAST_DDS_2_DISTROS), or {}
    when the user already chose a transport or turned the profile off. A profile that does not exist is a
    ConfigError (never a silent fall back to the lossy default)."""
    env = os.environ if environ is None else environ
    if any(env.get(name) for name in USER_TRANSPORT_VARIABLES):
        return {}
    selected = env.get(SELECT_VARIABLE, "").strip()
    if selected.lower() in ("none", "off", "default"):
        return {}
    path = Path(selected).expanduser() if selected else Path(config_dir) / PROFILE_FILE
    if not path.is_file():
        where = f"{SELECT_VARIABLE}={selected}" if selected else f"the package's config folder {config_dir}"
        raise ConfigError(f"{path}: no Fast DDS profile there ({where}); reinstall the package "
                          f"or set {SELECT_VARIABLE}=none to use Fast DDS's default transports")
    names = PROFILE_VARIABLES if env.get("ROS_DISTRO", "").lower() in FAST_DDS_2_DISTROS else PROFILE_VARIABLES[:1]
    return {name: str(path.resolve()) for name in names}


def apply_transport_env(config_dir: str | Path, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Add `transport_env` to `environ` (default: os.environ, for this process and the
    processes it starts); returns what was added. Call it before rclpy.init."""
    env = os.environ if environ is None else environ
    added = transport_env(config_dir, env)
    env.update(added)
    return added
