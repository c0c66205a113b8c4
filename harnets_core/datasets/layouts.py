"""Dataset layouts: where a run finds each session's and each segment's files.

A layout turns a dataset root into sessions (recordings), segments (labelled spans with a
class name) and the files behind them. Training, evaluation and prediction only meet the
segments and the four accessors of :class:`LayoutFiles`; nothing past here knows which
layout the files came from.

- ``inhard-online`` (alias ``online``) and ``inhard-segmented`` (``segmented``): the InHARD
  download, :class:`~harnets_core.datasets.inhard.InhardLayout`.
- ``classes``: one folder per activity, one clip per file
  (:class:`~harnets_core.datasets.own.ClassesLayout`).
- ``sessions``: continuous recordings plus one ``labels.csv``
  (:class:`~harnets_core.datasets.own.SessionsLayout`).

Two kinds of layout read their files differently (:func:`clip_per_segment`): in
``segmented`` and ``classes`` every segment is its own clip (frame 0 is the segment's first
frame); in ``online`` and ``sessions`` segments are spans of a session's recording.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from harnets_core.datasets.inhard import InhardLayout, Segment
from harnets_core.errors import ConfigError

__all__ = [
    "LAYOUT_ALIASES",
    "LAYOUT_NAMES",
    "OWN_LAYOUTS",
    "LayoutFiles",
    "canonical_layout",
    "clip_per_segment",
    "layout_files",
]

OWN_LAYOUTS: tuple[str, ...] = ("classes", "sessions")
"""Layouts with the user's own class names (nothing about InHARD assumed)."""

LAYOUT_NAMES: tuple[str, ...] = ("auto", "inhard-online", "inhard-segmented", *OWN_LAYOUTS, "online", "segmented")
"""Values accepted by ``--layout`` / ``select_data(layout=...)``."""

LAYOUT_ALIASES: dict[str, str] = {"inhard-online": "online", "inhard-segmented": "segmented"}
"""Long names -> the resolved names a DataSelection (and a model file) records."""


class LayoutFiles(Protocol):
    """The files of one dataset, by session and by segment; every accessor raises
    DatasetError naming the missing path."""

    root: Path

    def session_bvh(self, session: str) -> Path: ...

    def session_video(self, session: str) -> Path: ...

    def segmented_bvh(self, segment: Segment) -> Path: ...

    def segmented_video(self, segment: Segment) -> Path: ...


def canonical_layout(layout: str) -> str:
    """``inhard-online`` -> ``online``, ``inhard-segmented`` -> ``segmented``; other known
    names unchanged; ConfigError naming the choices otherwise."""
    if layout not in LAYOUT_NAMES:
        raise ConfigError(f"layout {layout!r}: use one of {', '.join(LAYOUT_NAMES)}")
    return LAYOUT_ALIASES.get(layout, layout)


def clip_per_segment(layout: str) -> bool:
    """True when each segment is its own clip (``segmented``, ``classes``)."""
    return canonical_layout(layout) in ("segmented", "classes")


def layout_files(root: str | Path, layout: str, *, group_pattern: str | None = None) -> LayoutFiles:
    """The file accessors of ``root`` read as ``layout`` (a resolved name, not ``auto``)."""
    name = canonical_layout(layout)
    if name in ("online", "segmented"):
        return InhardLayout(root)
    from harnets_core.datasets.own import ClassesLayout, SessionsLayout

    if name == "classes":
        return ClassesLayout(root, group_pattern=group_pattern)
    if name == "sessions":
        return SessionsLayout(root)
    raise ConfigError(f"layout {layout!r}: resolve 'auto' first (select_data does)")
