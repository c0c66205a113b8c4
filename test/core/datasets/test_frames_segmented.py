"""RGB and pose windows from InHARD's Segmented layout (one clip per segment).

The dataset is `synth.generate_dataset` with two 8 s sessions (one official-train, one
official-validation) and rendered mosaic videos at 25 fps: synth cuts every Segmented csv row
(No action included) out of the session video into
``Segmented/RGBSegmented/<Meta_action_label>/<name>.mp4``, re-encoded, so a clip's frames equal
the session's up to codec noise (mean |difference| about 2.3 of 255). ``segmented_only`` is
what a Segmented-only RGB download looks like: ``Segmented/Labels`` and ``RGBSegmented``, no
``Online/`` and no ``SkletonSegmented``.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harnets_core.datasets import frames as data_frames
from harnets_core.datasets.frames import frame_windows, pose_encodings, segment_clip_frames, span_windows
from harnets_core.runs.options import PoseOptions
from harnets_core.runs.prepare import prepare_pose
from harnets_core.datasets.selection import detect_layout, select_data
from harnets_core.errors import DatasetError, VideoError
from harnets_core.datasets.inhard import InhardLayout
from harnets_core.features.pipeline import FramePipeline
from harnets_core.formats.frame_cache import FrameCache
from harnets_core.formats.video import iter_frames, probe_video, read_frames_at, time_range_to_frames, write_video
from band_centroids import BandCentroids

SESSIONS = ["P01_R01", "P02_R01"]  # official train, official validation


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    from harnets_core.synth.sessions import generate_dataset

    root = tmp_path_factory.mktemp("synth_segmented")
    generate_dataset(root, sessions=SESSIONS, duration_s=8.0, write_videos=True)
    return root


@pytest.fixture(scope="module")
def segmented_only(root: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("segmented_only") / "inhard"
    shutil.copytree(root / "Segmented", out / "Segmented", ignore=shutil.ignore_patterns("SkletonSegmented"))
    return out


def _copy(segmented_only: Path, tmp_path: Path) -> Path:
    out = tmp_path / "inhard"
    shutil.copytree(segmented_only, out)
    return out


def _pipeline(size_hw: tuple[int, int] = (24, 40)) -> FramePipeline:
    """Top view, 5 Hz, 1.2 s windows: T = 6 taken frames."""
    return FramePipeline(kind="rgb", view="top", size_hw=size_hw, rate_hz=5.0, window_s=1.2)


def _path_re(path: Path) -> str:
    return re.escape(str(path))


# ----------------------------------------------------------------------------- synth and layout
def test_synth_cuts_every_segmented_row_out_of_the_session_video(root: Path):
    layout = InhardLayout(root)
    segments = layout.annotations("segmented")
    assert any(s.class_id == 0 for s in segments)  # No action rows have their clips too
    written = {p.relative_to(layout.segmented_dir) for _, p in layout.segmented_files("rgb")}
    assert written == {Path("RGBSegmented", s.class_name, f"{s.name}.mp4") for s in segments}
    for seg in segments:
        clip = probe_video(layout.segmented_video(seg))
        session = probe_video(layout.session_video(seg.session))
        f0, f1 = time_range_to_frames(session, seg.rgb_start_s, seg.rgb_end_s)
        assert clip.fps == session.fps == 25.0 and clip.n_frames == f1 - f0
        assert (clip.width, clip.height) == (session.width, session.height)  # the full mosaic
        first = next(iter_frames(clip.path, 0, 1, size_hw=None, info=clip)).astype(int)
        twin = next(iter_frames(session.path, f0, f0 + 1, size_hw=None, info=session)).astype(int)
        assert np.abs(first - twin).mean() < 4.0  # codec noise only


def test_video_modalities_detect_and_check_their_own_files(root: Path, segmented_only: Path, tmp_path: Path):
    # Segmented-only RGB download: no BVH at all, yet rgb and pose select it
    for modality in ("rgb", "pose"):
        assert detect_layout(segmented_only, modality) == "segmented"
        selection = select_data(segmented_only, modality=modality)
        assert selection.layout == "segmented" and selection.to_dict()["layout"] == "segmented"
    with pytest.raises(DatasetError, match="SkletonSegmented"):
        select_data(segmented_only)  # skeleton needs the BVH clips
    # session BVHs but no session videos: auto is online for skeleton, segmented for video
    no_rgb = tmp_path / "no_rgb"
    shutil.copytree(root, no_rgb, ignore=shutil.ignore_patterns("RGB"))
    assert detect_layout(no_rgb) == "online" and detect_layout(no_rgb, "rgb") == "segmented"
    assert select_data(no_rgb, modality="rgb").layout == "segmented"
    with pytest.raises(DatasetError, match=r"Online/RGB: no session video for annotated session\(s\)"):
        select_data(no_rgb, layout="online", modality="pose")


# ----------------------------------------------------------------------------- windows
def test_segmented_windows_come_from_each_segments_own_clip(segmented_only: Path, tmp_path: Path):
    selection = select_data(segmented_only, modality="rgb", include_no_action=True)
    layout = InhardLayout(segmented_only)
    pipeline = _pipeline()
    ws = frame_windows(selection, SESSIONS, pipeline, FrameCache(tmp_path), hop_s=0.4)
    videos = ws.meta["sessions"]
    assert [v.video for v in videos] == [layout.segmented_video(s) for s in selection.segments]  # one per clip
    assert ws.n_dropped == 0 and ws.x.shape == (len(ws), 6, 3, 24, 40)
    counts = np.bincount(ws.meta["source"], minlength=len(videos))
    for k, (seg, sf) in enumerate(zip(selection.segments, videos)):
        info = probe_video(sf.video)
        assert sf.info.fps == info.fps and sf.info.n_frames == info.n_frames
        # sampled from the clip's own frame 0 at 5 Hz: the whole clip is the segment
        assert sf.frame_index.tolist() == list(range(0, info.n_frames, 5))
        assert not isinstance(sf.data, np.memmap)  # one fd per memory-mapped clip would run out
        assert counts[k] == len(span_windows(0, len(sf.frame_index), 6, 2))
        rows = ws.meta["source"] == k
        assert (ws.meta["index"][rows] < len(sf.frame_index)).all()
        assert {selection.class_ids[y] for y in ws.y[rows]} == {seg.class_id}
        assert set(ws.session[rows].tolist()) == {seg.session}
    first = next(iter_frames(videos[0].video, 5, 6, size_hw=None))
    assert np.array_equal(videos[0].data[1], pipeline.prepare(first))  # the live pipeline's crop and resize


def test_segmented_taken_frames_are_the_session_frames_of_the_segment(root: Path, segmented_only: Path):
    """Clip frame k is session frame f0 + k (f0 = the segment's start frame): the taken frames
    of each clip match the session's at f0 + index up to codec noise, and not at one frame off."""
    selection = select_data(segmented_only, modality="rgb", include_no_action=True)
    clips = InhardLayout(segmented_only)
    sessions = InhardLayout(root)
    pipeline = _pipeline(size_hw=(48, 80))
    for seg in selection.segments:
        sf = segment_clip_frames(clips, seg, pipeline)
        video = sessions.session_video(seg.session)
        info = probe_video(video)
        f0, _ = time_range_to_frames(info, seg.rgb_start_s, seg.rgb_end_s)
        worst = {}
        for offset in (-1, 0, 1):
            ref = read_frames_at(video, f0 + sf.frame_index + offset, view="full", size_hw=None, info=info)
            diff = np.abs(np.stack([pipeline.prepare(f) for f in ref]).astype(int) - sf.data.astype(int))
            worst[offset] = diff.max(axis=(1, 2, 3)).mean()  # mean over frames of the largest pixel error
            if offset == 0:
                assert diff.mean() < 4.0, seg.name
        assert worst[0] < 30 and worst[0] < min(worst[-1], worst[1]), (seg.name, worst)


def test_segmented_windows_equal_online_windows_on_the_sampling_grid(root: Path, segmented_only: Path, tmp_path: Path):
    """A segment starting on the 5 Hz grid of its session (start frame a multiple of 5 at
    25 fps) gets the same windows from either layout: same count, labels and frames (codec)."""
    online = select_data(root, modality="rgb")
    segmented = select_data(segmented_only, modality="rgb")
    assert online.layout == "online" and segmented.layout == "segmented"
    pipeline = _pipeline()
    by_name = {s.name: s for s in segmented.segments}
    aligned = [s for s in online.segments if round(s.rgb_start_s * 25) % 5 == 0]
    assert aligned, "the fixture needs a segment on the 5 Hz grid"
    for seg in aligned:
        a = frame_windows(replace(online, segments=[seg]), [seg.session], pipeline, FrameCache(tmp_path), 0.4)
        b = frame_windows(replace(segmented, segments=[by_name[seg.name]]), [seg.session], pipeline,
                             FrameCache(tmp_path), 0.4)
        assert len(a) == len(b) >= 1 and a.x.shape == b.x.shape
        np.testing.assert_array_equal(a.y, b.y)
        np.testing.assert_array_equal(a.meta["index"] - a.meta["index"][0, 0], b.meta["index"])
        assert np.abs(np.asarray(a.x).astype(int) - np.asarray(b.x).astype(int)).mean() < 4.0


def test_segmented_cache_is_per_clip_and_a_second_pass_does_not_decode(segmented_only: Path, tmp_path: Path,
                                                                       monkeypatch):
    selection = select_data(segmented_only, modality="rgb")
    pipeline = _pipeline()
    first = frame_windows(selection, SESSIONS, pipeline, FrameCache(tmp_path), hop_s=0.4)
    for seg in selection.segments:
        assert len(list(tmp_path.glob(f"{seg.name}-rgb-frames-*.npy"))) == 1  # keyed per clip

    def no_decoding(*args, **kwargs):
        raise AssertionError("video decoded again")

    monkeypatch.setattr(data_frames, "iter_frames", no_decoding)
    monkeypatch.setattr(data_frames, "probe_video", no_decoding)
    cache = FrameCache(tmp_path)
    again = frame_windows(selection, SESSIONS, pipeline, cache, hop_s=0.4)
    assert cache.misses == 0 and cache.hits == len(selection.segments)
    assert np.array_equal(np.asarray(first.x), np.asarray(again.x)) and np.array_equal(first.y, again.y)


def test_clip_rate_is_read_from_the_file(segmented_only: Path, tmp_path: Path):
    data = _copy(segmented_only, tmp_path)
    selection = select_data(data, modality="rgb")
    seg = selection.segments[0]
    clip = InhardLayout(data).segmented_video(seg)
    frames = list(iter_frames(clip, size_hw=None))
    span_s = seg.rgb_end_s - seg.rgb_start_s
    # the same span at 30 fps: enough frames, taken every 6th frame
    n30 = int(round(span_s * 30)) + 1
    write_video(clip, [frames[min(len(frames) - 1, int(k * 25 / 30))] for k in range(n30)], 30.0)
    sf = segment_clip_frames(InhardLayout(data), seg, _pipeline())
    assert sf.info.fps == pytest.approx(30.0) and sf.frame_index.tolist() == list(range(0, n30, 6))
    # the 25 fps frame count relabelled 30 fps covers too little of the span
    write_video(clip, frames, 30.0)
    with pytest.raises(DatasetError, match=_path_re(clip) + r".*shorter than its annotated"):
        segment_clip_frames(InhardLayout(data), seg, _pipeline())


# ----------------------------------------------------------------------------- bad clips
def test_a_missing_clip_is_named_before_anything_is_decoded(segmented_only: Path, tmp_path: Path):
    data = _copy(segmented_only, tmp_path)
    selection = select_data(data, modality="rgb")
    victim = InhardLayout(data).segmented_video(selection.segments[-1])
    victim.unlink()
    with pytest.raises(DatasetError, match=_path_re(victim) + ": segmented video not found"):
        select_data(data, modality="rgb")
    cache = FrameCache(tmp_path / "cache")
    with pytest.raises(DatasetError, match=_path_re(victim)):
        frame_windows(selection, SESSIONS, _pipeline(), cache, hop_s=0.4)
    assert cache.misses == 0 and not list(cache.root.glob("*.npy"))  # failed before the first clip


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        ("empty", VideoError, "empty file"),
        ("garbage", VideoError, "not a video or corrupt"),
        ("truncated", VideoError, "not a video or corrupt"),
        ("short", DatasetError, "shorter than its annotated"),
    ],
)
def test_a_bad_clip_is_an_error_naming_it(segmented_only: Path, tmp_path: Path, damage: str, error: type,
                                          message: str):
    data = _copy(segmented_only, tmp_path)
    selection = select_data(data, modality="rgb")
    clip = InhardLayout(data).segmented_video(selection.segments[1])
    if damage == "empty":
        clip.write_bytes(b"")
    elif damage == "garbage":
        clip.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif damage == "truncated":
        clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    else:
        write_video(clip, list(iter_frames(clip, 0, 10, size_hw=None)), 25.0)  # 0.4 s of a longer span
    for cache in (None, FrameCache(tmp_path / "cache")):
        with pytest.raises(error, match=_path_re(clip) + ".*" + message):
            frame_windows(selection, SESSIONS, _pipeline(), cache, hop_s=0.4)


