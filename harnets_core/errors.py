"""Typed errors of harnets_core. Every message names the file (and line, topic or key) and the problem."""
from __future__ import annotations

from pathlib import Path

__all__ = [
    "HarnetsError",
    "BvhParseError",
    "DatasetError",
    "VideoError",
    "ModelFileError",
    "ConfigError",
    "StreamError",
    "ChannelCountError",
    "BagError",
]


class HarnetsError(Exception):
    """Base class of every error harnets raises on purpose."""


class BvhParseError(HarnetsError):
    """A BVH file is malformed. Carries the path and the 1-based line number."""

    def __init__(self, path: str | Path | None, line: int | None, message: str) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.message = message
        where = self.path or "<text>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class DatasetError(HarnetsError):
    """The dataset layout or an annotation file is wrong (names the file, row or column)."""


class VideoError(HarnetsError):
    """A video is missing, unreadable, corrupt, or a frame range falls outside it."""


class ModelFileError(HarnetsError):
    """A model file is missing, corrupt, of another format version, or for another skeleton."""


class ConfigError(HarnetsError):
    """A configuration has an unknown key or an invalid value."""


class StreamError(HarnetsError):
    """A streamed sample does not fit the model (wrong joints, shape, encoding, NaN)."""


class ChannelCountError(StreamError):
    """A streamed frame has another number of values than the skeleton's channel layout accepts
    (e.g. a suit broadcast set up differently from the BVH export). Carries both counts."""

    def __init__(self, received: int, expected: tuple[int, ...], message: str) -> None:
        self.received = received
        self.expected = expected
        super().__init__(message)


class BagError(HarnetsError):
    """A rosbag2 file is missing, unreadable or lacks a needed topic."""
