"""harnets_core.streaming.fusion: weighted late fusion aligned by class name, staleness, errors."""
from __future__ import annotations

import numpy as np
import pytest

from harnets_core.errors import ConfigError, StreamError
from harnets_core.streaming.fusion import LateFusion

S = 1_000_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now_ns = 0

    def __call__(self) -> int:
        return self.now_ns


def make(weights=None, staleness_s=0.5, **kwargs) -> tuple[LateFusion, FakeClock]:
    clock = FakeClock()
    return LateFusion(weights or {"a": 1.0, "b": 1.0}, staleness_s, clock_ns=clock, **kwargs), clock


def test_weighted_mean_aligned_by_class_name():
    fusion, clock = make({"a": 3.0, "b": 1.0})
    # a knows (walk, pick); b knows (pick, idle) in another order; ids agree.
    assert fusion.update("a", 10 * S, 8 * S, ["walk", "pick"], [5, 2], [0.6, 0.4], 4.0) is not None
    clock.now_ns = 2_000_000  # 2 ms after a's arrival
    out = fusion.update("b", 10 * S + 100, 9 * S, ["idle", "pick"], [0, 2], [0.2, 0.8], 7.0)
    assert out is not None
    assert out.class_names == ("idle", "pick", "walk")  # ordered by class id
    assert out.class_ids == (0, 2, 5)
    expected = {"idle": 0.25 * 0.2, "pick": 0.75 * 0.4 + 0.25 * 0.8, "walk": 0.75 * 0.6}
    np.testing.assert_allclose(out.probabilities, [expected[n] for n in out.class_names], rtol=1e-6)
    assert out.probabilities.sum() == pytest.approx(1.0)
    assert out.label == "pick" and out.class_id == 2
    assert out.stamp_ns == 10 * S + 100  # newest used
    assert out.window_start_ns == 8 * S  # oldest used
    assert out.sources == ("a", "b") and out.newest_source == "b"
    assert out.weights == pytest.approx((0.75, 0.25))
    assert out.latency_ms == pytest.approx(7.0)  # max input latency + 0 ms (b arrived at now)
    assert out.source == "fusion" and out.model_id == ""


def test_latency_includes_time_since_last_arrival():
    fusion, clock = make()
    fusion.add("a", 1 * S, 0, ["x"], [0], [1.0], 3.0)
    clock.now_ns = 5_000_000
    out = fusion.fuse()
    assert out.latency_ms == pytest.approx(8.0)


def test_single_source_is_passed_through():
    fusion, _ = make()
    out = fusion.update("a", 1 * S, 0, ["x", "y"], [1, 0], [0.3, 0.7], 1.0)
    assert out.class_names == ("y", "x")
    np.testing.assert_allclose(out.probabilities, [0.7, 0.3], rtol=1e-6)
    assert out.sources == ("a",)


def test_stale_source_left_out():
    fusion, _ = make(staleness_s=0.5)
    fusion.update("a", 1 * S, 0, ["x", "y"], [0, 1], [1.0, 0.0], 1.0)
    out = fusion.update("b", 2 * S, S, ["x", "y"], [0, 1], [0.0, 1.0], 1.0)  # a is 1 s older
    assert out.sources == ("b",)
    np.testing.assert_allclose(out.probabilities, [0.0, 1.0])
    assert fusion.stats["stale_sources"] == 1
    # An input that is itself stale gives nothing new.
    assert fusion.update("a", int(1.2 * S), S, ["x", "y"], [0, 1], [1.0, 0.0], 1.0) is None
    # Within the staleness both are used.
    out = fusion.update("a", int(1.8 * S), S, ["x", "y"], [0, 1], [1.0, 0.0], 1.0)
    assert out.sources == ("a", "b")
    np.testing.assert_allclose(out.probabilities, [0.5, 0.5])


def test_min_sources():
    fusion, _ = make(min_sources=2)
    assert fusion.update("a", S, 0, ["x"], [0], [1.0], 1.0) is None
    assert fusion.update("b", S, 0, ["x"], [0], [1.0], 1.0) is not None


def test_zero_weight_source_ignored():
    fusion, _ = make({"a": 1.0, "b": 0.0})
    assert fusion.update("b", S, 0, ["x"], [0], [1.0], 1.0) is None
    out = fusion.update("a", S, 0, ["y"], [1], [1.0], 1.0)
    assert out.class_names == ("y",) and out.sources == ("a",)


def test_source_going_back_in_time_resets_the_others():
    fusion, _ = make(staleness_s=0.5)
    fusion.update("a", 100 * S, 99 * S, ["x"], [0], [1.0], 1.0)
    fusion.update("b", 100 * S, 99 * S, ["x"], [0], [1.0], 1.0)
    out = fusion.update("a", 1 * S, 0, ["x"], [0], [1.0], 1.0)  # replay restarted
    assert fusion.stats["resets"] == 1
    assert out is not None and out.sources == ("a",) and out.stamp_ns == S


