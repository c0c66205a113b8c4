"""The classes a replay is scored on: the bag's ground-truth class names, matched to each model's by name.

A session bag's ground truth (``Activity`` messages of source ``ground_truth``) carries the
dataset's class table (``class_names`` by ``class_ids``): InHARD's 14 meta-actions for
``harnets bag from-inhard``, the user's own names for a ``sessions`` layout (``harnets bag
from-dataset``). A model file carries its own table (``class_ids``, ``class_names``). The report
uses the bag's table, model ids mapped onto it BY NAME (a model trained on a subset of the
classes, or on another recording of the same workcell whose class order differs, scores right),
so nothing about InHARD is assumed.

Idle: time between labels is idle. The report's idle class is the bag's class named
:data:`IDLE_NAME` ("No action", InHARD's own name and what ``train skeleton`` adds for
background windows) when it has one, else one appended to the table (a model without an idle
class never predicts it, so idle time counts against it in the all-time scores only).

A model whose classes share no name with the bag's (idle aside) cannot be scored on it: a
ConfigError names both tables. Model classes the bag does not know are appended after the idle
class (the ground truth never holds them; predicting them is wrong) and listed in ``model_only``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harnets_core.datasets.inhard import META_ACTIONS, NO_ACTION_ID
from harnets_core.errors import BagError, ConfigError
from harnets_core.evaluation.timeline import NONE, TimedLabel
from harnets_core.topology import GROUND_TRUTH_SOURCE

__all__ = ["IDLE_NAME", "ClassTable", "align_classes", "bag_class_names"]

IDLE_NAME = META_ACTIONS[NO_ACTION_ID]
"""Name of the idle class ("No action")."""


def bag_class_names(bag: str | Path) -> list[str]:
    """The class names of a session bag's ground truth, by class id (from its first
    ground-truth ``Activity`` message: ``class_names`` at the positions ``class_ids`` give).

    Raises:
        BagError: no ground-truth message, or a message whose class table is inconsistent (names the bag).
    """
    from harnets_core.formats.bags import ACTIVITY_TYPE, bag_topics, read_bag

    topics = [t for t, info in bag_topics(bag).items() if info.msgtype == ACTIVITY_TYPE]
    for item in read_bag(bag, topics) if topics else ():
        msg = item.msg
        if msg.source != GROUND_TRUTH_SOURCE:
            continue
        names, ids = list(msg.class_names), [int(i) for i in msg.class_ids]
        if len(names) != len(ids) or sorted(ids) != list(range(len(ids))):
            raise BagError(f"{bag}:{item.topic}: ground truth class_ids {ids} do not number class_names {names} 0..n-1")
        table = [""] * len(ids)
        for i, name in zip(ids, names):
            table[i] = str(name)
        if not table:
            raise BagError(f"{bag}:{item.topic}: ground truth without class_names")
        return table
    raise BagError(f"{bag}: no ground-truth Activity messages (source {GROUND_TRUTH_SOURCE!r}) to score against")


@dataclass(frozen=True)
class ClassTable:
    """The report's classes: ``names`` by report id (the bag's ids first), ``idle_id`` (the
    idle class; ``idle_added`` when the bag had none), each model id's report id
    (``id_map``), and the classes only one side knows."""

    names: tuple[str, ...]
    idle_id: int
    id_map: Mapping[int, int]
    idle_added: bool = False
    model_only: tuple[str, ...] = ()
    bag_only: tuple[str, ...] = ()

    @property
    def identity(self) -> bool:
        """True when every model id already is its report id (nothing to remap)."""
        return all(i == j for i, j in self.id_map.items())

    def remap(self, labels: Iterable[TimedLabel]) -> list[TimedLabel]:
        """Model class ids -> report ids (``NONE`` stays ``NONE``)."""
        return [lab if lab.class_id == NONE else lab._replace(class_id=self.id_map[int(lab.class_id)]) for lab in labels]

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "idle_id": self.idle_id, "idle_added": self.idle_added,
                "model_only": list(self.model_only), "bag_only": list(self.bag_only)}


def align_classes(bag_names: Sequence[str], models: Mapping[str, tuple[Sequence[int], Sequence[str]]]) -> ClassTable:
    """The report's class table for models (source -> ``(class_ids, class_names)``) scored on a
    bag whose ground truth has ``bag_names`` (by id). All models share one id -> name map (the
    fusion node votes over their ids): two models that name one id differently are a
    ConfigError, as is a model with no class of the bag (idle aside)."""
    names = list(bag_names)
    model_names: dict[int, str] = {}
    for src, (ids, cls) in models.items():
        if len(ids) != len(cls):
            raise ConfigError(f"{src} model: {len(ids)} class ids but {len(cls)} class names")
        shared = [n for n in cls if n in names and n != IDLE_NAME]
        if not shared:
            raise ConfigError(
                f"{src} model: its classes {list(cls)} share no name with the bag's ground truth {names}: "
                "it was trained on another dataset (train on the workcell's own layout, or record a bag of it)")
        for i, n in zip(ids, cls):
            if model_names.setdefault(int(i), str(n)) != str(n):
                raise ConfigError(f"models disagree on class id {i}: {model_names[int(i)]!r} and {n!r} "
                                  f"({src} model); fused models must share one class table")
    idle_added = IDLE_NAME not in names
    if idle_added:
        names.append(IDLE_NAME)
    idle_id = names.index(IDLE_NAME)
    model_only = [n for n in dict.fromkeys(model_names.values()) if n not in names]
    names.extend(model_only)
    id_map = {i: names.index(n) for i, n in model_names.items()}
    bag_only = [n for n in bag_names if n not in model_names.values() and n != IDLE_NAME]
    return ClassTable(tuple(names), idle_id, id_map, idle_added, tuple(model_only), tuple(bag_only))
