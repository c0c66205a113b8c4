"""The activity forecast (``harnets/ActivityForecast``, harnets_core.streaming.forecast) as
lines of text under the activity label: the marker above the head and the annotated camera.

Which forecast is shown: the newest one received no more than ``timeout_s`` ago whose current
activity is the displayed one (several recognizers may publish on ``activity/forecast``; the
label may be the fusion's: a forecast about another current activity would say what comes
after something the picture does not show). None fits: no forecast lines.

The text of one forecast: the most probable next activity, its probability and the remaining
time of the current one (median, with the 10th-90th percentile range)::

    next: Take component 0.62 in ~3.1 s (p10-p90 1.2-5.0 s)

When the current activity already lasts longer than every training example (the remaining
times are all 0): ``next: Take component 0.62 now (overdue)``. When the model knows no
activity transition (no next activity): ``ends in ~3.1 s (p10-p90 1.2-5.0 s)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

__all__ = ["ReceivedForecast", "forecast_lines", "fresh_forecast"]


@dataclass(frozen=True)
class ReceivedForecast:
    """One forecast as a viewer keeps it (the fields of a harnets/ActivityForecast it uses).

    Attributes:
        source: the recognizer that made it (``Activity.source``).
        current_class_id: InHARD meta-action id of the current activity it is about.
        received_s: when it was received, seconds of a monotonic clock.
        remaining_s: p10, p50, p90 of the remaining time of the current activity, seconds.
        next_names: next activities, most probable first (may be empty).
        next_probabilities: their probabilities, same order.
    """

    source: str
    current_class_id: int
    received_s: float
    remaining_s: tuple[float, float, float]
    next_names: tuple[str, ...] = ()
    next_probabilities: tuple[float, ...] = ()


def _when(remaining_s: tuple[float, float, float]) -> str:
    p10, p50, p90 = (float(x) for x in remaining_s)
    if p90 <= 0.0:
        return "now (overdue)"
    return f"in ~{p50:.1f} s (p10-p90 {p10:.1f}-{p90:.1f} s)"


def forecast_lines(forecast: ReceivedForecast, max_next: int = 1) -> list[str]:
    """Text lines of a forecast: ``"next: <name> <probability:.2f> <when>"``, then up to
    ``max_next - 1`` further candidates as ``"  or: <name> <probability:.2f>"``; without a
    next activity, ``"ends <when>"``. ``<when>`` is ``"in ~<p50:.1f> s (p10-p90
    <p10:.1f>-<p90:.1f> s)"``, or ``"now (overdue)"`` when the remaining times are 0."""
    when = _when(forecast.remaining_s)
    pairs = list(zip(forecast.next_names, forecast.next_probabilities))[: max(1, int(max_next))]
    if not pairs:
        return [f"ends {when}"]
    (name, p), *others = pairs
    return [f"next: {name} {float(p):.2f} {when}", *(f"  or: {n} {float(q):.2f}" for n, q in others)]


def fresh_forecast(forecasts: Iterable[ReceivedForecast], current_class_id: int, now_s: float,
                   timeout_s: float) -> ReceivedForecast | None:
    """The newest of ``forecasts`` received no more than ``timeout_s`` before ``now_s`` (same
    monotonic clock) about the activity ``current_class_id``; None when none is."""
    fitting = [f for f in forecasts
               if now_s - f.received_s <= timeout_s and f.current_class_id == int(current_class_id)]
    return max(fitting, key=lambda f: f.received_s, default=None)
