"""One self-describing file per model: safetensors weights + JSON metadata.

The metadata is stored as a JSON string under the key ``"harnets"`` of the safetensors
header metadata, so a consumer rebuilds the model (type, config, class names,
preprocessing, window, skeleton) from the file alone. Loading never unpickles.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from harnets_core.errors import ConfigError, ModelFileError
from harnets_core.serialization import to_jsonable
from harnets_core.models import MODEL_TYPES, build_model, model_config_dict

__all__ = [
    "FORMAT_VERSION",
    "METADATA_KEY",
    "ModelMeta",
    "LoadedModel",
    "save_model",
    "load_model",
    "read_meta",
    "check_skeleton",
    "model_id",
    "model_meta",
    "window_meta",
    "read_safetensors",
    "write_safetensors",
]

FORMAT_VERSION = 1
METADATA_KEY = "harnets"
_MAX_HEADER_BYTES = 100 * 1024 * 1024


@dataclass
class ModelMeta:
    """Everything a model file says about its model. Dict-style access works too (meta["window"]).

    ``extra`` keeps keys outside the list below (e.g. ``history``) so they round-trip;
    ``source`` is the file it was read from (not stored).
    """

    model_type: str
    model_config: dict[str, Any]
    class_names: list[str]
    class_ids: list[int]
    modality: str | None = None  # "skeleton", "rgb", "pose"
    preprocessing: dict[str, Any] = field(default_factory=dict)  # feature config, normalizer, video view/size
    window: dict[str, Any] = field(default_factory=dict)  # length, hop, rate_hz
    skeleton: dict[str, Any] | None = None  # joint_names, channel_names, signature
    train_config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None) -> "ModelMeta":
        known = {f.name for f in fields(cls)} - {"extra", "source"}
        missing = [k for k in ("model_type", "model_config", "class_names") if data.get(k) is None]
        if missing:
            raise ConfigError(f"model meta lacks {missing}")
        kwargs = {k: v for k, v in data.items() if k in known and v is not None}
        kwargs.setdefault("class_ids", list(range(len(data["class_names"]))))
        extra = dict(data.get("extra") or {})
        extra.update({k: v for k, v in data.items() if k not in known and k not in ("extra", "source")})
        meta = cls(**kwargs, extra=extra, source=source)
        meta.class_names = [str(c) for c in meta.class_names]
        meta.class_ids = [int(i) for i in meta.class_ids]
        if len(meta.class_ids) != len(meta.class_names):
            raise ConfigError(f"model meta has {len(meta.class_names)} class_names but {len(meta.class_ids)} class_ids")
        return meta

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("extra", "source")}
        out.update(self.extra)
        return to_jsonable(out)

    # dict-style access, so code written against a plain dict keeps working
    def __getitem__(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        if key in {f.name for f in fields(self)}:
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return key in self.extra or key in {f.name for f in fields(self)}

    # the window, read in one place: a missing or non-positive value is a ModelFileError
    def window_value(self, key: str) -> float:
        """``window[key]`` (``window_s``, ``hop_s``, ``rate_hz``) as a positive float."""
        value = (self.window or {}).get(key)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not number > 0 or number == float("inf"):
            raise ModelFileError(f"model file {self.source or '<unsaved>'}: window.{key} is {value!r}; "
                                 "expected a positive number of seconds (or Hz)")
        return number

    @property
    def hop_s(self) -> float:
        """Seconds of sensor time between two windows (training, evaluation and streaming)."""
        return self.window_value("hop_s")

    @property
    def window_s(self) -> float:
        """Seconds of sensor time one window covers."""
        return self.window_value("window_s")

    @property
    def min_fill_s(self) -> float | None:
        """Seconds of samples after which a stream's first windows are classified, edge-padded at
        the front (as training saw them at each session's start); None: only full windows."""
        value = (self.window or {}).get("min_fill_s")
        return None if value is None else float(value)

    @property
    def short_policy(self) -> str:
        """What training did with segments shorter than a window: "pad" or "drop"."""
        return str((self.window or {}).get("short_policy", "pad"))


def window_meta(window_s: float, hop_s: float, rate_hz: float, length: int, **extra: Any) -> dict[str, Any]:
    """The ``window`` entry of a model file: its length in seconds and samples, the hop, the
    sample rate the model sees, plus modality-specific keys (``raw_length``, ``short_policy``)."""
    return {"window_s": float(window_s), "hop_s": float(hop_s), "rate_hz": float(rate_hz), "length": int(length), **extra}


def model_meta(
    *,
    model_type: str,
    model_config: Mapping[str, Any],
    modality: str,
    class_names: Sequence[str],
    class_ids: Sequence[int],
    preprocessing: Mapping[str, Any],
    window: Mapping[str, Any],
    skeleton: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata of a model about to be trained, for every modality: what ``save_model``
    stores and ``ModelMeta.from_dict`` reads back (training adds ``train_config``/``metrics``)."""
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"model_type {model_type!r}: known {sorted(MODEL_TYPES)}")
    meta: dict[str, Any] = {
        "model_type": model_type,
        "model_config": dict(model_config),
        "modality": modality,
        "class_names": [str(c) for c in class_names],
        "class_ids": [int(i) for i in class_ids],
        "preprocessing": dict(preprocessing),
        "window": dict(window),
    }
    if skeleton is not None:
        meta["skeleton"] = dict(skeleton)
    if data is not None:
        meta["data"] = dict(data)
    return meta


class LoadedModel(NamedTuple):
    model: nn.Module  # in eval mode, on map_location
    meta: ModelMeta




# --- raw safetensors I/O (also used by training checkpoints) -------------------------------

def write_safetensors(path: str | Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> None:
    """Write tensors + string metadata atomically (temp file in the same folder, fsync, os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    data = st_save(flat, metadata=dict(metadata))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_safetensors(path: str | Path, *, what: str = "model file") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read (tensors on CPU, header metadata); any defect raises ModelFileError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{what} {path} not found")
    data = path.read_bytes()
    metadata = _read_header_metadata(data, path, what)
    try:
        tensors = st_load(data)
    except Exception as err:  # safetensors raises its own error type for every defect
        raise ModelFileError(f"{what} {path} is corrupt or truncated: {err}") from err
    return tensors, metadata


def _read_header_metadata(data: bytes, path: Path, what: str) -> dict[str, str]:
    if len(data) < 8:
        raise ModelFileError(f"{what} {path} is not a safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n == 0 or n > _MAX_HEADER_BYTES or 8 + n > len(data):
        raise ModelFileError(f"{what} {path} is not a safetensors file or is truncated (header length {n}, file {len(data)} bytes)")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{what} {path} has a corrupt safetensors header: {err}") from err
    if not isinstance(header, dict):
        raise ModelFileError(f"{what} {path} has a corrupt safetensors header (not a JSON object)")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{what} {path} has corrupt safetensors metadata")
    return metadata


# --- model files ---------------------------------------------------------------------------

def save_model(path: str | Path, model: nn.Module, meta: Mapping[str, Any] | ModelMeta) -> Path:
    """Write ``model``'s weights and ``meta`` to ``path`` (atomic). Returns the path.

    ``meta`` needs ``model_type`` and ``class_names``; ``model_config`` defaults to
    ``model.config.to_dict()`` and ``class_ids`` to 0..K-1. ``format_version`` is set here.
    """
    path = Path(path)
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    data = meta.to_dict() if isinstance(meta, ModelMeta) else dict(meta)
    if data.get("model_config") is None:
        data["model_config"] = model_config_dict(model)
    data["format_version"] = FORMAT_VERSION
    meta_obj = ModelMeta.from_dict(to_jsonable(data))
    if meta_obj.model_type not in MODEL_TYPES:
        raise ConfigError(f"cannot save {path}: unknown model_type {meta_obj.model_type!r}; known {sorted(MODEL_TYPES)}")
    config_cls = MODEL_TYPES[meta_obj.model_type][0]
    config = config_cls.from_dict(meta_obj.model_config)  # rejects unknown keys
    num_classes = getattr(config, "num_classes", None)
    if num_classes is not None and num_classes != len(meta_obj.class_names):
        raise ConfigError(f"cannot save {path}: model has {num_classes} classes but meta lists {len(meta_obj.class_names)} class_names")
    text = json.dumps(meta_obj.to_dict(), allow_nan=False)
    write_safetensors(path, model.state_dict(), {METADATA_KEY: text, "format": "pt"})
    return path


def read_meta(path: str | Path) -> ModelMeta:
    """The metadata of a model file, without building the model (reads only the header)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found")
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) == 8:
            (n,) = struct.unpack("<Q", head)
            head += fh.read(min(n, _MAX_HEADER_BYTES))
    return _parse_meta(_read_header_metadata(head, path, "model file"), path)


def _parse_meta(metadata: Mapping[str, str], path: Path) -> ModelMeta:
    if METADATA_KEY not in metadata:
        raise ModelFileError(f"model file {path} is a safetensors file without harnets metadata (key {METADATA_KEY!r})")
    try:
        data = json.loads(metadata[METADATA_KEY])
    except json.JSONDecodeError as err:
        raise ModelFileError(f"model file {path}: harnets metadata is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ModelFileError(f"model file {path}: harnets metadata is not a JSON object")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"model file {path} has format_version {version!r}; this harnets reads format_version {FORMAT_VERSION}"
        )
    if data.get("model_type") not in MODEL_TYPES:
        raise ModelFileError(f"model file {path} has unknown model_type {data.get('model_type')!r}; known {sorted(MODEL_TYPES)}")
    try:
        return ModelMeta.from_dict(data, source=str(path))
    except (ConfigError, TypeError, ValueError, KeyError, AttributeError) as err:
        raise ModelFileError(f"model file {path}: bad metadata: {type(err).__name__}: {err}") from err


def load_model(path: str | Path, *, map_location: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the model stored in ``path`` (eval mode, on ``map_location``). Never unpickles."""
    path = Path(path)
    tensors, metadata = read_safetensors(path)
    meta = _parse_meta(metadata, path)
    try:
        model = build_model(meta.model_type, meta.model_config)
    except ConfigError as err:
        raise ModelFileError(f"model file {path}: cannot build {meta.model_type}: {err}") from err
    except Exception as err:  # noqa: BLE001 - the metadata is untrusted input: any failure is a bad file
        raise ModelFileError(f"model file {path}: cannot build {meta.model_type} from its model_config "
                             f"({type(err).__name__}: {err})") from err
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k} {tuple(tensors[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and (tensors[k].shape != v.shape or tensors[k].dtype != v.dtype)
    ]
    if missing or unexpected or wrong:
        raise ModelFileError(
            f"model file {path}: weights do not match model_config of {meta.model_type}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shape/dtype {wrong[:5]}"
        )
    model.load_state_dict(tensors, strict=True)
    model.to(map_location)
    model.eval()
    return LoadedModel(model, meta)


def check_skeleton(meta: ModelMeta | Mapping[str, Any], joint_names: Sequence[str], channel_names: Sequence[str]) -> None:
    """Raise ModelFileError unless the model was trained on this skeleton (same joints and channel layout).

    Models without a skeleton in their meta (RGB) pass.
    """
    skel = meta.get("skeleton") if hasattr(meta, "get") else None
    if not skel:
        return
    source = meta.get("source") or "<unsaved>"
    model_type = meta.get("model_type")
    want_j, want_c = list(skel.get("joint_names") or []), list(skel.get("channel_names") or [])
    got_j, got_c = list(joint_names), list(channel_names)
    problems = []
    if want_j != got_j:
        problems.append(f"joints {_first_difference(want_j, got_j)}")
    if want_c != got_c:
        problems.append(f"channels {_first_difference(want_c, got_c)}")
    if problems:
        raise ModelFileError(
            f"model {source} ({model_type}) was trained for a skeleton of {len(want_j)} joints / {len(want_c)} channels; "
            f"got {len(got_j)} joints / {len(got_c)} channels: " + "; ".join(problems)
        )


def _first_difference(want: list[str], got: list[str]) -> str:
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return f"differ at index {i}: expected {a!r}, got {b!r}"
    return f"length {len(want)} expected, got {len(got)}"


def model_id(path: str | Path) -> str:
    """``"<file name>@<first 12 hex digits of the file's sha256>"``, e.g. ``model.safetensors@3fa2c1d09b7e``."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"{path.name}@{digest.hexdigest()[:12]}"
