"""An exponential moving average of a model's weights (``TrainConfig.ema_decay``)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

__all__ = ["WeightAverage"]


class WeightAverage:
    """Exponential moving average of a model's floating-point weights and buffers, updated
    after every optimizer step: ``avg = d * avg + (1 - d) * w`` with ``d = min(decay,
    (1 + n) / (10 + n))`` at step n, so the first steps do not keep the random start.
    Validation and the saved model use the average; training goes on with the live weights.
    Every process of a DDP run holds the same weights, so the same average."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model, self.decay, self.steps = model, float(decay), 0  # the bare model, not a DDP wrapper
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self) -> None:
        d = min(self.decay, (1.0 + self.steps) / (10.0 + self.steps))
        live = self.model.state_dict()
        for k, avg in self.state.items():
            avg.lerp_(live[k].detach(), 1.0 - d)
        self.steps += 1

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Within the block the model holds the averaged weights; the live ones come back after."""
        live = {k: v.detach().clone() for k, v in self.model.state_dict().items() if k in self.state}
        self.model.load_state_dict(self.state, strict=False)
        try:
            yield
        finally:
            self.model.load_state_dict(live, strict=False)
