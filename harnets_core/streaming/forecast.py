"""Anticipation: how long the current activity will last and which activity comes next.

Learned from the training sessions' label runs (:class:`ForecastModel`, stored in the model
file next to the segmentation filter) and run on the recognized (filtered) timeline
(:class:`Forecaster`, one per recognizer or fusion node):

- Remaining time of the current activity: the training durations of its class that are longer
  than the time it has lasted so far (``elapsed_s``, since the recognized class last changed),
  minus ``elapsed_s``: their 10th, 50th and 90th percentiles (seconds). When every training
  duration is shorter, the activity is overdue and all three are 0.
- Next activity: the next ACTIVITY (idle is skipped: during idle the forecast is that of the
  activity before it) given the last two distinct activities of the recognized history
  (second order), backed off to the last one alone when that pair was rare in training
  (fewer than ``min_count`` times), then to the overall frequency of activities. Consecutive
  runs of one activity separated only by idle count as one.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from harnets_core.datasets.inhard import NO_ACTION_ID
from harnets_core.errors import ConfigError

__all__ = ["Forecast", "ForecastModel", "Forecaster", "fit_forecast", "activity_sequences", "run_statistics", "forecaster_from_meta"]

_MAX_DURATIONS = 400  # kept per class (evenly spaced quantiles when there are more)


@dataclass(frozen=True)
class Forecast:
    """One forecast, made at ``stamp_ns`` (the stamp of the prediction it is based on)."""

    stamp_ns: int
    current_id: int  # dataset class id of the recognized activity (0 = idle)
    elapsed_s: float  # how long the recognized class has lasted so far
    remaining_s: tuple[float, float, float]  # p10, p50, p90 of the time left, seconds
    next_ids: tuple[int, ...]  # next activity class ids, most probable first
    next_probabilities: tuple[float, ...]  # same order, sum to 1


def activity_sequences(runs: Sequence[Any]) -> list[list[tuple[int, float]]]:
    """Per session, ``(class_id, duration_s)`` of each run in order (idle included; a run of an
    unselected class, id < 0, splits the session)."""
    out: dict[str, list[list[tuple[int, float]]]] = {}
    for r in runs:
        chains = out.setdefault(r.session, [[]])
        if r.class_id < 0:
            chains.append([])
        else:
            chains[-1].append((int(r.class_id), float(r.duration_s)))
    return [c for chains in out.values() for c in chains if c]


def run_statistics(
    runs: Sequence[Any], class_ids: Sequence[int], *, cut_runs_count: bool
) -> tuple[list[int], np.ndarray, np.ndarray, list[list[float]]]:
    """What the segmentation filters learn from training label runs (session order):
    ``(ids, time_s (K,), switch counts (K, K) with add-one smoothing off the diagonal,
    durations_s per class)``. A session's first and last run are cut by the recording: they
    count for the time shares and the switches, and for the durations only with
    ``cut_runs_count`` (the HMM's mean duration keeps them; the semi-Markov filter's duration
    distributions do not)."""
    ids = [int(c) for c in class_ids]
    k = len(ids)
    index = {c: i for i, c in enumerate(ids)}
    time_s = np.zeros(k)
    counts = np.ones((k, k)) - np.eye(k)  # add-one smoothing of the switches
    durations: list[list[float]] = [[] for _ in ids]
    for chain in activity_sequences(runs):
        for n, (cid, dur) in enumerate(chain):
            if cid not in index:
                continue
            time_s[index[cid]] += dur
            if cut_runs_count or 0 < n < len(chain) - 1:
                durations[index[cid]].append(dur)
            if n + 1 < len(chain) and chain[n + 1][0] in index:
                counts[index[cid], index[chain[n + 1][0]]] += 1
    return ids, time_s, counts, durations


def _activities(chain: Sequence[tuple[int, float]]) -> list[int]:
    acts: list[int] = []
    for cid, _ in chain:
        if cid != NO_ACTION_ID and (not acts or acts[-1] != cid):
            acts.append(cid)
    return acts


@dataclass
class ForecastModel:
    """Durations per class and activity transition counts (first and second order)."""

    class_ids: list[int]
    durations_s: dict[int, list[float]]
    first: dict[int, dict[int, int]]  # last activity -> next activity -> count
    second: dict[tuple[int, int], dict[int, int]]  # (previous, last) -> next -> count
    unigram: dict[int, int]
    min_count: int = 3

    def mean_duration_s(self, class_id: int) -> float:
        d = self.durations_s.get(int(class_id)) or []
        return float(np.mean(d)) if d else 0.0

    def remaining(self, class_id: int, elapsed_s: float) -> tuple[float, float, float]:
        d = np.asarray(self.durations_s.get(int(class_id)) or [], dtype=np.float64)
        left = d[d > elapsed_s] - elapsed_s
        if left.size == 0:
            return (0.0, 0.0, 0.0)
        p10, p50, p90 = np.percentile(left, [10, 50, 90])
        return (float(p10), float(p50), float(p90))

    def next_distribution(self, history: Sequence[int]) -> dict[int, float]:
        """Probabilities of the next activity after the activity history (oldest first)."""
        counts: Mapping[int, int] = {}
        if len(history) >= 2:
            counts = self.second.get((int(history[-2]), int(history[-1])), {})
        if sum(counts.values()) < self.min_count and history:
            counts = self.first.get(int(history[-1]), {})
        if sum(counts.values()) < 1:
            counts = {c: n for c, n in self.unigram.items() if not history or c != history[-1]} or dict(self.unigram)
        total = float(sum(counts.values()))
        return {int(c): n / total for c, n in sorted(counts.items(), key=lambda kv: -kv[1])} if total else {}

    def majority_next(self, class_id: int) -> int | None:
        """The most frequent next activity after ``class_id`` in training (first order): the
        majority-transition baseline."""
        counts = self.first.get(int(class_id), {})
        return max(counts, key=counts.get) if counts else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "class_ids": [int(c) for c in self.class_ids],
            "durations_s": {str(c): [round(float(x), 4) for x in d] for c, d in self.durations_s.items()},
            "first": {str(a): {str(b): n for b, n in nxt.items()} for a, nxt in self.first.items()},
            "second": {f"{a},{b}": {str(c): n for c, n in nxt.items()} for (a, b), nxt in self.second.items()},
            "unigram": {str(c): n for c, n in self.unigram.items()},
            "min_count": self.min_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ForecastModel:
        try:
            return cls(
                class_ids=[int(c) for c in data["class_ids"]],
                durations_s={int(c): [float(x) for x in d] for c, d in data["durations_s"].items()},
                first={int(a): {int(b): int(n) for b, n in nxt.items()} for a, nxt in data["first"].items()},
                second={tuple(int(x) for x in k.split(",")): {int(c): int(n) for c, n in nxt.items()}
                        for k, nxt in data["second"].items()},
                unigram={int(c): int(n) for c, n in data["unigram"].items()},
                min_count=int(data.get("min_count", 3)),
            )
        except (KeyError, ValueError, TypeError, AttributeError) as err:
            raise ConfigError(f"forecast model in the model file is malformed: {err}") from err


def fit_forecast(runs: Sequence[Any], class_ids: Sequence[int], *, min_count: int = 3) -> ForecastModel:
    """Durations and activity transitions from training label runs (in session order)."""
    ids = [int(c) for c in class_ids]
    durations: dict[int, list[float]] = {c: [] for c in ids}
    first: dict[int, Counter] = {}
    second: dict[tuple[int, int], Counter] = {}
    unigram: Counter = Counter()
    for chain in activity_sequences(runs):
        for n, (cid, dur) in enumerate(chain):
            # the first and last runs of a session are cut by the recording: not a full duration
            if cid in durations and 0 < n < len(chain) - 1:
                durations[cid].append(dur)
        acts = [a for a in _activities(chain) if a in durations]
        unigram.update(acts)
        for n in range(1, len(acts)):
            first.setdefault(acts[n - 1], Counter())[acts[n]] += 1
            if n >= 2:
                second.setdefault((acts[n - 2], acts[n - 1]), Counter())[acts[n]] += 1
    for c, d in durations.items():
        if len(d) > _MAX_DURATIONS:
            durations[c] = list(np.percentile(d, np.linspace(0, 100, _MAX_DURATIONS)))
    return ForecastModel(
        class_ids=ids,
        durations_s=durations,
        first={a: dict(c) for a, c in first.items()},
        second={k: dict(c) for k, c in second.items()},
        unigram=dict(unigram),
        min_count=min_count,
    )


@dataclass
class Forecaster:
    """Follows the recognized class stream and forecasts after every prediction."""

    model: ForecastModel
    history_length: int = 8
    _current: int | None = field(default=None, init=False)
    _since_ns: int = field(default=0, init=False)
    _history: list[int] = field(default_factory=list, init=False)

    def reset(self) -> None:
        self._current, self._since_ns, self._history = None, 0, []

    def update(self, class_id: int, stamp_ns: int) -> Forecast:
        """The recognized (filtered) class at ``stamp_ns``; returns the forecast made then."""
        cid = int(class_id)
        if cid != self._current:
            self._current, self._since_ns = cid, int(stamp_ns)
            if cid != NO_ACTION_ID and (not self._history or self._history[-1] != cid):
                self._history = (self._history + [cid])[-self.history_length:]
        elapsed_s = max(0.0, (int(stamp_ns) - self._since_ns) / 1e9)
        nxt = self.model.next_distribution(self._history)
        return Forecast(
            stamp_ns=int(stamp_ns),
            current_id=cid,
            elapsed_s=elapsed_s,
            remaining_s=self.model.remaining(cid, elapsed_s),
            next_ids=tuple(nxt),
            next_probabilities=tuple(float(p) for p in nxt.values()),
        )


def forecaster_from_meta(meta: Any) -> Forecaster | None:
    """The model file's forecaster (None when the file has none)."""
    timeline = (meta.get("timeline") if hasattr(meta, "get") else None) or {}
    data = timeline.get("forecast")
    return Forecaster(ForecastModel.from_dict(data)) if data else None
