"""Files a prediction run writes: the timeline (CSV or JSON) and its plot."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harnets_core.errors import ConfigError

__all__ = ["write_timeline", "plot_timeline"]

def write_timeline(predictions: Sequence[Any], path: str | Path) -> Path:
    """Timeline as CSV (`.csv`) or JSON (anything else): time, window start, label, confidence,
    and every class probability."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not predictions:
        raise ConfigError(f"{path}: no predictions to write (is the recording shorter than one window?)")
    names = list(predictions[0].class_names)
    rows = [
        {
            "time_s": p.stamp_ns / 1e9,
            "window_start_s": p.window_start_ns / 1e9,
            "label": p.label,
            "class_id": p.class_id,
            "confidence": round(p.confidence, 6),
            **{f"p_{n}": round(float(v), 6) for n, v in zip(names, p.probabilities)},
        }
        for p in predictions
    ]
    if path.suffix.lower() == ".csv":
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text(json.dumps({"class_names": names, "predictions": rows}, indent=1) + "\n")
    return path


def plot_timeline(predictions: Sequence[Any], path: str | Path, title: str = "") -> Path:
    """Top-1 label over time, coloured by class, with the confidence as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(predictions[0].class_names)
    t = np.array([p.stamp_ns / 1e9 for p in predictions])
    idx = np.array([p.index for p in predictions])
    conf = np.array([p.confidence for p in predictions])
    cmap = plt.get_cmap("tab20")
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(12, 4), sharex=True, gridspec_kw={"height_ratios": [1, 1]})
    dt = np.diff(t, append=t[-1] + (t[-1] - t[-2] if len(t) > 1 else 0.25))
    for k, name in enumerate(names):
        sel = idx == k
        if sel.any():
            ax1.bar(t[sel], 1.0, width=dt[sel], align="edge", color=cmap(k % 20), label=name)
    ax1.set_yticks([])
    ax1.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax1.set_title(title or "recognized activity")
    ax2.plot(t, conf, color="black", lw=1)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("confidence")
    ax2.set_xlabel("time (s)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
