"""Metrics, baselines and report files (JSON, CSV, PNG) for a classifier."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from harnets_core.serialization import to_jsonable

__all__ = [
    "EvalResult",
    "compute_metrics",
    "confusion",
    "macro_f1",
    "macro_f1_from_confusion",
    "evaluate",
    "predict_logits",
    "baselines",
    "write_report",
]


@dataclass
class EvalResult:
    metrics: dict[str, Any]  # see compute_metrics
    y_true: np.ndarray  # (N,) int64
    y_pred: np.ndarray  # (N,) int64
    probs: np.ndarray  # (N, K) float32 softmax


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion matrix (K, K) int64: rows true class, columns predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def per_class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, f1, support) per class (K,) from a confusion matrix (K, K) or
    (K, K + extra) whose extra columns are predictions outside the classes (they count
    against recall only); 0 where undefined."""
    k = cm.shape[0]
    tp = np.diag(cm[:, :k]).astype(np.float64)
    predicted, support = cm[:, :k].sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-F1 averaged over the classes present in y_true (absent classes do not count)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y_true.size == 0:
        return 0.0
    k = int(max(y_true.max(), y_pred.max())) + 1
    return macro_f1_from_confusion(confusion(y_true, y_pred, k))


def macro_f1_from_confusion(cm: np.ndarray) -> float:
    """Macro-F1 of a confusion matrix (K, K), over the classes with support > 0."""
    _, _, f1, support = per_class_scores(np.asarray(cm))
    return float(f1[support > 0].mean()) if (support > 0).any() else 0.0


