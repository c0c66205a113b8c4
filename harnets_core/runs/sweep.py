"""`harnets sweep`: the grid of the HARNets results table, on the official session split.

Rows: hidden LSTM layers (1, 2, 3) x scenario (SA, LA); columns: batch size (4, 8, 16), each
with training and validation accuracy, as in the original table, plus validation macro-F1
(which the original lacks; InHARD is very unbalanced). Each cell is a full training run
with its own folder, model file and report.

Modalities and the original's row names: skeleton -> ``IMU-SA`` / ``IMU-LA`` (HARNets' "IMU"
is the Perception Neuron suit, i.e. the BVH skeleton); rgb (CNN-LSTM, runs.prepare.prepare_rgb) ->
``RGB-SP-SA`` / ``RGB-SP-LA`` for the top view and ``RGB-SA`` / ``RGB-LA`` for a side view
(left or right), see :data:`harnets_core.runs.options.RGB_SCENARIOS`; ``RGB-FULL-SA`` /
``RGB-FULL-LA`` for the whole frame (the default on your own ``classes`` / ``sessions`` layouts,
whose videos are single camera views; the original table has no such row).

Your own layouts sweep the same way: the split is theirs (train/ and test/ folders, or
recordings kept apart), SA and LA split their clips / label rows by duration at ``--sa-threshold-s``,
and every cell's model carries the dataset's class names.

Windows are built once per scenario; every cell then seeds torch (``SweepGrid.seed``) and builds a
fresh model with its number of layers, so a cell's result does not depend on the grid around it.
"""
from __future__ import annotations

import copy
import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from harnets_core.datasets.selection import DataSelection
from harnets_core.errors import ConfigError
from harnets_core.models import build_model
from harnets_core.runs.options import DataOptions, ModelOptions, RgbOptions, SkeletonOptions
from harnets_core.runs.prepare import Prepared, prepare_rgb, prepare_skeleton
from harnets_core.runs.train import train_run
from harnets_core.training.loop import TrainConfig

__all__ = ["SWEEP_COLUMNS", "SweepGrid", "run_sweep", "format_table", "row_name"]

SWEEP_COLUMNS: tuple[str, ...] = (
    "name", "modality", "view", "scenario", "layers", "batch_size",
    "train_accuracy", "val_accuracy", "val_macro_f1", "best_epoch", "n_train", "n_val", "layout", "run",
)
"""Columns of sweep.csv (and keys of each sweep.json row), in order."""

SIDE_VIEWS: tuple[str, ...] = ("left", "right")


def row_name(modality: str, scenario: str, view: str | None = None) -> str:
    """The original table's row name: ``IMU-SA`` (skeleton), ``RGB-SP-SA`` (rgb, top view),
    ``RGB-SA`` (rgb, side view: left or right), ``RGB-FULL-SA`` (rgb, the whole frame)."""
    if modality == "skeleton":
        return f"IMU-{scenario}"
    if modality == "rgb":
        if view == "top":
            return f"RGB-SP-{scenario}"
        if view in SIDE_VIEWS:
            return f"RGB-{scenario}"
        if view == "full":
            return f"RGB-FULL-{scenario}"
        raise ConfigError(f"rgb sweep view {view!r}: use top (RGB-SP), left / right (RGB) or full (RGB-FULL)")
    raise ConfigError(f"sweep modality {modality!r}: use skeleton or rgb")


@dataclass(frozen=True)
class SweepGrid:
    """The grid: scenarios (rows), hidden LSTM layers (rows), batch sizes (columns), and how
    each cell trains (every cell seeds torch with ``seed`` before building its model)."""

    scenarios: tuple[str, ...] = ("SA", "LA")
    layers: tuple[int, ...] = (1, 2, 3)
    batch_sizes: tuple[int, ...] = (4, 8, 16)
    epochs: int = 300
    patience: int = 30
    seed: int = 0
    device: str = "auto"


def _prepare(modality: str, selection: DataSelection, layers: int, skeleton: SkeletonOptions | None,
             rgb: RgbOptions | None, cache_dir: Path | None) -> Prepared:
    if modality == "rgb":
        return prepare_rgb(selection, rgb or RgbOptions(), ModelOptions(num_layers=layers), cache_dir)
    return prepare_skeleton(selection, skeleton or SkeletonOptions(), ModelOptions(num_layers=layers))


