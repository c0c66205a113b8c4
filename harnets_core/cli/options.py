"""From parsed command-line arguments to the typed options of the layers below: the one
place that reads an ``argparse.Namespace`` (commands, sweep and plugins all come here)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harnets_core.datasets.inhard import BVH_FRAME_TIME_S
from harnets_core.errors import ConfigError
from harnets_core.features.skeleton import FeatureConfig
from harnets_core.runs.options import DataOptions, ModelOptions, PoseOptions, RgbOptions, SkeletonOptions
from harnets_core.training.loop import TrainConfig

__all__ = [
    "class_list",
    "data_options",
    "train_config",
    "model_options",
    "skeleton_options",
    "frame_options",
    "extractor_settings",
]


def class_list(values: list[str] | None) -> tuple[int | str, ...] | None:
    """``--classes`` values: a class id where the value is a whole number, else a class name."""
    if values is None:
        return None
    return tuple(int(v) if str(v).isdigit() else str(v) for v in values)


def data_options(args: argparse.Namespace, *, modality: str | None = None) -> DataOptions:
    """``--data --split --classes --class-limit --scenario --sa-threshold-s --layout``."""
    return DataOptions(
        root=Path(args.data), split=args.split, classes=class_list(args.classes), class_limit=args.class_limit,
        scenario=getattr(args, "scenario", "all"), threshold_s=args.sa_threshold_s,
        layout=getattr(args, "layout", "auto"), modality=modality or getattr(args, "modality", "skeleton"),
        group_pattern=getattr(args, "group_pattern", None),
    )


def train_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        patience=args.patience, seed=args.seed, device=args.device, monitor=args.monitor,
        class_weighting=args.class_weighting, progress=not args.no_progress, ema_decay=args.ema_decay,
    )


def model_options(args: argparse.Namespace) -> ModelOptions:
    return ModelOptions(hidden_size=args.hidden_size, num_layers=args.layers, dropout=args.dropout,
                        members=getattr(args, "members", 1))


def skeleton_options(args: argparse.Namespace) -> SkeletonOptions:
    """``--window-frames --hop-s --rate-hz --features --joints --short-policy``."""
    feats = FeatureConfig()
    overrides: dict[str, Any] = {}
    if args.features:
        overrides["kinds"] = tuple(args.features)
    if args.joints:
        overrides["joints"] = args.joints
    if overrides:
        feats = FeatureConfig.from_dict({**feats.to_dict(), **overrides})
    return SkeletonOptions(window_s=args.window_frames * BVH_FRAME_TIME_S, hop_s=args.hop_s, rate_hz=args.rate_hz,
                           features=feats, short_policy=args.short_policy, windows=args.windows,
                           background=not args.no_background, train_hop_s=args.train_hop_s,
                           min_fill_s=args.min_fill_s)


# `harnets train rgb|pose` and `harnets sweep --modality rgb` name two options differently
_FRAME_ARGS = {"train": {"rate_hz": "rate_hz", "hop_s": "hop_s"}, "sweep": {"rate_hz": "video_rate_hz", "hop_s": "video_hop_s"}}


def frame_options(args: argparse.Namespace, modality: str, *, command: str = "train",
                  layout: str | None = None) -> RgbOptions | PoseOptions:
    """RgbOptions / PoseOptions from the video arguments; an argument left out (None) keeps the
    dataclass default, so the defaults live in runs.options alone. Without ``--view``: the whole
    frame on a user's own layouts (``classes``, ``sessions``: single cameras), InHARD's top
    view otherwise."""
    base = RgbOptions if modality == "rgb" else PoseOptions
    names = {"window_s": "window_s", "sequence_length": "sequence_length", "temporal_diff": "temporal_diff",
             "augment": "augment", **_FRAME_ARGS[command]}
    view = getattr(args, "view", None) or ("full" if layout in ("classes", "sessions") else "top")
    kwargs: dict[str, Any] = {"view": view}
    defaults = base()
    height, width = getattr(args, "height", None), getattr(args, "width", None)
    if height is not None or width is not None:
        kwargs["size_hw"] = (height or defaults.size_hw[0], width or defaults.size_hw[1])
    for option, arg in names.items():
        if getattr(args, arg, None) is not None:
            kwargs[option] = getattr(args, arg)
    if getattr(args, "no_background", False):
        kwargs["background"] = False
    if modality == "rgb":
        return RgbOptions(encoder=getattr(args, "encoder", None) or defaults.encoder, **kwargs)
    kwargs.pop("temporal_diff", None)
    kwargs.pop("augment", None)
    return PoseOptions(**kwargs)


def extractor_settings(args: argparse.Namespace) -> dict[str, Any]:
    """``--extractor blazepose|openpose`` (+ the OpenPose Caffe files) as extractor settings."""
    if args.extractor == "openpose":
        if args.openpose_prototxt is None or args.openpose_model is None:
            raise ConfigError("--extractor openpose needs --openpose-prototxt and --openpose-model")
        return {"name": "openpose", "prototxt": str(Path(args.openpose_prototxt).resolve()),
                "caffemodel": str(Path(args.openpose_model).resolve()), "variant": "MPI"}
    return {"name": "blazepose"}