# ----------------------------------------------------------------------------- runs
def test_pose_windows_from_segmented_clips(segmented_only: Path, tmp_path: Path, monkeypatch):
    from harnets_core.features import keypoints as pose
    from harnets_core.features.skeleton import Normalizer
    from harnets_core.runs.options import ModelOptions

    monkeypatch.setitem(pose.EXTRACTORS, "test-bands", BandCentroids)
    selection = select_data(segmented_only, modality="pose")
    options = PoseOptions(view="top", size_hw=(48, 80), rate_hz=5.0, window_s=1.2, hop_s=0.4)
    prepared = prepare_pose(selection, options, {"name": "test-bands"}, tmp_path / "cache",
                               model_options=ModelOptions(hidden_size=8, num_layers=1, dropout=0.0))
    assert prepared.meta["data"]["layout"] == "segmented" and prepared.train.x.shape[1:] == (6, 9)
    train = prepared.train
    assert set(train.session.tolist()) == {"P01_R01"} and set(prepared.val.session.tolist()) == {"P02_R01"}
    # each window: the normalized encodings of its clip's keypoints at its taken frames
    normalizer = Normalizer.from_dict(prepared.meta["preprocessing"]["normalizer"])
    for row in (0, len(train) - 1):
        sf = train.meta["sessions"][train.meta["source"][row]]
        assert sf.video.parent.parent.name == "RGBSegmented" and sf.data.shape[1:] == (3, 3)
        enc = normalizer(pose_encodings(sf.data))  # (M, 9)
        np.testing.assert_allclose(train.x[row], enc[train.meta["index"][row]], rtol=1e-5, atol=1e-5)


