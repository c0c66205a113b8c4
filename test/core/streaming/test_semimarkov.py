"""The hidden semi-Markov segmentation filter (explicit durations learned from training runs)."""
from __future__ import annotations

import numpy as np
import pytest

from harnets_core.datasets.stream_windows import SessionRun
from harnets_core.errors import ConfigError
from harnets_core.streaming.segmentation import HmmFilter, filter_from_meta, fit_filter, fit_timeline_meta
from harnets_core.streaming.semimarkov import HsmmFilter, duration_pmf, fit_hsmm

IDS = [0, 1, 2]  # idle, A, B
SETTINGS = {"eps": 0.2, "evidence_per_s": 2.0}  # one 0.5 s window's probabilities taken as they are


def _runs(n_cycles: int = 12) -> list[SessionRun]:
    """A (always 4 s), B (2 s), idle (1 s), ... in one session."""
    t, out = 0.0, []
    for _ in range(n_cycles):
        for cid, dur in ((1, 4.0), (2, 2.0), (0, 1.0)):
            out.append(SessionRun("S1", cid, t, dur))
            t += dur
    return out


A = np.array([0.05, 0.9, 0.05])
LEANS_B = np.array([0.02, 0.2, 0.78])  # one window that leans to B


def _after(filt, n_a: int) -> int:
    filt.reset()
    for _ in range(n_a):
        filt.update(A)
    return int(np.argmax(filt.update(LEANS_B)))


def test_hsmm_switches_on_weak_evidence_only_once_the_activity_has_lasted_its_usual_time():
    filt = fit_hsmm(_runs(), IDS, hop_s=0.5, **SETTINGS)
    # 1 s into an A that always lasts 4 s: one window leaning to B is noise
    assert _after(filt, 2) == 1
    # 4 s into it: A is due to end, the same window is believed
    assert _after(filt, 8) == 2


def test_hmm_cannot_tell_the_two_apart():
    # the geometric duration of the HMM gives the same answer at 1 s and at 4 s
    hmm = fit_filter(_runs(), IDS, hop_s=0.5)
    assert _after(hmm, 2) == _after(hmm, 8)


def test_hsmm_starting_mid_stream_follows_confident_windows():
    filt = fit_hsmm(_runs(), IDS, hop_s=0.5, **SETTINGS)
    out = [int(np.argmax(filt.update(p))) for p in [A] * 3 + [np.array([0.9, 0.05, 0.05])] * 3]
    assert out[:3] == [1, 1, 1] and out[-1] == 0


def test_durations_exclude_the_runs_cut_by_the_recording():
    runs = [SessionRun("S1", 1, 0.0, 0.3)] + [SessionRun("S1", c, 0.3 + i, 1.0) for i, c in enumerate([0, 1, 0])] \
        + [SessionRun("S1", 1, 3.3, 9.0)]
    filt = fit_hsmm(runs, IDS, hop_s=0.5)
    assert filt.durations_s[1] == [1.0]  # the first (0.3 s) and last (9 s) runs of A are cut
    assert filt.durations_s[0] == [1.0, 1.0]
    assert filt.switch[1, 0] > filt.switch[1, 2]  # A was followed by idle, never by B


def test_duration_pmf_peaks_at_the_training_durations():
    pmf = duration_pmf([2.0, 2.0, 2.0], hop_s=0.5, n_steps=20)
    assert pmf.shape == (20,) and abs(pmf.sum() - 1.0) < 1e-9
    assert int(np.argmax(pmf)) + 1 == 4  # 2 s = 4 steps of 0.5 s
    assert pmf.min() > 0  # never impossible


def test_round_trip_meta_and_hop_change():
    meta = {"class_ids": IDS, "timeline": fit_timeline_meta(_runs(), IDS, 0.5, **SETTINGS)}
    filt = filter_from_meta(meta)
    assert isinstance(filt, HsmmFilter)
    again = HsmmFilter.from_dict(filt.to_dict())
    stream = [A] * 8 + [LEANS_B] * 2
    np.testing.assert_allclose([filt.update(p) for p in stream], [again.update(p) for p in stream], atol=1e-6)
    # at a 0.25 s hop the same 4 s of A are 16 steps: still held after 1 s, released after 4 s
    # (the same evidence per second: two windows leaning to B count as one did at 0.5 s)
    quick = filter_from_meta(meta, hop_s=0.25)
    assert quick.hop_s == 0.25 and quick.evidence_per_s == filt.evidence_per_s

    def after_quick(n_a: int) -> int:
        quick.reset()
        for p in [A] * n_a + [LEANS_B]:
            quick.update(p)
        return int(np.argmax(quick.update(LEANS_B)))

    assert after_quick(4) == 1 and after_quick(16) == 2
    hmm_meta = {"class_ids": IDS, "timeline": fit_timeline_meta(_runs(), IDS, 0.5, kind="hmm")}
    hmm = filter_from_meta(hmm_meta, hop_s=0.25)
    assert isinstance(hmm, HmmFilter) and hmm.hop_s == 0.25
    # same mean durations: staying one 0.5 s step = staying two 0.25 s steps
    slow = filter_from_meta(hmm_meta)
    np.testing.assert_allclose(np.diag(hmm.transition) ** 2, np.diag(slow.transition), rtol=1e-9)


def test_bad_filter_data_is_a_config_error():
    data = fit_hsmm(_runs(), IDS, hop_s=0.5).to_dict()
    with pytest.raises(ConfigError, match="unknown keys"):
        HsmmFilter.from_dict({**data, "extra": 1})
    with pytest.raises(ConfigError, match="3 classes"):
        HsmmFilter.from_dict({**data, "prior": [0.5, 0.5]})
    with pytest.raises(ConfigError, match="use one of"):
        fit_timeline_meta(_runs(), IDS, 0.5, kind="crf")


def test_recognizer_runs_the_filter_at_its_own_hop(forecasting_skeleton_model):
    from harnets_core.streaming.recognizer import load_recognizer

    assert load_recognizer(forecasting_skeleton_model).segmenter.hop_s == 0.1  # the model's hop
    rec = load_recognizer(forecasting_skeleton_model, hop_s=0.2)  # a node run with hop_s 0.2
    assert isinstance(rec.segmenter, HsmmFilter) and rec.segmenter.hop_s == 0.2
