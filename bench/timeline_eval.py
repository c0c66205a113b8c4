#!/usr/bin/env python3
"""Timeline for a planner: all-time stream scores and forecast scores of a skeleton model on
several sessions at once, with filter settings compared on the same window probabilities.

Each session BVH of an InHARD-layout dataset is streamed frame by frame through the SAME
streaming recognizer the nodes and `harnets replay-eval` use (segmentation off), which gives
the windows' own probabilities once; the model file's segmentation filter (and variants given
with --filter) is then run over them, the forecaster on the filtered timeline, and each is
scored with harnets_core.evaluation.stream_metrics (idle filled in). The ground truth is the
dataset's annotation file (what `harnets bag from-inhard` writes into the bag).

    python bench/timeline_eval.py --data DATA --model RUN/model.safetensors [--sessions P02_R01 P05_R01 P08_R01]
        [--hop-s 0.25] [--filter none model hsmm ...] [--json out.json]

Filters: ``none`` (the windows' own top class), ``model`` (the file's filter as stored), or
``hmm`` / ``hsmm`` fitted again from the model's training sessions, with ``:key=value,...``
settings (e.g. ``hsmm:eps=0.2,power=0.5``).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from harnets_core.datasets.inhard import META_ACTIONS, InhardLayout  # noqa: E402
from harnets_core.evaluation.stream_metrics import all_time_metrics, forecast_metrics  # noqa: E402
from harnets_core.evaluation.timeline import GtSegment, TimedLabel  # noqa: E402
from harnets_core.formats.bvh import read_bvh  # noqa: E402
from harnets_core.streaming.forecast import Forecaster, fit_forecast, forecaster_from_meta  # noqa: E402
from harnets_core.streaming.recognizer import load_recognizer  # noqa: E402
from harnets_core.streaming.segmentation import filter_from_meta, fit_filter  # noqa: E402
from harnets_core.streaming.semimarkov import fit_hsmm  # noqa: E402
from harnets_core.datasets.stream_windows import session_runs  # noqa: E402
from harnets_core.datasets.windows import frame_labels  # noqa: E402


@dataclass
class SessionStream:
    """One session's window probabilities (N, K) at ``stamps_s`` (N,), its annotations and length."""

    session: str
    stamps_s: np.ndarray
    probabilities: np.ndarray
    gt: list[GtSegment]
    end_s: float


def collect(model: Path, root: Path, sessions: Sequence[str], hop_s: float | None) -> tuple[Any, list[SessionStream]]:
    """Stream each session through the model's recognizer (no filter); returns (meta, streams)."""
    layout = InhardLayout(root)
    annotations = layout.annotations("online")
    out = []
    meta = None
    for session in sessions:
        rec = load_recognizer(model, modality="skeleton", hop_s=hop_s, segmentation=False, max_gap_s=0.5)
        meta = rec.meta
        clip = read_bvh(layout.session_bvh(session))
        stamps, probs = [], []
        for i, row in enumerate(clip.motion):
            pred = rec.push(row, int(round(i * clip.frame_time_s * 1e9)))
            if pred is not None:
                stamps.append(pred.stamp_ns / 1e9)
                probs.append(pred.raw_probabilities)
        gt = [GtSegment(s.bvh_start_frame * clip.frame_time_s, (s.bvh_end_frame + 1) * clip.frame_time_s, s.class_id)
              for s in annotations if s.session == session]
        out.append(SessionStream(session, np.array(stamps), np.array(probs), gt, clip.n_frames * clip.frame_time_s))
    return meta, out


def run_filter(meta: Any, spec: str, stream: SessionStream, hop_s: float) -> tuple[list[TimedLabel], list[tuple[float, Any]], Any]:
    """Timeline labels and forecasts of one session under filter ``spec``."""
    class_ids = [int(c) for c in meta.get("class_ids")]
    filt = None
    if spec == "model":
        filt = filter_from_meta(meta, hop_s=hop_s)
        if filt is None:
            raise SystemExit(f"the model file has no filter (--filter {spec})")
    elif spec != "none":
        kind, _, rest = spec.partition(":")
        settings = {k: float(v) for k, v in (kv.split("=") for kv in rest.split(",") if kv)}
        fit = fit_hsmm if kind == "hsmm" else fit_filter
        filt = fit(TRAIN_RUNS, class_ids, hop_s, **settings)
    # the forecaster as training fits it today (the file's may predate a change), or the file's
    base = forecaster_from_meta(meta)
    forecaster = Forecaster(fit_forecast(TRAIN_RUNS, class_ids)) if TRAIN_RUNS else base
    labels, forecasts = [], []
    for t, p in zip(stream.stamps_s, stream.probabilities):
        q = p if filt is None else filt.update(p)
        cid = class_ids[int(np.argmax(q))]
        labels.append(TimedLabel(float(t), cid, float(np.max(q))))
        if forecaster is not None:
            forecasts.append((float(t), forecaster.update(cid, int(round(t * 1e9)))))
    return labels, forecasts, (forecaster.model if forecaster is not None else None)


