"""`harnets predict` on videos: the input check (view fit, person fraction) in its output,
--view, and where it writes (the current folder by default; --out's extension names the
format, a path without one is a folder).

The model is an untrained pose LSTM over the TEST-ONLY BandCentroids extractor (a real model
file, `top` view of InHARD's mosaic); videos are a synthetic InHARD mosaic and one of its
cameras written as a single-camera video.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from harnets_core.cli.main import main
from harnets_core.features import keypoints as pose
from harnets_core.formats.video import iter_frames, write_video
from harnets_core.models import LSTMClassifier, LSTMConfig
from harnets_core.models.modelfile import save_model
from harnets_core.runs.predict import predict_video
from harnets_core.streaming.recognizer import load_recognizer
from band_centroids import BandCentroids

WINDOW = {"window_s": 1.2, "hop_s": 0.4, "rate_hz": 5.0, "length": 6}


@pytest.fixture(autouse=True)
def band_extractor(monkeypatch):
    monkeypatch.setitem(pose.EXTRACTORS, "test-bands", BandCentroids)


@pytest.fixture(scope="module")
def pose_model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = LSTMConfig(input_dim=9, num_classes=2, hidden_size=8, num_layers=1)
    meta = {"model_type": "pose_lstm", "model_config": config.to_dict(), "modality": "pose",
            "class_names": ["Consult sheets", "Assemble system"], "class_ids": [1, 11],
            "preprocessing": {"kind": "pose", "view": "top", "size_hw": [48, 80], "settings": {"name": "test-bands"},
                              "normalizer": None, "keypoint_center": "hips", "keypoint_names": list(BandCentroids.names)},
            "window": WINDOW}
    return save_model(tmp_path_factory.mktemp("model") / "pose.safetensors", LSTMClassifier(config), meta)


@pytest.fixture(scope="module")
def mosaic_video(tmp_path_factory) -> Path:
    from harnets_core.synth.sessions import generate_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, sessions=["P01_R01"], duration_s=4.0, write_videos=True, write_segmented=False)
    return root / "Online" / "RGB" / "P01_R01.mp4"


@pytest.fixture(scope="module")
def camera_video(mosaic_video: Path, tmp_path_factory) -> Path:
    """A single camera (the mosaic's left view, 160x96), in a folder of its own."""
    out = tmp_path_factory.mktemp("camera") / "camera.mp4"
    write_video(out, iter_frames(mosaic_video, view="left", size_hw=None), 25.0)
    return out


def test_a_mosaic_model_on_a_single_camera_says_so(pose_model: Path, camera_video: Path, mosaic_video: Path):
    result = predict_video(pose_model, camera_video, mode="timeline")
    check = result.input_check
    assert result.view == "top" and check.mosaic is False and not check.view_fits
    assert any("160x96" in w and "'top'" in w for w in check.warnings)
    assert check.pose_frames == 20 and check.person_fraction is not None  # 4 s at 5 Hz
    assert len(result.window_person_fractions) == len(result.predictions)
    fine = predict_video(pose_model, mosaic_video, mode="clip")
    assert fine.input_check.mosaic is True and fine.input_check.view_fits
    assert fine.input_check.pose_frames == 20
    # --view full on the single camera: allowed for a pose model, with a note, and it fits
    full = predict_video(pose_model, camera_video, mode="clip", view="full")
    assert full.view == "full" and full.input_check.view_fits
    assert full.input_check.warnings[0].startswith("override: a pose model trained on view 'top' reads view 'full'")


def test_recognizer_reports_the_person_fraction_of_its_frames(pose_model: Path):
    import cv2

    recognizer = load_recognizer(pose_model, max_gap_s=10.0, view="full")
    person = np.zeros((96, 160, 3), np.uint8)
    cv2.line(person, (50, 0), (110, 95), (255, 255, 255), 8)
    blank = np.full((96, 160, 3), 60, np.uint8)
    for k, frame in enumerate([person] * 4 + [blank] * 6):
        recognizer.push(frame, k * 200_000_000)  # every frame taken at 5 Hz
    check = recognizer.input_check()
    assert (check.person_frames, check.pose_frames) == (4, 10) and check.warnings[0].startswith("person:")
    assert recognizer.window_person_fraction() == 0.0  # the 6 newest frames are empty
    with pytest.raises(Exception, match="view 'side'"):
        load_recognizer(pose_model, view="side")


def test_predict_writes_into_the_current_folder_and_prints_the_check(pose_model: Path, camera_video: Path, tmp_path: Path,
                                                                     monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["predict", str(camera_video), "--model", str(pose_model), "--mode", "timeline"]) == 0
    printed = capsys.readouterr()
    assert (tmp_path / "camera.timeline.csv").is_file() and (tmp_path / "camera.timeline.png").is_file()
    assert not (camera_video.parent / "camera.timeline.csv").exists()  # never next to the input
    assert str(tmp_path / "camera.timeline.csv") in printed.out
    assert "not a 2x2 mosaic" in printed.out and "sampled frames" in printed.out
    assert "warning: view:" in printed.err and "160x96" in printed.err
    with open(tmp_path / "camera.timeline.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and rows[0]["view_fits"] == "False" and 0.0 <= float(rows[0]["person_fraction"]) <= 1.0


def test_out_names_the_format_by_its_extension_or_is_a_folder(pose_model: Path, camera_video: Path, tmp_path: Path,
                                                               monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    base = ["predict", str(camera_video), "--model", str(pose_model), "--mode", "timeline", "--view", "full"]
    assert main(base + ["--out", "t.json"]) == 0
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["input"]["view"] == "full" and doc["input"]["view_fits"] is True and doc["predictions"]
    assert (tmp_path / "t.png").is_file()
    assert main(base + ["--out", "results", "--plot", "plots/p.svg"]) == 0  # no extension: a folder
    assert (tmp_path / "results" / "camera.timeline.csv").is_file() and (tmp_path / "plots" / "p.svg").is_file()
    capsys.readouterr()
    for option, value in (("--out", "t.txt"), ("--plot", "p.jpg2"), ("--video-out", "v.avi")):
        assert main(base + [option, value]) == 2
        err = capsys.readouterr().err
        assert f"{option} {value}" in err and "extension" in err
    (tmp_path / "plainfile").write_text("x")
    assert main(base + ["--out", "plainfile"]) == 2 and "without an extension" in capsys.readouterr().err
    # a clip prediction writes only when asked, in the format asked
    assert main(["predict", str(camera_video), "--model", str(pose_model), "--mode", "clip", "--out", "c.json"]) == 0
    clip = json.loads((tmp_path / "c.json").read_text())
    assert clip["label"] in ("Consult sheets", "Assemble system") and clip["input"]["view_fits"] is False
