"""harnets_core.topology: the one definition of the node graph's names and topics, and the
files that must agree with it (config/harnets.yaml) or take their names from it (the launch
file, the graph runner, the live replay, the session bags)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from harnets_core import topology
from harnets_core.errors import ConfigError
from harnets_core.formats import session_bag

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "harnets.yaml"


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def _params(config: dict, node: topology.GraphNode) -> dict:
    return config[node.name]["ros__parameters"]


def test_config_has_a_section_for_every_node_and_no_other(config):
    assert set(config) == {node.name for node in topology.NODES}


def test_config_topic_defaults_are_the_topology(config):
    for rec in topology.RECOGNIZERS:
        params = _params(config, rec)
        assert (params["input_topic"], params["output_topic"]) == (rec.input_topic, rec.output_topic), rec.name
        assert ("image_transport" in params) == rec.image_input, rec.name
    fusion = _params(config, topology.FUSION)
    assert fusion["inputs"] == list(topology.DEFAULT_FUSION_INPUTS)
    assert len(fusion["weights"]) == len(fusion["inputs"])
    assert fusion["output_topic"] == topology.ACTIVITY_TOPIC
    for streamer in topology.STREAMERS:
        params = _params(config, streamer)
        assert params["topic"] == streamer.output_topic, streamer.name
        assert streamer.file_parameter in params, streamer.name


def test_nodes_are_unique_and_found_by_name_or_executable():
    names = [n.name for n in topology.NODES]
    executables = [n.executable for n in topology.NODES]
    assert len(set(names)) == len(names) == len(set(executables)) == len(list((REPO / "scripts").iterdir())) == 7  # every executable in scripts/
    for node in topology.NODES:
        assert topology.graph_node(node.name) is node and topology.graph_node(node.executable) is node
    with pytest.raises(ConfigError, match="no harnets node 'camera_driver'"):
        topology.graph_node("camera_driver")
    assert topology.recognizer("rgb") is topology.IMAGE_RECOGNIZER
    with pytest.raises(ConfigError, match="no recognizer for source 'fusion'"):
        topology.recognizer("fusion")


def test_roles_sources_and_model_arguments():
    assert topology.SOURCES == ("skeleton", "rgb", "pose")
    assert [r.model_argument for r in topology.RECOGNIZERS] == ["skeleton_model", "rgb_model", "pose_model"]
    assert all(r.lifecycle for r in topology.RECOGNIZERS)
    assert not any(n.lifecycle for n in (topology.FUSION, *topology.STREAMERS))
    assert topology.FUSION.model_argument == "" and topology.FUSION.source == topology.FUSION_SOURCE
    # each recognizer reads what a streamer publishes
    published = {s.output_topic for s in topology.STREAMERS}
    assert {r.input_topic for r in topology.RECOGNIZERS} == published
    assert set(topology.DEFAULT_FUSION_INPUTS) <= {r.output_topic for r in topology.RECOGNIZERS}


def test_qualified_names_in_a_namespace():
    assert topology.qualified("activity") == "/activity"
    assert topology.qualified("activity", "/cell1/") == "/cell1/activity"
    assert topology.qualified("/clock", "cell1") == "/clock"
    assert topology.activity_topics("cell1") == [
        "/cell1/activity/skeleton", "/cell1/activity/rgb", "/cell1/activity/pose", "/cell1/activity"]
    assert topology.source_of_topic() == {
        "/activity/skeleton": "skeleton", "/activity/rgb": "rgb", "/activity/pose": "pose", "/activity": "fusion"}


def test_compressed_topic_follows_image_transport():
    assert topology.compressed_topic("camera/image_raw") == "camera/image_raw/compressed"
    assert topology.compressed_topic("camera/image_raw/") == "camera/image_raw/compressed"
    assert topology.compressed_topic("cam/compressed") == "cam/compressed"


def test_session_bag_topics_come_from_the_topology():
    assert session_bag.default_topics("raw") == {
        "skeleton": "/harnets/skeleton", "image": "/camera/image_raw", "ground_truth": "/harnets/ground_truth"}
    assert session_bag.default_topics("compressed")["image"] == "/camera/image_raw/compressed"
    assert session_bag.default_topics("raw")["image"] == topology.qualified(topology.IMAGE_TOPIC)


# The files that used to spell the graph's names themselves: they take them from the topology now.
USERS = ["launch/harnets.launch.py", "harnets_ros/graph.py", "harnets_ros/live_replay.py",
         "harnets_ros/fusion_node.py", "harnets_ros/video_streamer.py"]


def _spelled_names() -> set[str]:
    """Names specific enough to be a copy when a user spells them ("skeleton" and "activity"
    also name a modality and a word: left out)."""
    names = {n.name for n in topology.NODES} | {n.executable for n in topology.NODES}
    topics = {n.output_topic for n in topology.NODES} | {topology.IMAGE_TOPIC} | set(topology.DEFAULT_FUSION_INPUTS)
    topics -= {topology.SKELETON_TOPIC, topology.ACTIVITY_TOPIC}
    return names | topics | {topology.qualified(t) for t in topics} | {topology.compressed_topic(topology.IMAGE_TOPIC)}


@pytest.mark.parametrize("path", USERS)
def test_users_spell_no_node_name_or_topic(path):
    tree = ast.parse((REPO / path).read_text(), filename=path)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    wanted = _spelled_names()
    spelled = sorted({n.value for n in ast.walk(tree)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
                      and n.value.strip("/") in {w.strip("/") for w in wanted}})
    assert spelled == [], f"{path} spells {spelled}: take them from harnets_core.topology"
