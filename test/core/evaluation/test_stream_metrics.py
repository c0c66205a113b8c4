"""All-time (idle included) and forecast scores of a replay."""
from __future__ import annotations

import pytest

from harnets_core.evaluation.stream_metrics import all_time_metrics, edit_score, fill_idle, forecast_metrics
from harnets_core.evaluation.timeline import GtSegment, TimedLabel
from harnets_core.streaming.forecast import Forecast, ForecastModel


def test_fill_idle_covers_the_whole_recording():
    gt = [GtSegment(1.0, 3.0, 5), GtSegment(4.0, 6.0, 11)]
    assert fill_idle(gt, 8.0) == [GtSegment(0.0, 1.0, 0), gt[0], GtSegment(3.0, 4.0, 0), gt[1], GtSegment(6.0, 8.0, 0)]


def test_edit_score_penalizes_over_segmentation():
    assert edit_score([1, 2, 3], [1, 2, 3]) == 100.0
    assert edit_score([1, 2, 1, 2, 3], [1, 2, 3]) == pytest.approx(60.0)


def test_all_time_scores_count_idle():
    gt = [GtSegment(1.0, 3.0, 5)]
    always_five = [TimedLabel(0.0, 5, 1.0)]
    m = all_time_metrics(gt, always_five, [5], end_s=4.0)
    assert m["frame"]["accuracy"] == pytest.approx(0.5)  # right during the activity only
    assert m["idle_recall"] == 0.0 and m["idle_fraction"] == pytest.approx(0.5)
    right = [TimedLabel(0.0, 0, 1.0), TimedLabel(1.0, 5, 1.0), TimedLabel(3.0, 0, 1.0)]
    m = all_time_metrics(gt, right, [5], end_s=4.0)
    assert m["frame"]["accuracy"] == pytest.approx(1.0) and m["idle_recall"] == 1.0 and m["edit"] == 100.0
    assert m["segment_f1"]["0.5"]["f1"] == pytest.approx(1.0)


def test_forecast_scores_and_baselines():
    gt = [GtSegment(0.0, 4.0, 1), GtSegment(4.0, 6.0, 2), GtSegment(6.0, 7.0, 0), GtSegment(7.0, 11.0, 1),
          GtSegment(11.0, 12.0, 3)]
    model = ForecastModel(class_ids=[0, 1, 2, 3], durations_s={1: [4.0], 2: [2.0], 3: [1.0]},
                          first={1: {2: 3, 3: 1}, 2: {1: 1}}, second={}, unigram={1: 2, 2: 1, 3: 1})

    def f(t, cur, nxt, p50, elapsed):
        return (t, Forecast(int(t * 1e9), cur, elapsed, (p50, p50, p50), (nxt,), (1.0,)))

    forecasts = [f(1.0, 1, 2, 3.0, 1.0), f(5.0, 2, 1, 1.0, 1.0), f(8.0, 1, 3, 3.0, 1.0), f(11.5, 3, 1, 0.5, 0.5)]
    m = forecast_metrics(gt, forecasts, model)
    nxt = m["next_activity"]
    assert nxt["n_transitions"] == 3  # 1->2, 2->1 (idle skipped), 1->3
    assert nxt["accuracy"] == pytest.approx(1.0)
    assert nxt["majority_transition_accuracy"] == pytest.approx(2 / 3)  # after 1 the majority is 2
    assert nxt["uniform_accuracy"] == pytest.approx(0.5)
    rem = m["remaining_time"]
    assert rem["n_forecasts"] == 4 and rem["mae_s"] == pytest.approx((0 + 0 + 0 + 0) / 4)
    assert rem["mean_duration_baseline_mae_s"] == pytest.approx((0 + 0 + 0 + 0) / 4 + (0 + 0 + 0 + 0))


def test_next_activity_labels_skip_idle_and_merge_repeats():
    from harnets_core.evaluation.timeline import NONE, next_activity_labels

    gt = [GtSegment(0.0, 2.0, 5), GtSegment(2.0, 3.0, 0), GtSegment(3.0, 4.0, 5), GtSegment(4.0, 6.0, 11)]
    labels = next_activity_labels(gt)
    # during both runs of 5 (idle between) the next activity is 11; nothing follows 11
    assert [(t, c) for t, c, _ in labels] == [(0.0, 11), (2.0, NONE), (3.0, 11), (4.0, NONE), (4.0, NONE), (6.0, NONE)]


def test_timeline_plot_shows_the_forecast(tmp_path):
    from PIL import Image

    from harnets_core.evaluation.timeline import write_timeline_report

    gt = [GtSegment(0.0, 2.0, 1), GtSegment(2.0, 4.0, 2)]
    preds = {"skeleton": [TimedLabel(0.0, 1), TimedLabel(2.0, 2)]}
    fc = Forecast(0, 1, 0.0, (1.0, 2.0, 3.0), (2,), (1.0,))
    write_timeline_report(tmp_path / "plain", gt, preds, ["idle", "a", "b"])
    write_timeline_report(tmp_path / "fc", gt, preds, ["idle", "a", "b"], forecasts={"skeleton": [(0.0, fc), (2.0, fc)]})
    plain = Image.open(tmp_path / "plain" / "timeline.png").size
    with_forecast = Image.open(tmp_path / "fc" / "timeline.png").size
    assert with_forecast[1] > plain[1]  # two more rows: the true and the forecast next activity
