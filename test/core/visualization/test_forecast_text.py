"""harnets_core.visualization.forecast_text: the forecast's lines under the label (exact
strings) and which forecast is shown (fresh, about the displayed activity)."""
from __future__ import annotations

from harnets_core.visualization.forecast_text import ReceivedForecast, forecast_lines, fresh_forecast
from harnets_core.visualization.markers import label_text


def _forecast(source: str = "skeleton", current: int = 11, received_s: float = 100.0,
              remaining_s: tuple[float, float, float] = (1.2, 3.14, 5.0),
              names: tuple[str, ...] = ("Take component", "Picking left", "Consult sheets"),
              probabilities: tuple[float, ...] = (0.62, 0.25, 0.13)) -> ReceivedForecast:
    return ReceivedForecast(source, current, received_s, remaining_s, names, probabilities)


def test_next_activity_with_the_remaining_time():
    assert forecast_lines(_forecast()) == ["next: Take component 0.62 in ~3.1 s (p10-p90 1.2-5.0 s)"]
    assert forecast_lines(_forecast(), max_next=3) == [
        "next: Take component 0.62 in ~3.1 s (p10-p90 1.2-5.0 s)", "  or: Picking left 0.25", "  or: Consult sheets 0.13"]
    assert forecast_lines(_forecast(names=("Take component",), probabilities=(1.0,)), max_next=3) == [
        "next: Take component 1.00 in ~3.1 s (p10-p90 1.2-5.0 s)"]


def test_overdue_and_no_known_transition():
    assert forecast_lines(_forecast(remaining_s=(0.0, 0.0, 0.0))) == ["next: Take component 0.62 now (overdue)"]
    assert forecast_lines(_forecast(names=(), probabilities=())) == ["ends in ~3.1 s (p10-p90 1.2-5.0 s)"]
    assert forecast_lines(_forecast(names=(), probabilities=(), remaining_s=(0.0, 0.0, 0.0))) == ["ends now (overdue)"]


def test_the_label_carries_the_forecast_lines():
    text = label_text("Assemble system", 0.87, forecast_lines(_forecast()))
    assert text == "Assemble system 0.87\nnext: Take component 0.62 in ~3.1 s (p10-p90 1.2-5.0 s)"


def test_stale_forecasts_are_dropped():
    f = _forecast(received_s=100.0)
    assert fresh_forecast([f], 11, now_s=101.9, timeout_s=2.0) is f
    assert fresh_forecast([f], 11, now_s=102.0, timeout_s=2.0) is f  # exactly the timeout: still shown
    assert fresh_forecast([f], 11, now_s=102.01, timeout_s=2.0) is None
    assert fresh_forecast([], 11, now_s=100.0, timeout_s=2.0) is None


def test_the_newest_forecast_about_the_displayed_activity_is_shown():
    skeleton = _forecast("skeleton", current=11, received_s=100.0)
    rgb = _forecast("rgb", current=11, received_s=100.5)
    other = _forecast("pose", current=3, received_s=100.8)  # about another current activity
    assert fresh_forecast([skeleton, rgb, other], 11, now_s=101.0, timeout_s=2.0) is rgb
    assert fresh_forecast([skeleton, rgb, other], 3, now_s=101.0, timeout_s=2.0) is other
    assert fresh_forecast([skeleton, rgb, other], 5, now_s=101.0, timeout_s=2.0) is None
    assert fresh_forecast([skeleton, rgb], 11, now_s=102.2, timeout_s=2.0) is rgb  # the skeleton's went stale
