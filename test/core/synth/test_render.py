"""harnets_core.synth.render: synthetic InHARD mosaics from joint positions, session and segmented videos."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harnets_core.errors import ConfigError, VideoError
from harnets_core.datasets.inhard import Segment
from harnets_core.synth.render import (
    MosaicRenderer,
    positions_at_times,
    render_mosaic_video,
    scene_from_positions,
    video_frame_times,
    write_segmented_clips,
)
from harnets_core.formats.video import crop_view, probe_video, read_frames

DATA = Path(__file__).resolve().parents[2] / "data"
FRAME_TIME_S = 0.008401

# A small stick figure facing -X (as the real P01_R01 clip), 120 Hz, right arm waving.
NAMES = ("Hips", "Spine", "Neck", "Head", "Head_End", "RightUpLeg", "RightLeg", "RightFoot",
         "LeftUpLeg", "LeftLeg", "LeftFoot", "RightArm", "RightForeArm", "RightHand",
         "LeftArm", "LeftForeArm", "LeftHand")  # fmt: skip
PARENTS = (-1, 0, 1, 2, 3, 0, 5, 6, 0, 8, 9, 2, 11, 12, 2, 14, 15)
REST = np.array([
    [0, 95, 0], [0, 130, 0], [0, 150, 0], [0, 160, 0], [0, 175, 0],
    [0, 93, -10], [0, 50, -10], [0, 5, -10], [0, 93, 10], [0, 50, 10], [0, 5, 10],
    [0, 145, -18], [0, 118, -20], [0, 95, -20], [0, 145, 18], [0, 118, 20], [0, 95, 20],
], dtype=np.float64)  # fmt: skip


def waving(n_frames: int) -> np.ndarray:
    """(F, J, 3) positions in cm: the right forearm and hand swing up and forward."""
    pos = np.repeat(REST[None], n_frames, axis=0) + np.array([-20.0, 0.0, 15.0])
    phase = np.sin(np.linspace(0, 4 * np.pi, n_frames))
    pos[:, 12, :] += np.stack([-20 * phase, 15 * phase, 0 * phase], axis=1)
    pos[:, 13, :] += np.stack([-45 * phase, 40 * phase, 0 * phase], axis=1)
    return pos


def test_scene_faces_the_operator_front() -> None:
    scene = scene_from_positions(waving(10), NAMES)
    assert np.allclose(scene.front, [-1, 0, 0])
    assert np.allclose(scene.left, [0, 0, 1])  # LeftUpLeg is at +Z
    assert scene.floor_y_cm == pytest.approx(5.0)
    assert np.allclose(scene_from_positions(waving(10)).front, [0, 0, 1])  # no names: +Z


def test_frames_are_sampled_by_time() -> None:
    times = video_frame_times(240, FRAME_TIME_S, 25)  # 2.016 s of motion
    assert len(times) == 50 and times[1] == pytest.approx(0.04)
    pos = np.arange(10, dtype=np.float64)[:, None, None] * np.ones((10, 1, 3))
    got = positions_at_times(pos, 0.1, np.array([0.0, 0.05, 0.25, 5.0]))
    assert got[:, 0, 0].tolist() == pytest.approx([0.0, 0.5, 2.5, 9.0])


def test_mosaic_has_the_inhard_layout_and_motion() -> None:
    pos = waving(60)
    renderer = MosaicRenderer(PARENTS, NAMES, scene=scene_from_positions(pos, NAMES),
                              size_hw=(96, 160), seed=1)
    frames = renderer.render(pos[::6])
    assert frames.shape == (10, 96, 160, 3) and frames.dtype == np.uint8
    skel = crop_view(frames[0], "skeleton").astype(int)
    assert (np.abs(skel - [40, 40, 46]).sum(axis=2) > 60).sum() > 30  # a figure is drawn
    views = {v: np.stack([crop_view(f, v) for f in frames]).astype(int) for v in ("top", "left", "right", "skeleton")}
    for view, clip in views.items():
        moving = np.abs(clip - clip[0]).max(axis=(0, 3)) > 40  # (h, w) pixels that change
        assert moving.sum() > 5, f"{view}: no motion"
    assert np.abs(views["left"][0] - views["right"][0]).mean() > 10  # backgrounds differ per view
    with pytest.raises(ConfigError, match="want"):
        renderer.render(pos[:, :5])
    with pytest.raises(ConfigError, match="even"):
        MosaicRenderer(PARENTS, NAMES, scene=renderer.scene, size_hw=(95, 160))


def test_mosaic_video_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "Online" / "RGB" / "P01_R01.mp4"
    info = render_mosaic_video(waving(360), PARENTS, FRAME_TIME_S, path, joint_names=NAMES,
                               size_hw=(64, 96), fps=25)
    assert info.fps == 25.0 and info.n_frames == 75 and (info.height, info.width) == (64, 96)
    frames = read_frames(path, view="left", size_hw=None)
    assert frames.shape == (75, 32, 48, 3)
    assert np.abs(frames.astype(int) - frames[0]).max() > 40
    info30 = render_mosaic_video(waving(360), PARENTS, FRAME_TIME_S, tmp_path / "v30.mp4",
                                 size_hw=(64, 96), fps=30)
    assert info30.fps == 30.0 and info30.n_frames == 90


def _segment(session: str, class_id: int, class_name: str, start_s: float, end_s: float) -> Segment:
    return Segment(session=session, subject=session[:3], operation="OP010", action_label="x",
                   class_id=class_id, class_name=class_name, bvh_start_frame=0, bvh_end_frame=1,
                   rgb_start_s=start_s, rgb_end_s=end_s, rgb_start_frame=round(start_s * 25),
                   rgb_end_frame=round(end_s * 25), duration_s=end_s - start_s)


def test_segmented_clips_follow_the_inhard_layout(tmp_path: Path) -> None:
    video = tmp_path / "P01_R01.mp4"
    render_mosaic_video(waving(360), PARENTS, FRAME_TIME_S, video, joint_names=NAMES,
                        size_hw=(64, 96))  # 75 frames, 3 s
    segs = [_segment("P01_R01", 11, "Assemble system", 0.4, 1.2),
            _segment("P01_R01", 0, "No action", 2.0, 3.0)]  # ends on the last frame + 1
    out = tmp_path / "Segmented" / "RGBSegmented"
    paths = write_segmented_clips(video, segs, out)
    assert paths == [out / "Assemble system" / "P01_R01_0000.40_0001.20.mp4",
                     out / "No action" / "P01_R01_0002.00_0003.00.mp4"]
    assert probe_video(paths[0]).n_frames == 21  # frames 10 to 30, end included
    assert probe_video(paths[1]).n_frames == 25  # frames 50 to 74 (75 clipped)
    session = read_frames(video, 10, 31, size_hw=None).astype(int)
    clip = read_frames(paths[0], size_hw=None).astype(int)
    assert np.abs(clip - session).mean() < 4  # same frames, re-encoded once
    with pytest.raises(VideoError, match="belongs to session P02_R01"):
        write_segmented_clips(video, [_segment("P02_R01", 0, "No action", 0, 1)], out)


def test_render_session_video_from_a_real_clip(tmp_path: Path) -> None:
    pytest.importorskip("harnets_core.features.kinematics")
    from harnets_core.formats.bvh import read_bvh
    from harnets_core.synth.render import render_session_video

    clip = read_bvh(DATA / "P01_R01_0026.48_0028.80.bvh")  # 276 frames, 2.32 s
    out = tmp_path / "P01_R01.mp4"
    seg = _segment("P01_R01", 11, "Assemble system", 0.0, 1.0)
    info = render_session_video(clip, [seg], out, fps=25, size_hw=(64, 96),
                                segmented_dir=tmp_path / "RGBSegmented")
    assert info.n_frames == 57 and info.fps == 25.0
    frames = read_frames(out, view="full", size_hw=None).astype(int)
    assert np.abs(frames - frames[0]).max() > 40
    assert probe_video(tmp_path / "RGBSegmented" / "Assemble system" / f"{seg.name}.mp4").n_frames == 26