def test_memory_bounded_by_sources():
    fusion, _ = make()
    for i in range(1000):
        fusion.update("a" if i % 2 else "b", i * 1000, 0, ["x"], [0], [1.0], 1.0)
    assert len(fusion._latest) == 2


@pytest.mark.parametrize(
    "args, match",
    [
        (("c", S, 0, ["x"], [0], [1.0], 1.0), "unknown source"),
        (("a", S, 0, ["x", "y"], [0], [0.5, 0.5], 1.0), "2 class names, 1 class ids"),
        (("a", S, 0, ["x", "x"], [0, 0], [0.5, 0.5], 1.0), "appears twice"),
        (("a", S, 0, ["x", "y"], [0, 1], [0.5, 0.2], 1.0), "sum to 0.7"),
        (("a", S, 0, ["x", "y"], [0, 1], [np.nan, 1.0], 1.0), "finite"),
        (("a", S, 0, ["x", "y"], [0, 1], [-0.5, 1.5], 1.0), "finite and >= 0"),
        (("a", S, 2 * S, ["x"], [0], [1.0], 1.0), "after stamp"),
        (("a", S, 0, [], [], [], 1.0), "0 class names"),
    ],
)
def test_bad_inputs_rejected_and_state_unchanged(args, match):
    fusion, _ = make()
    fusion.update("b", S, 0, ["x"], [0], [1.0], 1.0)
    with pytest.raises(StreamError, match=match):
        fusion.update(*args)
    assert [s.key for s in fusion.fresh()] == ["b"]


def test_conflicting_class_ids_rejected():
    fusion, _ = make()
    fusion.update("a", S, 0, ["pick"], [2], [1.0], 1.0)
    with pytest.raises(StreamError, match="'pick' has id 3, but a gives it id 2"):
        fusion.update("b", S, 0, ["pick"], [3], [1.0], 1.0)


@pytest.mark.parametrize(
    "keys, weights, match",
    [
        (["a", "b"], [1.0], "2 inputs but 1 weights"),
        (["a", "a"], [1.0, 1.0], "duplicate"),
        (["a"], [-1.0], ">= 0"),
        (["a", "b"], [0.0, 0.0], "all weights are 0"),
        ([], [], "at least one source"),
    ],
)
def test_bad_config(keys, weights, match):
    with pytest.raises(ConfigError, match=match):
        LateFusion.from_lists(keys, weights, 0.5)


def test_from_lists_equal_weights_by_default():
    fusion = LateFusion.from_lists(["a", "b"], [], 0.5)
    assert fusion.weights == {"a": 1.0, "b": 1.0}
    with pytest.raises(ConfigError, match="staleness_s"):
        LateFusion({"a": 1.0}, -1.0)


def _forecaster():
    from harnets_core.datasets.stream_windows import SessionRun
    from harnets_core.streaming.forecast import Forecaster, fit_forecast

    runs, t = [], 0.0
    for _ in range(6):  # A (id 1, 2 s) -> B (id 2, 1 s) -> A ...
        for cid, dur in ((1, 2.0), (2, 1.0)):
            runs.append(SessionRun("S", cid, t, dur))
            t += dur
    return Forecaster(fit_forecast(runs, [0, 1, 2]))


def test_forecast_on_the_fused_timeline():
    fusion, _ = make(forecaster=_forecaster())
    names, ids = ["idle", "A", "B"], [0, 1, 2]
    assert make()[0].update("a", 1 * S, 0, names, ids, [0.1, 0.8, 0.1], 1.0).forecast is None  # no forecaster
    fusion.update("a", 1 * S, 0, names, ids, [0.1, 0.8, 0.1], 1.0)
    # b says B strongly: the FUSED top class is B, so the forecast is about B (next: A)
    out = fusion.update("b", 2 * S, S, names, ids, [0.0, 0.1, 0.9], 1.0)
    assert out.class_id == 2 and out.forecast.current_id == 2 and out.forecast.next_ids[0] == 1
    out = fusion.update("b", int(2.5 * S), S, names, ids, [0.0, 0.1, 0.9], 1.0)
    assert out.forecast.elapsed_s == pytest.approx(0.5)  # B recognized since 2 s
    fusion.reset()  # a replay restarted: the forecaster forgets the fused timeline too
    out = fusion.update("a", 10 * S, 9 * S, names, ids, [0.0, 0.1, 0.9], 1.0)
    assert out.forecast.elapsed_s == 0.0
