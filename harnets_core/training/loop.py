"""Training loop: class-weighted cross-entropy, best-model checkpoint, resume, DDP under torchrun.

``fit`` writes into ``out_dir``:

- ``model.safetensors``: the best model by the monitored validation metric (a harnets model
  file, see ``harnets_core.models.modelfile``; its meta gets ``metrics``, ``history``, ``train_config``);
- ``history.json``: per-epoch metrics, rewritten after every epoch;
- ``last.ckpt.safetensors``: weights, optimizer state, epoch and RNG states after the last
  finished epoch (tensors in safetensors, the rest as JSON in its metadata: no pickle).
  ``fit(..., resume=True)`` continues from it and gives the same result as an uninterrupted run.

Distributed: launched by ``torchrun`` (``WORLD_SIZE`` > 1) it joins the process group (nccl on
CUDA, gloo on CPU), wraps the model in DistributedDataParallel and shards every global batch
of ``batch_size`` samples over the processes (``batch_size / world_size`` each). The loss is the
class-weighted mean over the *global* batch, so the run matches a single-process run with the
same seed (up to float rounding, and except that DistributedSampler repeats up to
world_size - 1 samples per epoch when the training set does not divide evenly). Only rank 0
writes files and shows progress; metrics are computed on the gathered predictions of all ranks.
BatchNorm statistics stay per process (no SyncBatchNorm).
"""
from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from harnets_core.errors import ConfigError
from harnets_core.evaluation.metrics import macro_f1, macro_f1_from_confusion
from harnets_core.models.modelfile import ModelMeta, read_safetensors, save_model
from harnets_core.serialization import dataclass_from_dict
from harnets_core.training.average import WeightAverage
from harnets_core.training.checkpoint import load_checkpoint, save_checkpoint
from harnets_core.training.distributed import Dist, all_reduce_sum, resolve_device, setup_distributed

__all__ = [
    "TrainConfig",
    "TrainResult",
    "ArrayDataset",
    "fit",
    "class_weights",
    "dataset_labels",
    "resolve_device",
    "read_history",
    "MODEL_FILE",
    "LAST_CKPT_FILE",
    "HISTORY_FILE",
]

MODEL_FILE = "model.safetensors"
LAST_CKPT_FILE = "last.ckpt.safetensors"
HISTORY_FILE = "history.json"
# TrainConfig fields that must not change between an interrupted run and its resume
_RESUME_MUST_MATCH = ("batch_size", "lr", "weight_decay", "seed", "class_weighting", "monitor", "grad_clip", "ema_decay")


