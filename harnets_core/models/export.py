"""Export a model file (.safetensors) to ONNX, with its metadata (``harnets export MODEL --onnx``).

The graphs and metadata are described in ``harnets_core.models.onnxfile``. Export uses
``torch.onnx.export`` (the dynamo exporter, opset 18; it needs the ``onnxscript`` package),
with a dynamic batch dimension, and then checks the file: onnxruntime's probabilities on
random inputs against torch's (``ExportResult.max_abs_prob_diff``).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from harnets_core.errors import ConfigError, ModelFileError
from harnets_core.models.modelfile import METADATA_KEY, ModelMeta, load_model, model_id
from harnets_core.models.onnxfile import ONNX_SUFFIX, SOURCE_KEY, INSTALL_HINT, load_onnx, meta_json

__all__ = ["OPSET", "ExportResult", "export_onnx", "default_onnx_path"]

OPSET = 18  # >= 12 for einsum; 18 for LayerNormalization as one op


@dataclass(frozen=True)
class ExportResult:
    path: Path  # the .onnx file written
    model_type: str
    source_id: str  # model_id of the .safetensors it came from
    max_abs_prob_diff: float  # onnxruntime vs torch on random inputs, max over every probability
    size_bytes: int


def default_onnx_path(model_path: str | Path) -> Path:
    """``run/model.safetensors`` -> ``run/model.onnx`` (where ``backend: onnxruntime`` looks for it)."""
    return Path(model_path).with_suffix(ONNX_SUFFIX)


class _Head(nn.Module):
    """skeleton_lstm / pose_lstm: x (B, T, D) -> logits (B, K)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class _EncoderAndHead(nn.Module):
    """cnn_lstm: frames (N, C, H, W) uint8 -> encodings (N, F); features (B, T, F) -> logits (B, K)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.encode_frames(frames), self.model.classify_features(features)


def _window_length(meta: ModelMeta) -> int:
    """Model input steps per window (T), as the pipelines compute it."""
    return max(2, int(round(meta.window_s * meta.window_value("rate_hz"))))


def _example_inputs(model: nn.Module, meta: ModelMeta, batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    t = _window_length(meta)
    c = model.config
    if meta.model_type == "cnn_lstm":
        frames = torch.randint(0, 256, (batch, c.in_channels, c.height, c.width), dtype=torch.uint8, generator=gen)
        features = torch.randn(batch, t, c.feature_dim, generator=gen)
        return frames, features
    return (torch.randn(batch, t, c.input_dim, generator=gen),)


def export_onnx(model_path: str | Path, out: str | Path | None = None, *, opset: int = OPSET) -> ExportResult:
    """Write ``model_path`` as ONNX to ``out`` (default: beside it, suffix .onnx), atomically."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter needs it)
    except ImportError as err:
        raise ConfigError(f"harnets export --onnx needs onnx and onnxscript ({err}): {INSTALL_HINT}") from err
    model_path = Path(model_path)
    out = default_onnx_path(model_path) if out is None else Path(out)
    if out.resolve() == model_path.resolve():
        raise ConfigError(f"export --onnx: the output {out} would overwrite the model file")
    loaded = load_model(model_path)
    model, meta = loaded.model.eval(), loaded.meta
    cnn = meta.model_type == "cnn_lstm"
    wrapper = _EncoderAndHead(model) if cnn else _Head(model)
    example = _example_inputs(model, meta, batch=2, seed=0)  # batch 2: a batch of 1 would be fixed at 1
    batch = torch.export.Dim("batch", min=1)
    if cnn:
        names_in, names_out = ["frames", "features"], ["encodings", "logits"]
        dynamic = ({0: torch.export.Dim("frames", min=1)}, {0: batch})
    else:
        names_in, names_out = ["x"], ["logits"]
        dynamic = ({0: batch},)
    buffer = io.StringIO()
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")  # "torchvision is not installed"
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buffer):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(wrapper, example, None, input_names=names_in, output_names=names_out,
                                        opset_version=opset, dynamo=True, dynamic_shapes=dynamic, verbose=False)
    except Exception as err:  # the exporter's many error types
        raise ModelFileError(f"cannot export {model_path} ({meta.model_type}) to ONNX: {type(err).__name__}: {err}\n"
                             f"{buffer.getvalue()[-2000:]}") from err
    finally:
        registry_log.setLevel(level)
    proto = program.model_proto
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {METADATA_KEY: meta_json(meta), SOURCE_KEY: model_id(model_path)})
    data = proto.SerializeToString()  # weights inside: one file (models here are far below protobuf's 2 GB)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        diff = _check(tmp, model, meta)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ExportResult(out, meta.model_type, model_id(model_path), diff, len(data))


@torch.no_grad()
def _check(path: Path, model: nn.Module, meta: ModelMeta) -> float:
    """Max abs difference of the probabilities, onnxruntime vs torch, on random inputs (batch 3)."""
    runner = load_onnx(path, providers="cpu").model
    inputs = _example_inputs(model, meta, batch=3, seed=1)
    if meta.model_type == "cnn_lstm":
        frames, features = inputs
        pairs = [(model.encode_frames(frames), runner.encode_frames(frames), False),
                 (model.classify_features(features), runner.classify_features(features), True)]
    else:
        pairs = [(model(inputs[0]), runner(inputs[0]), True)]
    worst = 0.0
    for want, got, logits in pairs:
        if logits:
            want, got = torch.softmax(want, -1), torch.softmax(got, -1)
        else:  # encodings: relative to their scale
            scale = float(want.abs().max().clamp_min(1.0))
            want, got = want / scale, got / scale
        worst = max(worst, float(np.abs(want.numpy() - got.numpy()).max()))
    return worst
