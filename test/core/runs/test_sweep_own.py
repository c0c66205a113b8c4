"""`harnets sweep` on your own `classes` layout: the split keeps recordings apart, SA / LA split
the clips by duration and each scenario keeps the classes it has on both sides of the split;
RGB rows default to the whole frame (RGB-FULL), the single camera of a workcell.

Data: `synth.layouts.generate_own_dataset` (6 recordings of 14 s, tiny videos). Under
group-fold:3:0 and a 3.5 s threshold, SA has Screw lid and Inspect part on both sides, LA
Screw lid and Fetch part (the durations are fixed by the seed; asserted below).
"""
from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from harnets_core.cli.main import main
from harnets_core.errors import DatasetError
from harnets_core.models.modelfile import read_meta
from harnets_core.runs.options import DataOptions
from harnets_core.synth.layouts import generate_own_dataset

CLASSES = ["Screw lid", "Inspect part", "Fetch part"]
DATA = ["--split", "group-fold:3:0", "--sa-threshold-s", "3.5"]
GRID = ["--layers-grid", "1", "--batch-sizes", "8", "--scenarios", "SA", "LA", "--epochs", "1", "--device", "cpu"]


@pytest.fixture(scope="module")
def classes_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep_own") / "cell"
    generate_own_dataset(root, layout="classes", classes=CLASSES, recordings=[f"rec0{i}" for i in range(1, 7)],
                         duration_s=14.0, seed=2, videos=True)
    return root


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_scenarios_keep_the_classes_on_both_sides(classes_root: Path) -> None:
    base = DataOptions(root=classes_root, split="group-fold:3:0", threshold_s=3.5)
    sa = replace(base, scenario="SA").select()
    la = replace(base, scenario="LA").select()
    assert sa.class_names == ["Screw lid", "Inspect part"] and la.class_names == ["Screw lid", "Fetch part"]
    assert any("leaves out ['Fetch part']" in n for n in sa.notes)
    assert all(s.duration_s < 3.5 for s in sa.segments) and all(s.duration_s >= 3.5 for s in la.segments)
    with pytest.raises(DatasetError, match="leaves no class with segments on both sides"):
        replace(base, scenario="SA", threshold_s=0.5).select()


def test_skeleton_sweep_on_classes_layout(classes_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", "--data", str(classes_root), "--out", str(out), *DATA, *GRID, "--hop-s", "1.0",
                 "--window-frames", "100", "--rate-hz", "15", "--joints", "body"]) == 0
    rows = _rows(out / "sweep.csv")
    assert [(r["name"], r["layout"]) for r in rows] == [("IMU-SA", "classes"), ("IMU-LA", "classes")]
    names = [read_meta(Path(r["run"]) / "model.safetensors").class_names for r in rows]
    assert names == [["Screw lid", "Inspect part"], ["Screw lid", "Fetch part"]]


def test_rgb_sweep_on_classes_layout_uses_the_whole_frame(classes_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "rgb"
    assert main(["sweep", "--data", str(classes_root), "--out", str(out), "--modality", "rgb", *DATA, *GRID,
                 "--height", "24", "--width", "40", "--video-rate-hz", "5", "--window-s", "1.2", "--video-hop-s", "0.4"]) == 0
    rows = _rows(out / "sweep.csv")
    assert [(r["name"], r["view"]) for r in rows] == [("RGB-FULL-SA", "full"), ("RGB-FULL-LA", "full")]
    meta = read_meta(Path(rows[0]["run"]) / "model.safetensors")
    assert meta.to_dict()["preprocessing"]["view"] == "full" and meta.class_names == ["Screw lid", "Inspect part"]
