"""Your own workcell end to end without InHARD: a sessions layout with the user's class names and
a CMU-style 31-joint skeleton -> `harnets train skeleton` -> `harnets bag from-dataset` ->
`harnets replay-eval` scored on the user's classes (harnets_core.evaluation.dataset_bag,
class_table, replay.score_replay).

Data: `synth.layouts.generate_own_dataset` (4 recordings of 20 s, no video). Training is 20
epochs of a 16-unit one-layer LSTM on body joints (about 10 s on one busy core).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harnets_core.cli.main import main
from harnets_core.errors import BagError, ConfigError, DatasetError
from harnets_core.evaluation.class_table import IDLE_NAME, align_classes, bag_class_names
from harnets_core.evaluation.dataset_bag import bag_from_dataset
from harnets_core.evaluation.replay import ground_truth_from_bag, replay_offline
from harnets_core.evaluation.timeline import TimedLabel
from harnets_core.formats.bags import read_bag
from harnets_core.formats.bvh import read_bvh
from harnets_core.synth.layouts import generate_own_dataset

CLASSES = ["Glue seam", "Clamp", "Wipe"]
RECS = ["rec01", "rec02", "rec03", "rec04"]  # subjects S1 S2 S3 S1: validation (group-fold:3:0) is rec01 + rec04
TRAIN = ["--epochs", "20", "--hidden-size", "16", "--layers", "1", "--no-progress", "--window-frames", "80",
         "--hop-s", "0.5", "--train-hop-s", "0.1", "--joints", "body"]


@pytest.fixture(scope="module")
def own_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("own_replay") / "cell"
    generate_own_dataset(root, layout="sessions", classes=CLASSES, recordings=RECS, duration_s=20.0, seed=1,
                         skeleton="cmu31", videos=False)
    return root


@pytest.fixture(scope="module")
def own_model(own_root: Path, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("own_replay") / "run"
    assert main(["train", "skeleton", "--data", str(own_root), "--out", str(run), *TRAIN]) == 0
    return run / "model.safetensors"


# ----------------------------------------------------------------------------- bag from-dataset
def test_bag_from_sessions_layout_has_the_users_classes(own_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec01_bag"
    assert main(["bag", "from-dataset", "--data", str(own_root), "--session", "rec01", "--out", str(out)]) == 0
    clip = read_bvh(own_root / "rec01.bvh")
    assert bag_class_names(out) == CLASSES
    gt = [m.msg for m in read_bag(out, ["/harnets/ground_truth"])]
    labels = {m.label for m in gt}
    assert labels - {""} <= set(CLASSES) and "" in labels  # time between label rows is a gap (idle)
    assert {int(m.class_id) for m in gt if m.label == ""} == {-1}
    frames = [m for m in read_bag(out, ["/harnets/skeleton"])]
    assert len(frames) == clip.n_frames and len(frames[0].msg.joint_names) == 31
    # the first label row of rec01 is where the ground truth says so
    first = next(line.split(",") for line in (own_root / "labels.csv").read_text().splitlines()[1:] if line.startswith("rec01,"))
    stream = ground_truth_from_bag(out)
    start = next(t for t in stream if t.class_id >= 0)
    assert start.stamp_s == pytest.approx(float(first[1]), abs=clip.frame_time_s) and CLASSES[start.class_id] == first[3]


def test_bag_from_dataset_refuses_what_is_not_a_recording(own_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no recording 'rec09' \(recordings: rec01, rec02, rec03, rec04\)"):
        bag_from_dataset(own_root, "rec09", tmp_path / "b")
    classes = tmp_path / "classes"
    generate_own_dataset(classes, layout="classes", classes=CLASSES, recordings=["a", "b"], duration_s=14.0, seed=0, videos=False)
    with pytest.raises(DatasetError, match="one clip per activity, not continuous recordings"):
        bag_from_dataset(classes, "a", tmp_path / "c")
    assert main(["bag", "from-dataset", "--data", str(classes), "--session", "a", "--out", str(tmp_path / "d")]) == 2
    with pytest.raises(BagError, match="without the .bag suffix"):
        bag_from_dataset(own_root, "rec01", tmp_path / "rec01.bag")


# ----------------------------------------------------------------------------- class table
def test_align_classes_maps_model_ids_by_name() -> None:
    # a model trained with another class order: its id 0 is the bag's "Wipe" (2)
    table = align_classes(CLASSES, {"skeleton": ((0, 1), ("Wipe", "Glue seam"))})
    assert table.names == (*CLASSES, IDLE_NAME) and table.idle_id == 3 and table.idle_added
    assert dict(table.id_map) == {0: 2, 1: 0} and not table.identity and table.bag_only == ("Clamp",)
    assert table.remap([TimedLabel(1.0, 0), TimedLabel(2.0, -1)]) == [TimedLabel(1.0, 2), TimedLabel(2.0, -1)]
    # InHARD: the bag has "No action" (id 0): nothing appended, nothing remapped
    from harnets_core.datasets.inhard import META_ACTIONS

    inhard = align_classes(META_ACTIONS, {"skeleton": (tuple(range(14)), META_ACTIONS)})
    assert inhard.identity and inhard.names == META_ACTIONS and inhard.idle_id == 0 and not inhard.idle_added
    with pytest.raises(ConfigError, match="share no name with the bag's ground truth"):
        align_classes(CLASSES, {"skeleton": ((0, 1), (IDLE_NAME, "Assemble system"))})
    with pytest.raises(ConfigError, match="models disagree on class id 0"):
        align_classes(CLASSES, {"skeleton": ((0,), ("Clamp",)), "rgb": ((0,), ("Wipe",))})


# ----------------------------------------------------------------------------- replay
def test_train_bag_replay_scores_the_users_classes(own_root: Path, own_model: Path, tmp_path: Path, capsys) -> None:
    from harnets_core.models.modelfile import read_meta

    assert read_meta(own_model).class_names == [IDLE_NAME, *CLASSES]  # whole recordings: idle is a class (id 0)
    bag = tmp_path / "rec04_bag"  # a validation recording
    assert main(["bag", "from-dataset", "--data", str(own_root), "--session", "rec04", "--out", str(bag)]) == 0
    out = tmp_path / "report"
    capsys.readouterr()
    assert main(["replay-eval", str(bag), "--skeleton-model", str(own_model), "--out", str(out)]) == 0
    assert "frame accuracy" in capsys.readouterr().out
    report = (out / "report.md").read_text()
    for k, name in enumerate(CLASSES):
        assert f"| {k} {name} |" in report
    assert "Assemble system" not in report and "idle class (No action)" in report
    summary = json.loads((out / "summary.json").read_text())["skeleton"]
    chance = 1.0 / len(CLASSES)
    assert summary["frame"]["accuracy"] > chance + 0.1, summary["frame"]
    assert summary["all_time"]["idle_fraction"] > 0  # the gaps between label rows are idle
    timeline = json.loads((out / "metrics.json").read_text())
    assert timeline["class_names"] == [*CLASSES, IDLE_NAME]


def test_replay_remaps_a_model_of_another_class_order(own_root: Path, own_model: Path, tmp_path: Path) -> None:
    """The same recording, its labels.csv listing the classes in another order (classes.txt):
    the bag's ids differ from the model's, the scores do not."""
    import shutil

    other = tmp_path / "other"
    shutil.copytree(own_root, other)
    (other / "classes.txt").write_text("Wipe\nClamp\nGlue seam\n")
    bag_a, bag_b = tmp_path / "a_bag", tmp_path / "b_bag"
    bag_from_dataset(own_root, "rec04", bag_a)
    bag_from_dataset(other, "rec04", bag_b)
    assert bag_class_names(bag_b) == ["Wipe", "Clamp", "Glue seam"]
    a = replay_offline(bag_a, {"skeleton": own_model}, tmp_path / "ra")
    b = replay_offline(bag_b, {"skeleton": own_model}, tmp_path / "rb")
    assert b["classes"]["names"] == ["Wipe", "Clamp", "Glue seam", IDLE_NAME]
    fa, fb = a["sources"]["skeleton"]["frame"], b["sources"]["skeleton"]["frame"]
    assert fa["accuracy"] == pytest.approx(fb["accuracy"]) and fa["macro_f1"] == pytest.approx(fb["macro_f1"])
    # per class: the bag's id 0 is Wipe here, id 2 in the original order
    assert fb["per_class"]["0"] == fa["per_class"]["2"]


def test_replay_of_another_skeleton_names_the_mismatch(own_model: Path, tmp_path: Path) -> None:
    axis = tmp_path / "axis"
    generate_own_dataset(axis, layout="sessions", classes=CLASSES, recordings=["x", "y"], duration_s=14.0, seed=0, videos=False)
    bag_from_dataset(axis, "x", tmp_path / "x_bag")
    with pytest.raises(BagError, match="skeleton model .*joint"):
        replay_offline(tmp_path / "x_bag", {"skeleton": own_model}, tmp_path / "r")


def test_check_layout_with_channel_counts(own_model: Path) -> None:
    """A CMU skeleton has 6 channels at the root and 3 elsewhere: the per-joint counts decide."""
    from harnets_core.errors import StreamError
    from harnets_core.streaming.recognizer import load_recognizer

    rec = load_recognizer(own_model, modality="skeleton", max_gap_s=0.5)
    joints = rec.joint_names
    types = [c.split(".", 1)[1] for c in rec.channel_names]
    counts = [sum(1 for c in rec.channel_names if c.split(".", 1)[0] == j) for j in joints]
    assert counts[0] == 6 and set(counts[1:]) == {3}
    rec.check_layout(joints, types, where="/skeleton", channel_counts=counts)
    with pytest.raises(StreamError, match="not a whole number per joint"):
        rec.check_layout(joints, types, where="/skeleton")
    with pytest.raises(StreamError, match="channel_counts"):
        rec.check_layout(joints, types, where="/skeleton", channel_counts=counts[:-1])
    assert np.sum(counts) == len(types)


def test_a_model_of_another_dataset_is_refused_before_the_replay(own_root: Path, untrained_skeleton_model: Path,
                                                               tmp_path: Path) -> None:
    """An InHARD model (Consult sheets, Assemble system) on the user's bag: no class in common."""
    bag_from_dataset(own_root, "rec02", tmp_path / "b")
    with pytest.raises(ConfigError, match=r"share no name with the bag's ground truth \['Glue seam', 'Clamp', 'Wipe'\]"):
        replay_offline(tmp_path / "b", {"skeleton": untrained_skeleton_model}, tmp_path / "r")
    assert not (tmp_path / "r").exists()
