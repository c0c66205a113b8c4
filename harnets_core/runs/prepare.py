"""Preparing a run: the windows of both splits, the normalizer fitted on train, an untrained
model, and its complete model-file meta (one builder for every modality)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harnets_core.datasets.frames import FrameWindowDataset, default_cache, frame_windows, with_video_idle
from harnets_core.datasets.inhard import NO_ACTION_ID
from harnets_core.datasets.stream_windows import STREAM_LAYOUTS, StreamWindowSet, stream_selection, stream_windows, with_background
from harnets_core.datasets.selection import DataSelection, WindowSet, skeleton_windows
from harnets_core.errors import ConfigError
from harnets_core.features.keypoints import extractor_from_settings
from harnets_core.features.pipeline import FramePipeline, SkeletonPipeline, skeleton_meta
from harnets_core.features.skeleton import Normalizer
from harnets_core.formats.bvh import read_bvh
from harnets_core.formats.frame_cache import FrameCache
from harnets_core.models import CNNLSTM, CNNLSTMConfig, LSTMClassifier, LSTMConfig
from harnets_core.models.modelfile import model_meta, window_meta
from harnets_core.streaming.segmentation import fit_timeline_meta
from harnets_core.runs.options import ModelOptions, PoseOptions, RgbOptions, SkeletonOptions
from harnets_core.training.augment import WindowAugment

__all__ = ["Prepared", "normalized_lstm_config", "stream_training_windows", "prepare_skeleton", "prepare_rgb", "prepare_pose"]


@dataclass
class Prepared:
    """Everything a training run needs, for any modality."""

    model: torch.nn.Module
    train: WindowSet
    val: WindowSet
    meta: dict[str, Any]
    selection: DataSelection


def _meta(model_type: str, model_config: dict[str, Any], modality: str, selection: DataSelection,
          preprocessing: dict[str, Any], window: dict[str, Any], *, skeleton: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model file's meta for a run on ``selection`` (its classes and data description)."""
    return model_meta(model_type=model_type, model_config=model_config, modality=modality,
                      class_names=selection.class_names, class_ids=selection.class_ids,
                      preprocessing=preprocessing, window=window, skeleton=skeleton, data=selection.to_dict())


def _frame_window(options: RgbOptions | PoseOptions) -> dict[str, Any]:
    return window_meta(options.window_s, options.hop_s, options.rate_hz, options.length, short_policy="pad")


def normalized_lstm_config(pipeline: Any, train: WindowSet, val: WindowSet, num_classes: int,
                           model_options: ModelOptions) -> LSTMConfig:
    """Fit the normalizer on the training windows (N, T, D), keep it in the pipeline (and so
    in the model file), normalize both splits, and size the LSTM for them."""
    normalizer = Normalizer.fit(train.x.reshape(-1, train.x.shape[-1]))
    pipeline.normalizer = normalizer
    train.x = normalizer(train.x).astype(np.float32)
    val.x = normalizer(val.x).astype(np.float32)
    return LSTMConfig(
        input_dim=int(train.x.shape[-1]),
        num_classes=num_classes,
        hidden_size=model_options.hidden_size,
        num_layers=model_options.num_layers,
        dropout=model_options.dropout,
        members=model_options.members,
    )


def stream_training_windows(
    selection: DataSelection,
    pipeline: SkeletonPipeline,
    *,
    hop_s: float,
    mode: str = "stream",
    background: bool = True,
    short_policy: str = "pad",
    train_hop_s: float | None = None,
    min_fill_s: float | None = None,
) -> tuple[DataSelection, StreamWindowSet, StreamWindowSet, dict]:
    """Both splits' windows for a model that runs on the stream: ``(selection with the idle
    class when background, train, val, timeline meta)``. The timeline meta (segmentation filter
    and forecaster, :func:`harnets_core.streaming.segmentation.fit_timeline_meta`) is learned
    from the TRAIN sessions' label runs only. ``hop_s`` is the streaming hop (the filter steps
    once per ``hop_s``; validation windows use it); ``train_hop_s`` (default ``hop_s``) spaces the
    training windows (smaller: more, overlapping windows)."""
    selection = stream_selection(selection)  # own sessions: ids from 1, 0 is idle
    chosen = with_background(selection) if background else selection
    kwargs = dict(background=background, mode=mode, short_policy=short_policy, min_fill_s=min_fill_s)
    train = stream_windows(chosen, chosen.train_sessions, pipeline, hop_s=train_hop_s or hop_s, **kwargs)
    val = stream_windows(chosen, chosen.val_sessions, pipeline, hop_s=hop_s, **kwargs)
    runs = [r for r in train.runs if background or r.class_id != NO_ACTION_ID]
    timeline = fit_timeline_meta(runs, chosen.class_ids, hop_s)
    timeline.update({"windows": mode, "background": background,
                     "label_rule": "a window's label is the annotation at its newest frame" if mode == "stream"
                     else "windows inside one run of a label"})
    return chosen, train, val, timeline