def compute_metrics(y_true: Sequence[int], y_pred: Sequence[int], class_names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Returns ``{"n", "accuracy", "macro_f1", "per_class": [{class_id, class_name, precision,
    recall, f1, support}], "confusion_matrix": [[...]] (rows true, columns predicted),
    "class_names"}``. Macro-F1 averages over classes with support > 0.
    """
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in length")
    k = len(class_names)
    n = int(y_true.size)
    bad = (y_true < 0) | (y_true >= k) | (y_pred < 0) | (y_pred >= k)
    if bad.any():
        raise ValueError(f"labels must be in 0..{k - 1} for {k} class names; got {sorted(set(y_true[bad]) | set(y_pred[bad]))[:5]}")
    cm = confusion(y_true, y_pred, k)
    precision, recall, f1, support = per_class_scores(cm)
    return {
        "n": n,
        "accuracy": float((y_true == y_pred).mean()) if n else 0.0,
        "macro_f1": macro_f1(y_true, y_pred),
        "per_class": [
            {
                "class_id": int(i),
                "class_name": str(class_names[i]),
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i in range(k)
        ],
        "confusion_matrix": cm.astype(int).tolist(),
        "class_names": [str(c) for c in class_names],
    }


@torch.no_grad()
def predict_logits(model: nn.Module, dataset: Dataset, device: str | torch.device = "cpu", batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Run ``model`` over a dataset of (x, y): returns (logits (N, K) float32, y (N,) int64)."""
    was_training = model.training
    model.eval()
    logits, ys = [], []
    try:
        for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            logits.append(model(x.to(device)).float().cpu())  # (B, K)
            ys.append(torch.as_tensor(y).long().reshape(-1))
    finally:
        model.train(was_training)
    if not logits:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return torch.cat(logits).numpy(), torch.cat(ys).numpy()


def evaluate(model: nn.Module, dataset: Dataset, class_names: Sequence[str], device: str | torch.device = "cpu", batch_size: int = 32) -> EvalResult:
    """Predict every sample of ``dataset`` and compute metrics (see compute_metrics)."""
    logits, y_true = predict_logits(model, dataset, device, batch_size)
    probs = torch.softmax(torch.from_numpy(logits), dim=-1).numpy() if logits.size else logits
    y_pred = logits.argmax(axis=-1).astype(np.int64) if logits.size else np.zeros(0, np.int64)
    return EvalResult(compute_metrics(y_true, y_pred, class_names), y_true, y_pred, probs)


def baselines(train_labels: Sequence[int], num_classes: int, eval_labels: Sequence[int] | None = None) -> dict[str, Any]:
    """Reference scores for the docs: uniform chance and always-predict-the-majority-class.

    The majority class is taken from ``train_labels``; scores are on ``eval_labels``
    (default: the training labels). Chance macro-F1 is the expectation for a uniform random
    guess: per class F1 = 2 p_k (1/K) / (p_k + 1/K), p_k the class prevalence.
    """
    train = np.asarray(train_labels, dtype=np.int64)
    target = train if eval_labels is None else np.asarray(eval_labels, dtype=np.int64)
    if train.size == 0 or target.size == 0:
        raise ValueError("baselines need non-empty label arrays")
    majority = int(np.bincount(train, minlength=num_classes).argmax())
    pred = np.full_like(target, majority)
    prevalence = np.bincount(target, minlength=num_classes) / target.size
    present = prevalence > 0
    q = 1.0 / num_classes
    chance_f1 = 2 * prevalence[present] * q / (prevalence[present] + q)
    return {
        "num_classes": int(num_classes),
        "chance_accuracy": q,
        "chance_macro_f1": float(chance_f1.mean()),
        "majority_class": majority,
        "majority_accuracy": float((target == majority).mean()),
        "majority_macro_f1": macro_f1(target, pred),
    }


def write_report(
    out_dir: str | Path,
    metrics: Mapping[str, Any],
    class_names: Sequence[str],
    history: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Path]:
    """Write metrics.json, confusion_matrix.csv/.png, per_class.csv and (with history) training_curves.png.

    ``metrics`` is a compute_metrics dict (extra keys, e.g. baselines, are kept in metrics.json);
    ``history`` is the per-epoch list of dicts written by training.fit. Returns the paths by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [str(c) for c in class_names]
    cm = np.asarray(metrics["confusion_matrix"], dtype=np.int64)
    paths = {
        "metrics": out / "metrics.json",
        "confusion_matrix_csv": out / "confusion_matrix.csv",
        "confusion_matrix_png": out / "confusion_matrix.png",
        "per_class": out / "per_class.csv",
    }
    paths["metrics"].write_text(json.dumps(to_jsonable(dict(metrics)), indent=2) + "\n")
    with open(paths["confusion_matrix_csv"], "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["true\\predicted", *names])
        for name, row in zip(names, cm):
            writer.writerow([name, *row.tolist()])
    with open(paths["per_class"], "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["class_id", "class_name", "precision", "recall", "f1", "support"])
        for row in metrics["per_class"]:
            writer.writerow([row["class_id"], row["class_name"], f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}", row["support"]])
    _plot_confusion(cm, names, paths["confusion_matrix_png"], metrics)
    if history:
        paths["training_curves"] = out / "training_curves.png"
        _plot_history(history, paths["training_curves"])
    return paths


def _plot_confusion(cm: np.ndarray, names: list[str], path: Path, metrics: Mapping[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(names)
    size = max(5.0, 0.55 * k + 3.0)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    row_sum = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, row_sum, out=np.zeros(cm.shape, dtype=float), where=row_sum > 0)  # recall per row
    im = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set_xticks(range(k), labels=names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels=names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7, color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(f"accuracy {metrics.get('accuracy', 0):.3f}, macro-F1 {metrics.get('macro_f1', 0):.3f}, n={int(cm.sum())}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_history(history: Sequence[Mapping[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        if any(key in h for h in history):
            ax_loss.plot(epochs, [h.get(key, np.nan) for h in history], label=label)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("loss")
    ax_loss.legend()
    for key, label in (("train_accuracy", "train accuracy"), ("val_accuracy", "validation accuracy"), ("train_macro_f1", "train macro-F1"), ("val_macro_f1", "validation macro-F1")):
        if any(key in h for h in history):
            ax_score.plot(epochs, [h.get(key, np.nan) for h in history], label=label)
    ax_score.set_xlabel("epoch")
    ax_score.set_ylim(0.0, 1.02)
    ax_score.set_title("accuracy / macro-F1")
    ax_score.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
