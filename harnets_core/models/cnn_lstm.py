"""RGB CNN-LSTM: a per-frame CNN encoder followed by an LSTM head over the window.

The two halves are callable apart: ``encode_frames`` runs the CNN on single frames (the
streaming node runs it once per incoming frame and keeps features in a ring buffer) and
``classify_features`` runs the LSTM head on a window of cached features.

The encoder is pluggable. ``ENCODERS`` maps a name to an ``nn.Module`` class built as
``cls(in_channels, **encoder_config)`` that exposes ``out_dim`` (features per frame):
``"small"`` (default, fast on a CPU at 48x80) and ``"wide"`` (for a GPU). Both take
``norm`` ("group" by default: GroupNorm, which behaves the same in training and inference
at any batch size; "batch"; "none") and ``grid_hw`` (the final average pool: a small grid,
flattened, or None for a global pool). Frames are scaled to 0..1 and then standardized
with the fixed ``input_mean`` / ``input_std`` of the config. Add your own with
``register_encoder`` so that model files naming it can be loaded, or pass any module with an
``out_dim`` to ``CNNLSTM(config, encoder=...)``. No pretrained weights are used.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from harnets_core.errors import ConfigError
from harnets_core.models.lstm import LSTMClassifier, LSTMConfig
from harnets_core.serialization import dataclass_from_dict

__all__ = [
    "CNNLSTMConfig",
    "CNNLSTM",
    "NORMS",
    "SmallEncoder",
    "WideEncoder",
    "ENCODERS",
    "register_encoder",
    "build_encoder",
]


NORMS: tuple[str, ...] = ("group", "batch", "none")
"""Normalization layers an encoder can use after each conv (``norm=`` in encoder_config)."""


def _norm_layer(norm: str, channels: int) -> nn.Module:
    """``"group"``: GroupNorm with up to 8 groups (statistics per frame, so training and
    inference behave the same at any batch size: the default); ``"batch"``: BatchNorm2d
    (running statistics at inference, needs large batches); ``"none"``: identity."""
    if norm == "group":
        groups = math.gcd(channels, 8)
        return nn.GroupNorm(groups, channels)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "none":
        return nn.Identity()
    raise ConfigError(f"encoder norm {norm!r}: use one of {', '.join(NORMS)}")


def _conv_norm_relu(c_in: int, c_out: int, stride: int = 1, norm: str = "group") -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=norm == "none"),
        _norm_layer(norm, c_out),
        nn.ReLU(inplace=True),
    ]


def _pool_grid(grid_hw: Sequence[int] | None) -> tuple[nn.Module, int]:
    """The final pooling: ``None`` = global average (F = channels), ``(gh, gw)`` = adaptive
    average pooling to a gh x gw grid, flattened (F = channels * gh * gw), which keeps WHERE
    things are in the frame (a hand over the shelf vs over the bench)."""
    if grid_hw is None:
        return nn.AdaptiveAvgPool2d(1), 1
    gh, gw = (int(v) for v in grid_hw)
    if gh < 1 or gw < 1:
        raise ConfigError(f"encoder grid_hw {grid_hw}: both sides must be >= 1")
    return nn.AdaptiveAvgPool2d((gh, gw)), gh * gw


class SmallEncoder(nn.Module):
    """A few conv-norm-relu-maxpool blocks and an average pool to a small grid:
    (N, C, H, W) -> (N, F).

    The first conv has stride 2, so each block divides the resolution by 2 (first by 4):
    with the defaults (three blocks) a 48 x 80 frame ends as a 3 x 5 map, which is pooled
    to ``grid_hw`` = (3, 5) and flattened: F = channels[-1] * 15. ``grid_hw=None`` pools
    globally (F = channels[-1]). ``norm`` (default "group"): see :func:`_norm_layer`.
    """

    def __init__(
        self,
        in_channels: int = 3,
        channels: Sequence[int] = (16, 32, 64),
        norm: str = "group",
        grid_hw: Sequence[int] | None = (3, 5),
    ) -> None:
        super().__init__()
        if not channels:
            raise ConfigError("SmallEncoder: channels must not be empty")
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, c_out in enumerate(channels):
            layers += _conv_norm_relu(c_in, int(c_out), stride=2 if i == 0 else 1, norm=norm)
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
            c_in = int(c_out)
        self.features = nn.Sequential(*layers)
        self.pool, cells = _pool_grid(grid_hw)
        self.out_dim = c_in * cells

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, c, H', W')
        return self.pool(x).flatten(1)  # (N, F)


class WideEncoder(nn.Module):
    """A wider, deeper VGG-like encoder (two convs per block) for users with a GPU: (N, C, H, W) -> (N, F).
    ``norm`` and ``grid_hw`` as in :class:`SmallEncoder` (default: GroupNorm, global pool)."""

    def __init__(
        self,
        in_channels: int = 3,
        channels: Sequence[int] = (64, 128, 256, 384, 512),
        convs_per_block: int = 2,
        norm: str = "group",
        grid_hw: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if not channels or convs_per_block < 1:
            raise ConfigError("WideEncoder: channels must not be empty and convs_per_block >= 1")
        layers: list[nn.Module] = _conv_norm_relu(in_channels, int(channels[0]), stride=2, norm=norm)  # stem, /2
        c_in = int(channels[0])
        for c_out in channels:
            for _ in range(convs_per_block):
                layers += _conv_norm_relu(c_in, int(c_out), norm=norm)
                c_in = int(c_out)
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        self.pool, cells = _pool_grid(grid_hw)
        self.out_dim = c_in * cells

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, c, H', W')
        return self.pool(x).flatten(1)  # (N, F)


ENCODERS: dict[str, type[nn.Module]] = {"small": SmallEncoder, "wide": WideEncoder}


def register_encoder(name: str, cls: type[nn.Module]) -> None:
    """Make ``cls(in_channels, **encoder_config)`` (with an ``out_dim``) available as ``encoder=name``."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"encoder name must be a non-empty string, got {name!r}")
    ENCODERS[name] = cls


