"""harnets_core.features.view_check: does a video fit the model's view, is a person in it; and
the streaming FrameRecognizer's input check (what the pose/image nodes put on /diagnostics).

Mosaics are real synthetic InHARD mosaic videos (synth.render); single cameras are one of
their quadrants written as its own video, and a photograph (matplotlib's sample
grace_hopper.jpg, 512x600) at two sizes.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest

from harnets_core.features.view_check import (
    MOSAIC_SEAM_RATIO,
    PERSON_FRACTION_WARN,
    InputMonitor,
    check_frames,
    person_flags,
    seam_score,
)
from harnets_core.formats.video import iter_frames, write_video
from band_centroids import BandCentroids

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def mosaic_video(tmp_path_factory) -> Path:
    from harnets_core.synth.sessions import generate_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, sessions=["P01_R01"], duration_s=3.0, write_videos=True, write_segmented=False)
    return root / "Online" / "RGB" / "P01_R01.mp4"


@pytest.fixture(scope="module")
def single_camera_video(mosaic_video: Path, tmp_path_factory) -> Path:
    """One camera of the mosaic as its own 160x96 video: what a workcell camera gives."""
    out = tmp_path_factory.mktemp("single") / "camera.mp4"
    write_video(out, iter_frames(mosaic_video, view="left", size_hw=None), 25.0)
    return out


def _photo() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)  # (600, 512, 3)


def test_seams_tell_a_mosaic_from_a_single_camera(mosaic_video: Path, single_camera_video: Path):
    mosaic = [seam_score(f) for f in iter_frames(mosaic_video, view="full", size_hw=None)][::10]
    single = [seam_score(f) for f in iter_frames(single_camera_video, view="full", size_hw=None)][::10]
    top = [seam_score(f) for f in iter_frames(mosaic_video, view="top", size_hw=None)][::10]
    assert min(mosaic) > 2 * MOSAIC_SEAM_RATIO
    assert max(single + top) < MOSAIC_SEAM_RATIO
    photo = _photo()
    assert seam_score(photo) < 2 and seam_score(cv2.resize(photo, (176, 144))) < 2  # a 176x144 camera
    # four views of one scene from nearby places (four crops of the photograph): still a mosaic
    quads = [photo[0:300, 0:256], photo[10:310, 20:276], photo[20:320, 5:261], photo[5:305, 30:286]]
    assert seam_score(np.vstack([np.hstack(quads[:2]), np.hstack(quads[2:])])) > MOSAIC_SEAM_RATIO
    assert seam_score(np.zeros((8, 8, 3), np.uint8)) is None  # too small to judge


def test_a_mosaic_view_on_a_single_camera_warns_and_on_a_mosaic_does_not(mosaic_video: Path, single_camera_video: Path):
    scores = [seam_score(f) for f in iter_frames(single_camera_video, view="full", size_hw=None)][::10]
    check = check_frames("top", (96, 160), scores, size_hw=(24, 40))
    assert check.mosaic is False and not check.view_fits
    assert len(check.warnings) == 1 and "160x96" in check.warnings[0] and "'top'" in check.warnings[0]
    assert "top-left quarter" in check.warnings[0]
    mosaic = [seam_score(f) for f in iter_frames(mosaic_video, view="full", size_hw=None)][::10]
    fine = check_frames("top", (192, 320), mosaic, size_hw=(24, 40))
    assert fine.mosaic is True and fine.view_fits and fine.ok
    # the other way round: a whole-frame model given a mosaic
    full = check_frames("full", (192, 320), mosaic)
    assert not full.view_fits and "looks like a 2x2 mosaic" in full.warnings[0]
    assert check_frames("full", (96, 160), scores).ok


def test_geometry_alone_says_when_a_frame_cannot_be_the_mosaic():
    assert check_frames("top", (192, 320), size_hw=(24, 40)).ok
    odd = check_frames("left", (145, 176))
    assert not odd.view_fits and "176x145" in odd.warnings[0] and "odd side" in odd.warnings[0]
    small = check_frames("top", (144, 176), size_hw=(96, 160))
    assert "smaller than the model's input (160x96)" in small.warnings[0]
    assert check_frames("full", (145, 177), size_hw=(96, 160)).ok


def test_a_person_is_enough_confident_keypoints_on_a_body_sized_box():
    k = np.zeros((5, 4, 3), np.float32)
    k[0] = [[0.40, 0.2, 0.9], [0.60, 0.2, 0.9], [0.45, 0.7, 0.9], [0.55, 0.7, 0.9]]  # a body
    k[1] = [[0.50, 0.1, 0.9], [0.50, 0.4, 0.9], [0.51, 0.7, 0.9], [0.50, 0.9, 0.9]]  # a pole: a line of points
    k[2] = [[0.50, 0.50, 0.9], [0.51, 0.50, 0.9], [0.50, 0.52, 0.9], [0.52, 0.51, 0.9]]  # a few pixels
    k[3] = k[0]
    k[3, 1:, 2] = 0.3  # visible but one keypoint confident
    assert person_flags(k).tolist() == [True, False, False, False, False]  # k[4]: nothing found
    check = check_frames("full", None, keypoints=k)
    assert check.person_fraction == pytest.approx(0.2) and check.person_frames == 1 and check.pose_frames == 5
    assert check.view_fits and check.warnings[0].startswith("person: a person was found in 1 of 5")
    assert check_frames("full", None, keypoints=k[[0, 0, 1]]).ok  # 2/3 >= PERSON_FRACTION_WARN
    assert PERSON_FRACTION_WARN == 0.5


def _figure_frame(h: int = 72, w: int = 96) -> np.ndarray:
    """A bright slanted bar on black: BandCentroids finds 3 spread keypoints (a 'person')."""
    frame = np.zeros((h, w, 3), np.uint8)
    cv2.line(frame, (int(0.3 * w), 0), (int(0.7 * w), h - 1), (255, 255, 255), 6)
    return frame


def test_monitor_counts_person_frames_and_scores_seams():
    monitor = InputMonitor("full", seam_every=2, recent_frames=10)
    extractor = BandCentroids()
    blank = np.full((72, 96, 3), 90, np.uint8)
    for frame in [_figure_frame()] * 3 + [blank] * 7:
        monitor.frame(frame)
        monitor.keypoints(extractor(frame))
    check = monitor.check()
    assert check.person_frames == 3 and check.pose_frames == 10 and len(check.seam_scores) == 5
    assert "3 of 10" in check.warnings[0]
    assert monitor.recent_person_fraction(4) == 0.0 and monitor.recent_person_fraction(10) == pytest.approx(0.3)