@dataclass
class TrainConfig:
    """How to train. ``batch_size`` is the global batch (all processes together)."""

    epochs: int = 300
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.0  # AdamW, decoupled
    patience: int = 30  # epochs without improvement of `monitor` before stopping; 0 = never stop early
    seed: int = 0
    device: str = "auto"  # "cpu", "cuda", "cuda:N" or "auto"
    num_workers: int = 0
    class_weighting: str = "balanced"  # "balanced" (n / (K * count_k)) or "none"
    monitor: str = "val_macro_f1"  # or "val_accuracy"
    grad_clip: float | None = 1.0  # max gradient L2 norm; None or 0 = off
    progress: bool = True  # tqdm bars (only on a TTY, only on rank 0)
    eval_batch_size: int = 64
    ema_decay: float = 0.0  # > 0: validate and keep an exponential moving average of the weights

    def __post_init__(self) -> None:
        if int(self.epochs) < 1 or int(self.batch_size) < 1 or int(self.eval_batch_size) < 1:
            raise ConfigError(f"TrainConfig: epochs, batch_size and eval_batch_size must be >= 1 ({self})")
        if float(self.lr) <= 0 or float(self.weight_decay) < 0 or int(self.patience) < 0 or int(self.num_workers) < 0:
            raise ConfigError(f"TrainConfig: lr must be > 0, weight_decay, patience, num_workers >= 0 ({self})")
        if not 0.0 <= float(self.ema_decay) < 1.0:
            raise ConfigError(f"TrainConfig.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.class_weighting not in ("balanced", "none"):
            raise ConfigError(f"TrainConfig.class_weighting must be 'balanced' or 'none', got {self.class_weighting!r}")
        if self.monitor not in ("val_macro_f1", "val_accuracy"):
            raise ConfigError(f"TrainConfig.monitor must be 'val_macro_f1' or 'val_accuracy', got {self.monitor!r}")
        dev = str(self.device)
        if not (dev in ("cpu", "cuda", "auto") or (dev.startswith("cuda:") and dev[5:].isdigit())):
            raise ConfigError(f"TrainConfig.device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        return dataclass_from_dict(cls, data)


@dataclass
class TrainResult:
    history: list[dict[str, Any]]  # one dict per finished epoch (see fit)
    best_epoch: int  # 1-based
    best_metrics: dict[str, Any]  # the history record of the best epoch
    model_path: Path  # out_dir / model.safetensors
    stopped_early: bool = False


class ArrayDataset(Dataset):
    """(X (N, ...), y (N,)) arrays as a Dataset of (x tensor, y int64 tensor).

    float64 X becomes float32; uint8 stays uint8 (video frames).
    """

    def __init__(self, X: np.ndarray | torch.Tensor, y: np.ndarray | Sequence[int] | torch.Tensor) -> None:
        X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
        if X.dtype == torch.float64:
            X = X.float()
        y = torch.as_tensor(np.asarray(y), dtype=torch.int64).reshape(-1)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"ArrayDataset: X has {X.shape[0]} samples but y has {y.shape[0]}")
        self.X, self.y = X, y

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[i], self.y[i]


def _as_dataset(data: Any, name: str) -> Dataset:
    """A Dataset, or anything with array attributes X and y (e.g. a WindowSet)."""
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return data
    if hasattr(data, "X") and hasattr(data, "y"):
        return ArrayDataset(data.X, data.y)
    raise ConfigError(f"{name}: expected a torch Dataset of (x, y) or an object with X and y, got {type(data).__name__}")


def dataset_labels(dataset: Any) -> np.ndarray:
    """All labels (N,) int64, read from ``.y``/``.labels``/``.targets`` when present (no sample loading)."""
    if isinstance(dataset, Subset):
        return dataset_labels(dataset.dataset)[np.asarray(dataset.indices)]
    for attr in ("y", "labels", "targets"):
        value = getattr(dataset, attr, None)
        if value is not None and not callable(value):
            return np.asarray(torch.as_tensor(np.asarray(value)), dtype=np.int64).reshape(-1)
    return np.asarray([int(dataset[i][1]) for i in range(len(dataset))], dtype=np.int64)


def class_weights(labels: np.ndarray, num_classes: int, mode: str = "balanced") -> torch.Tensor:
    """Per-class loss weights (K,) float32: n / (K * count_k) for "balanced" (1 for absent classes), ones for "none"."""
    if mode == "none":
        return torch.ones(num_classes)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ConfigError(f"labels must be in 0..{num_classes - 1}, got {labels.min()}..{labels.max()}")
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, labels.size / (num_classes * np.maximum(counts, 1)), 1.0)
    return torch.tensor(weights, dtype=torch.float32)


