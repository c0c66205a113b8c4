"""Files a prediction run writes: the timeline (CSV or JSON) and its plot."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harnets_core.errors import ConfigError

__all__ = ["TIMELINE_FORMATS", "PLOT_FORMATS", "VIDEO_FORMATS", "output_path", "write_timeline", "write_clip",
           "plot_timeline"]

TIMELINE_FORMATS: tuple[str, ...] = (".csv", ".json")
"""Extensions a timeline (or a clip result) is written as: the extension names the format."""

PLOT_FORMATS: tuple[str, ...] = (".png", ".pdf", ".svg")
"""Extensions of the timeline plot (matplotlib picks the format by them)."""

VIDEO_FORMATS: tuple[str, ...] = (".mp4",)
"""Extensions of the annotated video (formats.video.write_video writes MPEG-4 in MP4)."""


def output_path(given: str | Path | None, default_name: str, formats: Sequence[str], what: str,
                cwd: str | Path | None = None) -> Path:
    """Where an output goes. None: ``default_name`` in the current folder (``cwd``; never
    next to the input, which may be a read-only or shared folder). A path whose extension
    (lower case) is one of ``formats``: that file. An existing folder, or a path without an
    extension: a folder (created when written), with ``default_name`` in it. Any other
    extension: ConfigError naming the formats (``what`` names the option, e.g. ``--out``)."""
    if not default_name.lower().endswith(tuple(formats)):
        raise ConfigError(f"{default_name}: the default {what} name must end in one of {', '.join(formats)}")
    if given is None:
        return Path(cwd if cwd is not None else Path.cwd()) / default_name
    path = Path(given)
    if path.is_dir() or not path.suffix:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{what} {path}: a file without an extension; name the format by the extension "
                              f"({', '.join(formats)}) or give a folder")
        return path / default_name
    if path.suffix.lower() not in formats:
        raise ConfigError(f"{what} {path}: unknown extension {path.suffix!r}; name the format by the extension "
                          f"({', '.join(formats)}) or give a folder")
    return path


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in TIMELINE_FORMATS:
        raise ConfigError(f"{path}: unknown extension {path.suffix!r}; write .csv or .json")
    return suffix


def write_timeline(predictions: Sequence[Any], path: str | Path, *, input_check: dict[str, Any] | None = None,
                   person_fractions: Sequence[float | None] | None = None) -> Path:
    """Timeline as CSV (`.csv`) or JSON (`.json`; any other extension is a ConfigError): time,
    window start, label, confidence, and every class probability. Video inputs add what the
    input check found (features.view_check): ``person_fractions`` (pose, one per prediction:
    the fraction of its window's frames with a person) as a ``person_fraction`` column, and
    ``input_check`` (its to_dict()) as a ``view_fits`` column (CSV) or an ``input`` object (JSON)."""
    path = Path(path)
    fmt = _format(path)
    if not predictions:
        raise ConfigError(f"{path}: no predictions to write (is the recording shorter than one window?)")
    if person_fractions is not None and len(person_fractions) != len(predictions):
        raise ConfigError(f"{path}: {len(person_fractions)} person fractions for {len(predictions)} predictions")
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(predictions[0].class_names)
    rows = []
    for i, p in enumerate(predictions):
        row: dict[str, Any] = {
            "time_s": p.stamp_ns / 1e9,
            "window_start_s": p.window_start_ns / 1e9,
            "label": p.label,
            "class_id": p.class_id,
            "confidence": round(p.confidence, 6),
            **{f"p_{n}": round(float(v), 6) for n, v in zip(names, p.probabilities)},
        }
        if person_fractions is not None:
            f = person_fractions[i]
            row["person_fraction"] = None if f is None else round(float(f), 4)
        if input_check is not None and fmt == ".csv":
            row["view_fits"] = bool(input_check.get("view_fits", True))
        rows.append(row)
    if fmt == ".csv":
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        doc: dict[str, Any] = {"class_names": names, "predictions": rows}
        if input_check is not None:
            doc = {"input": input_check, **doc}
        path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def write_clip(class_names: Sequence[str], probabilities: Any, n_windows: int, path: str | Path, *,
               input_check: dict[str, Any] | None = None) -> Path:
    """One class for a whole clip, as CSV (class, probability per row, most probable first)
    or JSON (label, confidence, probabilities, n_windows, and ``input`` when given)."""
    path = Path(path)
    fmt = _format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    probs = np.asarray(probabilities, dtype=np.float64)
    order = probs.argsort()[::-1]
    if fmt == ".csv":
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["class", "probability"] + (["view_fits", "person_fraction"] if input_check else []))
            extra = [input_check.get("view_fits"), input_check.get("person_fraction")] if input_check else []
            writer.writerows([class_names[k], round(float(probs[k]), 6), *extra] for k in order)
    else:
        doc: dict[str, Any] = {"label": class_names[order[0]], "confidence": round(float(probs[order[0]]), 6),
                               "n_windows": int(n_windows),
                               "probabilities": {class_names[k]: round(float(probs[k]), 6) for k in order}}
        if input_check is not None:
            doc["input"] = input_check
        path.write_text(json.dumps(doc, indent=1) + "\n")
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
