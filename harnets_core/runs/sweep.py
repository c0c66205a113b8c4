"""`harnets sweep`: the grid of the HARNets results table, on the official session split.

Rows: hidden LSTM layers (1, 2, 3) x scenario (SA, LA); columns: batch size (4, 8, 16), each
with training and validation accuracy, as in the original table, plus validation macro-F1
(which the original lacks; InHARD is very unbalanced). Each cell is a full training run
with its own folder, model file and report.

Modalities and the original's row names: skeleton -> ``IMU-SA`` / ``IMU-LA`` (HARNets' "IMU"
is the Perception Neuron suit, i.e. the BVH skeleton); rgb (CNN-LSTM, frames.prepare_rgb) ->
``RGB-SP-SA`` / ``RGB-SP-LA`` for the top view and ``RGB-SA`` / ``RGB-LA`` for a side view
(left or right), see :data:`harnets_core.runs.frames.RGB_SCENARIOS`.

Windows are built once per scenario; every cell then seeds torch (``args.seed``) and builds a
fresh model with its number of layers, so a cell's result does not depend on the grid around it.
"""
from __future__ import annotations

import copy
import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from harnets_core.datasets.selection import DataSelection, select_data
from harnets_core.errors import ConfigError
from harnets_core.models import build_model
from harnets_core.runs.skeleton import ModelOptions, Prepared, prepare_skeleton, train_run
from harnets_core.training.loop import TrainConfig

__all__ = ["SWEEP_COLUMNS", "run_sweep", "format_table", "row_name", "rgb_options_from_args"]

SWEEP_COLUMNS: tuple[str, ...] = (
    "name", "modality", "view", "scenario", "layers", "batch_size",
    "train_accuracy", "val_accuracy", "val_macro_f1", "best_epoch", "n_train", "n_val", "layout", "run",
)
"""Columns of sweep.csv (and keys of each sweep.json row), in order."""

SIDE_VIEWS: tuple[str, ...] = ("left", "right")


def row_name(modality: str, scenario: str, view: str | None = None) -> str:
    """The original table's row name: ``IMU-SA`` (skeleton), ``RGB-SP-SA`` (rgb, top view),
    ``RGB-SA`` (rgb, side view: left or right)."""
    if modality == "skeleton":
        return f"IMU-{scenario}"
    if modality == "rgb":
        if view == "top":
            return f"RGB-SP-{scenario}"
        if view in SIDE_VIEWS:
            return f"RGB-{scenario}"
        raise ConfigError(f"rgb sweep view {view!r}: use top (RGB-SP) or left / right (RGB)")
    raise ConfigError(f"sweep modality {modality!r}: use skeleton or rgb")


def rgb_options_from_args(args: Any) -> Any:
    """frames.RgbOptions of `harnets sweep --modality rgb` (None = RgbOptions' default)."""
    from harnets_core.runs.frames import RgbOptions

    defaults = RgbOptions()
    kwargs: dict[str, Any] = {"view": args.view, "encoder": getattr(args, "encoder", None) or defaults.encoder}
    height, width = getattr(args, "height", None), getattr(args, "width", None)
    if height is not None or width is not None:
        kwargs["size_hw"] = (height or defaults.size_hw[0], width or defaults.size_hw[1])
    for option, arg in (("rate_hz", "video_rate_hz"), ("window_s", "window_s"), ("hop_s", "video_hop_s"),
                        ("sequence_length", "sequence_length")):
        if getattr(args, arg, None) is not None:
            kwargs[option] = getattr(args, arg)
    return RgbOptions(**kwargs)


def _prepare(args: Any, selection: DataSelection, layers: int, rgb_options: Any | None) -> Prepared:
    if args.modality == "rgb":
        from harnets_core.runs.frames import prepare_rgb

        options = rgb_options if rgb_options is not None else rgb_options_from_args(args)
        return prepare_rgb(selection, options, ModelOptions(num_layers=layers), getattr(args, "cache", None))
    from harnets_core.cli.main import _skeleton_options  # the same window/feature options as `train`

    return prepare_skeleton(selection, _skeleton_options(args), ModelOptions(num_layers=layers))


def _with_layers(prepared: Prepared, layers: int, seed: int) -> Prepared:
    """The same windows and meta with a fresh model of ``layers`` hidden LSTM layers, built
    right after ``torch.manual_seed(seed)``."""
    meta = copy.deepcopy(prepared.meta)
    meta["model_config"] = {**meta["model_config"], "num_layers": int(layers)}
    torch.manual_seed(seed)
    model = build_model(meta["model_type"], meta["model_config"])
    return replace(prepared, model=model, meta=meta)


def run_sweep(args: Any, *, rgb_options: Any | None = None) -> str:
    """Train every cell of the grid; write sweep.csv, sweep.json and sweep.md into args.out.

    ``args``: the parsed `harnets sweep` arguments. ``rgb_options`` (frames.RgbOptions)
    replaces the options the video arguments describe (``--modality rgb``; its view names the
    rows)."""
    modality = getattr(args, "modality", "skeleton")
    view = None
    if modality == "rgb":
        view = rgb_options.view if rgb_options is not None else args.view
    names = {scenario: row_name(modality, scenario, view) for scenario in args.scenarios}  # checks view early
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    classes = None if args.classes is None else [int(c) if str(c).isdigit() else c for c in args.classes]
    rows: list[dict[str, Any]] = []
    for scenario in args.scenarios:
        selection = select_data(args.data, split=args.split, classes=classes, class_limit=args.class_limit,
                                scenario=scenario, threshold_s=args.sa_threshold_s,
                                layout=getattr(args, "layout", "auto"), modality=modality,
                                group_pattern=getattr(args, "group_pattern", None))
        base = _prepare(args, selection, args.layers_grid[0], rgb_options)  # windows once per scenario
        name = names[scenario]
        for layers in args.layers_grid:
            for batch in args.batch_sizes:
                run_dir = out / (f"{scenario}_L{layers}_B{batch}" if modality == "skeleton" else f"{name}_L{layers}_B{batch}")
                prepared = _with_layers(base, layers, args.seed)
                config = TrainConfig(epochs=args.epochs, batch_size=batch, patience=args.patience, seed=args.seed,
                                     device=args.device, progress=False)
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
    table = format_table(rows, args.batch_sizes)
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
