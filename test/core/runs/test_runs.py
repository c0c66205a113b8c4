"""Training, evaluation and prediction through the `harnets` command line."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harnets_core.cli.main import main
from harnets_core.datasets.inhard import InhardLayout
from harnets_core.models.modelfile import read_meta

pytestmark = pytest.mark.slow


def test_trained_model_beats_chance_and_majority_on_validation_sessions(trained_skeleton_run: Path):
    metrics = json.loads((trained_skeleton_run / "report" / "metrics.json").read_text())
    base = metrics["baselines"]
    assert metrics["sessions"] == ["P01_R02"]  # the official validation session only
    assert metrics["accuracy"] > base["majority_accuracy"] + 0.1
    assert metrics["macro_f1"] > base["chance_macro_f1"] + 0.2
    for name in ("confusion_matrix.png", "confusion_matrix.csv", "per_class.csv", "training_curves.png"):
        assert (trained_skeleton_run / "report" / name).stat().st_size > 0


def test_model_file_describes_itself(trained_skeleton_run: Path):
    meta = read_meta(trained_skeleton_run / "model.safetensors")
    assert meta.class_names == ["No action", "Consult sheets", "Picking left", "Assemble system"]  # idle by default
    assert meta.class_ids == [0, 1, 6, 11]
    assert meta["timeline"]["windows"] == "stream" and set(meta["timeline"]) >= {"filter", "forecast"}
    assert set(meta.preprocessing) >= {"kind", "features", "normalizer"}
    assert meta.window["raw_length"] == 200 and meta.window["length"] == 50
    assert len(meta.skeleton["joint_names"]) == 59 and len(meta.skeleton["channel_names"]) == 354
    data = meta["data"]
    assert set(data["train_sessions"]).isdisjoint(data["val_sessions"])  # split by session
    assert meta.train_config["batch_size"] == 16


def test_evaluate_writes_a_report(trained_skeleton_run: Path, synth_root: Path, tmp_path: Path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", str(trained_skeleton_run / "model.safetensors"), "--data", str(synth_root), "--out", str(out)]) == 0
    assert "accuracy" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    with open(out / "confusion_matrix.csv") as fh:
        rows = list(csv.reader(fh))[1:]
    assert sum(int(v) for row in rows for v in row[1:]) == metrics["n"]


def test_predict_a_segmented_clip_and_a_session_timeline(trained_skeleton_run: Path, synth_root: Path, tmp_path: Path, capsys):
    model = trained_skeleton_run / "model.safetensors"
    layout = InhardLayout(synth_root)
    seg = next(s for s in layout.annotations("online") if s.session == "P01_R02" and s.class_name == "Assemble system")
    assert main(["predict", str(layout.segmented_bvh(seg)), "--model", str(model)]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split(": ")[1].startswith(("Consult sheets", "Picking left", "Assemble system"))
    assert all(name in printed for name in ("Consult sheets", "Picking left", "Assemble system"))
    out = tmp_path / "timeline.csv"
    assert main(["predict", str(layout.session_bvh("P01_R02")), "--model", str(model), "--out", str(out)]) == 0
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    # one row per hop (the model's 0.5 s) once the first 1.68 s window is full, over 40 s
    assert 70 <= len(rows) <= 78 and {"time_s", "label", "confidence", "p_Assemble system"} <= set(rows[0])
    assert (tmp_path / "timeline.png").stat().st_size > 0
    times = [float(r["time_s"]) for r in rows]
    assert times == sorted(times)


def test_prediction_on_another_skeleton_is_a_clear_error(trained_skeleton_run: Path, real_clip_path: Path, tmp_path: Path, capsys):
    text = real_clip_path.read_text().replace("JOINT Spine1", "JOINT Chest", 1)
    other = tmp_path / "other.bvh"
    other.write_text(text)
    assert main(["predict", str(other), "--model", str(trained_skeleton_run / "model.safetensors")]) == 2
    assert "Chest" in capsys.readouterr().err


def test_train_rejects_an_unknown_class(synth_root: Path, tmp_path: Path, capsys):
    assert main(["train", "skeleton", "--data", str(synth_root), "--out", str(tmp_path / "r"), "--classes", "Juggling"]) == 2
    assert "Juggling" in capsys.readouterr().err


def test_train_an_ensemble_member_by_member(synth_root: Path, tmp_path: Path, capsys):
    """`--members 2`: two complete runs (seeds 3 and 4) and one model file holding both, whose
    probabilities are the mean of the two members' files."""
    import numpy as np
    import torch

    from harnets_core.models.modelfile import load_model

    out = tmp_path / "ens"
    args = ["train", "skeleton", "--data", str(synth_root), "--out", str(out), "--epochs", "2", "--seed", "3",
            "--hidden-size", "8", "--layers", "1", "--no-progress"]
    assert main([*args, "--members", "2"]) == 0
    assert "ensemble of 2 LSTMs, best epochs" in capsys.readouterr().out
    meta = read_meta(out / "model.safetensors")
    assert meta.model_config["members"] == 2 and [m["seed"] for m in meta.get("members")] == [3, 4]
    assert set(meta.get("metrics")) == {"val_accuracy", "val_macro_f1"} and (out / "report").is_dir()
    ensemble, first, second = (load_model(p).model for p in
                               (out / "model.safetensors", out / "members" / "0" / "model.safetensors",
                                out / "members" / "1" / "model.safetensors"))
    assert read_meta(out / "members" / "1" / "model.safetensors").model_config["members"] == 1
    x = torch.randn(5, meta.window["length"], meta.model_config["input_dim"])
    with torch.no_grad():
        want = (torch.softmax(first(x), -1) + torch.softmax(second(x), -1)) / 2
        np.testing.assert_allclose(torch.softmax(ensemble(x), -1).numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    # member 0 is the run a single model with the same seed makes
    assert main([*args, "--out", str(tmp_path / "single")]) == 0
    single = load_model(tmp_path / "single" / "model.safetensors").model
    with torch.no_grad():
        np.testing.assert_allclose(single(x).numpy(), first(x).numpy(), rtol=1e-5, atol=1e-6)
    from harnets_core.errors import ConfigError
    from harnets_core.runs.options import ModelOptions
    from harnets_core.runs.prepare import prepare_rgb

    with pytest.raises(ConfigError, match="ensembles are for the skeleton and pose"):
        prepare_rgb(None, model_options=ModelOptions(members=2))  # before any data is read


def test_synth_and_info_commands(tmp_path: Path, trained_skeleton_run: Path, capsys):
    out = tmp_path / "data"
    assert main(["synth", str(out), "--sessions", "P01_R01", "P01_R02", "--duration-s", "8", "--no-videos", "--seed", "4"]) == 0
    assert "2 sessions" in capsys.readouterr().out
    assert sorted(InhardLayout(out).sessions()) == ["P01_R01", "P01_R02"]
    assert main(["synth", str(out), "--no-videos"]) == 2  # never overwrites silently
    assert "exists" in capsys.readouterr().err
    assert main(["info", str(trained_skeleton_run / "model.safetensors")]) == 0
    info = capsys.readouterr().out
    assert info.startswith("model_id: model.safetensors@") and '"class_names"' in info and "hierarchy_bvh" not in info