def prepare_skeleton(selection: DataSelection, options: SkeletonOptions, model_options: ModelOptions) -> Prepared:
    """Windows of both splits, the normalizer fitted on train, an untrained LSTM and its meta."""
    first = read_bvh(selection.template_bvh(), end_frame=1)
    pipeline = SkeletonPipeline(
        skeleton=first.skeleton,
        frame_time_s=first.frame_time_s,
        features=options.features,
        window_s=options.window_s,
        rate_hz=options.rate_hz,
    )
    timeline = None
    min_fill_s = options.min_fill_s if options.windows == "stream" else None  # early output: stream windows only
    if selection.layout in STREAM_LAYOUTS and (options.windows == "stream" or options.background):
        selection, train, val, timeline = stream_training_windows(
            selection, pipeline, hop_s=options.hop_s, mode=options.windows, background=options.background,
            short_policy=options.short_policy, train_hop_s=options.train_hop_s, min_fill_s=min_fill_s)
    else:
        train = skeleton_windows(selection, selection.train_sessions, pipeline, hop_s=options.hop_s, short_policy=options.short_policy)
        val = skeleton_windows(selection, selection.val_sessions, pipeline, hop_s=options.hop_s, short_policy=options.short_policy)
    config = normalized_lstm_config(pipeline, train, val, len(selection.class_ids), model_options)
    window = window_meta(options.window_s, options.hop_s, options.rate_hz, pipeline.length,
                         raw_length=pipeline.raw_length, short_policy=options.short_policy,
                         **({"min_fill_s": min_fill_s} if timeline is not None and min_fill_s is not None else {}))
    meta = _meta("skeleton_lstm", config.to_dict(), "skeleton", selection, pipeline.to_meta(), window,
                 skeleton=skeleton_meta(first.skeleton, first.frame_time_s))
    if timeline is not None:
        meta["timeline"] = timeline  # online segmentation filter + forecaster (streaming.segmentation)
    return Prepared(LSTMClassifier(config), train, val, meta, selection)


def _frame_splits(selection: DataSelection, pipeline: FramePipeline, cache: FrameCache,
                  options: RgbOptions | PoseOptions) -> tuple[DataSelection, WindowSet, WindowSet]:
    """Both splits' video windows; with ``options.background`` and whole session videos (InHARD
    online, own ``sessions``), idle as the class "No action" from their unannotated time."""
    idle = None
    if options.background:
        selection, idle = with_video_idle(selection)
    train = frame_windows(selection, selection.train_sessions, pipeline, cache, options.hop_s, idle_after=idle)
    val = frame_windows(selection, selection.val_sessions, pipeline, cache, options.hop_s, idle_after=idle)
    return selection, train, val


def _frame_timeline(selection: DataSelection) -> dict[str, Any]:
    """A video model's ``timeline`` meta: its windows lie inside one run of a label, idle runs
    included when idle is one of its classes (no segmentation filter or forecaster: the
    skeleton model's serve the fusion)."""
    return {"windows": "segments", "background": NO_ACTION_ID in selection.class_ids,
            "label_rule": "windows inside one run of a label"}


def prepare_rgb(
    selection: DataSelection,
    options: RgbOptions | None = None,
    model_options: ModelOptions | None = None,
    cache_dir: str | Path | None = None,
) -> Prepared:
    """Windows of both splits (frames cached in ``cache_dir``, default ``<data>/.harnets_cache``),
    an untrained CNN-LSTM and its complete model-file meta (streaming.load_recognizer and
    pipeline_from_meta rebuild everything from it)."""
    options = options or RgbOptions()
    model_options = model_options or ModelOptions()
    if model_options.members != 1:
        raise ConfigError(f"--members {model_options.members}: ensembles are for the skeleton and pose LSTMs, "
                          "not the RGB CNN-LSTM")
    cache = FrameCache(cache_dir) if cache_dir is not None else default_cache(selection.root)
    pipeline = FramePipeline(kind="rgb", view=options.view, size_hw=options.size_hw,
                             rate_hz=options.rate_hz, window_s=options.window_s)
    selection, train, val = _frame_splits(selection, pipeline, cache, options)
    if options.augment:
        train.meta["dataset"] = FrameWindowDataset(train.x, train.y, transform=WindowAugment())
    config = CNNLSTMConfig(
        num_classes=len(selection.class_ids),
        height=options.size_hw[0],
        width=options.size_hw[1],
        encoder=options.encoder,
        encoder_config=dict(options.encoder_config),
        feature_dim=options.feature_dim,
        feature_dropout=options.feature_dropout,
        temporal_diff=options.temporal_diff,
        hidden_size=model_options.hidden_size,
        num_layers=model_options.num_layers,
        dropout=model_options.dropout,
    )
    meta = _meta("cnn_lstm", config.to_dict(), "rgb", selection, pipeline.to_meta(), _frame_window(options))
    meta["timeline"] = _frame_timeline(selection)
    return Prepared(CNNLSTM(config), train, val, meta, selection)


def prepare_pose(
    selection: DataSelection,
    options: PoseOptions | None = None,
    extractor_settings: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    *,
    model_options: ModelOptions | None = None,
) -> Prepared:
    """Keypoints of the taken frames by the extractor ``extractor_settings`` describes
    (pose.extractor_from_settings, default BlazePose), cached; windows of both splits; a
    normalizer fitted on train; an untrained LSTM (``pose_lstm``) and its meta."""
    options = options or PoseOptions()
    model_options = model_options or ModelOptions()
    settings = dict(extractor_settings or {"name": "blazepose"})
    extractor = extractor_from_settings(settings)
    cache = FrameCache(cache_dir) if cache_dir is not None else default_cache(selection.root)
    pipeline = FramePipeline(kind="pose", view=options.view, size_hw=options.size_hw, rate_hz=options.rate_hz,
                             window_s=options.window_s, extractor=extractor, settings=settings)
    selection, train, val = _frame_splits(selection, pipeline, cache, options)
    config = normalized_lstm_config(pipeline, train, val, len(selection.class_ids), model_options)
    preprocessing = {**pipeline.to_meta(), "keypoint_names": list(extractor.names)}
    meta = _meta("pose_lstm", config.to_dict(), "pose", selection, preprocessing, _frame_window(options))
    meta["timeline"] = _frame_timeline(selection)
    return Prepared(LSTMClassifier(config), train, val, meta, selection)
