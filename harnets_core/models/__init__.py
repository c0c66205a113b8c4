"""Models of harnets: LSTM over skeleton features / pose keypoints, and the RGB CNN-LSTM.

``build_model(model_type, config_dict)`` rebuilds a model from the ``model_type`` and
``model_config`` stored in a model file (see ``harnets_core.models.modelfile``).
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from harnets_core.errors import ConfigError
from harnets_core.models.cnn_lstm import (
    ENCODERS,
    CNNLSTM,
    CNNLSTMConfig,
    SmallEncoder,
    WideEncoder,
    build_encoder,
    register_encoder,
)
from harnets_core.models.lstm import LSTMClassifier, LSTMConfig

__all__ = [
    "MODEL_TYPES",
    "build_model",
    "model_config_dict",
    "LSTMConfig",
    "LSTMClassifier",
    "CNNLSTMConfig",
    "CNNLSTM",
    "SmallEncoder",
    "WideEncoder",
    "ENCODERS",
    "register_encoder",
    "build_encoder",
]

# model_type -> (config dataclass, model class)
MODEL_TYPES: dict[str, tuple[type, type[nn.Module]]] = {
    "skeleton_lstm": (LSTMConfig, LSTMClassifier),
    "pose_lstm": (LSTMConfig, LSTMClassifier),
    "cnn_lstm": (CNNLSTMConfig, CNNLSTM),
}


def build_model(model_type: str, config_dict: Mapping[str, Any]) -> nn.Module:
    """Build an untrained model; unknown model_type or config keys raise ConfigError."""
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"unknown model_type {model_type!r}; known types are {sorted(MODEL_TYPES)}")
    config_cls, model_cls = MODEL_TYPES[model_type]
    return model_cls(config_cls.from_dict(config_dict))


def model_config_dict(model: nn.Module) -> dict[str, Any]:
    """The JSON-able config of a harnets model (unwraps DistributedDataParallel)."""
    model = getattr(model, "module", model)
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        raise ConfigError(f"{type(model).__name__} has no .config with to_dict(); pass meta['model_config']")
    return config.to_dict()
