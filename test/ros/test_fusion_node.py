"""Fusion node as a process over real DDS: two Activity streams with different class sets
and orders, fused by class name; a stale input left out and counted; a bad input counted,
node alive."""
from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray

from conftest import spin_until
from harnets.msg import Activity
from harnets_ros.common import RESULT_QOS, ns_to_time, time_to_ns

S = 1_000_000_000


def activity(stamp_ns: int, start_ns: int, names, ids, probs, latency_ms: float, source: str) -> Activity:
    msg = Activity(source=source, class_names=list(names), class_ids=list(ids),
                   probabilities=[float(p) for p in probs], latency_ms=float(latency_ms))
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = f"{source}_frame"
    msg.window_start = ns_to_time(start_ns)
    k = int(np.argmax(probs))
    msg.label, msg.class_id, msg.confidence = names[k], int(ids[k]), float(probs[k])
    return msg


def test_fusion_node_combines_two_streams(start_node, ros_node):
    proc = start_node("fusion_node", {"inputs": ["act/skeleton", "act/rgb"], "weights": [3.0, 1.0], "staleness_s": 0.5,
                                      "output_topic": "act/fused"}, name="activity_fusion")
    fused: list[Activity] = []
    diags = []
    out = ros_node.create_subscription(Activity, "act/fused", fused.append, RESULT_QOS)
    ros_node.create_subscription(DiagnosticArray, "/diagnostics",
                                 lambda m: diags.extend(s for s in m.status if s.name == "/activity_fusion"), 10)
    skel = ros_node.create_publisher(Activity, "act/skeleton", RESULT_QOS)
    rgb = ros_node.create_publisher(Activity, "act/rgb", RESULT_QOS)
    connected = lambda: skel.get_subscription_count() > 0 and rgb.get_subscription_count() > 0 and out.get_publisher_count() > 0  # noqa: E731
    assert spin_until(ros_node, connected, 15.0), proc.log()

    def send(pub, msg, condition) -> None:
        """Publish (again every 0.5 s: a message sent while discovery is still one-sided is lost;
        the same input again is idempotent) until the latest fused output meets `condition`."""
        for _ in range(10):
            pub.publish(msg)
            if spin_until(ros_node, lambda: bool(fused) and condition(fused[-1]), 0.5):
                return
        raise AssertionError(proc.log())

    send(skel, activity(10 * S, 8 * S, ["No action", "Picking left"], [0, 1], [0.6, 0.4], 4.0, "skeleton"),
         lambda m: len(m.class_names) == 2)
    first = fused[-1]
    send(rgb, activity(10 * S + 40_000_000, 9 * S, ["Picking left", "Assemble system", "No action"], [1, 4, 0],
                       [0.5, 0.3, 0.2], 30.0, "rgb"), lambda m: len(m.class_names) == 3)
    both = fused[-1]
    assert first.source == "fusion" and list(first.class_names) == ["No action", "Picking left"]
    np.testing.assert_allclose(first.probabilities, [0.6, 0.4], rtol=1e-6)

    assert list(both.class_names) == ["No action", "Picking left", "Assemble system"]  # by class id
    assert list(both.class_ids) == [0, 1, 4]
    expected = [0.75 * 0.6 + 0.25 * 0.2, 0.75 * 0.4 + 0.25 * 0.5, 0.25 * 0.3]
    np.testing.assert_allclose(both.probabilities, expected, rtol=1e-5)
    assert sum(both.probabilities) == pytest.approx(1.0, abs=1e-6)
    assert both.label == "No action" and both.class_id == 0
    assert both.confidence == pytest.approx(expected[0], rel=1e-5)
    assert time_to_ns(both.header.stamp) == 10 * S + 40_000_000  # newest used
    assert time_to_ns(both.window_start) == 8 * S  # oldest used
    assert both.header.frame_id == "rgb_frame"  # that of the newest input
    assert 30.0 <= both.latency_ms < 1000.0  # max input latency + fusion time
    assert both.model_id == ""

    # Skeleton moves 1 s ahead: rgb (1 s behind) is stale and left out.
    send(skel, activity(11 * S, 10 * S, ["No action", "Picking left"], [0, 1], [0.1, 0.9], 4.0, "skeleton"),
         lambda m: time_to_ns(m.header.stamp) == 11 * S)
    assert list(fused[-1].class_names) == ["No action", "Picking left"]
    np.testing.assert_allclose(fused[-1].probabilities, [0.1, 0.9], rtol=1e-6)

    # An rgb input 1 s behind the skeleton is stale: counted and left out.
    n_fused = len(fused)
    stale_counted = lambda: any(kv.key == "stale" and int(kv.value) >= 1 for s in diags for kv in s.values)  # noqa: E731
    for _ in range(10):
        rgb.publish(activity(10 * S, 9 * S, ["Picking left"], [1], [1.0], 5.0, "rgb"))
        if spin_until(ros_node, stale_counted, 1.5):
            break
    assert stale_counted(), proc.log()
    for m in fused[n_fused:]:  # a skeleton input sent twice may give another fusion, never with the stale rgb
        np.testing.assert_allclose(m.probabilities, [0.1, 0.9], rtol=1e-6)

    # A bad input (3 names, 2 probabilities) is counted as invalid; the node goes on.
    rgb.publish(activity(11 * S, 10 * S, ["a", "b", "c"], [0, 1, 2], [0.5, 0.5], 1.0, "rgb"))
    assert spin_until(ros_node, lambda: any(kv.key == "invalid" and int(kv.value) >= 1 for s in diags for kv in s.values), 5.0)
    send(rgb, activity(11 * S, 10 * S, ["Picking left"], [1], [1.0], 5.0, "rgb"), lambda m: m.latency_ms >= 5.0)
    np.testing.assert_allclose(fused[-1].probabilities, [0.75 * 0.1, 0.75 * 0.9 + 0.25], rtol=1e-5)
    assert proc.alive()


