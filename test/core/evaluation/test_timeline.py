"""harnets_core.evaluation.timeline: metrics on hand-built timelines with known answers, and the report."""
from __future__ import annotations

import json

import numpy as np
import pytest

from harnets_core.formats import bags
from harnets_core.evaluation.timeline import (
    GtSegment,
    TimedLabel,
    activities_from_bag,
    detection_delays,
    evaluate_source,
    frame_metrics,
    gt_labels,
    latency_stats,
    sample_and_hold,
    segments_from_stream,
    time_grid,
    write_timeline_report,
)

CLASS_IDS = list(range(14))


def test_grid_and_sample_and_hold():
    gt = [GtSegment(1.0, 2.0, 3), GtSegment(2.5, 3.0, 4)]
    times = time_grid(gt, rate_hz=2.0)
    np.testing.assert_allclose(times, [1.0, 1.5, 2.0, 2.5])
    assert gt_labels(gt, times).tolist() == [3, 3, -1, 4]
    preds = [TimedLabel(1.5, 7), TimedLabel(0.2, 6)]  # any order
    assert sample_and_hold(preds, times).tolist() == [6, 7, 7, 7]
    assert sample_and_hold([], times).tolist() == [-1] * 4


def test_perfect_prediction_scores_one():
    gt = [GtSegment(0.0, 2.0, 1), GtSegment(2.0, 5.0, 3), GtSegment(6.0, 8.0, 1)]
    preds = [TimedLabel(s.start_s, s.class_id) for s in gt] + [TimedLabel(5.0, 9)]  # 9 in the gap: ignored
    m = evaluate_source(gt, preds, CLASS_IDS)
    assert m.frame.n_frames == 70  # 80 grid times, 10 of them unlabeled
    assert m.frame.accuracy == 1.0 and m.frame.macro_f1 == 1.0
    assert {k: v["f1"] for k, v in m.segment_f1.items()} == {0.1: 1.0, 0.25: 1.0, 0.5: 1.0}
    assert m.segment_f1[0.5] == {"f1": 1.0, "tp": 3, "fp": 0, "fn": 0}
    assert m.delay.delays_s == [0.0, 0.0, 0.0] and m.delay.miss_rate == 0.0


def test_shifted_prediction_known_delay_and_confusion():
    gt = [GtSegment(0.0, 2.0, 1), GtSegment(2.0, 5.0, 3)]
    preds = [TimedLabel(0.5, 1), TimedLabel(2.5, 3)]  # every change recognized 0.5 s late
    m = evaluate_source(gt, preds, CLASS_IDS)
    assert m.frame.n_frames == 50
    assert m.frame.accuracy == pytest.approx(0.8)  # 5 "none" + 5 held-over frames wrong
    assert m.delay.delays_s == [0.5, 0.5]
    assert m.delay.mean_s == 0.5 and m.delay.median_s == 0.5 and m.delay.miss_rate == 0.0
    c1, c3 = m.frame.per_class[1], m.frame.per_class[3]
    assert (c1["precision"], c1["recall"], c1["support"]) == (0.75, 0.75, 20)
    assert c3["precision"] == 1.0 and c3["recall"] == pytest.approx(25 / 30)
    cm = m.frame.confusion
    assert cm.shape == (14, 15)
    assert (cm[1, 1], cm[1, 14], cm[3, 1], cm[3, 3]) == (15, 5, 5, 25)  # column 14 = "none"
    assert cm.sum() == 50
    # macro-F1 over the two classes present
    assert m.frame.macro_f1 == pytest.approx((0.75 + 2 * 1 * (25 / 30) / (1 + 25 / 30)) / 2)
    assert m.segment_f1[0.5]["f1"] == 1.0  # IoUs 15/25 and 25/30


def test_segment_f1_iou_threshold():
    gt = [GtSegment(0.0, 10.0, 2)]
    late = evaluate_source(gt, [TimedLabel(7.0, 2)], CLASS_IDS)  # predicted [7, 10): IoU 0.3
    assert late.segment_f1[0.1]["f1"] == 1.0
    assert late.segment_f1[0.25]["f1"] == 1.0
    assert late.segment_f1[0.5] == {"f1": 0.0, "tp": 0, "fp": 1, "fn": 1}
    assert late.delay.delays_s == [7.0]
    # over-segmentation: [0, 4) class 2, [4, 5) class 4, [5, 10) class 2
    split = evaluate_source(gt, [TimedLabel(0.0, 2), TimedLabel(4.0, 4), TimedLabel(5.0, 2)], CLASS_IDS)
    assert split.segment_f1[0.1] == {"f1": 0.5, "tp": 1, "fp": 2, "fn": 0}  # the second class-2 piece is a FP
    assert split.segment_f1[0.5] == {"f1": 0.5, "tp": 1, "fp": 2, "fn": 0}  # only [5, 10) (IoU 0.5) matches


