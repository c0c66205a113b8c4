"""`harnets sweep`: the grid of the HARNets results table, on the official session split.

Rows: hidden LSTM layers (1, 2, 3) x scenario (SA, LA); columns: batch size (4, 8, 16), each
with training and validation accuracy, as in the original table, plus validation macro-F1
(which the original lacks; InHARD is very unbalanced). Each cell is a full training run
with its own folder, model file and report.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import torch

from harnets_core.datasets import select_data
from harnets_core.runs import ModelOptions, prepare_skeleton, train_run
from harnets_core.training import TrainConfig

__all__ = ["run_sweep", "format_table"]


def run_sweep(args: Any) -> str:
    """Train every cell of the grid; write sweep.csv, sweep.json and sweep.md into args.out."""
    from harnets_core.cli import _skeleton_options  # the same window/feature options as `train`

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    classes = None if args.classes is None else [int(c) if str(c).isdigit() else c for c in args.classes]
    rows: list[dict[str, Any]] = []
    for scenario in args.scenarios:
        selection = select_data(args.data, split=args.split, classes=classes, class_limit=args.class_limit,
                                scenario=scenario, threshold_s=args.sa_threshold_s)
        for layers in args.layers_grid:
            for batch in args.batch_sizes:
                run_dir = out / f"{scenario}_L{layers}_B{batch}"
                torch.manual_seed(args.seed)
                prepared = prepare_skeleton(selection, _skeleton_options(args),
                                            ModelOptions(num_layers=layers))
                config = TrainConfig(epochs=args.epochs, batch_size=batch, patience=args.patience, seed=args.seed,
                                     device=args.device, progress=False)
                result, metrics = train_run(prepared, config, run_dir)
                best = result.best_metrics
                rows.append({
                    "scenario": scenario, "layers": layers, "batch_size": batch,
                    "train_accuracy": best.get("train_accuracy"), "val_accuracy": metrics["accuracy"],
                    "val_macro_f1": metrics["macro_f1"], "best_epoch": result.best_epoch,
                    "n_train": len(prepared.train), "n_val": len(prepared.val), "run": str(run_dir),
                })
                print(f"{scenario} layers={layers} batch={batch}: val accuracy {metrics['accuracy']:.3f}, "
                      f"macro-F1 {metrics['macro_f1']:.3f}", flush=True)
    with open(out / "sweep.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "sweep.json").write_text(json.dumps(rows, indent=2) + "\n")
    table = format_table(rows, args.batch_sizes)
    (out / "sweep.md").write_text(table + "\n")
    return table


def format_table(rows: list[dict[str, Any]], batch_sizes: list[int]) -> str:
    """The original's layout: one row per (scenario, layers); per batch size train / val
    accuracy in %, and validation macro-F1."""
    head = "| Scenario | Hidden layers | " + " | ".join(
        f"B{b} train acc | B{b} val acc | B{b} val macro-F1" for b in batch_sizes) + " |"
    sep = "|" + "---|" * (2 + 3 * len(batch_sizes))
    lines = [head, sep]
    keys = sorted({(r["scenario"], r["layers"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for scenario, layers in keys:
        cells = []
        for b in batch_sizes:
            r = next((r for r in rows if r["scenario"] == scenario and r["layers"] == layers and r["batch_size"] == b), None)
            cells += ["-"] * 3 if r is None else [
                f"{100 * r['train_accuracy']:.1f}" if r["train_accuracy"] is not None else "-",
                f"{100 * r['val_accuracy']:.1f}", f"{100 * r['val_macro_f1']:.1f}"]
        lines.append(f"| IMU-{scenario} | {layers} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
