"""Distributed training under torchrun: joining the process group (nccl on CUDA, gloo on the
CPU), the rank of this process, and sums over all processes; the device a run uses."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from harnets_core.errors import ConfigError

__all__ = ["Dist", "resolve_device", "setup_distributed", "all_reduce_sum"]


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """"auto" -> cuda if available else cpu; "cuda" under torchrun -> cuda:LOCAL_RANK."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested but CUDA is not available (use --device cpu)")
        if device == "cuda":
            device = f"cuda:{local_rank}"
    return torch.device(device)


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str) -> Dist:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Dist()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    initialized_here = False
    if not dist.is_initialized():
        uses_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        if uses_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if uses_cuda else "gloo")
        initialized_here = True
    return Dist(dist.get_rank(), dist.get_world_size(), local_rank, initialized_here)


def all_reduce_sum(values: list[float], ctx: Dist, device: torch.device) -> list[float]:
    if not ctx.active:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()
