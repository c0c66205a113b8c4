"""The online segmentation filter and the forecaster (pure numpy, no training)."""
from __future__ import annotations

import numpy as np
import pytest

from harnets_core.datasets.stream_windows import SessionRun
from harnets_core.errors import ConfigError
from harnets_core.streaming.forecast import ForecastModel, Forecaster, fit_forecast, forecaster_from_meta
from harnets_core.streaming.segmentation import HmmFilter, filter_from_meta, fit_filter, fit_timeline_meta

IDS = [0, 1, 2, 3]  # idle, A, B, C


def _runs(labels_durations, session="S1"):
    t, out = 0.0, []
    for cid, dur in labels_durations:
        out.append(SessionRun(session, cid, t, dur))
        t += dur
    return out


def _procedure_runs(n_cycles: int = 10) -> list[SessionRun]:
    """A B A C A B A C ... with idle after every C: what follows A depends on what came before it."""
    seq = []
    for _ in range(n_cycles):
        seq += [(1, 4.0), (2, 2.0), (1, 4.0), (3, 1.0), (0, 1.0)]
    return _runs(seq)


def test_filter_removes_a_one_window_flicker_but_follows_a_real_change():
    filt = fit_filter(_procedure_runs(), IDS, hop_s=0.5)
    a, b = np.array([0.02, 0.9, 0.04, 0.04]), np.array([0.02, 0.04, 0.9, 0.04])
    unsure = np.array([0.02, 0.35, 0.59, 0.04])
    stream = [a] * 6 + [unsure] + [a] * 4 + [b] * 6  # one flickering window, then a real change
    raw = [int(np.argmax(p)) for p in stream]
    out = [int(np.argmax(filt.update(p))) for p in stream]
    assert raw[6] == 2 and out[6] == 1  # the flicker is gone
    assert out[-6:].count(2) >= 4 and out[11] in (1, 2) and out[13] == 2  # the change shows within 2 hops
    filt.reset()
    assert filt.belief is None


def test_filter_transition_learned_from_runs():
    filt = fit_filter(_procedure_runs(), IDS, hop_s=0.5)
    assert np.allclose(filt.transition.sum(axis=1), 1.0)
    assert filt.transition[1, 1] == pytest.approx(np.exp(-0.5 / 4.0))  # A lasts 4 s
    assert filt.transition[3, 0] > filt.transition[3, 1]  # C is followed by idle
    assert filt.prior[1] > filt.prior[2]  # A holds most of the time


def test_filter_round_trips_and_checks_its_classes():
    filt = fit_filter(_procedure_runs(), IDS, hop_s=0.5)
    again = HmmFilter.from_dict(filt.to_dict())
    assert np.allclose(again.transition, filt.transition)
    meta = {"class_ids": IDS, "timeline": fit_timeline_meta(_procedure_runs(), IDS, 0.5)}
    assert filter_from_meta(meta) is not None and forecaster_from_meta(meta) is not None
    with pytest.raises(ConfigError, match="not the model's"):
        filter_from_meta({"class_ids": [0, 1, 2], "timeline": meta["timeline"]})
    assert filter_from_meta({"class_ids": IDS}) is None
    with pytest.raises(ConfigError, match="probabilities"):
        filt.update(np.ones(3) / 3)


def test_next_activity_uses_the_history():
    model = fit_forecast(_procedure_runs(), IDS)
    # first order after A: B and C equally often; second order knows
    assert abs(model.first[1][2] - model.first[1][3]) <= 1
    assert max(model.next_distribution([2, 1]), key=model.next_distribution([2, 1]).get) == 3
    assert max(model.next_distribution([3, 1]), key=model.next_distribution([3, 1]).get) == 2
    again = ForecastModel.from_dict(model.to_dict())
    assert again.next_distribution([2, 1]) == model.next_distribution([2, 1])


def test_remaining_time_quantiles_and_the_forecaster():
    model = ForecastModel(class_ids=IDS, durations_s={1: [2.0, 4.0, 6.0, 8.0]}, first={}, second={}, unigram={1: 1})
    p10, p50, p90 = model.remaining(1, 3.0)  # durations longer than 3 s: 4, 6, 8 -> left 1, 3, 5
    assert p50 == pytest.approx(3.0) and p10 < p50 < p90
    assert model.remaining(1, 9.0) == (0.0, 0.0, 0.0)  # overdue
    fc = Forecaster(fit_forecast(_procedure_runs(), IDS))
    ns = 1_000_000_000
    for k, cid in enumerate([1] * 8 + [2] * 4 + [1] * 3):
        f = fc.update(cid, k * ns // 2)
    assert f.current_id == 1 and f.elapsed_s == pytest.approx(1.0)
    assert f.next_ids[0] == 3  # after B then A comes C
    assert sum(f.next_probabilities) == pytest.approx(1.0)
    assert f.remaining_s[1] == pytest.approx(3.0)  # A lasts 4 s, 1 s elapsed
