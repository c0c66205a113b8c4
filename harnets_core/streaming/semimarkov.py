"""Online segmentation with explicit durations: a causal hidden semi-Markov (HSMM) forward filter.

The HMM filter (:class:`harnets_core.streaming.segmentation.HmmFilter`) gives every class a
geometric duration: the chance to leave is the same after 0.2 s as after 20 s, so it either
holds short activities and idle gaps too long (strong) or lets single windows flicker (weak).
Here the belief is over ``(class j, steps d it has lasted)``; one step is one window hop:

    predict:  stay     a'(j, d + 1) = a(j, d) (1 - h_j(d))
              switch   a'(k, 1)     = sum_{j, d} a(j, d) h_j(d) S(j, k)
    correct:  a(j, d) ∝ a'(j, d) * (((1 - eps) p(j | window) + eps / K) / prior(j) ** prior_power) ** (evidence_per_s * hop_s)

``h_j(d)`` is the hazard of class ``j`` ending after ``d`` steps, from the durations of its
runs in the training sessions (a kernel-smoothed histogram, so an unseen duration is unlikely
but never impossible); ``S`` is the switch matrix (which class follows which, add-one
smoothed, zero diagonal). The output is the class marginal ``sum_d a(j, d)``. No look-ahead
and nothing buffered: one output per window, at once. What it adds to the detection delay is the
evidence it waits for before it believes a switch (with the defaults, a median 0.10 s at a
0.125 s hop on the selection data: under one hop). The exponent (a temperature's inverse) sets how
much one window's probabilities count against the duration and transition model; it is
``evidence_per_s * hop_s`` so that the evidence per SECOND is the same at any hop (overlapping
windows are not independent: twice as many windows a second carry about the same information).

The default settings (``eps`` 0.05, ``prior_power`` 0, ``evidence_per_s`` 8) were chosen on a
separate synthetic data set (seed 1: its own subjects and sessions; three training seeds), never
on the validation sessions that are reported: the best mean of all-time accuracy, F1@0.5 and
idle recall among the settings that add at most one hop to the median detection delay
(docs/RESULTS.md, "Timeline for a planner").

Durations are stored in seconds, so the same filter runs at any streaming hop
(:meth:`HsmmFilter.at_hop`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np

from harnets_core.errors import ConfigError
from harnets_core.streaming.forecast import run_statistics

__all__ = ["HsmmFilter", "fit_hsmm", "duration_pmf"]

_MAX_SAMPLES = 200  # duration samples kept per class (evenly spaced quantiles when more)


def duration_pmf(durations_s: Sequence[float], hop_s: float, n_steps: int, *, rel_width: float = 0.15,
                 floor: float = 1e-3) -> np.ndarray:
    """P(a run lasts d steps), d = 1..n_steps (index d - 1), from duration samples in seconds:
    a Gaussian kernel around each sample (width ``rel_width`` of it, at least one step), mixed
    with ``floor`` of a flat distribution. Without samples: flat."""
    d = np.arange(1, n_steps + 1, dtype=np.float64)  # (D,)
    if len(durations_s) == 0:
        return np.full(n_steps, 1.0 / n_steps)
    steps = np.maximum(np.asarray(durations_s, dtype=np.float64) / hop_s, 1.0)  # (M,)
    width = np.maximum(rel_width * steps, 1.0)
    kernel = np.exp(-0.5 * ((d[None, :] - steps[:, None]) / width[:, None]) ** 2) / width[:, None]  # (M, D)
    pmf = kernel.sum(axis=0)
    pmf = pmf / pmf.sum()
    return (1.0 - floor) * pmf + floor / n_steps


@dataclass
class HsmmFilter:
    """Forward HSMM filter over K classes (``class_ids``, the model's order), one step per
    ``hop_s``. ``durations_s``: training run durations of each class (seconds, same order);
    ``switch`` (K, K): P(next class | class ends), zero diagonal; ``prior`` (K,): fraction of
    training time per class. Stateful: :meth:`update` once per window, :meth:`reset` on a gap."""

    class_ids: list[int]
    hop_s: float
    switch: np.ndarray  # (K, K)
    prior: np.ndarray  # (K,)
    durations_s: list[list[float]]
    eps: float = 0.05
    prior_power: float = 0.0
    evidence_per_s: float = 8.0
    _hazard: np.ndarray = field(init=False, repr=False)  # (K, D)
    _start: np.ndarray = field(init=False, repr=False)  # (K, D) belief before the first window

    def __post_init__(self) -> None:
        self.switch = np.asarray(self.switch, dtype=np.float64)
        self.prior = np.asarray(self.prior, dtype=np.float64)
        k = len(self.class_ids)
        if self.switch.shape != (k, k) or self.prior.shape != (k,) or len(self.durations_s) != k:
            raise ConfigError(f"HsmmFilter: {k} classes but switch {self.switch.shape}, prior {self.prior.shape}, "
                              f"{len(self.durations_s)} duration lists")
        if not self.hop_s > 0:
            raise ConfigError(f"HsmmFilter: hop_s {self.hop_s} must be positive")
        longest = max([max(d) for d in self.durations_s if d] or [1.0])
        n_steps = int(np.ceil(1.5 * longest / self.hop_s)) + 2
        pmf = np.stack([duration_pmf(d, self.hop_s, n_steps) for d in self.durations_s])  # (K, D)
        survival = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]  # (K, D): P(lasts >= d)
        hazard = pmf / np.maximum(survival, 1e-12)
        hazard[:, -1] = 0.5  # past the longest duration seen: leave soon, but not surely
        self._hazard = np.clip(hazard, 1e-6, 1.0 - 1e-6)
        # where a stream that starts mid-run stands: classes by their time share, the elapsed
        # steps by how long runs survive (the residual-life distribution)
        self._start = self.prior[:, None] * survival / survival.sum(axis=1, keepdims=True)
        self.reset()

    def reset(self) -> None:
        """Forget the belief (the next window starts from the class prior)."""
        self._belief: np.ndarray | None = None

    @property
    def belief(self) -> np.ndarray | None:
        """The current class marginal (K,), None before the first window."""
        return None if self._belief is None else self._belief.sum(axis=1)

    def at_hop(self, hop_s: float) -> HsmmFilter:
        """The same filter stepping every ``hop_s`` seconds (a streaming hop other than training's)."""
        return replace(self, hop_s=float(hop_s))

    def update(self, probabilities: np.ndarray) -> np.ndarray:
        """Fold in one window's class probabilities (K,); returns the filtered (K,) float32."""
        p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        k = len(self.class_ids)
        if p.size != k:
            raise ConfigError(f"HsmmFilter.update: {p.size} probabilities for {k} classes")
        power = self.evidence_per_s * self.hop_s
        lik = (((1.0 - self.eps) * p + self.eps / k) / np.power(self.prior, self.prior_power)) ** power  # (K,)
        if self._belief is None:
            pred = self._start
        else:
            a = self._belief  # (K, D)
            leave = a * self._hazard  # (K, D)
            pred = np.zeros_like(a)
            pred[:, 1:] = (a - leave)[:, :-1]
            pred[:, -1] += (a - leave)[:, -1]  # the last step holds the tail
            pred[:, 0] = leave.sum(axis=1) @ self.switch  # (K,)
        b = pred * lik[:, None]
        total = b.sum()
        if not (total > 0 and np.isfinite(total)):
            b = self._start.copy()
            total = b.sum()
        self._belief = b / total
        return self._belief.sum(axis=1).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "hsmm", "class_ids": [int(c) for c in self.class_ids], "hop_s": float(self.hop_s),
                "switch": self.switch.tolist(), "prior": self.prior.tolist(),
                "durations_s": [[round(float(x), 3) for x in d] for d in self.durations_s],
                "eps": float(self.eps), "prior_power": float(self.prior_power), "evidence_per_s": float(self.evidence_per_s)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HsmmFilter:
        keys = {"kind", "class_ids", "hop_s", "switch", "prior", "durations_s", "eps", "prior_power", "evidence_per_s"}
        unknown = set(data) - keys
        if unknown or data.get("kind") != "hsmm":
            raise ConfigError(f"segmentation filter: kind {data.get('kind')!r}, unknown keys {sorted(unknown)}")
        try:
            return cls(class_ids=[int(c) for c in data["class_ids"]], hop_s=float(data["hop_s"]),
                       switch=np.asarray(data["switch"]), prior=np.asarray(data["prior"]),
                       durations_s=[[float(x) for x in d] for d in data["durations_s"]],
                       eps=float(data.get("eps", 0.05)), prior_power=float(data.get("prior_power", 0.0)),
                       evidence_per_s=float(data.get("evidence_per_s", 4.0)))  # files before the key: 4
        except (KeyError, ValueError, TypeError) as err:
            raise ConfigError(f"segmentation filter (hsmm) in the model file is malformed: {err}") from err


def fit_hsmm(runs: Sequence[Any], class_ids: Sequence[int], hop_s: float, *, eps: float = 0.05,
             prior_power: float = 0.0, evidence_per_s: float = 8.0) -> HsmmFilter:
    """HSMM parameters from training label runs (objects with ``session``, ``class_id``,
    ``duration_s``, in session order; see :class:`harnets_core.datasets.stream_windows.SessionRun`).
    The first and last run of each session are cut by the recording: they count for the
    switches and the time shares, not for the durations."""
    ids, time_s, counts, durations = run_statistics(runs, class_ids, cut_runs_count=False)
    for i, d in enumerate(durations):
        if len(d) > _MAX_SAMPLES:
            durations[i] = [float(x) for x in np.percentile(d, np.linspace(0, 100, _MAX_SAMPLES))]
    switch = counts / counts.sum(axis=1, keepdims=True)
    prior = (time_s + 1e-3) / (time_s + 1e-3).sum()
    return HsmmFilter(class_ids=ids, hop_s=float(hop_s), switch=switch, prior=prior, durations_s=durations,
                      eps=eps, prior_power=prior_power, evidence_per_s=evidence_per_s)