def test_missed_segment_and_unlabeled_time():
    gt = [GtSegment(0.0, 1.0, 0), GtSegment(2.0, 3.0, 0)]
    m = evaluate_source(gt, [TimedLabel(0.0, 5)], CLASS_IDS)
    assert m.frame.n_frames == 20 and m.frame.accuracy == 0.0
    assert m.delay.miss_rate == 1.0 and np.isnan(m.delay.mean_s)
    assert m.segment_f1[0.1] == {"f1": 0.0, "tp": 0, "fp": 2, "fn": 2}  # the gap splits the prediction
    d = detection_delays(gt, [TimedLabel(0.5, 0), TimedLabel(1.5, 5), TimedLabel(2.2, 0)])
    assert d.delays_s == pytest.approx([0.5, 0.2])


def test_frame_metrics_rejects_unknown_class():
    with pytest.raises(ValueError, match=r"prediction has class ids \[20\]"):
        frame_metrics(np.array([1, 2]), np.array([1, 20]), CLASS_IDS)


def test_latency_percentiles():
    s = latency_stats(np.arange(1, 101))
    assert s["p50_ms"] == pytest.approx(50.5)
    assert s["p95_ms"] == pytest.approx(95.05)
    assert s["p99_ms"] == pytest.approx(99.01)
    assert s["n"] == 100 and s["max_ms"] == 100
    assert latency_stats([]) is None and latency_stats(None) is None


def test_segments_from_stream():
    stream = [TimedLabel(0.0, -1), TimedLabel(0.084, 11), TimedLabel(0.1, 11), TimedLabel(0.252, -1),
              TimedLabel(0.336, 1)]
    assert segments_from_stream(stream, end_s=0.4) == [GtSegment(0.084, 0.252, 11), GtSegment(0.336, 0.4, 1)]


def test_report_files(tmp_path):
    names = [f"class {i}" for i in range(14)]
    gt = [GtSegment(0.0, 2.0, 1), GtSegment(2.0, 5.0, 3)]
    preds = {"fusion": [TimedLabel(0.2, 1), TimedLabel(2.1, 3)], "skeleton": [TimedLabel(0.5, 1), TimedLabel(2.5, 3)]}
    metrics = write_timeline_report(tmp_path / "r", gt, preds, names, {"skeleton": [10.0, 12.0, 30.0]}, title="t1")
    assert list(metrics) == ["skeleton", "fusion"]  # canonical order
    for f in ("report.md", "metrics.json", "timeline.png", "confusion_skeleton.png", "confusion_skeleton.csv",
              "confusion_fusion.png", "confusion_fusion.csv"):
        assert (tmp_path / "r" / f).stat().st_size > 0, f
    doc = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert doc["sources"]["skeleton"]["frame"]["accuracy"] == pytest.approx(0.8)
    assert doc["sources"]["skeleton"]["latency"]["p50_ms"] == 12.0
    assert doc["sources"]["fusion"]["latency"] is None
    assert doc["sources"]["skeleton"]["segment_f1"]["0.5"]["f1"] == 1.0
    report = (tmp_path / "r" / "report.md").read_text()
    assert "| skeleton | 2 | 80.0 |" in report and "# t1" in report
    rows = (tmp_path / "r" / "confusion_skeleton.csv").read_text().splitlines()
    assert rows[0].endswith(",none") and rows[2].startswith("class 1,0,15,") and rows[2].endswith(",5")


def test_activities_from_bag(tmp_path):
    ts = bags.make_typestore()
    t0 = 1_000_000_000_000
    out = tmp_path / "acts"
    with bags.BagWriter(out) as w:
        w.add_topic("/harnets/activity", bags.ACTIVITY_TYPE)
        w.add_topic("/harnets/ground_truth", bags.ACTIVITY_TYPE)
        for t_ns, src, cid, lat in ((t0, "ground_truth", 2, 0.0), (t0 + 500_000_000, "rgb", 2, 40.0),
                                    (t0 + 600_000_000, "fusion", 1, 5.0)):
            topic = "/harnets/ground_truth" if src == "ground_truth" else "/harnets/activity"
            w.write(topic, t_ns, bags.activity_msg(ts, t_ns, window_start_ns=t_ns, source=src, label="",
                                                   class_id=cid, confidence=0.9, latency_ms=lat))
    preds, lats = activities_from_bag(out, t0_ns=t0)
    assert preds["ground_truth"] == [TimedLabel(0.0, 2, pytest.approx(0.9))]
    assert preds["rgb"][0].stamp_s == 0.5 and preds["fusion"][0].class_id == 1
    assert lats == {"rgb": [40.0], "fusion": [5.0]}