def test_train_and_evaluate_rgb_from_a_segmented_only_download(root: Path, segmented_only: Path, tmp_path: Path,
                                                               capsys):
    from harnets_core.cli.main import main
    from harnets_core.models.modelfile import read_meta

    out = tmp_path / "run"
    args = ["train", "rgb", "--data", str(segmented_only), "--out", str(out), "--cache", str(tmp_path / "cache"),
            "--height", "24", "--width", "40", "--window-s", "1.2", "--hop-s", "0.4", "--hidden-size", "8",
            "--layers", "1", "--dropout", "0", "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--no-progress"]
    assert main(args) == 0
    model = out / "model.safetensors"
    meta = read_meta(model)
    assert meta.modality == "rgb" and meta.to_dict()["data"]["layout"] == "segmented"
    trained = capsys.readouterr().out
    n_val = int(re.search(r"(\d+) validation windows", trained)[1])
    assert n_val > 0
    assert main(["evaluate", str(model), "--data", str(segmented_only), "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["sessions"] == ["P02_R01"] and metrics["n_windows"] == n_val
    # the same model on the online session videos of the full download
    assert main(["evaluate", str(model), "--data", str(root), "--layout", "online",
                 "--out", str(tmp_path / "eval_online")]) == 0
    online = json.loads((tmp_path / "eval_online" / "metrics.json").read_text())
    assert online["sessions"] == ["P02_R01"] and online["n_windows"] > 0