def read_history(out_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch records of ``out_dir/history.json``."""
    return json.loads((Path(out_dir) / HISTORY_FILE).read_text())["history"]


# --- the loop ------------------------------------------------------------------------------

def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _worker_init(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32  # distinct per worker, derived from the global seed
    np.random.seed(seed)
    random.seed(seed)


def fit(
    model: nn.Module,
    train_set: Dataset,
    val_set: Dataset,
    config: TrainConfig,
    out_dir: str | Path,
    meta: Mapping[str, Any] | ModelMeta,
    *,
    on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train ``model`` and keep the best one by ``config.monitor`` in ``out_dir/model.safetensors``.

    ``train_set``/``val_set`` yield (x, y) (or have arrays X, y). ``meta`` is the model file meta
    (``model_type``, ``class_names``, preprocessing, window, skeleton ...). Each epoch's record
    holds ``epoch``, ``train_loss`` (class-weighted mean), ``train_accuracy``, ``train_macro_f1``,
    ``val_loss``, ``val_accuracy``, ``val_macro_f1``, ``lr`` and ``time_s``; ``on_epoch(epoch,
    record)`` is called after the epoch's files are written (raising there stops training; the
    finished epochs stay resumable). ``resume=True`` continues from ``out_dir/last.ckpt.safetensors``
    (a fresh start when there is none); without it an existing run in ``out_dir`` is overwritten.
    On return ``model`` holds the best weights.
    """
    ctx = setup_distributed(str(config.device))
    try:
        return _fit(model, train_set, val_set, config, Path(out_dir), meta, on_epoch, resume, ctx)
    finally:
        if ctx.initialized_here and dist.is_initialized():
            dist.destroy_process_group()


def _fit(
    model: nn.Module,
    train_set: Any,
    val_set: Any,
    config: TrainConfig,
    out_dir: Path,
    meta: Mapping[str, Any] | ModelMeta,
    on_epoch: Callable[[int, dict[str, Any]], None] | None,
    resume: bool,
    ctx: Dist,
) -> TrainResult:
    device = resolve_device(str(config.device), ctx.local_rank)
    train_set, val_set = _as_dataset(train_set, "train_set"), _as_dataset(val_set, "val_set")
    if len(train_set) == 0 or len(val_set) == 0:
        raise ConfigError(f"fit needs non-empty train and validation sets (got {len(train_set)} and {len(val_set)})")
    if config.batch_size % ctx.world_size:
        raise ConfigError(f"batch_size {config.batch_size} is not divisible by the {ctx.world_size} processes")
    meta_dict = meta.to_dict() if isinstance(meta, ModelMeta) else dict(meta)
    if "class_names" in meta_dict:
        num_classes = len(meta_dict["class_names"])
    else:
        num_classes = int(getattr(getattr(model, "config", None), "num_classes"))
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path, ckpt_path, history_path = out_dir / MODEL_FILE, out_dir / LAST_CKPT_FILE, out_dir / HISTORY_FILE

    _seed_everything(config.seed)
    model.to(device)
    weights = class_weights(dataset_labels(train_set), num_classes, config.class_weighting).to(device)  # (K,)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    average = WeightAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    history: list[dict[str, Any]] = []
    best = {"epoch": 0, "value": -math.inf, "metrics": {}, "since": 0, "stopped": False}
    best_state: dict[str, torch.Tensor] | None = None
    if resume and ckpt_path.is_file():
        payload = load_checkpoint(ckpt_path, model, optimizer, device, average)
        old = {k: payload["train_config"].get(k, getattr(TrainConfig, k)) for k in _RESUME_MUST_MATCH}  # older files: defaults
        changed = {k: (old[k], getattr(config, k)) for k in _RESUME_MUST_MATCH if old[k] != getattr(config, k)}
        if changed:
            raise ConfigError(f"cannot resume {ckpt_path}: train config changed {changed} (old, new)")
        history, best = payload["history"], payload["best"]
        if best["epoch"] > 0:
            best_state, _ = read_safetensors(model_path)
    start_epoch = len(history)

    train_model: nn.Module = model
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    sampler = DistributedSampler(train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=config.seed)
    loader_kw = dict(num_workers=config.num_workers, worker_init_fn=_worker_init if config.num_workers else None, pin_memory=device.type == "cuda")
    train_loader = DataLoader(train_set, batch_size=config.batch_size // ctx.world_size, sampler=sampler, **loader_kw)
    val_shard = Subset(val_set, list(range(ctx.rank, len(val_set), ctx.world_size)))  # uneven shards, no padding
    val_loader = DataLoader(val_shard, batch_size=config.eval_batch_size, shuffle=False, **loader_kw)

    show = config.progress and ctx.is_main and sys.stderr.isatty()
    epochs_bar = tqdm(total=config.epochs, initial=start_epoch, desc="epochs", unit="epoch", disable=not show, dynamic_ncols=True)
    try:
        for epoch in range(start_epoch + 1, config.epochs + 1):
            if best["stopped"]:
                break
            t0 = time.perf_counter()
            sampler.set_epoch(epoch)  # batch order depends on (seed, epoch) only: resumable
            record = {"epoch": epoch}
            record.update(_train_epoch(train_model, train_loader, optimizer, weights, config, ctx, device, show, epoch, average))
            # validate (and keep as the best) the weight average when there is one, the live weights otherwise
            with average.applied() if average is not None else nullcontext():
                record.update(_validate(model, val_loader, weights, ctx, device))
                record["lr"] = optimizer.param_groups[0]["lr"]
                record["time_s"] = round(time.perf_counter() - t0, 3)
                history.append(record)
                if record[config.monitor] > best["value"]:
                    best.update(epoch=epoch, value=record[config.monitor], metrics=dict(record), since=0)
                    best_state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
                    if ctx.is_main:
                        _save_best(model_path, model, meta_dict, config, best, history)
                else:
                    best["since"] += 1
            if config.patience and best["since"] >= config.patience:
                best["stopped"] = True
            if ctx.is_main:
                _write_history(history_path, config, best, history, ctx.world_size)
                save_checkpoint(ckpt_path, model, optimizer, {"history": history, "best": best, "train_config": config.to_dict()}, average)
            epochs_bar.update(1)
            epochs_bar.set_postfix(loss=f"{record['train_loss']:.4f}", val_acc=f"{record['val_accuracy']:.3f}", val_f1=f"{record['val_macro_f1']:.3f}", best=best["epoch"])
            if on_epoch is not None:
                on_epoch(epoch, record)
    finally:
        epochs_bar.close()

    if best_state is None:
        raise RuntimeError(f"no epoch finished; nothing written to {model_path}")  # epochs >= 1, so unreachable
    model.load_state_dict(best_state)
    if ctx.is_main:  # final rewrite: the best weights with the full history
        _save_best(model_path, model, meta_dict, config, best, history)
    if ctx.active:
        dist.barrier()
    return TrainResult(history, int(best["epoch"]), dict(best["metrics"]), model_path, bool(best["stopped"]))


def _train_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    weights: torch.Tensor,
    config: TrainConfig,
    ctx: Dist,
    device: torch.device,
    show: bool,
    epoch: int,
    average: WeightAverage | None = None,
) -> dict[str, float]:
    """One pass; train_loss (class-weighted mean), train_accuracy, train_macro_f1 over all processes."""
    model.train()
    k = weights.numel()
    loss_sum = weight_sum = 0.0
    cm = torch.zeros(k * k, dtype=torch.float64, device=device)  # flattened confusion matrix (K*K,)
    for x, y in tqdm(loader, desc=f"epoch {epoch}", unit="batch", leave=False, disable=not show, dynamic_ncols=True):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True).long()
        logits = model(x)  # (b, K), b = local share of the global batch
        per_sample = F.cross_entropy(logits, y, weight=weights, reduction="none")  # (b,) = w[y] * ce
        local_w = weights[y].sum()
        global_w = local_w.detach().clone()
        if ctx.active:
            dist.all_reduce(global_w)
        # DDP averages gradients over the processes, hence the world_size factor:
        # the result is the weighted mean over the global batch, as in a single process.
        loss = per_sample.sum() * ctx.world_size / global_w
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if average is not None:
            average.update()
        loss_sum += float(per_sample.detach().sum())
        weight_sum += float(local_w)
        cm += torch.bincount(y * k + logits.detach().argmax(dim=-1), minlength=k * k).double()
    loss_sum, weight_sum = all_reduce_sum([loss_sum, weight_sum], ctx, device)
    if ctx.active:
        dist.all_reduce(cm)
    cm_np = cm.reshape(k, k).cpu().numpy()
    return {
        "train_loss": loss_sum / max(weight_sum, 1e-12),
        "train_accuracy": float(np.trace(cm_np) / max(cm_np.sum(), 1.0)),
        "train_macro_f1": macro_f1_from_confusion(cm_np),
    }


