"""harnets_core.datasets.selection: the online and segmented layouts, layout detection, session splits.

The dataset is `synth.generate_dataset` with 4 official sessions (3 train, 1 validation) of
30 s, skeleton only; synth writes each segmented clip as the very lines of the session BVH
(frames bvh_start_frame..bvh_end_frame), so windows of both layouts must be equal.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harnets_core.formats.bvh import read_bvh, write_bvh
from harnets_core.datasets.selection import DataSelection, check_segment_clip, detect_layout, select_data, skeleton_windows
from harnets_core.errors import ConfigError, DatasetError
from harnets_core.features.skeleton import FeatureConfig
from harnets_core.datasets.inhard import InhardLayout
from harnets_core.features.pipeline import SkeletonPipeline

SESSIONS = ["P01_R01", "P03_R01", "P04_R02", "P01_R02"]  # 3 official train, 1 official validation


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    from harnets_core.synth.sessions import generate_dataset

    root = tmp_path_factory.mktemp("synth_layouts")
    generate_dataset(root, seed=5, sessions=SESSIONS, duration_s=30.0, write_videos=False)
    return root


@pytest.fixture(scope="module")
def segmented_only(root: Path, tmp_path_factory) -> Path:
    """The same dataset without Online/ (what a Segmented-only download looks like)."""
    out = tmp_path_factory.mktemp("segmented_only") / "inhard"
    shutil.copytree(root / "Segmented", out / "Segmented")
    return out


def _pipeline(root: Path, window_frames: int = 120) -> SkeletonPipeline:
    clip = read_bvh(InhardLayout(root).session_bvh(SESSIONS[0]), end_frame=1)
    return SkeletonPipeline(clip.skeleton, clip.frame_time_s, FeatureConfig(), window_frames * clip.frame_time_s, 30.0)


# ----------------------------------------------------------------------------- layout detection
def test_auto_layout_is_online_when_session_bvhs_exist(root: Path):
    assert detect_layout(root) == "online"
    selection = select_data(root)
    assert selection.layout == "online"
    assert selection.to_dict()["layout"] == "online"


def test_auto_layout_falls_back_to_segmented(root: Path, segmented_only: Path, tmp_path: Path):
    assert detect_layout(segmented_only) == "segmented"
    selection = select_data(segmented_only)
    assert selection.layout == "segmented" and selection.to_dict()["layout"] == "segmented"
    # a session BVH missing from Online/Skeleton: online is not usable, segmented is
    partial = tmp_path / "partial"
    shutil.copytree(root, partial, ignore=shutil.ignore_patterns(f"{SESSIONS[1]}.bvh"))
    assert (partial / "Segmented" / "SkletonSegmented").is_dir()
    assert not (partial / "Online" / "Skeleton" / f"{SESSIONS[1]}.bvh").exists()
    assert detect_layout(partial) == "segmented"
    with pytest.raises(DatasetError, match=SESSIONS[1]):
        select_data(partial, layout="online")
    # no layout: an error naming each (InHARD's two, and the classes and sessions layouts)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"no layout is usable: online .*segmented .*classes .*sessions"):
        detect_layout(empty)
    with pytest.raises(ConfigError, match="layout"):
        select_data(root, layout="weekly")


def test_segmented_selection_matches_online(root: Path):
    online = select_data(root, layout="online")
    segmented = select_data(root, layout="segmented")
    assert (online.train_sessions, online.val_sessions) == (segmented.train_sessions, segmented.val_sessions)
    assert online.class_ids == segmented.class_ids
    key = lambda s: (s.session, s.bvh_start_frame, s.bvh_end_frame, s.class_id)  # noqa: E731
    assert sorted(map(key, online.segments)) == sorted(map(key, segmented.segments))
    # "No action" (rows of the Segmented csv only) is excluded by default, kept on request
    assert all(s.class_id != 0 for s in segmented.segments)
    with_idle = select_data(root, layout="segmented", include_no_action=True)
    assert 0 in with_idle.class_ids and len(with_idle.segments) > len(segmented.segments)


def test_missing_segmented_clip_is_reported_at_selection(root: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(root / "Segmented", copy / "Segmented")
    victim = select_data(copy).segments[0]
    InhardLayout(copy).segmented_bvh(victim).unlink()
    with pytest.raises(DatasetError, match=victim.name.replace(".", r"\.")):
        select_data(copy, layout="segmented")


def test_a_short_segmented_clip_is_an_error_naming_it(root: Path, tmp_path: Path, real_clip_path: Path):
    # the real clip: 276 frames for 26.48 s to 28.80 s (2.32 s at 119.03 Hz = 276.2), accepted
    real = read_bvh(real_clip_path)
    seg = replace(select_data(root, layout="segmented").segments[0], session="P01_R01", rgb_start_s=26.48,
                  rgb_end_s=28.80, bvh_start_frame=3151, bvh_end_frame=3428, duration_s=2.32)
    check_segment_clip(real_clip_path, seg, real.n_frames, 1.0 / real.frame_time_s)
    with pytest.raises(DatasetError, match=r"has 274 frames, shorter than its annotated 2\.32 s \(276 frames"):
        check_segment_clip(real_clip_path, seg, 274, 1.0 / real.frame_time_s)
    # a truncated segmented BVH fails the skeleton windows, naming the file
    copy = tmp_path / "copy"
    shutil.copytree(root / "Segmented", copy / "Segmented")
    selection = select_data(copy, layout="segmented")
    victim = selection.segments[0]
    path = InhardLayout(copy).segmented_bvh(victim)
    clip = read_bvh(path)
    write_bvh(path, clip, motion=clip.motion[: clip.n_frames // 2], decimals=3)
    with pytest.raises(DatasetError, match=re.escape(str(path)) + ".*shorter than its annotated"):
        skeleton_windows(replace(selection, segments=[victim]), [victim.session], _pipeline(root), hop_s=0.5)


# ----------------------------------------------------------------------------- windows
def test_segmented_windows_equal_online_windows_per_segment(root: Path):
    online = select_data(root, layout="online")
    segmented = select_data(root, layout="segmented")
    pipeline = _pipeline(root)
    by_key = {(s.session, s.bvh_start_frame, s.bvh_end_frame): s for s in segmented.segments}
    checked = 0
    for seg in online.segments[:: max(1, len(online.segments) // 3)][:3]:
        twin = by_key[(seg.session, seg.bvh_start_frame, seg.bvh_end_frame)]
        clip = read_bvh(InhardLayout(root).segmented_bvh(twin))
        assert clip.n_frames == seg.bvh_end_frame - seg.bvh_start_frame + 1  # the clip IS the segment
        a = skeleton_windows(replace(online, segments=[seg]), [seg.session], pipeline, hop_s=0.25)
        b = skeleton_windows(replace(segmented, segments=[twin]), [seg.session], pipeline, hop_s=0.25)
        assert a.x.shape == b.x.shape and len(a) >= 1
        np.testing.assert_allclose(a.x, b.x, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(a.y, b.y)
        checked += 1
    assert checked == 3


@pytest.mark.parametrize("short_policy", ["pad", "drop"])
def test_segmented_windows_equal_online_windows_per_session(root: Path, short_policy: str):
    online = select_data(root, layout="online")
    segmented = select_data(root, layout="segmented")
    pipeline = _pipeline(root, window_frames=200)  # 1.7 s: some segments are shorter
    dropped = 0
    for sessions in (online.train_sessions[:1], online.val_sessions):
        a = skeleton_windows(online, sessions, pipeline, hop_s=0.5, short_policy=short_policy)
        b = skeleton_windows(segmented, sessions, pipeline, hop_s=0.5, short_policy=short_policy)
        assert a.n_dropped == b.n_dropped
        dropped += a.n_dropped
        np.testing.assert_allclose(a.x, b.x, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_array_equal(a.session, b.session)
    assert (dropped > 0) == (short_policy == "drop")


@pytest.mark.parametrize("layout", ["online", "segmented"])
def test_split_never_puts_a_session_on_both_sides(root: Path, layout: str):
    selection = select_data(root, layout=layout)
    assert not set(selection.train_sessions) & set(selection.val_sessions)
    assert selection.train_sessions == ["P01_R01", "P03_R01", "P04_R02"] and selection.val_sessions == ["P01_R02"]
    pipeline = _pipeline(root)
    train = skeleton_windows(selection, selection.train_sessions, pipeline, hop_s=0.5)
    val = skeleton_windows(selection, selection.val_sessions, pipeline, hop_s=0.5)
    assert set(train.session.tolist()) == set(selection.train_sessions)
    assert set(val.session.tolist()) == set(selection.val_sessions)
    # subject folds: no subject (so no session) on both sides either
    fold = select_data(root, layout=layout, split="subject-fold:2:0")
    assert fold.split == "subject-fold:2:0" and fold.to_dict()["split"] == "subject-fold:2:0"
    train_subjects = {s.split("_")[0] for s in fold.train_sessions}
    assert not train_subjects & {s.split("_")[0] for s in fold.val_sessions}


def test_segmented_only_dataset_trains_and_evaluates_with_its_layout(segmented_only: Path, tmp_path: Path):
    import torch

    from harnets_core.models.modelfile import read_meta
    from harnets_core.runs.evaluate import evaluate_run
    from harnets_core.runs.options import ModelOptions, SkeletonOptions
    from harnets_core.runs.prepare import prepare_skeleton
    from harnets_core.runs.train import train_run
    from harnets_core.training.loop import TrainConfig

    torch.set_num_threads(1)
    selection = select_data(segmented_only, classes=["Consult sheets", "Assemble system"])
    assert isinstance(selection, DataSelection) and selection.layout == "segmented"
    torch.manual_seed(0)
    prepared = prepare_skeleton(selection, SkeletonOptions(window_s=120 * 0.008401, hop_s=1.0),
                                ModelOptions(hidden_size=8, num_layers=1, dropout=0.0))
    assert prepared.meta["data"]["layout"] == "segmented"
    result, metrics = train_run(prepared, TrainConfig(epochs=1, batch_size=16, patience=0, progress=False, device="cpu"),
                                tmp_path / "run")
    assert read_meta(result.model_path).to_dict()["data"]["layout"] == "segmented"
    again = evaluate_run(result.model_path, segmented_only, tmp_path / "eval")
    assert again["n_windows"] == len(prepared.val) == metrics["n_windows"]
    assert again["accuracy"] == pytest.approx(metrics["accuracy"])