def test_fusion_node_forecasts_the_fused_timeline(start_node, ros_node, forecasting_skeleton_model):
    from harnets.msg import ActivityForecast

    proc = start_node("fusion_node", {"inputs": ["act/skeleton", "act/rgb"], "output_topic": "act/fused",
                                      "forecast_model_path": str(forecasting_skeleton_model),
                                      "forecast_topic": "act/forecast"}, name="activity_fusion")
    forecasts: list[ActivityForecast] = []
    out = ros_node.create_subscription(ActivityForecast, "act/forecast", forecasts.append, RESULT_QOS)
    skel = ros_node.create_publisher(Activity, "act/skeleton", RESULT_QOS)
    rgb = ros_node.create_publisher(Activity, "act/rgb", RESULT_QOS)
    connected = lambda: skel.get_subscription_count() > 0 and rgb.get_subscription_count() > 0 and out.get_publisher_count() > 0  # noqa: E731
    assert spin_until(ros_node, connected, 15.0), proc.log()
    names, ids = ["No action", "Consult sheets", "Assemble system"], [0, 1, 11]
    for k in range(10):  # skeleton unsure, rgb sure of Consult sheets: the fused timeline is Consult
        stamp = 10 * S + k * S // 10
        skel.publish(activity(stamp, stamp - S, names, ids, [0.4, 0.35, 0.25], 4.0, "skeleton"))
        rgb.publish(activity(stamp, stamp - S, names, ids, [0.0, 0.9, 0.1], 4.0, "rgb"))
        spin_until(ros_node, lambda: False, 0.05)
    assert spin_until(ros_node, lambda: len(forecasts) >= 3, 10.0), proc.log()
    last = forecasts[-1]
    assert last.source == "fusion" and last.current_class_id == 1 and last.current_label == "Consult sheets"
    assert list(last.next_class_ids)[0] == 11  # Consult sheets -> Assemble system in the model's training runs
    assert last.remaining_p50_s > 0.0


def test_fusion_node_without_forecaster_in_the_model_fuses_and_warns(start_node, ros_node, untrained_skeleton_model):
    from harnets.msg import ActivityForecast

    proc = start_node("fusion_node", {"inputs": ["act/skeleton", "act/rgb"], "output_topic": "act/fused",
                                      "forecast_model_path": str(untrained_skeleton_model),
                                      "forecast_topic": "act/forecast"}, name="activity_fusion")
    fused: list[Activity] = []
    forecasts: list[ActivityForecast] = []
    out = ros_node.create_subscription(Activity, "act/fused", fused.append, RESULT_QOS)
    ros_node.create_subscription(ActivityForecast, "act/forecast", forecasts.append, RESULT_QOS)
    skel = ros_node.create_publisher(Activity, "act/skeleton", RESULT_QOS)
    assert spin_until(ros_node, lambda: skel.get_subscription_count() > 0 and out.get_publisher_count() > 0, 15.0), proc.log()
    for k in range(10):
        skel.publish(activity(10 * S + k * S // 10, 9 * S, ["No action", "Picking left"], [0, 1], [0.6, 0.4], 4.0, "skeleton"))
        if spin_until(ros_node, lambda: len(fused) >= 2, 0.3):
            break
    assert len(fused) >= 2 and not forecasts and proc.alive()
    assert "has no forecaster" in proc.log()
