"""ONNX model files, run with onnxruntime: the deployment form of a harnets model.

``harnets export MODEL --onnx`` (``harnets_core.models.export``) writes one ``.onnx`` file per
model. Its metadata travels with it: the model file's JSON metadata, unchanged, under the
ONNX ``metadata_props`` key ``"harnets"`` (so ``read_onnx_meta`` gives the same ``ModelMeta``
as ``modelfile.read_meta`` of the ``.safetensors``), and ``"harnets.source"`` the ``model_id``
of the file it was exported from.

Graphs (inputs -> outputs, float32 unless said):

- ``skeleton_lstm``, ``pose_lstm``: ``x`` (B, T, D) -> ``logits`` (B, K);
- ``cnn_lstm``: ``frames`` (N, C, H, W) uint8 -> ``encodings`` (N, F), and ``features``
  (B, T, F) -> ``logits`` (B, K) in the same graph; the loader splits it into an encoder
  session and a head session, since the streaming recognizer runs the CNN once per frame and
  the head once per window (onnxruntime wants every graph input fed on every run).

``load_onnx`` returns a ``LoadedModel`` whose ``model`` is an :class:`OnnxModel`: it answers the
calls the recognizers make of the torch model (``model(x)``, ``encode_frames``,
``classify_features``; torch tensors in and out), so the streaming code runs unchanged on
either backend. Nothing is unpickled: ONNX is a protobuf.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from harnets_core.errors import ConfigError, ModelFileError
from harnets_core.models.modelfile import METADATA_KEY, LoadedModel, ModelMeta, _parse_meta

__all__ = [
    "ONNX_SUFFIX",
    "SOURCE_KEY",
    "PROVIDER_ALIASES",
    "OnnxModel",
    "read_onnx",
    "read_onnx_meta",
    "onnx_source_id",
    "select_providers",
    "load_onnx",
]

ONNX_SUFFIX = ".onnx"
SOURCE_KEY = "harnets.source"  # model_id of the .safetensors the file was exported from
INSTALL_HINT = "install the onnx extra: pip install 'harnets[onnx]' (onnx, onnxruntime; onnxruntime-gpu for CUDA)"

PROVIDER_ALIASES: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}

# graph inputs -> outputs of each model type (see the module docstring)
_GRAPHS: dict[str, tuple[tuple[str, str], ...]] = {
    "skeleton_lstm": (("x", "logits"),),
    "pose_lstm": (("x", "logits"),),
    "cnn_lstm": (("frames", "encodings"), ("features", "logits")),
}


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as err:
        raise ConfigError(f"backend onnxruntime: onnxruntime is not installed ({err}): {INSTALL_HINT}") from err
    return onnxruntime


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as err:
        raise ConfigError(f"ONNX model files need the onnx package ({err}): {INSTALL_HINT}") from err
    return onnx


def read_onnx(path: str | Path) -> tuple[Any, ModelMeta]:
    """(onnx.ModelProto, ModelMeta) of a harnets ONNX file; any defect is a ModelFileError naming it."""
    onnx = _onnx()
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"ONNX model file {path} not found")
    try:
        proto = onnx.load_model_from_string(path.read_bytes())
    except Exception as err:  # protobuf's DecodeError and friends: the file is not an ONNX model
        raise ModelFileError(f"ONNX model file {path} is corrupt or not an ONNX model: {type(err).__name__}: {err}") from err
    props = {p.key: p.value for p in proto.metadata_props}
    if not proto.graph.node or METADATA_KEY not in props:
        raise ModelFileError(f"ONNX model file {path} is not a harnets model (no metadata_props key {METADATA_KEY!r}; "
                             "export one with `harnets export MODEL --onnx`)")
    meta = _parse_meta({METADATA_KEY: props[METADATA_KEY]}, path)
    names = {i.name for i in proto.graph.input}, {o.name for o in proto.graph.output}
    for inp, out in _GRAPHS[meta.model_type]:
        if inp not in names[0] or out not in names[1]:
            raise ModelFileError(f"ONNX model file {path}: a {meta.model_type} graph needs input {inp!r} and output {out!r}; "
                                 f"it has inputs {sorted(names[0])}, outputs {sorted(names[1])}")
    return proto, meta


def read_onnx_meta(path: str | Path) -> ModelMeta:
    """The ModelMeta stored in an ONNX model file (the same as its source model file's)."""
    return read_onnx(path)[1]


def onnx_source_id(path: str | Path) -> str | None:
    """The ``model_id`` of the model file an ONNX file was exported from (None if not recorded)."""
    proto, _ = read_onnx(path)
    return next((p.value for p in proto.metadata_props if p.key == SOURCE_KEY), None)


def select_providers(spec: str | Sequence[str] | None = "auto") -> tuple[list[str], bool]:
    """The onnxruntime execution providers to ask for, and whether they were asked explicitly.

    ``"auto"`` (or None/empty): CUDA where this onnxruntime has it, then CPU. Otherwise a
    comma-separated string or a list of names (``cpu``, ``cuda``, ``tensorrt`` or full
    provider names); a name this onnxruntime lacks is a ConfigError listing the ones it has.
    """
    available = list(_ort().get_available_providers())
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "auto")):
        chosen = [p for p in ("CUDAExecutionProvider",) if p in available] + ["CPUExecutionProvider"]
        return chosen, False
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    chosen = [PROVIDER_ALIASES.get(n.lower(), n) for n in names if n]
    missing = [p for p in chosen if p not in available]
    if not chosen or missing:
        raise ConfigError(f"onnx providers {spec!r}: {missing or 'none given'} not available; this onnxruntime has "
                          f"{available} (CUDA needs the onnxruntime-gpu package and the CUDA libraries)")
    return chosen, True