def build_encoder(name: str, in_channels: int, encoder_config: Mapping[str, Any]) -> nn.Module:
    if name not in ENCODERS:
        raise ConfigError(f"unknown encoder {name!r}; known encoders are {sorted(ENCODERS)} (see register_encoder)")
    try:
        encoder = ENCODERS[name](in_channels, **dict(encoder_config))
    except TypeError as err:
        raise ConfigError(f"encoder {name!r}: bad encoder_config {dict(encoder_config)}: {err}") from err
    if not isinstance(getattr(encoder, "out_dim", None), int):
        raise ConfigError(f"encoder {name!r} has no integer attribute out_dim")
    return encoder


@dataclass
class CNNLSTMConfig:
    """Hyperparameters of CNNLSTM (all JSON-serializable)."""

    num_classes: int  # K
    in_channels: int = 3  # C
    height: int = 96  # H, frames are resized to this before the model
    width: int = 160  # W
    encoder: str = "small"  # key of ENCODERS
    encoder_config: dict[str, Any] = field(default_factory=dict)  # kwargs of the encoder class
    feature_dim: int = 128  # F, per-frame feature after the projection
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    input_mean: float = 0.5  # frames in 0..1 become (x - input_mean) / input_std before the encoder
    input_std: float = 0.25
    feature_dropout: float = 0.0  # dropout on the per-frame features in training
    mean_head: bool = True  # add a linear classifier on the window's mean feature to the LSTM's logits
    temporal_diff: bool = False  # the LSTM also sees each feature's change from the previous frame

    def __post_init__(self) -> None:
        for name in ("num_classes", "in_channels", "height", "width", "feature_dim"):
            value = getattr(self, name)
            if int(value) < 1:
                raise ConfigError(f"CNNLSTMConfig.{name} must be >= 1, got {value}")
            setattr(self, name, int(value))
        self.input_mean, self.input_std = float(self.input_mean), float(self.input_std)
        self.feature_dropout = float(self.feature_dropout)
        if not 0.0 <= self.feature_dropout < 1.0:
            raise ConfigError(f"CNNLSTMConfig.feature_dropout must be in [0, 1), got {self.feature_dropout}")
        if not self.input_std > 0:
            raise ConfigError(f"CNNLSTMConfig.input_std must be > 0, got {self.input_std}")
        if not isinstance(self.encoder_config, Mapping):
            raise ConfigError(f"CNNLSTMConfig.encoder_config must be a mapping, got {self.encoder_config!r}")
        self.encoder_config = dict(self.encoder_config)
        self.head_config()  # validates hidden_size, num_layers, dropout

    def head_config(self) -> LSTMConfig:
        return LSTMConfig(
            input_dim=self.feature_dim * (2 if self.temporal_diff else 1),
            num_classes=self.num_classes,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            dropout=self.dropout,
            bidirectional=self.bidirectional,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CNNLSTMConfig":
        return dataclass_from_dict(cls, data)


class CNNLSTM(nn.Module):
    """Per-frame CNN encoder -> linear projection to F (LayerNorm, ReLU) -> LSTM head over T
    frames (+ a linear classifier of the mean feature) -> logits."""

    def __init__(self, config: CNNLSTMConfig, encoder: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        if encoder is None:
            encoder = build_encoder(config.encoder, config.in_channels, config.encoder_config)
        elif not isinstance(getattr(encoder, "out_dim", None), int):
            raise ConfigError(f"custom encoder {type(encoder).__name__} needs an integer attribute out_dim")
        self.encoder = encoder
        self.project = nn.Sequential(
            nn.Linear(encoder.out_dim, config.feature_dim), nn.LayerNorm(config.feature_dim), nn.ReLU(inplace=True),
            nn.Dropout(config.feature_dropout),
        )
        self.head = LSTMClassifier(config.head_config())
        # a direct path from every frame's feature to the logits: the CNN gets a useful
        # gradient from the first step (through a fresh 2-layer LSTM it barely does)
        self.mean_head = nn.Linear(config.feature_dim, config.num_classes) if config.mean_head else None

    def _check_frames(self, frames: torch.Tensor, leading: int) -> None:
        c = self.config
        if frames.dim() != leading + 3 or tuple(frames.shape[-3:]) != (c.in_channels, c.height, c.width):
            want = ("B, T, " if leading == 2 else "N, ") + f"{c.in_channels}, {c.height}, {c.width}"
            raise ValueError(f"CNNLSTM expects ({want}), got {tuple(frames.shape)}")

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (N, C, H, W) uint8 in 0..255 or float in 0..1 -> features (N, F)."""
        self._check_frames(frames, leading=1)
        x = frames.float() / 255.0 if frames.dtype == torch.uint8 else frames.float()  # (N, C, H, W)
        x = (x - self.config.input_mean) / self.config.input_std  # centred, about unit scale
        x = self.encoder(x)  # (N, encoder.out_dim)
        return self.project(x)  # (N, F)

    def classify_features(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, T, F) from encode_frames -> logits (B, K): the LSTM head, plus (with
        ``mean_head``) a linear classifier of the features' mean over T."""
        x = features
        if self.config.temporal_diff:
            step = torch.diff(features, dim=1, prepend=features[:, :1])  # (B, T, F), zero at t = 0
            x = torch.cat([features, step], dim=-1)  # (B, T, 2F)
        logits = self.head(x)  # (B, K)
        if self.mean_head is not None:
            logits = logits + self.mean_head(features.mean(dim=1))  # (B, K)
        return logits

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (B, T, C, H, W) uint8 or float -> logits (B, K)."""
        self._check_frames(frames, leading=2)
        b, t = frames.shape[:2]
        feats = self.encode_frames(frames.reshape(b * t, *frames.shape[2:]))  # (B*T, F)
        return self.classify_features(feats.reshape(b, t, -1))  # (B, K)
