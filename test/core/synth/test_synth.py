"""harnets_core.synth.sessions: real layout, readable back, deterministic, learnable labels."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harnets_core.synth import sessions as synth
from harnets_core.formats.bvh import read_bvh
from harnets_core.errors import ConfigError, DatasetError
from harnets_core.datasets.inhard import (
    META_ACTIONS,
    InhardLayout,
    read_annotations,
    scenario_filter,
    split_sessions,
)

REAL_CLIP = Path(__file__).resolve().parents[2] / "data" / "P01_R01_0026.48_0028.80.bvh"
SESSIONS = ("P01_R01", "P02_R01")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, synth.SynthSummary]:
    root = tmp_path_factory.mktemp("synth") / "inhard"
    return root, synth.generate_dataset(root, seed=3, sessions=SESSIONS, duration_s=20.0)


def test_layout_and_annotations_read_back(small: tuple[Path, synth.SynthSummary]) -> None:
    root, summary = small
    lay = InhardLayout(root)
    assert lay.sessions() == sorted(SESSIONS)
    online = read_annotations(root / "Online" / "Labels" / "InHARD.csv")
    segmented = lay.annotations("segmented")
    assert online == [s for sm in summary.sessions.values() for s in sm.actions]
    assert {s.class_id for s in online} <= set(synth.DEFAULT_CLASSES)
    assert any(s.class_name == "No action" for s in segmented)
    assert not any(s.class_name == "No action" for s in online)
    header = (root / "Segmented" / "Labels" / "InHARD.csv").read_text().splitlines()[0]
    assert header.startswith(",File_name,Subject,Operation,Action_label,Meta_action_number,")
    for s in segmented:
        assert s.rgb_start_frame == round(s.rgb_start_s * 25)
        assert s.duration_s == pytest.approx(s.rgb_end_s - s.rgb_start_s, abs=0.006)
        assert s.bvh_start_frame == round(s.rgb_start_s / 0.008401)
        assert lay.segmented_bvh(s).parent.name == s.class_name
    # segments of a session are in time order and do not overlap
    for sm in summary.sessions.values():
        ends = [s.bvh_end_frame for s in sm.segments]
        starts = [s.bvh_start_frame for s in sm.segments]
        assert all(b >= a for a, b in zip(ends[:-1], starts[1:]))


def test_bvh_has_real_skeleton_and_matches_summary(small: tuple[Path, synth.SynthSummary]) -> None:
    root, summary = small
    real = read_bvh(REAL_CLIP)
    lay = InhardLayout(root)
    clip = read_bvh(lay.session_bvh("P01_R01"))
    assert clip.skeleton.signature() == real.skeleton.signature()
    assert len(clip.skeleton.joint_names) == 59 and clip.skeleton.n_channels == 354
    assert clip.frame_time_s == pytest.approx(0.008401)
    assert clip.n_frames == int(20.0 / 0.008401) + 1
    np.testing.assert_array_equal(clip.motion, summary.sessions["P01_R01"].clip.motion)
    # hierarchy OFFSETs are the template's, byte for byte
    tpl_head = (Path(synth.__file__).parents[1] / "data" / "inhard_skeleton.bvh").read_text()
    assert lay.session_bvh("P01_R01").read_text().startswith(tpl_head.split("MOTION")[0])
    seg = summary.sessions["P01_R01"].segments[1]
    part = read_bvh(lay.segmented_bvh(seg))
    np.testing.assert_array_equal(part.motion, clip.motion[seg.bvh_start_frame : seg.bvh_end_frame + 1])


def test_classes_move_differently(small: tuple[Path, synth.SynthSummary]) -> None:
    """Each class's pattern moves its own channels: per-class mean |delta from session
    median| profiles differ clearly between classes (learnable, not identical)."""
    _, summary = small
    sm = summary.sessions["P01_R01"]
    motion = sm.clip.motion
    rest = np.median(motion, axis=0)
    profiles = {}
    for s in sm.actions:
        profiles.setdefault(s.class_id, []).append(
            np.abs(motion[s.bvh_start_frame : s.bvh_end_frame + 1] - rest).mean(axis=0))
    means = {c: np.mean(v, axis=0) for c, v in profiles.items()}
    ids = sorted(means)
    assert len(ids) >= 3
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            assert np.abs(means[a] - means[b]).max() > 3.0, (META_ACTIONS[a], META_ACTIONS[b])


def test_deterministic_bytes(tmp_path: Path) -> None:
    kw = dict(sessions=("P03_R01",), duration_s=8.0, classes=("Turn sheets", 11))
    synth.generate_dataset(tmp_path / "a", seed=7, **kw)
    synth.generate_dataset(tmp_path / "b", seed=7, **kw)
    synth.generate_dataset(tmp_path / "c", seed=8, **kw)
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert a == b
    assert a["Online/Skeleton/P03_R01.bvh"] != c["Online/Skeleton/P03_R01.bvh"]


def test_default_config_covers_scenarios_and_split() -> None:
    """Plan only (no files): the default classes give SA and LA data on both sides."""
    segs = [s for name in synth.DEFAULT_SESSIONS[:3] + synth.DEFAULT_SESSIONS[-1:]
            for s in synth.generate_session(name, duration_s=60.0).actions]
    assert len(scenario_filter(segs, "SA")) >= 10 and len(scenario_filter(segs, "LA")) >= 5
    train, val = split_sessions(synth.DEFAULT_SESSIONS)
    assert (len(train), len(val)) == (6, 3)


def test_video_renderer_and_errors(tmp_path: Path) -> None:
    # no renderer given: the built-in renderer writes a real mosaic video (and the segmented clips)
    from harnets_core.formats.video import probe_video

    synth.generate_dataset(tmp_path / "r", sessions=("P01_R01",), duration_s=5.0, write_videos=True)
    info = probe_video(tmp_path / "r" / "Online" / "RGB" / "P01_R01.mp4")
    assert info.fps == pytest.approx(25.0) and abs(info.n_frames - 125) <= 1
    assert list((tmp_path / "r" / "Segmented" / "RGBSegmented").rglob("*.mp4"))
    calls = []

    def fake_render(clip, segments, out_path, fps=25.0):
        calls.append((clip.n_frames, len(segments), Path(out_path).relative_to(tmp_path), fps))
        Path(out_path).write_bytes(b"mp4")

    cuts = []
    summary = synth.generate_dataset(tmp_path / "v", sessions=("P01_R01",), duration_s=5.0, write_videos=True,
                                     keep_clips=False, render_video=fake_render,
                                     cut_videos=lambda video, segments, out: cuts.append((Path(video).name, len(segments))))
    assert calls == [(int(5.0 / 0.008401) + 1, len(summary.sessions["P01_R01"].segments),
                      Path("v/Online/RGB/P01_R01.mp4"), 25.0)]
    assert cuts == [("P01_R01.mp4", len(summary.sessions["P01_R01"].segments))]
    assert summary.sessions["P01_R01"].clip is None
    with pytest.raises(DatasetError, match="already exists"):
        synth.generate_dataset(tmp_path / "v", sessions=("P01_R01",), duration_s=5.0)
    with pytest.raises(ConfigError, match="No action is always generated"):
        synth.generate_dataset(tmp_path / "w", classes=["No action"])