class OnnxModel:
    """A harnets model run by onnxruntime, with the inference calls of the torch model.

    ``providers`` are the execution providers the sessions actually use (onnxruntime falls back
    to the CPU without saying so when CUDA libraries are missing: read them here).
    """

    def __init__(self, sessions: dict[str, Any], meta: ModelMeta, path: Path, requested: Sequence[str] = ()) -> None:
        self.sessions = sessions  # graph input name -> InferenceSession
        self.meta = meta
        self.path = path
        first = next(iter(sessions.values()))
        self.providers: tuple[str, ...] = tuple(first.get_providers())
        self.requested_providers: tuple[str, ...] = tuple(requested)

    @property
    def missing_providers(self) -> tuple[str, ...]:
        """Providers asked for that onnxruntime did not start (e.g. CUDA without its libraries)."""
        return tuple(p for p in self.requested_providers if p not in self.providers)

    def eval(self) -> "OnnxModel":
        return self

    def _run(self, name: str, x: torch.Tensor | np.ndarray, dtype: Any) -> torch.Tensor:
        session = self.sessions.get(name)
        if session is None:
            raise ModelFileError(f"ONNX model {self.path} ({self.meta.model_type}) has no {name!r} graph")
        array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        array = np.ascontiguousarray(array, dtype=dtype)
        return torch.from_numpy(session.run(None, {name: array})[0])

    def __call__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """x (B, T, D) float -> logits (B, K) (skeleton and pose LSTMs)."""
        return self._run("x", x, np.float32)

    def encode_frames(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        """frames (N, C, H, W) uint8 -> features (N, F) (CNN-LSTM encoder)."""
        if frames.dtype not in (torch.uint8, np.uint8):
            raise ValueError(f"ONNX CNN-LSTM takes uint8 frames (0..255), got {frames.dtype}")
        return self._run("frames", frames, np.uint8)

    def classify_features(self, features: torch.Tensor | np.ndarray) -> torch.Tensor:
        """features (B, T, F) -> logits (B, K) (CNN-LSTM head)."""
        return self._run("features", features, np.float32)


def load_onnx(path: str | Path, *, providers: str | Sequence[str] | None = "auto",
              threads: int | None = None) -> LoadedModel:
    """An ONNX model file as a ``LoadedModel(OnnxModel, ModelMeta)``.

    ``providers``: see :func:`select_providers`. Asked explicitly, a provider that onnxruntime
    does not end up using (CUDA libraries missing) is a ConfigError; with ``"auto"`` the
    model runs on what onnxruntime could start (``model.providers`` says which).
    ``threads``: onnxruntime's intra-op threads (None: its default, one per core).
    """
    ort = _ort()
    path = Path(path)
    proto, meta = read_onnx(path)
    chosen, explicit = select_providers(providers)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    graphs = _GRAPHS[meta.model_type]
    sessions: dict[str, Any] = {}
    try:
        for inp, out in graphs:
            part = proto if len(graphs) == 1 else _extract(proto, inp, out)
            sessions[inp] = ort.InferenceSession(part.SerializeToString(), sess_options=options, providers=chosen)
    except Exception as err:  # onnxruntime's Fail/InvalidGraph/...: a graph it cannot run
        raise ModelFileError(f"ONNX model file {path}: onnxruntime cannot load it: {type(err).__name__}: {err}") from err
    model = OnnxModel(sessions, meta, path, chosen)
    if explicit and chosen[0] not in model.providers:
        raise ConfigError(f"{path}: onnx providers {chosen} asked for, but onnxruntime runs {list(model.providers)} "
                          "(CUDA needs onnxruntime-gpu and the CUDA/cuDNN libraries on the library path)")
    return LoadedModel(model, meta)


def _extract(proto: Any, input_name: str, output_name: str) -> Any:
    """The part of the graph from one input to one output (the cnn_lstm encoder or head)."""
    from onnx.utils import Extractor

    part = Extractor(proto).extract_model([input_name], [output_name])
    part.ir_version = proto.ir_version
    del part.opset_import[:]
    part.opset_import.extend(proto.opset_import)
    return part


def meta_json(meta: ModelMeta) -> str:
    """The metadata as the ONNX file stores it (the same JSON as the .safetensors header)."""
    return json.dumps(meta.to_dict(), allow_nan=False)