TRAIN_RUNS: list[Any] = []  # label runs of the model's training sessions (filled by main)


def train_runs(root: Path, sessions: Sequence[str], class_ids: Sequence[int]) -> list[Any]:
    """Label runs (idle included) of ``sessions``, as training fits the filter from them."""
    layout = InhardLayout(root)
    annotations = layout.annotations("online")
    runs = []
    for session in sessions:
        clip = read_bvh(layout.session_bvh(session))
        spans = [(s.bvh_start_frame, s.bvh_end_frame, s.class_id if s.class_id in class_ids else -2)
                 for s in annotations if s.session == session and s.class_id != 0]
        runs.extend(session_runs(session, frame_labels(clip.n_frames, spans, 0), clip.frame_time_s))
    return runs


def score(meta: Any, spec: str, streams: Sequence[SessionStream], hop_s: float) -> dict[str, Any]:
    """Per-session and mean scores of one filter setting."""
    per: dict[str, dict[str, float]] = {}
    n_next = right = major = 0
    errs, bases = [], []
    for s in streams:
        labels, forecasts, fmodel = run_filter(meta, spec, s, hop_s)
        m = all_time_metrics(s.gt, labels, list(range(len(META_ACTIONS))), end_s=s.end_s)  # as replay-eval scores
        row = {"acc": m["frame"]["accuracy"], "macro_f1": m["frame"]["macro_f1"],
               "f1_50": m["segment_f1"]["0.5"]["f1"], "edit": m["edit"],
               "delay_s": (m.get("delay") or {}).get("median_s"), "idle_recall": m["idle_recall"]}
        if fmodel is not None:
            f = forecast_metrics(s.gt, forecasts, fmodel)
            nx, rt = f["next_activity"], f["remaining_time"]
            row.update(next_acc=nx["accuracy"], next_major=nx["majority_transition_accuracy"], n_next=nx["n_transitions"],
                       mae_s=rt["mae_s"], mae_base_s=rt["mean_duration_baseline_mae_s"])
            n_next += nx["n_transitions"]
            right += round((nx["accuracy"] or 0) * nx["n_transitions"])
            major += round((nx["majority_transition_accuracy"] or 0) * nx["n_transitions"])
            if rt["mae_s"] is not None:
                errs.append((rt["mae_s"], rt["n_forecasts"]))
                bases.append((rt["mean_duration_baseline_mae_s"], rt["n_forecasts"]))
        per[s.session] = row
    keys = ["acc", "macro_f1", "f1_50", "edit", "delay_s", "idle_recall"]
    mean = {k: float(np.mean([r[k] for r in per.values() if r.get(k) is not None])) for k in keys}
    if n_next:
        mean.update(next_acc=right / n_next, next_major=major / n_next, n_next=n_next)
    if errs:
        w = sum(n for _, n in errs)
        mean.update(mae_s=sum(e * n for e, n in errs) / w, mae_base_s=sum(b * n for b, n in bases) / w)
    return {"mean": mean, "sessions": per}


def _fmt(row: dict[str, Any]) -> str:
    cells = [f"{row.get(k, float('nan')):.3f}" for k in ("acc", "macro_f1", "f1_50")]
    cells.append(f"{row.get('edit', float('nan')):.1f}")
    cells += [f"{row.get(k) if row.get(k) is not None else float('nan'):.2f}" for k in ("delay_s",)]
    cells.append(f"{row.get('idle_recall', float('nan')):.3f}")
    if "next_acc" in row:
        cells.append(f"{row['next_acc']:.3f} / {row['next_major']:.3f} ({row['n_next']})")
    if row.get("mae_s") is not None:
        cells.append(f"{row['mae_s']:.2f} / {row['mae_base_s']:.2f}")
    return " | ".join(cells)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--sessions", nargs="+", default=["P02_R01", "P05_R01", "P08_R01"])
    parser.add_argument("--hop-s", type=float, default=None, help="streaming hop (default: the model's)")
    parser.add_argument("--filter", nargs="+", default=["none", "model"])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--train-sessions", nargs="+", default=None,
                        help="sessions refitted filters and the forecaster learn from (default: the model's training sessions)")
    args = parser.parse_args(argv)
    meta, streams = collect(args.model, args.data, args.sessions, args.hop_s)
    hop_s = args.hop_s or float(meta.hop_s)
    train_sessions = args.train_sessions or (meta.get("data") or {}).get("train_sessions") or []
    TRAIN_RUNS.extend(train_runs(args.data, train_sessions, [int(c) for c in meta.get("class_ids")]))
    results = {}
    print("| filter | session | all-time acc | macro-F1 | F1@0.5 | edit | median delay s | idle recall | next act. / majority (n) | remaining MAE / mean-dur. s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for spec in args.filter:
        res = score(meta, spec, streams, hop_s)
        results[spec] = res
        print(f"| {spec} | mean | {_fmt(res['mean'])} |")
        for name, row in res["sessions"].items():
            print(f"| {spec} | {name} | {_fmt(row)} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
