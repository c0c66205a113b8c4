"""Streaming recognizer: the same probabilities as offline prediction on the same windows,
gaps restart the window, bad samples change nothing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from harnets_core.formats.bvh import read_bvh
from harnets_core.errors import ModelFileError, StreamError
from harnets_core.models.modelfile import load_model
from harnets_core.features.pipeline import pipeline_from_meta
from harnets_core.streaming.recognizer import load_recognizer


def stream(recognizer, motion, frame_time_s, start_ns=0):
    out = []
    for i, values in enumerate(motion.astype(np.float32)):
        p = recognizer.push(values, start_ns + int(round(i * frame_time_s * 1e9)))
        if p is not None:
            out.append((i, p))
    return out


def test_streaming_equals_offline_on_the_same_windows(untrained_skeleton_model, real_clip_path):
    clip = read_bvh(real_clip_path)
    recognizer = load_recognizer(untrained_skeleton_model, hop_s=0.1)
    streamed = stream(recognizer, clip.motion, clip.frame_time_s)
    loaded = load_model(untrained_skeleton_model)
    pipeline = pipeline_from_meta(loaded.meta)
    length = pipeline.raw_length
    assert len(streamed) >= 10
    ends = np.array([i for i, _ in streamed])
    assert ends[0] == length - 1  # the first window is the first full one
    # one prediction per hop of sensor time (0.1 s = 11.9 frames -> every 12th frame)
    assert set(np.diff(ends)) <= {12}
    windows = np.stack([clip.motion[i - length + 1 : i + 1] for i in ends]).astype(np.float32)  # (N, L, C)
    with torch.no_grad():
        offline = torch.softmax(loaded.model(torch.from_numpy(pipeline.window_features(windows))), -1).numpy()
    online = np.stack([p.probabilities for _, p in streamed])
    np.testing.assert_allclose(online, offline, rtol=1e-5, atol=1e-6)
    for i, p in streamed:
        assert p.stamp_ns == int(round(i * clip.frame_time_s * 1e9))
        assert p.window_start_ns == int(round((i - length + 1) * clip.frame_time_s * 1e9))
        assert p.label == p.class_names[int(np.argmax(p.probabilities))]


def test_a_gap_or_a_stamp_going_backwards_restarts_the_window(untrained_skeleton_model, real_clip_path):
    clip = read_bvh(real_clip_path)
    rec = load_recognizer(untrained_skeleton_model, hop_s=0.1, max_gap_s=0.2)
    length = rec.length
    ft_ns = int(clip.frame_time_s * 1e9)
    frames = clip.motion.astype(np.float32)
    got = [rec.push(frames[i], i * ft_ns) for i in range(length)]
    assert got[-1] is not None and rec.stats["resets"] == 0
    # a 1 s jump: the samples before it are not mixed with the ones after
    t = length * ft_ns + 1_000_000_000
    after = [rec.push(frames[i], t + i * ft_ns) for i in range(length - 1)]
    assert rec.stats["resets"] == 1 and all(p is None for p in after)
    p = rec.push(frames[length - 1], t + (length - 1) * ft_ns)
    assert p is not None and p.window_start_ns == t
    # backwards
    assert rec.push(frames[0], t) is None
    assert rec.stats["resets"] == 2


def test_bad_samples_raise_and_change_nothing(untrained_skeleton_model, real_clip_path):
    clip = read_bvh(real_clip_path)
    rec = load_recognizer(untrained_skeleton_model, hop_s=0.1)
    frames = clip.motion.astype(np.float32)
    ft_ns = int(clip.frame_time_s * 1e9)
    for i in range(10):
        rec.push(frames[i], i * ft_ns)
    bad = frames[10].copy()
    bad[5] = np.nan
    with pytest.raises(StreamError, match="non-finite value at channel 5"):
        rec.push(bad, 10 * ft_ns)
    with pytest.raises(StreamError, match="353 values"):
        rec.push(frames[10][:-1], 10 * ft_ns)
    assert rec.stats["samples"] == 10 and rec.stats["resets"] == 0
    rec.push(frames[10], 10 * ft_ns)  # the same stamp is still accepted: nothing was consumed
    assert rec.stats["samples"] == 11 and rec.stats["resets"] == 0


def test_layout_check_names_the_first_difference(untrained_skeleton_model, real_clip_path):
    clip = read_bvh(real_clip_path)
    rec = load_recognizer(untrained_skeleton_model)
    joints = clip.skeleton.joint_names
    types = [c.split(".", 1)[1] for c in clip.skeleton.channel_names]
    rec.check_layout(joints, types, where="/skeleton")  # the model's own layout passes
    renamed = ["Pelvis" if j == "Hips" else j for j in joints]
    with pytest.raises(StreamError, match=r"/skeleton: .*Pelvis"):
        rec.check_layout(renamed, types, where="/skeleton")
    with pytest.raises(StreamError, match="58 joints"):
        rec.check_layout(joints[:-1], types[:-6], where="/skeleton")


def test_load_recognizer_errors(untrained_skeleton_model, tmp_path):
    with pytest.raises(ModelFileError, match="empty"):
        load_recognizer("")
    with pytest.raises(ModelFileError, match="nope.safetensors"):
        load_recognizer(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="'rgb' model"):
        load_recognizer(untrained_skeleton_model, modality="rgb")


def test_warm_up_changes_no_state(untrained_skeleton_model, real_clip_path):
    clip = read_bvh(real_clip_path)
    warm, cold = load_recognizer(untrained_skeleton_model, hop_s=0.1), load_recognizer(untrained_skeleton_model, hop_s=0.1)
    warm.warm_up()
    a = [p.probabilities for _, p in stream(warm, clip.motion, clip.frame_time_s)]
    b = [p.probabilities for _, p in stream(cold, clip.motion, clip.frame_time_s)]
    assert len(a) == len(b) > 0
    np.testing.assert_array_equal(np.stack(a), np.stack(b))


def test_duplicated_stamps_are_skipped_and_counted_not_a_reset(untrained_skeleton_model, real_clip_path):
    """Issue 15 item 1: a stream that sends every frame twice gives the same predictions as
    the stream sent once (it used to restart the window at each duplicate: no prediction)."""
    clip = read_bvh(real_clip_path)
    frames = clip.motion[:150]
    once = stream(load_recognizer(untrained_skeleton_model, hop_s=0.1), frames, clip.frame_time_s)
    rec = load_recognizer(untrained_skeleton_model, hop_s=0.1)
    twice = []
    for i, values in enumerate(frames.astype(np.float32)):
        stamp_ns = int(round(i * clip.frame_time_s * 1e9))
        for _ in range(2):
            p = rec.push(values, stamp_ns)
            if p is not None:
                twice.append((i, p))
    assert len(once) >= 3
    assert [i for i, _ in twice] == [i for i, _ in once]
    np.testing.assert_allclose(np.stack([p.probabilities for _, p in twice]), np.stack([p.probabilities for _, p in once]))
    assert rec.stats["duplicate_stamps"] == len(frames) and rec.stats["resets"] == 0

    # one stamp repeated: every repeat counted, the window never restarts
    rec = load_recognizer(untrained_skeleton_model, hop_s=0.1)
    assert all(rec.push(frames[0].astype(np.float32), 5) is None for _ in range(10))
    assert rec.stats["duplicate_stamps"] == 9 and rec.stats["resets"] == 0 and rec.stats["samples"] == 1


def test_backwards_and_gaps_are_counted_apart(untrained_skeleton_model, real_clip_path):
    clip = read_bvh(real_clip_path)
    rec = load_recognizer(untrained_skeleton_model, hop_s=0.1, max_gap_s=0.2)
    values = clip.motion[0].astype(np.float32)
    for stamp_ns in (1_000_000_000, 1_010_000_000, 900_000_000, 2_000_000_000):
        rec.push(values, stamp_ns)
    assert rec.stats["stamps_backwards"] == 1 and rec.stats["gaps"] == 1 and rec.stats["resets"] == 2


def test_admit_decides_before_the_sample_is_read(untrained_skeleton_model, real_clip_path):
    """`admit` alone says whether a sample is used: a caller decodes only admitted samples."""
    clip = read_bvh(real_clip_path)
    rec = load_recognizer(untrained_skeleton_model, hop_s=0.1)
    values = clip.motion[0].astype(np.float32)
    assert rec.admit(0)
    rec.push_admitted(values, 0)
    assert not rec.admit(0)  # same stamp: not wanted
    assert rec.admit(8_333_333) and rec.stats["samples"] == 1
