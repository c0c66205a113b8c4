"""Idle class, stream-sampled training windows, and the filter + forecaster a model file carries
into the streaming recognizer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harnets_core.datasets.inhard import NO_ACTION_ID, InhardLayout
from harnets_core.datasets.selection import select_data
from harnets_core.datasets.stream_windows import stream_windows, with_background
from harnets_core.datasets.windows import frame_labels
from harnets_core.errors import DatasetError
from harnets_core.features.pipeline import SkeletonPipeline
from harnets_core.features.skeleton import FeatureConfig
from harnets_core.formats.bvh import read_bvh
from harnets_core.streaming.recognizer import load_recognizer
from harnets_core.synth.sessions import generate_dataset



@pytest.fixture(scope="module")
def small_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth_small")
    generate_dataset(root, seed=1, sessions=["P01_R01", "P01_R02"], duration_s=12.0, write_videos=False,
                     write_segmented=False)
    return root


def _pipeline(root: Path) -> SkeletonPipeline:
    clip = read_bvh(InhardLayout(root).session_bvh("P01_R01"), end_frame=1)
    return SkeletonPipeline(clip.skeleton, clip.frame_time_s, FeatureConfig(), 60 * clip.frame_time_s, 30.0)


def test_stream_windows_are_labelled_by_their_newest_frame_and_include_idle(small_root):
    sel = with_background(select_data(small_root))
    assert sel.class_ids[0] == NO_ACTION_ID and sel.class_names[0] == "No action"
    pipe = _pipeline(small_root)
    ws = stream_windows(sel, ["P01_R01"], pipe, hop_s=0.25)
    clip = read_bvh(InhardLayout(small_root).session_bvh("P01_R01"))
    segs = [s for s in sel.segments if s.session == "P01_R01"]
    labels = frame_labels(clip.n_frames, [(s.bvh_start_frame, s.bvh_end_frame, s.class_id) for s in segs], NO_ACTION_ID)
    hop = int(round(0.25 / clip.frame_time_s))
    newest = np.arange(len(ws)) * hop + pipe.raw_length - 1
    assert [sel.class_ids[i] for i in ws.y] == list(labels[newest])
    assert (ws.y == 0).any() and len(set(ws.y.tolist())) > 2  # idle and several activities
    assert ws.x.shape[1:] == (pipe.length, pipe.dim)
    # the runs cover the whole session, idle included
    runs = [r for r in ws.runs if r.session == "P01_R01"]
    assert sum(r.duration_s for r in runs) == pytest.approx(clip.n_frames * clip.frame_time_s)
    assert any(r.class_id == NO_ACTION_ID for r in runs)


def test_without_background_idle_windows_are_left_out(small_root):
    sel = select_data(small_root)
    ws = stream_windows(sel, ["P01_R01"], _pipeline(small_root), hop_s=0.25, background=False)
    with_idle = stream_windows(with_background(sel), ["P01_R01"], _pipeline(small_root), hop_s=0.25)
    assert len(ws) == int((with_idle.y != 0).sum())
    with pytest.raises(DatasetError, match="idle class"):
        stream_windows(sel, ["P01_R01"], _pipeline(small_root), hop_s=0.25, background=True)


def test_segment_mode_windows_stay_inside_one_run(small_root):
    sel = with_background(select_data(small_root))
    ws = stream_windows(sel, ["P01_R01"], _pipeline(small_root), hop_s=0.25, mode="segments")
    assert (ws.y == 0).any()  # the idle gaps are segments of their own
    stream = stream_windows(sel, ["P01_R01"], _pipeline(small_root), hop_s=0.25)
    assert len(ws) != len(stream)


def test_prepare_stores_the_timeline_and_the_recognizer_runs_it(small_root, tmp_path, real_clip_path):
    from harnets_core.models.modelfile import save_model
    from harnets_core.runs.options import ModelOptions, SkeletonOptions
    from harnets_core.runs.prepare import prepare_skeleton

    prepared = prepare_skeleton(select_data(small_root), SkeletonOptions(window_s=60 * 0.008401, hop_s=0.25),
                                ModelOptions(hidden_size=8, num_layers=1, dropout=0.0))
    meta = prepared.meta
    assert meta["class_names"][0] == "No action" and meta["class_ids"][0] == 0
    timeline = meta["timeline"]
    assert timeline["windows"] == "stream" and timeline["background"] is True
    assert timeline["filter"]["kind"] == "hsmm" and len(timeline["filter"]["switch"]) == len(meta["class_ids"])
    path = save_model(tmp_path / "m.safetensors", prepared.model, meta)
    rec = load_recognizer(path)
    plain = load_recognizer(path, segmentation=False)
    assert rec.segmenter is not None and rec.forecaster is not None and plain.segmenter is None
    clip = read_bvh(InhardLayout(small_root).session_bvh("P01_R02"))
    preds, raws = [], []
    for i, values in enumerate(clip.motion):
        stamp = int(i * clip.frame_time_s * 1e9)
        p, q = rec.push(values, stamp), plain.push(values, stamp)
        if p is not None:
            preds.append(p)
            raws.append(q)
    assert len(preds) > 20
    for p, q in zip(preds, raws):
        assert np.allclose(p.raw_probabilities, q.probabilities, atol=1e-5)  # same windows, same model
        assert p.forecast is not None and p.forecast.stamp_ns == p.stamp_ns
        assert p.forecast.current_id == p.class_id
        assert abs(sum(p.forecast.next_probabilities) - 1.0) < 1e-5
    assert any(not np.allclose(p.probabilities, p.raw_probabilities) for p in preds)  # the filter acts


def test_min_fill_adds_the_start_windows_a_recognizer_classifies_front_padded(small_root, tmp_path):
    """With min_fill_s the first windows of each session (before a full window) are trained on,
    the first frame repeated in front; a recognizer of a model that says so classifies the same
    windows at the same frames, with the same inputs as training."""
    from harnets_core.models.modelfile import save_model
    from harnets_core.runs.options import ModelOptions, SkeletonOptions
    from harnets_core.runs.prepare import prepare_skeleton

    sel = with_background(select_data(small_root))
    pipe = _pipeline(small_root)
    full = stream_windows(sel, ["P01_R01"], pipe, hop_s=0.25)
    early = stream_windows(sel, ["P01_R01"], pipe, hop_s=0.25, min_fill_s=0.2)
    clip = read_bvh(InhardLayout(small_root).session_bvh("P01_R01"))
    hop, fill = int(round(0.25 / clip.frame_time_s)), int(np.ceil(0.2 / clip.frame_time_s - 1e-9))
    ends = np.arange(fill - 1, pipe.raw_length - 1, hop)  # newest frames of the partly filled windows
    assert len(early) == len(full) + len(ends) and len(ends) >= 2
    np.testing.assert_array_equal(early.x[len(ends):], full.x)  # the full windows are unchanged
    first = np.repeat(clip.motion[:1], pipe.raw_length - (ends[0] + 1), axis=0)
    padded = np.concatenate([first, clip.motion[: ends[0] + 1]])[None].astype(np.float32)  # (1, L, C)
    np.testing.assert_allclose(early.x[0], pipe.raw_window_features(padded)[0], rtol=1e-5, atol=1e-4)

    options = SkeletonOptions(window_s=60 * 0.008401, hop_s=0.25, min_fill_s=0.2)
    prepared = prepare_skeleton(select_data(small_root), options, ModelOptions(hidden_size=8, num_layers=1, dropout=0.0))
    assert prepared.meta["window"]["min_fill_s"] == 0.2
    path = save_model(tmp_path / "m.safetensors", prepared.model, prepared.meta)
    rec = load_recognizer(path, segmentation=False)
    assert rec.meta.min_fill_s == 0.2 and rec.min_fill == fill
    got = [(i, p) for i, values in enumerate(clip.motion)
           if (p := rec.push(values, int(round(i * clip.frame_time_s * 1e9)))) is not None]
    assert got[0][0] == fill - 1  # the first prediction once min_fill_s of frames are in
    assert got[0][1].window_start_ns == 0  # the oldest real frame
    pipe.normalizer = load_recognizer(path).pipeline.normalizer
    import torch
    with torch.no_grad():
        want = torch.softmax(rec.model(torch.from_numpy(pipe.window_features(padded))), -1)[0].numpy()
    np.testing.assert_allclose(got[0][1].probabilities, want, rtol=1e-5, atol=1e-6)
    # without the key (older files, RGB models) only full windows are classified
    plain_meta = dict(prepared.meta, window={k: v for k, v in prepared.meta["window"].items() if k != "min_fill_s"})
    plain = load_recognizer(save_model(tmp_path / "plain.safetensors", prepared.model, plain_meta), segmentation=False)
    first_full = next(i for i, values in enumerate(clip.motion)
                      if plain.push(values, int(round(i * clip.frame_time_s * 1e9))) is not None)
    assert plain.meta.min_fill_s is None and first_full == pipe.raw_length - 1
