"""harnets dataset from-bag: workcell rosbag2 files (rosbags: mcap and sqlite3, raw and
compressed images) -> the sessions layout -> a trained model with the user's class names.

The bags are written here the way a workcell records them: SkeletonFrame messages of a
synthetic recording (one dropped) and a small camera stream that starts later than the suit.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harnets_core.cli.main import main
from harnets_core.datasets.from_bag import dataset_from_bag
from harnets_core.datasets.own import read_labels
from harnets_core.errors import BagError, DatasetError
from harnets_core.formats.bags import (
    IMAGE_TYPE, COMPRESSED_IMAGE_TYPE, SKELETON_FRAME_TYPE, BagWriter, compressed_image_msg, image_msg, skeleton_frame_msg,
)
from harnets_core.formats.bvh import read_bvh
from harnets_core.formats.video import probe_video
from harnets_core.synth.layouts import generate_own_dataset

CLASSES = ["Glue seam", "Clamp", "Wipe"]
T0_NS = 1_700_000_000 * 1_000_000_000


def _write_bag(path: Path, bvh: Path, *, storage: str, camera: str | None, drop: int | None = None) -> None:
    clip = read_bvh(bvh)
    skel = clip.skeleton
    names = skel.joint_names
    counts = [len(j.channels) for j in skel.joints if not j.is_end_site]
    types = [c.split(".", 1)[1] for c in skel.channel_names]
    with BagWriter(path, storage=storage) as w:
        w.add_topic("/harnets/skeleton", SKELETON_FRAME_TYPE)
        if camera:
            w.add_topic("/cam/image", IMAGE_TYPE if camera == "raw" else COMPRESSED_IMAGE_TYPE)
        msgs = []
        for i, values in enumerate(clip.motion):
            if i == drop:
                continue
            stamp = T0_NS + int(round(i * clip.frame_time_s * 1e9))
            msgs.append((stamp, "/harnets/skeleton", skeleton_frame_msg(w.typestore, stamp, i, clip.frame_time_s, names, counts, types, values)))
        if camera:
            for k in range(int(clip.n_frames * clip.frame_time_s * 10) - 3):  # 10 fps, from 0.2 s
                stamp = T0_NS + 200_000_000 + k * 100_000_000
                rgb = np.full((40, 56, 3), (k * 7) % 255, np.uint8)
                make = image_msg if camera == "raw" else compressed_image_msg
                msgs.append((stamp, "/cam/image", make(stamp, "cam", rgb, typestore=w.typestore)))
        for stamp, topic, msg in sorted(msgs, key=lambda m: m[0]):
            w.write(topic, stamp, msg)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fb") / "synth"
    generate_own_dataset(root, layout="sessions", classes=CLASSES, recordings=["a", "b", "c"], duration_s=14.0, seed=3)
    return root


def test_bag_to_sessions_layout_to_model(tmp_path: Path, recordings: Path) -> None:
    out = tmp_path / "mine"
    labels = recordings / "labels.csv"
    for name, storage, camera in (("a", "mcap", "raw"), ("b", "sqlite3", "compressed"), ("c", "mcap", None)):
        bag = tmp_path / f"{name}_bag"
        _write_bag(bag, recordings / f"{name}.bvh", storage=storage, camera=camera, drop=100 if name == "a" else None)
        s = dataset_from_bag(bag, out, labels=labels, session=name)
        assert s.n_labels == sum(1 for r in read_labels(labels) if r[1] == name) and s.n_labels_other_sessions > 0
        if camera:
            info = probe_video(out / f"{name}.mp4")
            assert abs(info.fps - 10.0) < 0.01 and (info.height, info.width) == (40, 56)
            # both files start at the camera's first stamp (0.2 s into the suit's stream)
            src, got = read_bvh(recordings / f"{name}.bvh"), read_bvh(out / f"{name}.bvh")
            first = int(round(0.2 / src.frame_time_s))
            np.testing.assert_allclose(got.motion[0], src.motion[first], atol=1e-3)
    assert s.filled_skeleton == 0
    a = read_bvh(out / "a.bvh")
    assert a.n_frames > 1000  # the dropped message was filled, not lost from the clock
    run = tmp_path / "run"
    assert main(["train", "skeleton", "--data", str(out), "--out", str(run), "--epochs", "1", "--hidden-size", "4",
                 "--layers", "1", "--no-progress", "--window-frames", "80", "--hop-s", "0.5"]) == 0
    from harnets_core.models.modelfile import read_meta

    # whole recordings: the unlabelled time is idle ("No action"), a class of the model
    assert sorted(read_meta(run / "model.safetensors").class_names) == sorted(["No action", *CLASSES])


def test_filled_gap_counted_and_bad_bags(tmp_path: Path, recordings: Path) -> None:
    bag = tmp_path / "gap"
    _write_bag(bag, recordings / "a.bvh", storage="mcap", camera=None, drop=50)
    s = dataset_from_bag(bag, tmp_path / "o", session="a")
    assert s.filled_skeleton == 1 and "1 missing skeleton frame(s)" in s.notes[0]
    assert read_bvh(tmp_path / "o" / "a.bvh").n_frames == read_bvh(recordings / "a.bvh").n_frames
    with pytest.raises(DatasetError, match="a.bvh: exists already"):
        dataset_from_bag(bag, tmp_path / "o", session="a")
    with pytest.raises(BagError, match="topic /nope not in bag"):
        dataset_from_bag(bag, tmp_path / "p", skeleton_topic="/nope")
    with pytest.raises(DatasetError, match="no row of session 'zz'"):
        dataset_from_bag(bag, tmp_path / "q", session="zz", labels=recordings / "labels.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("start_s,end_s,label\n3.0,2.0,Clamp\n")
    with pytest.raises(DatasetError, match=r"bad.csv:2: end_s 2.0 <= start_s 3.0"):
        dataset_from_bag(bag, tmp_path / "r", session="a", labels=bad)
