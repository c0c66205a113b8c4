"""NodeGraph (`harnets graph`, live replay): its per-node parameter files live in a temporary
folder that stop() removes, also when start() fails part-way."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from harnets_core.errors import HarnetsError
from harnets_ros.graph import GraphSpec, NodeGraph, NodeSpec

from conftest import spin_until

CONFIG = Path(__file__).resolve().parents[2] / "config" / "harnets.yaml"


@pytest.fixture
def graph_tmp(tmp_path, monkeypatch) -> Path:
    """The folder tempfile uses, so that what the graph leaves there can be seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_stop_removes_the_parameter_folder(ros_node, graph_tmp, tmp_path):
    graph = NodeGraph(GraphSpec([NodeSpec("fusion_node", {"inputs": ["graph_in_a", "graph_in_b"]})], CONFIG),
                      log_dir=tmp_path / "logs")
    graph.start(ros_node)
    try:
        params_dir = graph.params_dir
        assert params_dir is not None and params_dir.parent == graph_tmp
        assert (params_dir / "activity_fusion.yaml").is_file()
        # the node read its file: it subscribes to the inputs named there
        assert spin_until(ros_node, lambda: ros_node.count_subscribers("/graph_in_a") > 0, 20.0), \
            (tmp_path / "logs" / "activity_fusion.log").read_text()
    finally:
        graph.stop()
    assert graph.params_dir is None and not params_dir.exists()
    assert list(graph_tmp.iterdir()) == []
    assert all(proc.poll() is not None for proc in graph.procs.values())
    graph.stop()  # again: nothing left to do


def test_failed_start_stops_its_nodes_and_removes_the_parameter_folder(ros_node, graph_tmp, tmp_path):
    missing = tmp_path / "nope.safetensors"
    graph = NodeGraph(GraphSpec([NodeSpec("fusion_node", {"inputs": ["graph_in_a"]}),
                                 NodeSpec("skeleton_node", {"model_path": str(missing)})], CONFIG))
    with pytest.raises(HarnetsError, match="skeleton_recognizer: configure failed"):
        graph.start(ros_node, timeout_s=30.0)
    assert set(graph.procs) == {"activity_fusion", "skeleton_recognizer"}
    assert all(proc.poll() is not None for proc in graph.procs.values())
    assert graph.params_dir is None and list(graph_tmp.iterdir()) == []


def test_fused_graph_forecasts_the_fused_timeline_with_the_first_model(tmp_path):
    from harnets_ros.graph import graph_spec

    skeleton, rgb = tmp_path / "skeleton.safetensors", tmp_path / "rgb.safetensors"
    spec = graph_spec(config=CONFIG, skeleton_model=skeleton, rgb_model=rgb)
    by_exe = {n.executable: n.params for n in spec.nodes}
    assert by_exe["fusion_node"]["forecast_model_path"] == str(skeleton.resolve())
    alone = graph_spec(config=CONFIG, skeleton_model=skeleton)  # one recognizer: no fusion, its own forecast
    assert [n.executable for n in alone.nodes] == ["skeleton_node"]
