"""Late fusion of activity predictions from several models (skeleton, rgb, pose, ...).

Each source (a model's Activity stream, keyed e.g. by its topic) gives class probabilities
for one window. :class:`LateFusion` keeps the LATEST prediction of every source (bounded:
one per configured source) and combines those that are fresh into one distribution:

- fresh: stamp >= newest stamp among the stored predictions - ``staleness_s``;
- classes are aligned by NAME across models (models may know different class sets or orders);
  the output knows the union of the fresh sources' classes, a class missing in a model
  counts as probability 0 there;
- probabilities: weighted mean over the fresh sources, weights renormalized over them
  (so the output sums to 1);
- stamp: the newest stamp used; window_start: the oldest window start used;
- latency: the largest input latency + the time from the arrival of the last input used
  to the end of the fusion (the fusion's own time when fusing on every input).

With a ``forecaster`` (:class:`harnets_core.streaming.forecast.Forecaster`, e.g. the one stored
in the first model file that has one), every fused prediction carries the forecast made on the
fused timeline (``FusedPrediction.forecast``): the inputs are the recognizers' filtered
timelines, so the fused timeline is not filtered again, only forecast.

When there is no fused prediction, :class:`NoFusion` says why: the input just added is
itself stale (``STALE_INPUT``: stored, but nothing new to fuse), or fewer than
``min_sources`` fresh sources of weight > 0 (``TOO_FEW_SOURCES``).

Pure Python (numpy): no ROS. The ROS fusion node (harnets_ros.fusion_node) wraps it.
"""
from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from harnets_core.errors import ConfigError, StreamError
from harnets_core.streaming.predictions import TopClass

__all__ = ["FusedPrediction", "LateFusion", "NoFusion", "SourceInput"]

_PROB_SUM_TOLERANCE = 1e-2


@dataclass(frozen=True)
class SourceInput:
    """The latest prediction of one source, validated."""

    key: str
    stamp_ns: int  # time of the newest sample of its window
    window_start_ns: int  # time of the oldest sample of its window
    class_names: tuple[str, ...]
    class_ids: tuple[int, ...]
    probabilities: np.ndarray  # (K,) float64, sums to 1
    latency_ms: float
    arrival_ns: int  # monotonic clock of the fusion when it was added


@dataclass(frozen=True)
class FusedPrediction(TopClass):
    """One fused activity; same read API as harnets_core.streaming.recognizer.Prediction."""

    stamp_ns: int  # newest stamp used
    window_start_ns: int  # oldest window start used
    class_names: tuple[str, ...]
    class_ids: tuple[int, ...]
    probabilities: np.ndarray  # (K,) float32, sums to 1
    latency_ms: float
    sources: tuple[str, ...]  # keys of the sources used, in configured order
    weights: tuple[float, ...]  # their renormalized weights, same order
    newest_source: str = ""  # key of the source whose stamp is the output's stamp
    source: str = "fusion"
    model_id: str = ""
    forecast: Any = None  # harnets_core.streaming.forecast.Forecast made on the fused timeline (with a forecaster)


class NoFusion(enum.Enum):
    """Why :class:`LateFusion` gave no fused prediction."""

    STALE_INPUT = "stale_input"  # the input is older than the newest stored by more than staleness_s
    TOO_FEW_SOURCES = "too_few_sources"  # fewer than min_sources fresh sources of weight > 0


def _class_order(name: str, class_id: int) -> tuple[int, int, str]:
    """Output order: known InHARD ids ascending, then unknown ids (-1) by name."""
    return (0, class_id, name) if class_id >= 0 else (1, 0, name)


