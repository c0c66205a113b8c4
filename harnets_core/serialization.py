"""Plain-data helpers shared by every layer: JSON conversion and typed config dicts
(unknown keys rejected, naming them), so each config class reads its dict the same way."""
from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any, Collection, Mapping, TypeVar

import numpy as np

from harnets_core.errors import ConfigError

__all__ = ["to_jsonable", "reject_unknown", "dataclass_from_dict"]

T = TypeVar("T")


def to_jsonable(obj: Any) -> Any:
    """Convert numpy values, tuples, paths and dataclasses to plain JSON types."""
    if is_dataclass(obj) and not isinstance(obj, type):
        obj = obj.to_dict() if hasattr(obj, "to_dict") else asdict(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "detach") and hasattr(obj, "tolist"):  # a torch.Tensor (torch is not needed here)
        return obj.detach().cpu().tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def reject_unknown(data: Any, known: Collection[str], what: str) -> None:
    """ConfigError unless ``data`` is a mapping whose keys are all in ``known`` (naming the others)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{what}: unknown key(s) {unknown}; known keys are {sorted(known)}")


def dataclass_from_dict(cls: type[T], data: Any) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and missing fields raise ConfigError."""
    reject_unknown(data, {f.name for f in fields(cls)}, cls.__name__)
    try:
        return cls(**dict(data))
    except TypeError as err:  # missing required field
        raise ConfigError(f"{cls.__name__}: {err}") from err
