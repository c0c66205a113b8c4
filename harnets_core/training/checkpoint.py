"""Resumable training checkpoints without pickle: weights, optimizer state and the weight
average as safetensors tensors, the epoch, scalars and RNG states as JSON in its metadata."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from harnets_core.errors import ModelFileError
from harnets_core.models.modelfile import read_safetensors, write_safetensors
from harnets_core.training.average import WeightAverage

__all__ = ["save_checkpoint", "load_checkpoint"]

_CKPT_VERSION = 1


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    py = random.getstate()
    return tensors, {
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "python": [py[0], list(py[1]), py[2]],
    }


def _set_rng_state(tensors: Mapping[str, torch.Tensor], state: Mapping[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any],
                     average: WeightAverage | None = None) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    if average is not None:
        tensors.update({f"average.{k}": v for k, v in average.state.items()})
        state = {**state, "average_steps": average.steps}
    opt = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in opt["state"].items():
        for name, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = value
    rng_tensors, rng_json = _rng_state()
    tensors.update(rng_tensors)
    payload = {
        "ckpt_version": _CKPT_VERSION,
        **state,
        "optimizer": {"param_groups": opt["param_groups"], "scalars": scalars},
        "rng": rng_json,
    }
    write_safetensors(path, tensors, {"harnets_ckpt": json.dumps(payload)})


def load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
                     average: WeightAverage | None = None) -> dict[str, Any]:
    tensors, metadata = read_safetensors(path, what="training checkpoint")
    try:
        payload = json.loads(metadata["harnets_ckpt"])
    except (KeyError, json.JSONDecodeError) as err:
        raise ModelFileError(f"training checkpoint {path} lacks valid 'harnets_ckpt' metadata: {err}") from err
    if payload.get("ckpt_version") != _CKPT_VERSION:
        raise ModelFileError(f"training checkpoint {path} has version {payload.get('ckpt_version')!r}, expected {_CKPT_VERSION}")
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise ModelFileError(f"training checkpoint {path} does not match this model: {err}") from err
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, values in payload["optimizer"]["scalars"].items():
        state.setdefault(int(pid), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": payload["optimizer"]["param_groups"]})
    if average is not None:
        saved = {k[len("average."):]: v for k, v in tensors.items() if k.startswith("average.")}
        if set(saved) != set(average.state):
            raise ModelFileError(f"training checkpoint {path} has no weight average for this model (ema_decay changed?)")
        for k, v in saved.items():
            average.state[k].copy_(v)
        average.steps = int(payload.get("average_steps", 0))
    _set_rng_state(tensors, payload["rng"])
    return payload
