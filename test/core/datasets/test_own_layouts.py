"""Your own dataset: the classes and sessions layouts with non-InHARD class names, a CMU-style
31-joint skeleton (ZYX rotation order), and the bad input of each (harnets_core.datasets.own).

Data: `synth.layouts.generate_own_dataset` (tiny: 4 recordings of 14 s) and hand-edited
copies of it for the bad cases. Training is 2 epochs of a 4-unit LSTM (2 shared cores).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from harnets_core.cli.main import main
from harnets_core.datasets.own import group_of, read_labels
from harnets_core.datasets.selection import detect_layout, select_data
from harnets_core.errors import BvhParseError, ConfigError, DatasetError, ModelFileError
from harnets_core.formats.bvh import read_bvh, write_bvh
from harnets_core.synth.layouts import cmu31_skeleton, generate_own_dataset

CLASSES = ["Screw lid", "Inspect part", "Fetch part"]
RECS = ["rec01", "rec02", "rec03", "rec04"]
TINY = ["--epochs", "2", "--hidden-size", "4", "--layers", "1", "--no-progress", "--window-frames", "80", "--hop-s", "0.5"]


@pytest.fixture(scope="module")
def sessions_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("own") / "sessions"
    generate_own_dataset(root, layout="sessions", classes=CLASSES, recordings=RECS, duration_s=14.0, seed=1)
    return root


@pytest.fixture(scope="module")
def classes_cmu(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("own") / "classes_cmu"
    generate_own_dataset(root, layout="classes", classes=CLASSES, recordings=RECS, duration_s=14.0, seed=2, skeleton="cmu31")
    return root


def _copy(src: Path, tmp_path: Path) -> Path:
    out = tmp_path / src.name
    shutil.copytree(src, out)
    return out


# ----------------------------------------------------------------------------- layouts
def test_sessions_layout_detected_with_user_classes_split_by_subject(sessions_root: Path) -> None:
    assert detect_layout(sessions_root) == "sessions"
    sel = select_data(sessions_root)
    assert sel.layout == "sessions" and sel.class_names == CLASSES  # classes.txt order, not alphabetical
    rows = read_labels(sessions_root / "labels.csv")
    subject = {r[1]: r[5] for r in rows}
    train_subjects = {subject[s] for s in sel.train_sessions}
    assert train_subjects.isdisjoint({subject[s] for s in sel.val_sessions})
    seg = sel.segments[0]
    ft = read_bvh(sessions_root / f"{seg.session}.bvh", end_frame=1).frame_time_s
    assert seg.bvh_start_frame == round(seg.rgb_start_s / ft)


def test_classes_layout_groups_keep_recordings_apart(classes_cmu: Path) -> None:
    sel = select_data(classes_cmu, layout="classes")
    assert sel.class_names == CLASSES and sel.split.startswith("group-fold")
    assert set(sel.train_sessions).isdisjoint(sel.val_sessions)
    assert set(sel.train_sessions) | set(sel.val_sessions) == set(RECS)  # rec01_003.bvh -> group rec01
    assert group_of("rec01_003") == "rec01" and group_of("alice-take2") == "alice" and group_of("solo") == "solo"
    assert group_of("cellA_2024-05-01_take3", r"^(?P<group>cell[A-Z])_") == "cellA"


def test_classes_layout_split_folders_and_display_names(tmp_path: Path) -> None:
    root = tmp_path / "folders"
    generate_own_dataset(root, layout="classes", classes=CLASSES, recordings=["a", "b", "c"], duration_s=14.0,
                         split_folders=True)
    (root / "classes.txt").write_text("Fetch part: Fetch a part\nScrew lid\n# a comment\nInspect part: Inspect\n")
    sel = select_data(root)
    assert sel.split == "folders" and sel.class_names == ["Fetch a part", "Screw lid", "Inspect"]
    assert all(s.startswith("train/") for s in sel.train_sessions) and sel.val_sessions == ["test/c"]
    (root / "classes.txt").write_text("Fetch part\nScrew lid\n")
    with pytest.raises(DatasetError, match=r"classes.txt: classes \['Inspect part'\] are in the data but not listed"):
        select_data(root)


def test_file_level_split_is_said(tmp_path: Path, classes_cmu: Path, caplog) -> None:
    root = _copy(classes_cmu, tmp_path)
    for i, p in enumerate(sorted(root.rglob("*.bvh"))):
        p.rename(p.with_name(f"clip{i}.bvh"))  # no recording key in the names
    sel = select_data(root)
    assert any("keeps files apart, not recordings" in n for n in sel.notes)
    assert "keeps files apart" in caplog.text


# ----------------------------------------------------------------------------- bad input
def test_empty_class_folder_and_corrupt_clip(tmp_path: Path, classes_cmu: Path) -> None:
    root = _copy(classes_cmu, tmp_path)
    (root / "Idle").mkdir()
    with pytest.raises(DatasetError, match=r"Idle: class folder has no clip"):
        select_data(root)
    (root / "Idle" / "rec01_000.bvh").write_text("HIERARCHY\nROOT hip\n{\n")
    (root / "classes.txt").unlink()
    with pytest.raises(BvhParseError, match=r"Idle/rec01_000.bvh"):
        select_data(root)


def test_mixed_skeletons_named(tmp_path: Path, classes_cmu: Path, sessions_root: Path) -> None:
    from harnets_core.datasets.selection import skeleton_windows
    from harnets_core.features.pipeline import SkeletonPipeline
    from harnets_core.features.skeleton import FeatureConfig
    from harnets_core.features.skeleton import FeatureConfig

    root = _copy(classes_cmu, tmp_path)
    odd = sorted((root / "Inspect part").glob("*.bvh"))[-1]
    write_bvh(odd, read_bvh(sessions_root / "rec01.bvh", end_frame=300))  # an Axis Neuron clip among CMU ones
    sel = select_data(root)
    first = read_bvh(sel.template_bvh(), end_frame=1)
    pipe = SkeletonPipeline(skeleton=first.skeleton, frame_time_s=first.frame_time_s, features=FeatureConfig(),
                            window_s=1.0, rate_hz=30.0)
    with pytest.raises(DatasetError, match=rf"{odd.name}: its skeleton differs"):
        skeleton_windows(sel, sel.train_sessions + sel.val_sessions, pipe, hop_s=0.5)


@pytest.mark.parametrize(
    "row, message",
    [
        ("rec01,5.0,5.0,Inspect part,S1", r"labels.csv:\d+: end_s 5.0 <= start_s 5.0"),
        ("rec09,1.0,2.0,Inspect part,S1", r"labels.csv:\d+: unknown session 'rec09'"),
        ("rec01,0.0,99.0,Inspect part,S1", r"labels.csv:\d+: segment 0.0..99.0 s ends past"),
        ("rec01,x,2.0,Inspect part,S1", r"labels.csv:\d+: start_s/end_s not a number"),
    ],
)
def test_bad_label_rows_name_file_and_line(tmp_path: Path, sessions_root: Path, row: str, message: str) -> None:
    root = _copy(sessions_root, tmp_path)
    with open(root / "labels.csv", "a") as fh:
        fh.write(row + "\n")
    with pytest.raises(DatasetError, match=message):
        select_data(root)


def test_overlapping_rows_name_both_lines(tmp_path: Path, sessions_root: Path) -> None:
    root = _copy(sessions_root, tmp_path)
    lines = (root / "labels.csv").read_text().splitlines()
    session, start_s, end_s = lines[1].split(",")[:3]
    mid = (float(start_s) + float(end_s)) / 2
    (root / "labels.csv").write_text("\n".join(lines + [f"{session},{mid},{float(end_s) + 0.1},Screw lid,S1"]) + "\n")
    with pytest.raises(DatasetError, match=rf"labels.csv:{len(lines) + 1}: .* overlaps line 2 "):
        select_data(root)


def test_video_and_bvh_of_different_lengths(tmp_path: Path, sessions_root: Path) -> None:
    from harnets_core.formats.video import write_video

    root = _copy(sessions_root, tmp_path)
    write_video(root / "rec02.mp4", (np.zeros((32, 32, 3), np.uint8) for _ in range(50)), 10.0)  # 5 s against 14 s
    with pytest.raises(DatasetError, match=r"rec02.bvh \(14.\d\d s\) and .*rec02.mp4 \(5.00 s\)"):
        select_data(root)


def test_class_on_one_side_only(tmp_path: Path, sessions_root: Path) -> None:
    root = _copy(sessions_root, tmp_path)
    rows = (root / "labels.csv").read_text().splitlines()
    rows.append("rec03,13.5,13.9,Rare move,S3")  # only in rec03 (train side under group-fold:3:0)
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "classes.txt").write_text("\n".join(CLASSES + ["Rare move"]) + "\n")
    with pytest.raises(DatasetError, match=r"\['Rare move'\] have no segment on the validation side"):
        select_data(root)
    assert select_data(root, classes=CLASSES).class_names == CLASSES  # leaving it out works


def test_unlabelled_recording_is_counted(tmp_path: Path, sessions_root: Path) -> None:
    root = _copy(sessions_root, tmp_path)
    shutil.copy(root / "rec01.bvh", root / "spare.bvh")
    sel = select_data(root)
    assert any("1 recording(s) without a label row" in n and "spare" in n for n in sel.notes)


# ----------------------------------------------------------------------------- joints
def test_cmu31_skeleton_and_body_joints() -> None:
    from harnets_core.features.skeleton import FeatureConfig, select_joints

    skel = cmu31_skeleton()
    assert len(skel.joint_names) == 31 and skel.joints[1].channels == ("Zrotation", "Yrotation", "Xrotation")
    body = [skel.joints[i].name for i in select_joints(skel, "body")]
    assert "lthumb" not in body and "rfingers" not in body and "lhand" in body and len(body) == 27
    assert [skel.joints[i].name for i in select_joints(skel, "head,hip")] == ["hip", "head"]
    with pytest.raises(ConfigError, match=r"\['wrist'\] are not in the skeleton"):
        select_joints(skel, "hip,wrist")
    with pytest.raises(ConfigError, match="comma-separated joint list"):
        FeatureConfig(joints=",")


# ----------------------------------------------------------------------------- train -> predict
def test_train_predict_evaluate_cmu31_classes(tmp_path: Path, classes_cmu: Path, sessions_root: Path, capsys) -> None:
    from harnets_core.models.modelfile import load_model
    from harnets_core.runs.predict import predict_clip_probs

    run = tmp_path / "run"
    assert main(["train", "skeleton", "--data", str(classes_cmu), "--out", str(run), *TINY, "--joints", "body"]) == 0
    meta = load_model(run / "model.safetensors").meta
    assert meta.class_names == CLASSES and meta.to_dict()["data"]["layout"] == "classes"
    assert len(meta.skeleton["joint_names"]) == 31
    clip = read_bvh(sorted((classes_cmu / "Fetch part").glob("*.bvh"))[0])
    probs, n = predict_clip_probs(load_model(run / "model.safetensors"), clip)
    assert probs.shape == (3,) and n >= 1 and abs(probs.sum() - 1) < 1e-5
    capsys.readouterr()
    assert main(["predict", str(clip.path), "--model", str(run / "model.safetensors")]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in CLASSES)
    assert main(["evaluate", str(run / "model.safetensors"), "--data", str(classes_cmu), "--out", str(tmp_path / "ev")]) == 0
    with pytest.raises(ModelFileError):  # an Axis Neuron recording given to the CMU model
        predict_clip_probs(load_model(run / "model.safetensors"), read_bvh(sessions_root / "rec01.bvh", end_frame=200))


def test_train_sessions_then_timeline(tmp_path: Path, sessions_root: Path) -> None:
    from harnets_core.runs.predict import predict_timeline

    from harnets_core.models.modelfile import read_meta
    from harnets_core.streaming.recognizer import load_recognizer

    run = tmp_path / "run"
    assert main(["train", "skeleton", "--data", str(sessions_root), "--out", str(run), *TINY, "--layout", "sessions"]) == 0
    # whole recordings: stream windows with the unlabelled time as idle, ids shifted so 0 is idle
    meta = read_meta(run / "model.safetensors")
    assert list(meta.class_names) == ["No action", *CLASSES] and list(meta.class_ids) == [0, 1, 2, 3]
    assert meta["data"]["id_offset"] == 1 and meta["timeline"]["background"] is True
    rec = load_recognizer(run / "model.safetensors")
    assert rec.segmenter is not None and rec.forecaster is not None
    # the forecaster learned the recordings' order of activities (own class ids + 1)
    assert set(rec.forecaster.model.unigram) <= {1, 2, 3} and rec.forecaster.model.durations_s[0]
    predictions = predict_timeline(run / "model.safetensors", read_bvh(sessions_root / "rec02.bvh"))
    assert predictions and list(predictions[0].class_names) == ["No action", *CLASSES]
    assert main(["evaluate", str(run / "model.safetensors"), "--data", str(sessions_root), "--out", str(tmp_path / "ev")]) == 0
    plain = tmp_path / "plain"
    assert main(["train", "skeleton", "--data", str(sessions_root), "--out", str(plain), *TINY, "--layout", "sessions",
                 "--windows", "segments", "--no-background"]) == 0
    assert list(read_meta(plain / "model.safetensors").class_names) == CLASSES


def test_synth_cli_writes_own_layouts(tmp_path: Path) -> None:
    assert main(["synth", str(tmp_path / "s"), "--layout", "sessions", "--classes", "Pick,Place", "--duration-s", "8",
                 "--no-videos", "--sessions", "a", "b"]) == 0
    assert (tmp_path / "s" / "labels.csv").is_file() and {r[4] for r in read_labels(tmp_path / "s" / "labels.csv")} <= {"Pick", "Place"}
    with pytest.raises(ConfigError, match="repeated name"):
        generate_own_dataset(tmp_path / "x", classes="A,A")


def test_stream_windows_of_own_sessions_keep_idle_apart_from_left_out_classes(sessions_root: Path) -> None:
    from harnets_core.datasets.stream_windows import stream_selection, stream_windows, with_background
    from harnets_core.features.pipeline import SkeletonPipeline
    from harnets_core.features.skeleton import FeatureConfig

    selection = select_data(sessions_root, classes=["Screw lid", "Fetch part"], layout="sessions")
    first = read_bvh(selection.template_bvh(), end_frame=1)
    pipeline = SkeletonPipeline(skeleton=first.skeleton, frame_time_s=first.frame_time_s, features=FeatureConfig(),
                                window_s=0.5, rate_hz=30.0)
    with pytest.raises(DatasetError, match="stream_selection"):
        stream_windows(with_background(selection), selection.train_sessions, pipeline, hop_s=0.25)
    chosen = with_background(stream_selection(selection))
    assert stream_selection(stream_selection(selection)).class_ids == stream_selection(selection).class_ids  # idempotent
    windows = stream_windows(chosen, RECS, pipeline, hop_s=0.25)
    inspect = {r.class_id for r in windows.runs} - {0, *chosen.class_ids}
    assert inspect == {-2}  # "Inspect part" time is neither trained on nor idle
    names = [chosen.class_names[i] for i in windows.y]
    assert set(names) == {"No action", "Screw lid", "Fetch part"}
    # a window whose newest frame lies in an Inspect part segment is left out, not called idle
    idle_s = sum(r.duration_s for r in windows.runs if r.class_id == 0)
    left_s = sum(r.duration_s for r in windows.runs if r.class_id == -2)
    assert idle_s > 0 and left_s > 0
    assert names.count("No action") * 0.25 < idle_s + 1.0
