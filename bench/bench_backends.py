"""Benchmark: per-window inference latency, torch vs onnxruntime, for each model type.

Default-size models (untrained weights: timing only), each exported with `harnets export
--onnx` (harnets_core.models.export) and loaded through the same streaming code
(streaming.recognizer.load_recognizer, backend torch / onnxruntime):

- skeleton_lstm: the LSTM over one window (1, 50, 120) (the real 59-joint skeleton,
  FeatureConfig(), 1.68 s at 30 Hz; hidden 64, 2 layers), + softmax;
- cnn_lstm: what FrameRecognizer does per window: the CNN on ONE new prepared frame (48x80,
  "small" encoder) + the LSTM head over the T = 20 cached features, + softmax;
- pose_lstm: the LSTM over (1, 10, 99) (33 BlazePose keypoints x 3, 2 s at 5 Hz), + softmax.

Only the backend-dependent part is timed (skeleton forward kinematics and keypoint extraction
are the same numpy/OpenCV code on both backends). Both backends get the SAME inputs, and
are timed interleaved in the same run (they see the same load of a shared machine); the
ratio is torch / onnxruntime (> 1: onnxruntime faster). Threads: 1 for both by default
(torch.set_num_threads(1), onnxruntime intra_op_num_threads=1), `--threads 0` for each
library's default.

Usage: python bench/bench_backends.py [--windows 300] [--threads 1] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_streaming import build_models  # noqa: E402
from harnets_core.datasets.inhard import META_ACTIONS  # noqa: E402
from harnets_core.features.pipeline import FramePipeline  # noqa: E402
from harnets_core.models import LSTMClassifier, LSTMConfig  # noqa: E402
from harnets_core.models.export import export_onnx  # noqa: E402
from harnets_core.models.modelfile import save_model  # noqa: E402
from harnets_core.runs.options import ModelOptions, PoseOptions  # noqa: E402

BLAZEPOSE_KEYPOINTS = 33


def build_pose_model(folder: Path) -> Path:
    """Default-size pose LSTM (BlazePose keypoints, PoseOptions, ModelOptions), untrained."""
    po, mo = PoseOptions(), ModelOptions()
    config = LSTMConfig(input_dim=BLAZEPOSE_KEYPOINTS * 3, num_classes=len(META_ACTIONS), hidden_size=mo.hidden_size,
                        num_layers=mo.num_layers, dropout=mo.dropout)
    pipe = FramePipeline(kind="pose", view=po.view, size_hw=po.size_hw, rate_hz=po.rate_hz, window_s=po.window_s)
    meta = {"model_type": "pose_lstm", "modality": "pose", "class_names": list(META_ACTIONS),
            "class_ids": list(range(len(META_ACTIONS))), "preprocessing": {**pipe.to_meta(), "settings": {"name": "blazepose"}},
            "window": {"window_s": po.window_s, "hop_s": po.hop_s, "rate_hz": po.rate_hz, "length": pipe.length}}
    return save_model(folder / "pose_default.safetensors", LSTMClassifier(config), meta)


def window_fns(path: Path, threads: int | None) -> tuple[dict[str, Callable[[int], np.ndarray]], dict[str, Any]]:
    """One per-window function per backend (same inputs, indexed by window number)."""
    from harnets_core.models.backends import load_for_inference
    from harnets_core.features.pipeline import pipeline_from_meta

    rng = np.random.default_rng(0)
    models = {b: load_for_inference(path, b, providers="cpu", threads=threads)[0] for b in ("torch", "onnxruntime")}
    meta = models["torch"].meta
    t = max(2, int(round(meta.window_s * meta.window_value("rate_hz"))))
    info: dict[str, Any] = {"model_type": meta.model_type, "T": t, "providers": list(models["onnxruntime"].model.providers)}
    fns: dict[str, Callable[[int], np.ndarray]] = {}
    if meta.model_type == "cnn_lstm":
        pipe = pipeline_from_meta(meta)
        h, w = pipe.size_hw
        frames = rng.integers(0, 256, size=(16, 1, h, w, 3), dtype=np.uint8)  # prepared frames
        cache = rng.standard_normal((16, 1, t, meta.model_config["feature_dim"])).astype(np.float32)
        info["input"] = f"1 frame {h}x{w} + head over (1, {t}, {cache.shape[-1]})"
        for name, loaded in models.items():
            def fn(i: int, model: Any = loaded.model) -> np.ndarray:
                enc = pipe.encode_prepared(model, frames[i % 16])  # (1, F): the one new frame
                window = np.concatenate([cache[i % 16][:, 1:], enc[None]], axis=1)  # (1, T, F)
                with torch.no_grad():
                    return torch.softmax(pipe.classify(model, window), -1).numpy()
            fns[name] = fn
    else:
        d = meta.model_config["input_dim"]
        xs = rng.standard_normal((16, 1, t, d)).astype(np.float32)
        info["input"] = f"(1, {t}, {d})"
        for name, loaded in models.items():
            def fn(i: int, model: Any = loaded.model) -> np.ndarray:
                with torch.no_grad():
                    return torch.softmax(model(torch.from_numpy(xs[i % 16])), -1).numpy()
            fns[name] = fn
    return fns, info


def bench_model(path: Path, windows: int, threads: int | None) -> dict[str, Any]:
    fns, info = window_fns(path, threads)
    for i in range(20):  # warm-up; and the same probabilities from both
        outs = [fn(i) for fn in fns.values()]
    info["max_abs_prob_diff"] = float(np.abs(outs[0] - outs[1]).max())
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(windows):  # interleaved, alternating which goes first
        order = list(fns.items()) if i % 2 == 0 else list(fns.items())[::-1]
        for name, fn in order:
            t0 = time.perf_counter()
            fn(i)
            times[name].append((time.perf_counter() - t0) * 1e3)
    for name, values in times.items():
        values.sort()
        info[f"{name}_median_ms"] = statistics.median(values)
        info[f"{name}_p95_ms"] = values[min(len(values) - 1, int(len(values) * 0.95))]
    info["ratio_torch_over_onnxruntime"] = info["torch_median_ms"] / info["onnxruntime_median_ms"]
    return info


def markdown(results: dict[str, Any]) -> str:
    lines = [f"threads: {results['threads_label']}; {results['windows']} windows per backend; "
             f"torch {results['torch']}, onnxruntime {results['onnxruntime']}; load average before: {results['loadavg_before']}",
             "",
             "| model type | input per window | torch median / p95 ms | onnxruntime median / p95 ms | torch / onnxruntime | max abs prob diff |",
             "|---|---|---|---|---|---|"]
    for r in results["models"]:
        lines.append(f"| {r['model_type']} | {r['input']} | {r['torch_median_ms']:.3f} / {r['torch_p95_ms']:.3f} | "
                     f"{r['onnxruntime_median_ms']:.3f} / {r['onnxruntime_p95_ms']:.3f} | "
                     f"{r['ratio_torch_over_onnxruntime']:.2f}x | {r['max_abs_prob_diff']:.1e} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=300, help="timed windows per backend and model")
    parser.add_argument("--threads", type=int, default=1, help="threads of each library; 0: their defaults")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    import onnxruntime

    threads = args.threads or None
    if threads:
        torch.set_num_threads(threads)
    folder = Path(tempfile.mkdtemp(prefix="bench_backends_"))
    try:
        skel, rgb, _ = build_models(folder)
        paths = [skel, rgb, build_pose_model(folder)]
        for path in paths:
            export_onnx(path)
        results: dict[str, Any] = {
            "command": "python bench/bench_backends.py " + " ".join(sys.argv[1:]),
            "threads": args.threads, "threads_label": f"{threads} (torch and onnxruntime)" if threads else
            f"library defaults (torch {torch.get_num_threads()})",
            "windows": args.windows, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "loadavg_before": [round(v, 2) for v in os.getloadavg()],
            "models": [bench_model(p, args.windows, threads) for p in paths],
        }
        results["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(markdown(results))
    print(f"load average after: {results['loadavg_after']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
