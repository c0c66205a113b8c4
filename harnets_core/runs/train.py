"""Training a prepared run: fit, keep the best model file, write the validation report."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from harnets_core.datasets.selection import WindowSet
from harnets_core.models.modelfile import load_model
from harnets_core.runs.evaluate import evaluate_arrays
from harnets_core.runs.prepare import Prepared
from harnets_core.training.loop import ArrayDataset, TrainConfig, TrainResult, fit

__all__ = ["train_run"]

def train_run(prepared: Prepared, config: TrainConfig, out_dir: str | Path, *, resume: bool = False) -> tuple[TrainResult, dict[str, Any]]:
    """Fit, keep the best model, and write the validation report (`out_dir/report`)."""
    out = Path(out_dir)
    result = fit(
        prepared.model,
        _dataset(prepared.train),
        _dataset(prepared.val),
        config,
        out,
        prepared.meta,
        resume=resume,
    )
    metrics = evaluate_arrays(load_model(result.model_path), prepared.val, prepared.train.y, out / "report", history=result.history)
    return result, metrics


def _dataset(windows: WindowSet) -> Any:
    """The window set as a torch Dataset: its own lazy one (video frames gathered on access)
    or its arrays."""
    return windows.meta.get("dataset") or ArrayDataset(windows.x, windows.y)
