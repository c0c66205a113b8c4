"""Live replay: the bag over DDS (with /clock) through the node graph, recorded and scored;
the live scores agree with the offline replay of the same bag."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harnets_core.errors import BagError
from harnets_core.formats.bags import bag_topics
from harnets_core.formats.session_bag import write_session_bag
from harnets_core.formats.bvh import read_bvh
from harnets_core.evaluation.replay import BAG_START_NS, bag_from_inhard, replay_offline
from harnets_ros.live_replay import SOURCE_OF_TOPIC, replay_live

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def short_bag(synth_root: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("live") / "P01_R02_20s"
    bag_from_inhard(synth_root, "P01_R02", out, images="none", end_s=20.0)
    return out


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_live_replay_agrees_with_offline(short_bag: Path, trained_skeleton_run: Path, tmp_path: Path, rate: float):
    models = {"skeleton": trained_skeleton_run / "model.safetensors"}
    offline = replay_offline(short_bag, models, tmp_path / "offline")["sources"]["skeleton"]
    live_metrics = replay_live(short_bag, models, tmp_path / "live", rate=rate)
    live = live_metrics["sources"]["skeleton"]
    result_topics = bag_topics(Path(live_metrics["result_bag"]))
    assert set(result_topics) == set(SOURCE_OF_TOPIC)  # every Activity topic of the graph recorded
    assert result_topics["/activity/skeleton"].count == live["n_predictions"]
    # same recognizer, same data: live equals offline, in real time as in lock-step (the end of
    # the bag is drained from the nodes' /diagnostics: nothing still queued is cut off)
    assert live["n_predictions"] == offline["n_predictions"]
    assert live["frame"]["accuracy"] == pytest.approx(offline["frame"]["accuracy"], abs=0.01)
    assert live["latency"]["p50_ms"] > 0
    for name in ("report.md", "timeline.png", "metrics.json"):
        assert (tmp_path / "live" / name).stat().st_size > 0


def test_graph_command_streams_a_bvh_and_prints_activities(trained_skeleton_run: Path, real_clip_path: Path, tmp_path: Path):
    """The no-launch way: `harnets graph` starts streamer + recognizer and prints Activity."""
    cmd = [sys.executable, "-m", "harnets_core.cli.main", "graph", "--skeleton-model", str(trained_skeleton_run / "model.safetensors"),
           "--bvh", str(real_clip_path), "--loop", "--print-activities", "--duration-s", "10"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if " skeleton " in l and "latency" in l]
    assert "started: skeleton_recognizer, skeleton_streamer" in out.stdout
    assert len(lines) >= 1, out.stdout
    from harnets_core.models.modelfile import read_meta

    names = read_meta(trained_skeleton_run / "model.safetensors").class_names  # the model's own, idle included
    assert "No action" in names and any(f" skeleton {name} " in lines[0] for name in names), lines[0]


def test_live_replay_of_a_bag_without_ground_truth_fails_before_the_graph_starts(tmp_path: Path, real_clip_path: Path):
    bag = tmp_path / "no_gt"
    write_session_bag(bag, clip=read_bvh(real_clip_path), start_time_ns=BAG_START_NS, end_s=0.5, class_names=["Assemble system"])
    with pytest.raises(BagError, match=r"no_gt: no ground-truth Activity messages"):
        replay_live(bag, {"skeleton": tmp_path / "never_read.safetensors"}, tmp_path / "live")
    assert not (tmp_path / "live" / "node_logs").exists()  # no node was started


@pytest.fixture(scope="module")
def camera_bag(tmp_path_factory) -> Path:
    """12 s of one synthetic session with its mosaic video, as raw rgb8 Images in a bag."""
    from harnets_core.synth.sessions import generate_dataset

    root = tmp_path_factory.mktemp("synth_video")
    generate_dataset(root, seed=5, sessions=["P01_R02"], duration_s=14.0, write_videos=True)
    out = tmp_path_factory.mktemp("live_rgb") / "P01_R02_12s"
    bag_from_inhard(root, "P01_R02", out, images="raw", end_s=12.0)
    return out


@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory) -> Path:
    """An untrained CNN-LSTM: live and offline must agree whatever the weights."""
    from harnets_core.datasets.inhard import META_ACTIONS
    from harnets_core.models import CNNLSTM, CNNLSTMConfig
    from harnets_core.models.modelfile import save_model

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = CNNLSTM(CNNLSTMConfig(num_classes=len(META_ACTIONS), height=24, width=40, encoder_config={"channels": [4, 8]},
                                  feature_dim=8, hidden_size=8))
    meta = {"modality": "rgb", "model_type": "cnn_lstm", "class_names": list(META_ACTIONS), "class_ids": list(range(len(META_ACTIONS))),
            "preprocessing": {"kind": "rgb", "view": "top", "size_hw": [24, 40], "settings": {}, "normalizer": None},
            "window": {"window_s": 1.0, "hop_s": 0.4, "rate_hz": 10.0, "length": 10}}
    return save_model(tmp_path_factory.mktemp("models") / "untrained_rgb.safetensors", model, meta)


def test_live_replay_of_raw_camera_frames_at_1x_equals_offline(camera_bag: Path, rgb_model: Path, tmp_path: Path):
    """Raw 25 fps frames over DDS (the shipped transport profile) into the image node in real
    time: every frame arrives, so the predictions are those of the offline replay."""
    models = {"rgb": rgb_model}
    offline = replay_offline(camera_bag, models, tmp_path / "offline")["sources"]["rgb"]
    live = replay_live(camera_bag, models, tmp_path / "live", rate=1.0)["sources"]["rgb"]
    assert offline["n_predictions"] > 10
    assert live["n_predictions"] == offline["n_predictions"]
    assert live["frame"]["accuracy"] == pytest.approx(offline["frame"]["accuracy"], abs=0.01)
