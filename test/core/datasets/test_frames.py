"""harnets_core.datasets.frames (and the runs built on it): frame selection, windows inside segments, the frame cache, RGB and
pose runs on a tiny synthetic dataset, and streaming == offline.

The dataset is `synth.generate_dataset` with two 8 s sessions (one official-train, one
official-validation) and rendered mosaic videos (192 x 320 at 25 fps); models are tiny
(24 x 40 input, a 2-block encoder) so everything runs in seconds on one CPU thread.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harnets_core.datasets import frames as data_frames
from harnets_core.datasets.frames import FrameWindowDataset, FrameWindows, frame_windows, pose_encodings, sampled_frame_indices, session_frames, span_windows
from harnets_core.formats.video import frame_stamps_ns
from harnets_core.runs.evaluate import frame_windows_for_model
from harnets_core.runs.options import PoseOptions, RgbOptions
from harnets_core.runs.predict import predict_probs, predict_video
from harnets_core.runs.prepare import prepare_pose, prepare_rgb
from harnets_core.datasets.selection import select_data
from harnets_core.errors import ConfigError
from harnets_core.datasets.inhard import InhardLayout
from harnets_core.models.modelfile import load_model
from harnets_core.features.pipeline import FramePipeline, FrameSampler, pipeline_from_meta
from harnets_core.runs.evaluate import evaluate_run
from harnets_core.runs.options import ModelOptions
from harnets_core.runs.train import train_run
from harnets_core.training.augment import WindowAugment
from harnets_core.training.loop import TrainConfig
from harnets_core.formats.frame_cache import FrameCache
from harnets_core.formats.video import iter_frames, probe_video, time_range_to_frames
from band_centroids import BandCentroids

SESSIONS = ["P01_R01", "P02_R01"]  # official train, official validation
TINY = dict(size_hw=(24, 40), rate_hz=5.0, window_s=1.2, hop_s=0.4)  # T = 6 frames
TINY_ENCODER = {"channels": [4, 8]}
TINY_MODEL = ModelOptions(hidden_size=8, num_layers=1, dropout=0.0)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    from harnets_core.synth.sessions import generate_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, sessions=SESSIONS, duration_s=8.0, write_videos=True, write_segmented=False)
    return root


@pytest.fixture(scope="module")
def selection(data_root: Path):
    return select_data(data_root)


def _train_config(epochs: int = 2) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=8, lr=3e-3, patience=0, progress=False, device="cpu")


@pytest.fixture(scope="module")
def rgb_model(selection, tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("rgb_run")
    options = RgbOptions(view="top", encoder_config=TINY_ENCODER, feature_dim=8, **TINY)
    prepared = prepare_rgb(selection, options, TINY_MODEL, out / "cache")
    result, metrics = train_run(prepared, _train_config(), out / "run")
    assert len(result.history) == 2 and 0.0 <= metrics["accuracy"] <= 1.0
    return result.model_path


# ----------------------------------------------------------------------------- selection
def test_frame_selection_is_exact_at_5_hz():
    stamps = frame_stamps_ns(26, 25.0)
    assert stamps[:3].tolist() == [0, 40_000_000, 80_000_000]
    assert sampled_frame_indices(26, 25.0, 5.0).tolist() == [0, 5, 10, 15, 20, 25]
    assert sampled_frame_indices(13, 30.0, 5.0).tolist() == [0, 6, 12]
    # the live sampler on the same stamps (pushed one by one) keeps the same frames
    sampler = FrameSampler(5.0)
    assert [k for k, s in enumerate(stamps) if sampler.take(int(s))] == [0, 5, 10, 15, 20, 25]


def test_span_windows_stay_inside_and_pad_short_spans():
    assert span_windows(0, 10, 4, 2).tolist() == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]
    assert span_windows(3, 5, 4, 2).tolist() == [[3, 4, 4, 4]]  # edge-padded


def test_options_validate_and_sequence_length_sets_the_window():
    o = RgbOptions(sequence_length=10, rate_hz=5.0)
    assert o.window_s == pytest.approx(2.0) and o.length == 10
    assert RgbOptions().length == 20 and RgbOptions().hop_frames == 8  # 2 s, 0.8 s at 10 Hz
    assert PoseOptions().length == 10 and PoseOptions().hop_frames == 4  # the extractor is slow: 5 Hz
    with pytest.raises(ConfigError, match="whole number"):
        RgbOptions(hop_s=0.3, rate_hz=5.0)
    with pytest.raises(ConfigError, match="view 'side'"):
        RgbOptions(view="side")


def test_command_line_switches_reach_the_rgb_options(selection, tmp_path):
    """--no-augment / --no-temporal-diff turn off what RgbOptions turns on; without them the
    RgbOptions defaults hold (the parser does not restate them)."""
    from harnets_core.cli import options as cli_options
    from harnets_core.cli.main import build_parser

    base = ["train", "rgb", "--data", str(selection.root), "--out", str(tmp_path / "run"), "--cache", str(tmp_path),
            "--height", "24", "--width", "40", "--rate-hz", "5", "--window-s", "1.2", "--hop-s", "0.4"]
    for extra, want in (([], True), (["--no-augment", "--no-temporal-diff"], False)):
        args = build_parser().parse_args(base + extra)
        prepared = prepare_rgb(selection, cli_options.frame_options(args, "rgb"), ModelOptions(hidden_size=8, num_layers=1),
                               args.cache)
        assert prepared.meta["model_config"]["temporal_diff"] is want
        assert isinstance(prepared.train.meta["dataset"].transform, WindowAugment) is want


# ----------------------------------------------------------------------------- windows and cache
def test_training_augmentation_shifts_whole_windows_only_when_asked():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (12, 16, 20, 3), dtype=np.uint8)]  # (M, h, w, 3)
    index = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    x = FrameWindows(frames, np.zeros(2, np.int64), index)
    y = np.array([0, 1])
    plain = FrameWindowDataset(x, y)
    assert np.array_equal(plain[1][0].numpy(), x[1]) and int(plain[1][1]) == 1
    torch.manual_seed(0)
    aug = FrameWindowDataset(x, y, transform=WindowAugment(max_shift=3, max_scale=0.0, max_rotate_deg=0.0, jitter=0.0))
    shifted = [aug[0][0].numpy() for _ in range(8)]
    assert all(w.shape == (4, 3, 16, 20) and w.dtype == np.uint8 for w in shifted)
    assert any(not np.array_equal(w, x[0]) for w in shifted)
    # one shift per window: some (dy, dx) maps every frame of the window the same way
    w = shifted[0]
    found = False
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            ref = np.pad(x[0], ((0, 0), (0, 0), (3, 3), (3, 3)), mode="edge")[..., 3 + dy : 19 + dy, 3 + dx : 23 + dx]
            found |= np.array_equal(w, ref)
    assert found
    assert RgbOptions().augment  # on by default (docs/RESULTS_RGB.md)


def test_augmentation_scales_and_rotates_every_frame_of_a_window_alike():
    """A window of one repeated frame stays a window of one repeated frame: the scale /
    rotation is drawn once per window; a bright square keeps about its area (scale <= 10 %)."""
    frame = np.full((32, 40, 3), 40, np.uint8)
    frame[12:20, 16:24] = 250  # an 8 x 8 square at the centre
    x = FrameWindows([np.stack([frame] * 3)], np.zeros(1, np.int64), np.array([[0, 1, 2]]))
    torch.manual_seed(1)
    aug = FrameWindowDataset(x, np.array([0]), transform=WindowAugment(max_shift=0, max_scale=0.1, max_rotate_deg=10.0,
                                                                        jitter=0.0))
    windows = [aug[0][0].numpy() for _ in range(6)]
    assert any(not np.array_equal(w[0], frame.transpose(2, 0, 1)) for w in windows)
    for w in windows:
        assert np.array_equal(w[0], w[1]) and np.array_equal(w[1], w[2])
        area = float((w[0, 0] > 145).sum())
        assert 64 * 0.9**2 - 8 <= area <= 64 * 1.1**2 + 8
    with pytest.raises(ConfigError, match="augmentation"):
        WindowAugment(max_scale=1.5)


def test_windows_lie_inside_one_segment_of_one_session(selection, tmp_path):
    pipeline = FramePipeline(kind="rgb", view="left", size_hw=(24, 40), rate_hz=5.0, window_s=1.2)
    ws = frame_windows(selection, SESSIONS, pipeline, FrameCache(tmp_path), hop_s=0.4)
    assert isinstance(ws.x, FrameWindows) and ws.x.shape == (len(ws), 6, 3, 24, 40)
    assert ws.x[0].shape == (6, 3, 24, 40) and ws.x[1:3].shape == (2, 6, 3, 24, 40)
    assert set(ws.session.tolist()) == set(SESSIONS)
    sessions = ws.meta["sessions"]
    layout = InhardLayout(selection.root)
    for i in range(len(ws)):
        sf = sessions[ws.meta["source"][i]]
        assert sf.video == layout.session_video(ws.session[i])  # never another session's frames
        frames_used = sf.frame_index[ws.meta["index"][i]]
        assert (np.diff(ws.meta["index"][i]) >= 0).all()
        inside = [s for s in selection.segments_of([ws.session[i]])
                  if time_range_to_frames(sf.info, s.rgb_start_s, s.rgb_end_s)[0] <= frames_used[0]
                  and frames_used[-1] < time_range_to_frames(sf.info, s.rgb_start_s, s.rgb_end_s)[1]]
        assert len(inside) == 1
        assert selection.class_ids[ws.y[i]] == inside[0].class_id
    # taken frames are the sampler's, prepared like the live pipeline does it
    sf = sessions[0]
    info = probe_video(sf.video)
    assert sf.frame_index.tolist() == list(range(0, info.n_frames, 5))
    full = next(iter_frames(sf.video, 5, 6, view="full", size_hw=None))
    assert np.array_equal(sf.data[1], pipeline.prepare(full))
    # lazy windows gather the same pixels as np.asarray
    dense = np.asarray(ws.x)
    assert dense.shape == ws.x.shape and np.array_equal(dense[3], ws.x[3])
    item_x, item_y = ws.meta["dataset"][3]
    assert item_x.dtype == torch.uint8 and torch.equal(item_x, torch.from_numpy(dense[3])) and int(item_y) == ws.y[3]


def test_idle_windows_come_from_the_time_no_action_covers(selection, tmp_path):
    """With idle as a class, the session video's taken frames outside every annotated action
    (selected or not) form the "No action" runs, cut into windows as segments are; the action
    windows stay what they were."""
    from harnets_core.datasets.frames import with_video_idle

    pipeline = FramePipeline(kind="rgb", view="left", size_hw=(24, 40), rate_hz=5.0, window_s=1.2)
    plain = frame_windows(selection, SESSIONS, pipeline, FrameCache(tmp_path), hop_s=0.4)
    chosen, idle = with_video_idle(selection)
    assert chosen.class_ids == [0, *selection.class_ids] and len(idle) == len(selection.segments)
    ws = frame_windows(chosen, SESSIONS, pipeline, FrameCache(tmp_path), hop_s=0.4, idle_after=idle)
    is_idle = ws.y == 0
    assert is_idle.sum() > 0 and (~is_idle).sum() == len(plain)
    np.testing.assert_array_equal(np.asarray(chosen.class_ids)[ws.y[~is_idle]], np.asarray(selection.class_ids)[plain.y])
    for i in np.flatnonzero(is_idle):
        sf = ws.meta["sessions"][ws.meta["source"][i]]
        used = sf.frame_index[ws.meta["index"][i]]
        for s in idle:
            if s.session == ws.session[i]:
                f0, f1 = time_range_to_frames(sf.info, s.rgb_start_s, s.rgb_end_s)
                assert not ((used >= f0) & (used < f1)).any()  # no frame of any action
    with pytest.raises(ConfigError, match="idle class"):
        frame_windows(selection, SESSIONS, pipeline, FrameCache(tmp_path), hop_s=0.4, idle_after=idle)


def test_second_pass_reads_the_cache_without_decoding(selection, tmp_path, monkeypatch):
    pipeline = FramePipeline(kind="rgb", view="top", size_hw=(24, 40), rate_hz=5.0, window_s=1.2)
    first = frame_windows(selection, SESSIONS, pipeline, FrameCache(tmp_path), hop_s=0.4)

    def no_decoding(*args, **kwargs):
        raise AssertionError("video decoded again")

    monkeypatch.setattr(data_frames, "iter_frames", no_decoding)
    monkeypatch.setattr(data_frames, "probe_video", no_decoding)
    cache = FrameCache(tmp_path)
    again = frame_windows(selection, SESSIONS, pipeline, cache, hop_s=0.4)
    assert cache.misses == 0 and cache.hits == len(SESSIONS)
    assert np.array_equal(np.asarray(first.x), np.asarray(again.x)) and np.array_equal(first.y, again.y)


# ----------------------------------------------------------------------------- rgb runs
def test_rgb_model_file_is_complete(rgb_model, selection, tmp_path):
    loaded = load_model(rgb_model)
    meta = loaded.meta
    assert meta.model_type == "cnn_lstm" and meta.modality == "rgb"
    # idle from the session videos' unannotated time, first, as the skeleton models have it
    assert meta.class_names == ["No action", *selection.class_names] and meta.class_ids == [0, *selection.class_ids]
    assert meta["timeline"] == {"windows": "segments", "background": True, "label_rule": "windows inside one run of a label"}
    assert meta.window["length"] == 6 and meta.window["hop_s"] == 0.4 and meta.window["rate_hz"] == 5.0
    pipeline = pipeline_from_meta(meta)
    assert (pipeline.kind, pipeline.view, pipeline.size_hw, pipeline.length) == ("rgb", "top", (24, 40), 6)
    metrics = evaluate_run(rgb_model, selection.root, tmp_path / "eval")
    assert metrics["sessions"] == ["P02_R01"] and metrics["n_windows"] > 0
    assert (tmp_path / "eval" / "metrics.json").is_file()


def test_streaming_equals_offline_on_the_same_windows(rgb_model, selection, tmp_path):
    video = InhardLayout(selection.root).session_video("P02_R01")
    result = predict_video(rgb_model, video, mode="timeline", out_video=tmp_path / "annotated.mp4")
    assert result.mode == "timeline" and len(result.predictions) > 3
    loaded = load_model(rgb_model)
    sf = session_frames(video, pipeline_from_meta(loaded.meta), None)
    pos = np.searchsorted(sf.stamps_ns, [p.stamp_ns for p in result.predictions])
    assert np.array_equal(sf.stamps_ns[pos], [p.stamp_ns for p in result.predictions])
    assert (np.diff(pos) == 2).all()  # one prediction every hop (0.4 s = 2 taken frames)
    index = pos[:, None] - 5 + np.arange(6)[None, :]  # the 6 newest taken frames
    assert [p.window_start_ns for p in result.predictions] == sf.stamps_ns[index[:, 0]].tolist()
    offline = predict_probs(loaded.model, FrameWindows([sf.data], np.zeros(len(index)), index))
    streaming = np.stack([p.probabilities for p in result.predictions])
    np.testing.assert_allclose(streaming, offline, atol=1e-5)
    assert probe_video(tmp_path / "annotated.mp4").n_frames == probe_video(video).n_frames


def test_clip_prediction_is_the_mean_over_windows(rgb_model, tmp_path):
    from harnets_core.formats.video import write_video

    video = next(iter(sorted((Path(load_model(rgb_model).meta["data"]["root"]) / "Online" / "RGB").glob("*.mp4"))))
    clip = tmp_path / "clip.mp4"
    write_video(clip, list(iter_frames(video, 0, 20, view="full", size_hw=None)), 25.0)  # 0.8 s < a window
    result = predict_video(rgb_model, clip, out_video=tmp_path / "clip_out.mp4")
    assert result.mode == "clip" and result.n_windows == 1
    assert result.probabilities.shape == (len(result.class_names),)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert probe_video(tmp_path / "clip_out.mp4").n_frames == 20


# ----------------------------------------------------------------------------- pose runs
def test_pose_run_and_streaming_equal_offline(selection, tmp_path, monkeypatch):
    from harnets_core.features import keypoints as pose

    monkeypatch.setitem(pose.EXTRACTORS, "test-bands", BandCentroids)
    options = PoseOptions(view="top", size_hw=(48, 80), rate_hz=5.0, window_s=1.2, hop_s=0.4)
    prepared = prepare_pose(selection, options, {"name": "test-bands"}, tmp_path / "cache", model_options=TINY_MODEL)
    assert prepared.train.x.dtype == np.float32 and prepared.train.x.shape[1:] == (6, 9)
    assert prepared.meta["preprocessing"]["settings"] == {"name": "test-bands"}
    result, _ = train_run(prepared, _train_config(), tmp_path / "run")
    video = InhardLayout(selection.root).session_video("P02_R01")
    timeline = predict_video(result.model_path, video, mode="timeline")
    loaded = load_model(result.model_path)
    windows = frame_windows_for_model(loaded, selection, ["P02_R01"], cache=FrameCache(tmp_path / "cache"))
    sf = windows.meta["sessions"][0]
    pos = np.searchsorted(sf.stamps_ns, [p.stamp_ns for p in timeline.predictions])
    pipeline = pipeline_from_meta(loaded.meta)
    enc = pipeline.normalizer(pose_encodings(sf.data))  # (M, D)
    x = enc[pos[:, None] - 5 + np.arange(6)[None, :]]  # (N, T, D)
    np.testing.assert_allclose(np.stack([p.probabilities for p in timeline.predictions]),
                               predict_probs(loaded.model, x), atol=1e-5)
