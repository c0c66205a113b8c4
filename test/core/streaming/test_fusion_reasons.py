"""harnets_core.streaming.fusion: why there is no fused prediction (NoFusion), the path the fusion
node counts its stale inputs from."""
from __future__ import annotations

from harnets_core.streaming.fusion import FusedPrediction, LateFusion, NoFusion

S = 1_000_000_000


def test_stale_input_is_stored_and_gives_the_reason():
    fusion = LateFusion({"a": 1.0, "b": 1.0}, 0.5, clock_ns=lambda: 0)
    assert fusion.add("b", 2 * S, S, ["x"], [0], [1.0], 1.0) is None
    # a is 1 s behind b: stored (it counts as an input) but not fresh, nothing fused.
    assert fusion.add("a", 1 * S, 0, ["x"], [0], [1.0], 1.0) is NoFusion.STALE_INPUT
    assert fusion.stats["inputs"] == 2 and fusion.stats["fused"] == 0
    assert [s.key for s in fusion.fresh()] == ["b"]
    assert fusion.offer("a", int(1.2 * S), 0, ["x"], [0], [1.0], 1.0) is NoFusion.STALE_INPUT
    assert fusion.update("a", int(1.2 * S), 0, ["x"], [0], [1.0], 1.0) is None
    assert fusion.stats["fused"] == 0
    out = fusion.offer("a", int(1.8 * S), 0, ["x"], [0], [1.0], 1.0)  # within the staleness again
    assert isinstance(out, FusedPrediction) and out.sources == ("a", "b")


def test_too_few_sources_is_the_reason_until_min_sources_are_fresh():
    fusion = LateFusion({"a": 1.0, "b": 1.0, "c": 0.0}, 0.5, min_sources=2, clock_ns=lambda: 0)
    assert fusion.offer("a", S, 0, ["x"], [0], [1.0], 1.0) is NoFusion.TOO_FEW_SOURCES
    # a fresh source of weight 0 does not count
    assert fusion.offer("c", S, 0, ["x"], [0], [1.0], 1.0) is NoFusion.TOO_FEW_SOURCES
    assert fusion.fuse() is None
    out = fusion.offer("b", S, 0, ["x"], [0], [1.0], 1.0)
    assert isinstance(out, FusedPrediction) and out.sources == ("a", "b")
    assert fusion.stats["fused"] == 1
