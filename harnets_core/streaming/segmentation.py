"""Online segmentation: a causal HMM forward filter over the stream of window probabilities.

The classifier scores each window on its own, so its top class flickers at transitions and
on ambiguous windows. The filter keeps a belief over the current class and updates it once
per window (no look-ahead, so it adds no delay beyond the window's own hop):

    predict:  b'(j) = sum_i b(i) A(i, j)
    correct:  b(j)  ∝ b'(j) * ((1 - eps) p(j | window) + eps / K) / prior(j) ** prior_power

``A`` is learned from the training sessions' label runs (idle included): class ``i`` stays
with probability ``exp(-hop_s / mean_duration_s(i))`` (a geometric duration with that mean)
and otherwise moves to ``j`` with the frequency of the ``i -> j`` transitions in training
(add-one smoothed). Dividing the classifier's posterior by the class prior turns it into a
scaled likelihood (the hybrid HMM/ANN rule); ``eps`` keeps one over-confident window from
locking the belief.

The parameters live in the model file (meta key ``"timeline"``, :func:`fit_timeline_meta`),
so the nodes, the fusion and the replay build the same filter from the file alone
(:func:`filter_from_meta`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from harnets_core.errors import ConfigError
from harnets_core.streaming.forecast import fit_forecast, run_statistics
from harnets_core.streaming.semimarkov import HsmmFilter, fit_hsmm

__all__ = ["TIMELINE_META_KEY", "FILTER_KINDS", "HmmFilter", "fit_filter", "filter_from_meta", "fit_timeline_meta"]

FILTER_KINDS: tuple[str, ...] = ("hsmm", "hmm")
"""Segmentation filters a model file can hold: the hidden semi-Markov filter with durations
learned from training (:class:`harnets_core.streaming.semimarkov.HsmmFilter`, the default) or
the HMM with geometric durations (:class:`HmmFilter`)."""

TIMELINE_META_KEY = "timeline"
"""Model-meta key holding ``{"filter": HmmFilter.to_dict(), "forecast": ForecastModel.to_dict()}``."""


@dataclass
class HmmFilter:
    """Forward filter over K classes (``class_ids``, the model's order). ``transition`` (K, K):
    row-stochastic, one step = ``hop_s`` seconds. ``prior`` (K,): fraction of training time per
    class. Stateful: :meth:`update` once per window, :meth:`reset` on a gap."""

    class_ids: list[int]
    hop_s: float
    transition: np.ndarray  # (K, K)
    prior: np.ndarray  # (K,)
    eps: float = 0.05
    prior_power: float = 1.0

    def __post_init__(self) -> None:
        self.transition = np.asarray(self.transition, dtype=np.float64)
        self.prior = np.asarray(self.prior, dtype=np.float64)
        k = len(self.class_ids)
        if self.transition.shape != (k, k) or self.prior.shape != (k,):
            raise ConfigError(f"HmmFilter: {k} classes but transition {self.transition.shape}, prior {self.prior.shape}")
        self.reset()

    def reset(self) -> None:
        """Forget the belief (the next window starts from the class prior)."""
        self._belief: np.ndarray | None = None

    @property
    def belief(self) -> np.ndarray | None:
        return None if self._belief is None else self._belief.copy()

    def at_hop(self, hop_s: float) -> HmmFilter:
        """The same filter stepping every ``hop_s`` seconds: each class keeps its mean duration
        (stay probability ``stay ** (hop_s / self.hop_s)``) and its switch frequencies."""
        stay = np.clip(np.diag(self.transition), 0.0, 1.0 - 1e-9)
        switch = (self.transition - np.diag(np.diag(self.transition))) / (1.0 - stay)[:, None]
        new_stay = stay ** (float(hop_s) / self.hop_s)
        transition = switch * (1.0 - new_stay)[:, None] + np.diag(new_stay)
        return HmmFilter(class_ids=list(self.class_ids), hop_s=float(hop_s), transition=transition, prior=self.prior.copy(),
                         eps=self.eps, prior_power=self.prior_power)

    def update(self, probabilities: np.ndarray) -> np.ndarray:
        """Fold in one window's class probabilities (K,); returns the filtered (K,) float32."""
        p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        k = len(self.class_ids)
        if p.size != k:
            raise ConfigError(f"HmmFilter.update: {p.size} probabilities for {k} classes")
        lik = ((1.0 - self.eps) * p + self.eps / k) / np.power(self.prior, self.prior_power)
        pred = self.prior if self._belief is None else self._belief @ self.transition
        b = pred * lik
        total = b.sum()
        b = b / total if total > 0 and np.isfinite(total) else np.full(k, 1.0 / k)
        self._belief = b
        return b.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "hmm", "class_ids": [int(c) for c in self.class_ids], "hop_s": float(self.hop_s),
                "transition": self.transition.tolist(), "prior": self.prior.tolist(),
                "eps": float(self.eps), "prior_power": float(self.prior_power)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HmmFilter:
        unknown = set(data) - {"kind", "class_ids", "hop_s", "transition", "prior", "eps", "prior_power"}
        if unknown or data.get("kind") != "hmm":
            raise ConfigError(f"segmentation filter: kind {data.get('kind')!r}, unknown keys {sorted(unknown)}")
        return cls(class_ids=[int(c) for c in data["class_ids"]], hop_s=float(data["hop_s"]),
                   transition=np.asarray(data["transition"]), prior=np.asarray(data["prior"]),
                   eps=float(data.get("eps", 0.05)), prior_power=float(data.get("prior_power", 1.0)))


def fit_filter(runs: Sequence[Any], class_ids: Sequence[int], hop_s: float, *, eps: float = 0.05,
               prior_power: float = 1.0) -> HmmFilter:
    """Filter parameters from training label runs (objects with ``session``, ``class_id``,
    ``duration_s``, in session order; see :class:`harnets_core.datasets.stream_windows.SessionRun`)."""
    ids, time_s, counts, durations = run_statistics(runs, class_ids, cut_runs_count=True)
    mean_s = np.array([np.mean(d) if d else 2.0 for d in durations])
    stay = np.exp(-hop_s / np.maximum(mean_s, hop_s))  # (K,)
    switch = counts / counts.sum(axis=1, keepdims=True)
    transition = switch * (1.0 - stay)[:, None] + np.diag(stay)
    prior = (time_s + 1e-3) / (time_s + 1e-3).sum()
    return HmmFilter(class_ids=ids, hop_s=float(hop_s), transition=transition, prior=prior, eps=eps, prior_power=prior_power)


def fit_timeline_meta(runs: Sequence[Any], class_ids: Sequence[int], hop_s: float, *, kind: str = "hsmm",
                      **settings: float) -> dict[str, Any]:
    """What the model file stores under :data:`TIMELINE_META_KEY`: the filter (``kind``, one of
    :data:`FILTER_KINDS`, with ``settings`` such as ``eps``) and the forecaster."""
    if kind not in FILTER_KINDS:
        raise ConfigError(f"segmentation filter {kind!r}: use one of {', '.join(FILTER_KINDS)}")
    fit = fit_hsmm if kind == "hsmm" else fit_filter
    return {"filter": fit(runs, class_ids, hop_s, **settings).to_dict(), "forecast": fit_forecast(runs, class_ids).to_dict()}


def filter_from_meta(meta: Any, *, hop_s: float | None = None) -> Any:
    """The model file's filter, an :class:`HmmFilter` or a
    :class:`~harnets_core.streaming.semimarkov.HsmmFilter` (None when the file has none: a
    model trained before it existed), stepping every ``hop_s`` (default: the hop it was fitted
    for). ConfigError when its classes are not the model's."""
    timeline = (meta.get(TIMELINE_META_KEY) if hasattr(meta, "get") else None) or {}
    data = timeline.get("filter")
    if not data:
        return None
    filt = HsmmFilter.from_dict(data) if data.get("kind") == "hsmm" else HmmFilter.from_dict(data)
    if hop_s is not None and abs(float(hop_s) - filt.hop_s) > 1e-9:
        filt = filt.at_hop(hop_s)
    if list(filt.class_ids) != [int(c) for c in meta.get("class_ids")]:
        raise ConfigError(f"segmentation filter classes {filt.class_ids} are not the model's {list(meta.get('class_ids'))}")
    return filt

