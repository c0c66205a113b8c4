"""LSTM sequence classifier for skeleton features and pose keypoints.

Input is a window of per-frame feature vectors (B, T, D); output is class logits (B, K).
Used as model_type ``skeleton_lstm`` (BVH features) and ``pose_lstm`` (2D/3D keypoints),
and as the temporal head of the RGB CNN-LSTM.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
from torch import nn

from harnets_core.errors import ConfigError
from harnets_core.serialization import dataclass_from_dict

__all__ = ["LSTMConfig", "LSTMClassifier"]




@dataclass
class LSTMConfig:
    """Hyperparameters of LSTMClassifier (all JSON-serializable)."""

    input_dim: int  # D, features per frame
    num_classes: int  # K
    hidden_size: int = 64
    num_layers: int = 2  # 1..3
    dropout: float = 0.0  # between LSTM layers and before the linear head
    bidirectional: bool = False
    members: int = 1  # > 1: an ensemble of that many LSTMs (trained apart), their probabilities averaged

    def __post_init__(self) -> None:
        if int(self.input_dim) < 1:
            raise ConfigError(f"LSTMConfig.input_dim must be >= 1, got {self.input_dim}")
        if int(self.num_classes) < 2:
            raise ConfigError(f"LSTMConfig.num_classes must be >= 2, got {self.num_classes}")
        if int(self.hidden_size) < 1:
            raise ConfigError(f"LSTMConfig.hidden_size must be >= 1, got {self.hidden_size}")
        if not 1 <= int(self.num_layers) <= 3:
            raise ConfigError(f"LSTMConfig.num_layers must be 1..3, got {self.num_layers}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"LSTMConfig.dropout must be in [0, 1), got {self.dropout}")
        if not 1 <= int(self.members) <= 16:
            raise ConfigError(f"LSTMConfig.members must be 1..16, got {self.members}")
        self.input_dim, self.num_classes = int(self.input_dim), int(self.num_classes)
        self.hidden_size, self.num_layers = int(self.hidden_size), int(self.num_layers)
        self.dropout, self.bidirectional = float(self.dropout), bool(self.bidirectional)
        self.members = int(self.members)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LSTMConfig":
        return dataclass_from_dict(cls, data)


class LSTMClassifier(nn.Module):
    """Stacked LSTM over the window; the last layer's final hidden state feeds a linear head.

    With ``config.members`` > 1 it is an ensemble: that many such LSTMs (``members[i]``, each
    trained on its own, see :func:`harnets_core.runs.train.train_run`) whose class
    probabilities are averaged; the output is then the log of the mean probabilities, so that
    a softmax of it (what every caller applies) gives the mean. Averaging smooths the window
    probabilities over time, which the stream's segments and idle recall gain from
    (docs/RESULTS.md, "Timeline for a planner")."""

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = config
        if config.members > 1:
            one = LSTMConfig.from_dict({**config.to_dict(), "members": 1})
            self.members = nn.ModuleList(LSTMClassifier(one) for _ in range(config.members))
            return
        directions = 2 if config.bidirectional else 1
        self.lstm = nn.LSTM(
            input_size=config.input_dim,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(directions * config.hidden_size, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, D) float -> logits (B, K); an ensemble's are the log of its mean probabilities."""
        if x.dim() != 3 or x.shape[-1] != self.config.input_dim:
            raise ValueError(f"LSTMClassifier expects (B, T, {self.config.input_dim}), got {tuple(x.shape)}")
        x = x.float()
        if self.config.members > 1:
            probs = torch.stack([torch.softmax(m(x), dim=-1) for m in self.members]).mean(dim=0)  # (B, K)
            return torch.log(probs.clamp_min(1e-12))
        _, (h_n, _) = self.lstm(x)  # h_n: (L * dirs, B, H)
        directions = 2 if self.config.bidirectional else 1
        last = h_n[-directions:]  # (dirs, B, H), last layer (forward[, backward])
        last = last.transpose(0, 1).reshape(x.shape[0], -1)  # (B, dirs * H)
        return self.head(self.dropout(last))  # (B, K)
