"""`harnets sweep`: the HARNets grid for the skeleton (IMU rows) and RGB (RGB / RGB-SP rows),
from the online or the segmented layout, on tiny synthetic data and a 1-cell-per-scenario grid."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from harnets_core.cli.main import build_parser, main
from harnets_core.errors import ConfigError
from harnets_core.runs.options import DataOptions
from harnets_core.runs.sweep import SWEEP_COLUMNS, SweepGrid, format_table, row_name, run_sweep

SESSIONS = ["P01_R01", "P03_R01", "P04_R02", "P01_R02"]  # 3 official train, 1 official validation
# small windows and features so that a 2-epoch cell takes a second or two on one CPU thread
FAST_SKELETON = ["--hop-s", "1.0", "--window-frames", "100", "--rate-hz", "15", "--joints", "body"]
TINY_GRID = ["--layers-grid", "1", "--batch-sizes", "8", "--scenarios", "SA", "LA", "--epochs", "2", "--device", "cpu"]


@pytest.fixture(scope="module")
def skeleton_root(tmp_path_factory) -> Path:
    from harnets_core.synth.sessions import generate_dataset

    root = tmp_path_factory.mktemp("sweep_synth")
    generate_dataset(root, seed=1, sessions=SESSIONS, duration_s=30.0, write_videos=False)
    return root


@pytest.fixture(scope="module")
def video_root(tmp_path_factory) -> Path:
    from harnets_core.synth.sessions import generate_dataset

    root = tmp_path_factory.mktemp("sweep_video")
    generate_dataset(root, seed=1, sessions=["P01_R01", "P01_R02"], duration_s=12.0, write_videos=True,
                     write_segmented=False)
    return root


@pytest.fixture(scope="module")
def skeleton_sweep(skeleton_root: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep_out")
    torch.set_num_threads(1)
    assert main(["sweep", "--data", str(skeleton_root), "--out", str(out), *TINY_GRID, *FAST_SKELETON]) == 0
    return out


def _csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


# ----------------------------------------------------------------------------- names and table
def test_row_names_follow_the_original_table():
    assert row_name("skeleton", "SA") == "IMU-SA"
    assert row_name("rgb", "SA", "top") == "RGB-SP-SA"
    assert row_name("rgb", "LA", "top") == "RGB-SP-LA"
    assert row_name("rgb", "SA", "left") == "RGB-SA" == row_name("rgb", "SA", "right")
    assert row_name("rgb", "LA", "full") == "RGB-FULL-LA"  # the whole frame: own layouts' single cameras
    with pytest.raises(ConfigError):
        row_name("rgb", "SA", "skeleton")
    with pytest.raises(ConfigError):
        row_name("pose", "SA")


def test_format_table_rows_and_columns():
    rows = [
        {"name": "RGB-SP-SA", "scenario": "SA", "layers": 1, "batch_size": 4, "train_accuracy": 0.5,
         "val_accuracy": 0.25, "val_macro_f1": 0.125},
        {"name": "RGB-SP-LA", "scenario": "LA", "layers": 1, "batch_size": 8, "train_accuracy": None,
         "val_accuracy": 1.0, "val_macro_f1": 1.0},
        {"scenario": "SA", "layers": 2, "batch_size": 4, "train_accuracy": 0.1, "val_accuracy": 0.2,
         "val_macro_f1": 0.3},  # no name: a skeleton row of an older sweep.json
    ]
    lines = format_table(rows, [4, 8]).splitlines()
    assert lines[0] == ("| Scenario | Hidden layers | B4 train acc | B4 val acc | B4 val macro-F1 | "
                        "B8 train acc | B8 val acc | B8 val macro-F1 |")
    assert lines[1] == "|" + "---|" * 8
    assert lines[2:] == [
        "| IMU-SA | 2 | 10.0 | 20.0 | 30.0 | - | - | - |",
        "| RGB-SP-LA | 1 | - | - | - | - | 100.0 | 100.0 |",
        "| RGB-SP-SA | 1 | 50.0 | 25.0 | 12.5 | - | - | - |",
    ]


def test_sweep_parser_defaults():
    args = build_parser().parse_args(["sweep", "--data", "d", "--out", "o"])
    assert (args.modality, args.layout, args.view) == ("skeleton", "auto", None)  # None: top on InHARD, full on own data
    assert args.layers_grid == [1, 2, 3] and args.batch_sizes == [4, 8, 16] and args.scenarios == ["SA", "LA"]
    train = build_parser().parse_args(["train", "skeleton", "--data", "d", "--out", "o", "--layout", "segmented"])
    assert train.layout == "segmented"
    assert build_parser().parse_args(["sweep", "--data", "d", "--out", "o", "--modality", "rgb", "--view", "full"]).view == "full"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sweep", "--data", "d", "--out", "o", "--modality", "rgb", "--view", "skeleton"])


# ----------------------------------------------------------------------------- skeleton sweep
def test_skeleton_sweep_writes_one_row_per_cell(skeleton_sweep: Path):
    out = skeleton_sweep
    columns, rows = _csv_rows(out / "sweep.csv")
    assert columns == list(SWEEP_COLUMNS)
    assert [(r["name"], r["scenario"], r["layers"], r["batch_size"]) for r in rows] == [
        ("IMU-SA", "SA", "1", "8"), ("IMU-LA", "LA", "1", "8")]
    data = json.loads((out / "sweep.json").read_text())
    assert len(data) == 2 and all(list(r) == list(SWEEP_COLUMNS) for r in data)
    for r in data:
        assert r["modality"] == "skeleton" and r["layout"] == "online" and r["view"] == ""
        assert 0.0 <= r["val_accuracy"] <= 1.0 and 0.0 <= r["val_macro_f1"] <= 1.0
        assert r["train_accuracy"] is None or 0.0 <= r["train_accuracy"] <= 1.0
        assert r["n_train"] > 0 and r["n_val"] > 0 and 1 <= r["best_epoch"] <= 2
        run = Path(r["run"])
        assert run.parent == out and (run / "model.safetensors").is_file() and (run / "report").is_dir()
    table = (out / "sweep.md").read_text().splitlines()
    assert table[0].startswith("| Scenario | Hidden layers | B8 train acc | B8 val acc | B8 val macro-F1 |")
    assert sorted(line.split(" | ")[0] for line in table[2:]) == ["| IMU-LA", "| IMU-SA"]
    assert len(table) == 4


def test_skeleton_sweep_from_segmented_layout_matches_online(skeleton_root: Path, tmp_path: Path):
    """The segmented clips are the online segments' frames: with segment windows and no idle
    class (a clip has no time between activities), same windows, same seed, same result."""
    segment_windows = [*TINY_GRID[:-4], "--scenarios", "SA", "--epochs", "2", "--device", "cpu", *FAST_SKELETON,
                       "--windows", "segments", "--no-background"]
    rows = {}
    for layout in ("segmented", "online"):
        out = tmp_path / layout
        assert main(["sweep", "--data", str(skeleton_root), "--out", str(out), *segment_windows, "--layout", layout]) == 0
        rows[layout] = json.loads((out / "sweep.json").read_text())
    seg, online = rows["segmented"], rows["online"]
    assert len(seg) == 1 and seg[0]["layout"] == "segmented" and seg[0]["name"] == "IMU-SA"
    assert (seg[0]["n_train"], seg[0]["n_val"]) == (online[0]["n_train"], online[0]["n_val"])
    assert seg[0]["val_accuracy"] == pytest.approx(online[0]["val_accuracy"], abs=1e-6)
    assert seg[0]["val_macro_f1"] == pytest.approx(online[0]["val_macro_f1"], abs=1e-6)
    from harnets_core.models.modelfile import read_meta

    assert read_meta(Path(seg[0]["run"]) / "model.safetensors").to_dict()["data"]["layout"] == "segmented"


# ----------------------------------------------------------------------------- rgb sweep
def test_rgb_sweep_top_view_rows_are_rgb_sp(video_root: Path, tmp_path: Path):
    out = tmp_path / "rgb_top"
    code = main(["sweep", "--data", str(video_root), "--out", str(out), "--modality", "rgb", "--view", "top",
                 "--height", "24", "--width", "40", "--video-rate-hz", "5", "--window-s", "1.2", "--video-hop-s", "0.4",
                 "--layers-grid", "1", "--batch-sizes", "8", "--scenarios", "SA", "--epochs", "1", "--device", "cpu"])
    assert code == 0
    columns, rows = _csv_rows(out / "sweep.csv")
    assert columns == list(SWEEP_COLUMNS)
    assert [(r["name"], r["modality"], r["view"], r["layers"], r["batch_size"]) for r in rows] == [
        ("RGB-SP-SA", "rgb", "top", "1", "8")]
    run = Path(rows[0]["run"])
    assert run.name == "RGB-SP-SA_L1_B8" and (run / "model.safetensors").is_file()
    from harnets_core.models.modelfile import read_meta

    meta = read_meta(run / "model.safetensors")
    assert meta.model_type == "cnn_lstm" and meta.model_config["num_layers"] == 1
    assert meta.to_dict()["preprocessing"]["view"] == "top"
    assert (out / "sweep.md").read_text().splitlines()[2].startswith("| RGB-SP-SA | 1 | ")


def test_rgb_sweep_side_view_rows_are_rgb(video_root: Path, tmp_path: Path):
    from harnets_core.runs.options import RgbOptions

    out = tmp_path / "rgb_left"
    tiny = RgbOptions(view="left", size_hw=(24, 40), rate_hz=5.0, window_s=1.2, hop_s=0.4,
                      encoder_config={"channels": [4, 8]}, feature_dim=8)
    grid = SweepGrid(scenarios=("SA",), layers=(1, 2), batch_sizes=(8,), epochs=1, device="cpu")
    table = run_sweep(DataOptions(root=video_root, modality="rgb"), grid, out, rgb=tiny)
    rows = json.loads((out / "sweep.json").read_text())
    assert [(r["name"], r["view"], r["layers"]) for r in rows] == [("RGB-SA", "left", 1), ("RGB-SA", "left", 2)]
    assert [line.split(" | ")[:2] for line in table.splitlines()[2:]] == [["| RGB-SA", "1"], ["| RGB-SA", "2"]]
    from harnets_core.models.modelfile import read_meta

    layers = [read_meta(Path(r["run"]) / "model.safetensors").model_config["num_layers"] for r in rows]
    assert layers == [1, 2]