@torch.no_grad()
def _validate(model: nn.Module, loader: DataLoader, weights: torch.Tensor, ctx: Dist, device: torch.device) -> dict[str, float]:
    """val_loss (class-weighted mean), val_accuracy and val_macro_f1 over the whole validation set."""
    model.eval()
    y_true, y_pred, loss_sum, weight_sum = [], [], 0.0, 0.0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True).long()
        logits = model(x)  # (b, K)
        loss_sum += float(F.cross_entropy(logits, y, weight=weights, reduction="sum"))
        weight_sum += float(weights[y].sum())
        y_true.append(y.cpu())
        y_pred.append(logits.argmax(dim=-1).cpu())
    y_true_np = torch.cat(y_true).numpy() if y_true else np.zeros(0, np.int64)
    y_pred_np = torch.cat(y_pred).numpy() if y_pred else np.zeros(0, np.int64)
    if ctx.active:
        gathered: list[Any] = [None] * ctx.world_size
        dist.all_gather_object(gathered, (y_true_np, y_pred_np, loss_sum, weight_sum))
        y_true_np = np.concatenate([g[0] for g in gathered])
        y_pred_np = np.concatenate([g[1] for g in gathered])
        loss_sum, weight_sum = sum(g[2] for g in gathered), sum(g[3] for g in gathered)
    return {
        "val_loss": loss_sum / max(weight_sum, 1e-12),
        "val_accuracy": float((y_true_np == y_pred_np).mean()),
        "val_macro_f1": macro_f1(y_true_np, y_pred_np),
    }


def _save_best(path: Path, model: nn.Module, meta: dict[str, Any], config: TrainConfig, best: Mapping[str, Any], history: list[dict[str, Any]]) -> None:
    out = dict(meta)
    out.update(train_config=config.to_dict(), metrics=dict(best["metrics"]), history=list(history), best_epoch=best["epoch"])
    save_model(path, model, out)


def _write_history(path: Path, config: TrainConfig, best: Mapping[str, Any], history: list[dict[str, Any]], world_size: int) -> None:
    payload = {"monitor": config.monitor, "best_epoch": best["epoch"], "best_metrics": best["metrics"], "world_size": world_size, "history": history}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, path)
