"""evaluation: metrics (checked against scikit-learn), baselines, report files."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, precision_recall_fscore_support

from harnets_core.evaluation.metrics import baselines, compute_metrics, evaluate, macro_f1, write_report
from harnets_core.models import LSTMClassifier, LSTMConfig
from harnets_core.training.loop import ArrayDataset

torch.set_num_threads(1)
CLASSES = ["Assemble system", "Consult sheets", "Take subsystem", "No action"]


def test_compute_metrics_small_example():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    m = compute_metrics(y_true, y_pred, CLASSES)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    pc = {row["class_name"]: row for row in m["per_class"]}
    assert pc["Consult sheets"]["precision"] == pytest.approx(2 / 3) and pc["Consult sheets"]["recall"] == 1.0
    assert pc["No action"]["support"] == 0 and pc["No action"]["f1"] == 0.0
    # macro-F1 averages the 3 classes present in y_true
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_metrics_agree_with_sklearn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 4, 200))
    m = compute_metrics(y_true, y_pred, CLASSES)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=range(4), zero_division=0)
    assert np.allclose([row["precision"] for row in m["per_class"]], p)
    assert np.allclose([row["recall"] for row in m["per_class"]], r)
    assert np.allclose([row["f1"] for row in m["per_class"]], f)
    assert [row["support"] for row in m["per_class"]] == s.tolist()
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert macro_f1(y_true, y_pred) == pytest.approx(m["macro_f1"])
    with pytest.raises(ValueError, match="0..3"):
        compute_metrics([0, 4], [0, 0], CLASSES)


def test_baselines():
    train = [0, 0, 0, 1, 2, 0]
    val = [0, 1, 1, 2]
    b = baselines(train, 4, val)
    assert b["chance_accuracy"] == 0.25
    assert b["majority_class"] == 0
    assert b["majority_accuracy"] == 0.25
    assert b["majority_macro_f1"] == pytest.approx((2 * 0.25 / 1.25) / 3)  # F1 of class 0 = 0.4, others 0
    p = np.array([0.25, 0.5, 0.25])
    assert b["chance_macro_f1"] == pytest.approx(np.mean(2 * p * 0.25 / (p + 0.25)))
    assert baselines(train, 4)["majority_accuracy"] == pytest.approx(4 / 6)


def test_evaluate_and_write_report(tmp_path):
    torch.manual_seed(0)
    model = LSTMClassifier(LSTMConfig(input_dim=3, num_classes=4, hidden_size=4, num_layers=1))
    rng = np.random.default_rng(1)
    ds = ArrayDataset(rng.normal(size=(23, 5, 3)).astype(np.float32), rng.integers(0, 4, 23))
    result = evaluate(model, ds, CLASSES, device="cpu", batch_size=8)
    assert result.y_true.tolist() == ds.y.tolist()
    assert result.probs.shape == (23, 4) and np.allclose(result.probs.sum(1), 1.0, atol=1e-5)
    assert result.metrics["accuracy"] == pytest.approx(float((result.y_pred == result.y_true).mean()))
    assert model.training  # evaluate restores the mode it found

    history = [
        {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "train_accuracy": 0.2 * e, "val_accuracy": 0.15 * e, "val_macro_f1": 0.1 * e}
        for e in range(1, 5)
    ]
    metrics = dict(result.metrics, baselines=baselines(ds.y.numpy(), 4))
    paths = write_report(tmp_path / "report", metrics, CLASSES, history=history)
    names = {p.name for p in (tmp_path / "report").iterdir()}
    assert names == {"metrics.json", "confusion_matrix.csv", "confusion_matrix.png", "per_class.csv", "training_curves.png"}
    for key in ("confusion_matrix_png", "training_curves"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[key].stat().st_size > 5000
    with open(paths["confusion_matrix_csv"]) as fh:
        rows = list(csv.reader(fh))
    assert rows[0][1:] == CLASSES and [r[0] for r in rows[1:]] == CLASSES
    assert sum(int(v) for r in rows[1:] for v in r[1:]) == 23
    with open(paths["per_class"]) as fh:
        per_class = list(csv.DictReader(fh))
    assert [r["class_name"] for r in per_class] == CLASSES
    assert sum(int(r["support"]) for r in per_class) == 23
    saved = json.loads(paths["metrics"].read_text())
    assert saved["accuracy"] == result.metrics["accuracy"] and saved["baselines"]["chance_accuracy"] == 0.25


def test_write_report_without_history(tmp_path):
    paths = write_report(tmp_path, compute_metrics([0, 1], [1, 1], ["a", "b"]), ["a", "b"])
    assert "training_curves" not in paths and not (tmp_path / "training_curves.png").exists()
    assert paths["confusion_matrix_png"].is_file()