def _with_layers(prepared: Prepared, layers: int, seed: int) -> Prepared:
    """The same windows and meta with a fresh model of ``layers`` hidden LSTM layers, built
    right after ``torch.manual_seed(seed)``."""
    meta = copy.deepcopy(prepared.meta)
    meta["model_config"] = {**meta["model_config"], "num_layers": int(layers)}
    torch.manual_seed(seed)
    model = build_model(meta["model_type"], meta["model_config"])
    return replace(prepared, model=model, meta=meta)


def run_sweep(
    data: DataOptions,
    grid: SweepGrid,
    out_dir: str | Path,
    *,
    skeleton: SkeletonOptions | None = None,
    rgb: RgbOptions | None = None,
    cache_dir: str | Path | None = None,
) -> str:
    """Train every cell of the grid; write sweep.csv, sweep.json and sweep.md into ``out_dir``.

    ``data.modality`` picks the rows: skeleton (``skeleton`` options) or rgb (``rgb`` options,
    whose view names the rows); ``data.scenario`` is replaced by each of ``grid.scenarios``."""
    modality = data.modality
    view = (rgb or RgbOptions()).view if modality == "rgb" else None
    names = {scenario: row_name(modality, scenario, view) for scenario in grid.scenarios}  # checks view early
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir is not None else None
    rows: list[dict[str, Any]] = []
    for scenario in grid.scenarios:
        selection = replace(data, scenario=scenario).select()
        base = _prepare(modality, selection, grid.layers[0], skeleton, rgb, cache)  # windows once per scenario
        name = names[scenario]
        for layers in grid.layers:
            for batch in grid.batch_sizes:
                run_dir = out / (f"{scenario}_L{layers}_B{batch}" if modality == "skeleton" else f"{name}_L{layers}_B{batch}")
                prepared = _with_layers(base, layers, grid.seed)
                config = TrainConfig(epochs=grid.epochs, batch_size=batch, patience=grid.patience, seed=grid.seed,
                                     device=grid.device, progress=False)
                result, metrics = train_run(prepared, config, run_dir)
                best = result.best_metrics
                rows.append({
                    "name": name, "modality": modality, "view": view or "", "scenario": scenario,
                    "layers": layers, "batch_size": batch,
                    "train_accuracy": best.get("train_accuracy"), "val_accuracy": metrics["accuracy"],
                    "val_macro_f1": metrics["macro_f1"], "best_epoch": result.best_epoch,
                    "n_train": len(prepared.train), "n_val": len(prepared.val), "layout": selection.layout,
                    "run": str(run_dir),
                })
                print(f"{name} layers={layers} batch={batch}: val accuracy {metrics['accuracy']:.3f}, "
                      f"macro-F1 {metrics['macro_f1']:.3f}", flush=True)
    if not rows:
        raise ConfigError("sweep: empty grid (give --scenarios, --layers-grid and --batch-sizes)")
    with open(out / "sweep.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(SWEEP_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    (out / "sweep.json").write_text(json.dumps(rows, indent=2) + "\n")
    table = format_table(rows, list(grid.batch_sizes))
    (out / "sweep.md").write_text(table + "\n")
    return table


def format_table(rows: list[dict[str, Any]], batch_sizes: list[int]) -> str:
    """The original's layout: one row per (scenario, layers) named as in the original
    (``IMU-SA``, ``RGB-SP-LA``, ...); per batch size train / val accuracy in %, and
    validation macro-F1. Rows without a ``name`` are skeleton rows (``IMU-<scenario>``)."""
    head = "| Scenario | Hidden layers | " + " | ".join(
        f"B{b} train acc | B{b} val acc | B{b} val macro-F1" for b in batch_sizes) + " |"
    sep = "|" + "---|" * (2 + 3 * len(batch_sizes))
    lines = [head, sep]

    def name_of(r: dict[str, Any]) -> str:
        return str(r.get("name") or f"IMU-{r['scenario']}")

    keys = sorted({(name_of(r), r["layers"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for name, layers in keys:
        cells = []
        for b in batch_sizes:
            r = next((r for r in rows if name_of(r) == name and r["layers"] == layers and r["batch_size"] == b), None)
            cells += ["-"] * 3 if r is None else [
                f"{100 * r['train_accuracy']:.1f}" if r["train_accuracy"] is not None else "-",
                f"{100 * r['val_accuracy']:.1f}", f"{100 * r['val_macro_f1']:.1f}"]
        lines.append(f"| {name} | {layers} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
