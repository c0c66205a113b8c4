"""Which runtime runs a model: ``torch`` (the .safetensors model file) or ``onnxruntime`` (its
ONNX export), chosen by ``backend``; what the streaming recognizers, the nodes and the replay load.

- ``"torch"``: the ``.safetensors`` model file, run by torch (an ``.onnx`` path is an error:
  torch does not run ONNX files).
- ``"onnxruntime"``: an ``.onnx`` path is loaded as it is; for a ``.safetensors`` path, its
  export beside it (``model.onnx``, written by ``harnets export model.safetensors --onnx``),
  which must have been exported from THIS file (its recorded ``model_id`` is checked: a
  stale export is a ModelFileError, never a silently different model).
- ``"auto"`` (the default): an ``.onnx`` path runs on onnxruntime; a ``.safetensors`` path on
  ``PREFERRED_BACKEND[model_type]`` where that backend can run it (onnxruntime installed and
  an up-to-date export beside the file), else on torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from harnets_core.errors import ConfigError, ModelFileError
from harnets_core.models.modelfile import LoadedModel, ModelMeta, load_model, model_id, read_meta
from harnets_core.models.onnxfile import ONNX_SUFFIX, load_onnx, onnx_source_id, read_onnx_meta

__all__ = ["BACKENDS", "PREFERRED_BACKEND", "BackendChoice", "choose_backend", "load_for_inference", "read_model_meta"]

BACKENDS: tuple[str, ...] = ("auto", "torch", "onnxruntime")

# What "auto" runs a .safetensors model with, per model type, where an up-to-date export lies
# beside it: onnxruntime only where it was clearly faster per window. bench/bench_backends.py
# (docs/BENCHMARKS.md, one thread each, two runs): onnxruntime 2.0x (skeleton_lstm), 2.7-2.8x
# (cnn_lstm: one frame + head), 3.1x (pose_lstm) faster than torch, same probabilities.
PREFERRED_BACKEND: dict[str, str] = {
    "skeleton_lstm": "onnxruntime",
    "pose_lstm": "onnxruntime",
    "cnn_lstm": "onnxruntime",
}


@dataclass(frozen=True)
class BackendChoice:
    backend: str  # "torch" or "onnxruntime"
    path: Path  # the file that backend loads
    reason: str  # why, in words (logged by the nodes)


def _is_onnx(path: Path) -> bool:
    return path.suffix.lower() == ONNX_SUFFIX


def _fresh_export(path: Path) -> Path:
    """The ONNX export beside a .safetensors model file; ModelFileError if missing or stale."""
    onnx_path = path.with_suffix(ONNX_SUFFIX)
    if not onnx_path.is_file():
        raise ModelFileError(f"backend onnxruntime: no ONNX export {onnx_path} beside {path}; "
                             f"write it with `harnets export {path} --onnx` (or give the .onnx file)")
    want, got = model_id(path), onnx_source_id(onnx_path)
    if got != want:
        raise ModelFileError(f"backend onnxruntime: {onnx_path} was exported from {got or 'an unknown model file'}, "
                             f"not from {want}; export it again: `harnets export {path} --onnx`")
    return onnx_path


def choose_backend(path: str | Path, backend: str = "auto") -> BackendChoice:
    """The backend and the file it loads for ``path`` (see the module docstring)."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r}: use one of {', '.join(BACKENDS)}")
    path = Path(path)
    if _is_onnx(path):
        if backend == "torch":
            raise ConfigError(f"backend torch cannot run the ONNX file {path}; give its .safetensors model file, "
                              "or use backend onnxruntime")
        return BackendChoice("onnxruntime", path, "an ONNX model file")
    if backend == "torch":
        return BackendChoice("torch", path, "backend torch")
    if backend == "onnxruntime":
        return BackendChoice("onnxruntime", _fresh_export(path), "backend onnxruntime, the export beside the model file")
    preferred = PREFERRED_BACKEND.get(read_meta(path).model_type, "torch")
    if preferred == "onnxruntime":
        try:
            return BackendChoice("onnxruntime", _fresh_export(path), "auto: onnxruntime is the faster backend for this model type")
        except (ModelFileError, ConfigError) as err:
            return BackendChoice("torch", path, f"auto: torch ({err})")
    return BackendChoice("torch", path, "auto: torch for this model type")


def load_for_inference(
    path: str | Path,
    backend: str = "auto",
    *,
    providers: str | Sequence[str] | None = "auto",
    threads: int | None = None,
) -> tuple[LoadedModel, BackendChoice]:
    """The model of ``path`` ready for the recognizers (a torch module or an OnnxModel), and the choice made."""
    choice = choose_backend(path, backend)
    if choice.backend == "torch":
        return load_model(choice.path), choice
    return load_onnx(choice.path, providers=providers, threads=threads), choice


def read_model_meta(path: str | Path) -> ModelMeta:
    """The metadata of a .safetensors model file or of its ONNX export (the same ModelMeta)."""
    return read_onnx_meta(path) if _is_onnx(Path(path)) else read_meta(path)
