"""Training a prepared run: fit, keep the best model file, write the validation report."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from harnets_core.datasets.selection import WindowSet
from harnets_core.models.modelfile import load_model, save_model
from harnets_core.runs.evaluate import evaluate_arrays
from harnets_core.runs.prepare import Prepared
from harnets_core.training.loop import MODEL_FILE, ArrayDataset, TrainConfig, TrainResult, fit

__all__ = ["train_run"]

def train_run(prepared: Prepared, config: TrainConfig, out_dir: str | Path, *, resume: bool = False) -> tuple[TrainResult, dict[str, Any]]:
    """Fit, keep the best model, and write the validation report (`out_dir/report`).

    An ensemble (an LSTM whose ``config.members`` > 1) is trained member by member, each a
    complete run of its own in ``out_dir/members/<i>`` (seed ``config.seed + i``, its own early
    stopping; ``resume`` continues each); ``out_dir/model.safetensors`` then holds all of them,
    and the returned result and report are the ensemble's on the validation windows."""
    out = Path(out_dir)
    if int(getattr(getattr(prepared.model, "config", None), "members", 1)) > 1:
        return _train_ensemble(prepared, config, out, resume)
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


def _train_ensemble(prepared: Prepared, config: TrainConfig, out: Path, resume: bool) -> tuple[TrainResult, dict[str, Any]]:
    member_meta = {**prepared.meta, "model_config": {**prepared.meta["model_config"], "members": 1}}
    members = []
    for i, member in enumerate(prepared.model.members):
        result = fit(member, _dataset(prepared.train), _dataset(prepared.val), replace(config, seed=config.seed + i),
                     out / "members" / str(i), member_meta, resume=resume)
        members.append({"seed": config.seed + i, "best_epoch": result.best_epoch,
                        "metrics": {k: v for k, v in result.best_metrics.items() if k.startswith("val_")}})
    path = out / MODEL_FILE
    meta = {**prepared.meta, "train_config": config.to_dict(), "members": members}
    save_model(path, prepared.model, meta)
    metrics = evaluate_arrays(load_model(path), prepared.val, prepared.train.y, out / "report")
    summary = {"val_accuracy": metrics["accuracy"], "val_macro_f1": metrics["macro_f1"]}
    save_model(path, prepared.model, {**meta, "metrics": summary})  # the ensemble's own validation scores
    best = max(m["best_epoch"] for m in members)
    return TrainResult([], best, summary, path, stopped_early=False), metrics


def _dataset(windows: WindowSet) -> Any:
    """The window set as a torch Dataset: its own lazy one (video frames gathered on access)
    or its arrays."""
    return windows.meta.get("dataset") or ArrayDataset(windows.x, windows.y)