class LateFusion:
    """Weighted late fusion of the latest prediction of each source.

    Args:
        weights: source key -> weight (>= 0, finite, at least one > 0). Only these keys are
            accepted by :meth:`update` (bounded memory).
        staleness_s: a source whose stamp is older than the newest stored stamp by more than
            this is left out of the fusion.
        min_sources: fuse only when at least this many sources are fresh.
        clock_ns: monotonic clock (injectable for tests).
        forecaster: forecasts on the fused timeline (one update per fused prediction); reset with
            the fusion.
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        staleness_s: float,
        *,
        min_sources: int = 1,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        forecaster: Any = None,
    ) -> None:
        if not weights:
            raise ConfigError("late fusion needs at least one source")
        for key, w in weights.items():
            if not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ConfigError(f"late fusion: weight of {key!r} is {w!r}; weights must be finite and >= 0")
        if not any(w > 0 for w in weights.values()):
            raise ConfigError("late fusion: all weights are 0")
        if not math.isfinite(staleness_s) or staleness_s < 0:
            raise ConfigError(f"late fusion: staleness_s = {staleness_s!r}; must be >= 0")
        if not 1 <= int(min_sources) <= len(weights):
            raise ConfigError(f"late fusion: min_sources = {min_sources}; must be in 1..{len(weights)}")
        self.weights = {str(k): float(w) for k, w in weights.items()}
        self.staleness_ns = int(round(staleness_s * 1e9))
        self.min_sources = int(min_sources)
        self._clock_ns = clock_ns
        self.forecaster = forecaster
        self._latest: dict[str, SourceInput] = {}
        self.stats = {"inputs": 0, "stale_sources": 0, "resets": 0, "fused": 0}

    @classmethod
    def from_lists(cls, keys: Sequence[str], weights: Sequence[float], staleness_s: float, **kwargs) -> LateFusion:
        """From parallel lists (ROS parameters `inputs` and `weights`); empty weights: all 1."""
        keys = [str(k) for k in keys]
        weights = list(weights) if len(weights) else [1.0] * len(keys)
        if len(weights) != len(keys):
            raise ConfigError(f"late fusion: {len(keys)} inputs but {len(weights)} weights (same length, or no weights for equal ones)")
        if len(set(keys)) != len(keys):
            raise ConfigError(f"late fusion: duplicate inputs in {keys}")
        return cls(dict(zip(keys, (float(w) for w in weights))), staleness_s, **kwargs)

    def reset(self) -> None:
        """Forget every stored prediction (and the forecaster's history)."""
        self._latest.clear()
        if self.forecaster is not None:
            self.forecaster.reset()

    # ------------------------------------------------------------------------ input
    def add(
        self,
        source_key: str,
        stamp_ns: int,
        window_start_ns: int,
        class_names: Sequence[str],
        class_ids: Sequence[int],
        probabilities: Sequence[float] | np.ndarray,
        latency_ms: float,
    ) -> NoFusion | None:
        """Validate and store the latest prediction of `source_key`.

        A stamp going backwards by more than ``staleness_s`` (a replay restarted, a clock
        jump) forgets the other sources' predictions (counted in ``stats["resets"]``).

        Returns:
            ``NoFusion.STALE_INPUT`` when this input is stored but not fresh (older than the
            newest stored stamp by more than ``staleness_s``: nothing new to fuse), else None.

        Raises:
            StreamError: unknown source, inconsistent arrays, probabilities not a
                distribution, a class name twice, or a class id for a name that another
                source gives another id.
        """
        key = str(source_key)
        if key not in self.weights:
            raise StreamError(f"late fusion: unknown source {key!r} (configured: {sorted(self.weights)})")
        names = tuple(str(n) for n in class_names)
        ids = tuple(int(i) for i in class_ids)
        probs = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        if not names or len(names) != len(ids) or len(names) != probs.size:
            raise StreamError(f"{key}: {len(names)} class names, {len(ids)} class ids, {probs.size} probabilities")
        if len(set(names)) != len(names):
            raise StreamError(f"{key}: a class name appears twice in {list(names)}")
        if not np.isfinite(probs).all() or (probs < 0).any():
            raise StreamError(f"{key}: probabilities must be finite and >= 0")
        total = float(probs.sum())
        if abs(total - 1.0) > _PROB_SUM_TOLERANCE:
            raise StreamError(f"{key}: probabilities sum to {total:.4f}, not 1")
        if not math.isfinite(latency_ms) or latency_ms < 0:
            raise StreamError(f"{key}: latency_ms = {latency_ms!r}")
        if window_start_ns > stamp_ns:
            raise StreamError(f"{key}: window_start {window_start_ns} ns after stamp {stamp_ns} ns")
        for other in self._latest.values():
            if other.key == key:
                continue
            known = dict(zip(other.class_names, other.class_ids))
            for name, cid in zip(names, ids):
                if name in known and known[name] != cid:
                    raise StreamError(f"{key}: class {name!r} has id {cid}, but {other.key} gives it id {known[name]}")
        newest = max((s.stamp_ns for s in self._latest.values()), default=None)
        if newest is not None and stamp_ns < newest - self.staleness_ns:
            previous = self._latest.get(key)
            if previous is not None and stamp_ns < previous.stamp_ns - self.staleness_ns:
                self.stats["resets"] += 1  # this source went back in time: the others are from another timeline
                self.reset()
        self.stats["inputs"] += 1
        self._latest[key] = SourceInput(key, int(stamp_ns), int(window_start_ns), names, ids, probs / total,
                                        float(latency_ms), self._clock_ns())
        if all(s.key != key for s in self.fresh()):
            return NoFusion.STALE_INPUT
        return None

    # ------------------------------------------------------------------------ fusion
    def fresh(self) -> list[SourceInput]:
        """Stored predictions not older than the newest by more than staleness_s, in configured order."""
        if not self._latest:
            return []
        newest = max(s.stamp_ns for s in self._latest.values())
        return [self._latest[k] for k in self.weights
                if k in self._latest and self._latest[k].stamp_ns >= newest - self.staleness_ns]

    def fuse(self) -> FusedPrediction | None:
        """The fusion of the fresh predictions; None when fewer than min_sources are fresh
        (or the fresh ones all have weight 0)."""
        out = self._fuse()
        return None if isinstance(out, NoFusion) else out

    def _fuse(self) -> FusedPrediction | NoFusion:
        """:meth:`fuse`, with the reason when there is no fused prediction."""
        fresh = self.fresh()
        self.stats["stale_sources"] = len(self._latest) - len(fresh)
        used = [s for s in fresh if self.weights[s.key] > 0]
        if len(used) < self.min_sources or not used:
            return NoFusion.TOO_FEW_SOURCES
        ids_by_name: dict[str, int] = {}
        for s in used:
            for name, cid in zip(s.class_names, s.class_ids):
                ids_by_name.setdefault(name, cid)
        names = sorted(ids_by_name, key=lambda n: _class_order(n, ids_by_name[n]))
        column = {n: i for i, n in enumerate(names)}
        w = np.array([self.weights[s.key] for s in used], dtype=np.float64)
        w /= w.sum()
        fused = np.zeros(len(names), dtype=np.float64)  # (K,)
        for wi, s in zip(w, used):
            cols = np.fromiter((column[n] for n in s.class_names), dtype=np.int64, count=len(s.class_names))
            fused[cols] += wi * s.probabilities
        fused /= fused.sum()
        fusion_ms = (self._clock_ns() - max(s.arrival_ns for s in used)) / 1e6
        self.stats["fused"] += 1
        stamp_ns = max(s.stamp_ns for s in used)
        forecast = None
        if self.forecaster is not None:
            forecast = self.forecaster.update(ids_by_name[names[int(np.argmax(fused))]], stamp_ns)
        return FusedPrediction(
            stamp_ns=stamp_ns,
            window_start_ns=min(s.window_start_ns for s in used),
            class_names=tuple(names),
            class_ids=tuple(ids_by_name[n] for n in names),
            probabilities=fused.astype(np.float32),
            latency_ms=max(s.latency_ms for s in used) + max(fusion_ms, 0.0),
            sources=tuple(s.key for s in used),
            weights=tuple(float(x) for x in w),
            newest_source=max(used, key=lambda s: s.stamp_ns).key,
            forecast=forecast,
        )

    def offer(
        self,
        source_key: str,
        stamp_ns: int,
        window_start_ns: int,
        class_names: Sequence[str],
        class_ids: Sequence[int],
        probabilities: Sequence[float] | np.ndarray,
        latency_ms: float,
    ) -> FusedPrediction | NoFusion:
        """:meth:`add` then :meth:`fuse`: the fused prediction, or why there is none
        (``STALE_INPUT``: this input is itself stale, nothing is fused; ``TOO_FEW_SOURCES``)."""
        reason = self.add(source_key, stamp_ns, window_start_ns, class_names, class_ids, probabilities, latency_ms)
        return reason if reason is not None else self._fuse()

    def update(
        self,
        source_key: str,
        stamp_ns: int,
        window_start_ns: int,
        class_names: Sequence[str],
        class_ids: Sequence[int],
        probabilities: Sequence[float] | np.ndarray,
        latency_ms: float,
    ) -> FusedPrediction | None:
        """:meth:`offer` without the reason: None when there is no fused prediction."""
        out = self.offer(source_key, stamp_ns, window_start_ns, class_names, class_ids, probabilities, latency_ms)
        return None if isinstance(out, NoFusion) else out
