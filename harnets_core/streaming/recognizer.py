"""Streaming (windowed) inference: push(sample, stamp_ns) returns a Prediction when one is due.

One recognizer per model type, built from a model file alone (`load_recognizer`). Each keeps
a bounded ring of preprocessed samples and runs the model every `hop_s` of sensor time over
the model's window, with the SAME preprocessing objects as training (harnets_core.features.pipeline).

Stamps: a sample with the same stamp as the previous one (a duplicated message) is skipped,
counted in `stats["duplicate_stamps"]`; it neither enters the window nor restarts it. A stamp
going backwards (`stats["stamps_backwards"]`) or a jump longer than `max_gap_s`
(`stats["gaps"]`) restarts the window (the samples before it are dropped; both also count in
`stats["resets"]`): a window never mixes unrelated data. A sample that does not fit the model
raises StreamError and changes nothing.

`admit(stamp_ns)` runs the stamp checks and the rate sampler alone, so that a caller can
skip decoding a sample the model would not use (`push_admitted` then takes it); `push` does both.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from harnets_core.datasets.windows import fill_samples, front_pad
from harnets_core.errors import ModelFileError, StreamError
from harnets_core.models.backends import load_for_inference
from harnets_core.models.modelfile import LoadedModel, check_skeleton, model_id
from harnets_core.models.onnxfile import OnnxModel
from harnets_core.features.pipeline import FrameSampler, pipeline_from_meta
from harnets_core.streaming.forecast import Forecast, forecaster_from_meta
from harnets_core.features.view_check import InputCheck, InputMonitor
from harnets_core.formats.video import VIEWS
from harnets_core.streaming.predictions import TopClass
from harnets_core.streaming.segmentation import filter_from_meta

__all__ = [
    "Prediction",
    "StreamingRecognizer",
    "SkeletonRecognizer",
    "FrameRecognizer",
    "load_recognizer",
]


@dataclass(frozen=True)
class Prediction(TopClass):
    """One recognized activity for one window of samples."""

    stamp_ns: int  # time of the NEWEST sample in the window
    window_start_ns: int  # time of the OLDEST sample in the window
    source: str  # "skeleton", "rgb", "pose" or "fusion"
    model_id: str
    class_names: tuple[str, ...]
    class_ids: tuple[int, ...]
    probabilities: np.ndarray  # (K,) float32, sums to 1 (filtered when the model has a filter)
    raw_probabilities: np.ndarray | None = None  # (K,) the window's own, before the filter
    forecast: Forecast | None = None  # remaining time and next activity (models with a forecaster)


class StreamingRecognizer:
    """Ring buffer of per-sample features + a model head run every hop.

    Subclasses implement `_encode(sample) -> (D,)` (per-sample work, done once, on arrival)
    and `_infer(window (T, D)) -> probabilities (K,)`.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        source: str,
        model_id_: str,
        length: int,
        hop_s: float,
        max_gap_s: float,
        sampler: FrameSampler | None = None,
        segmentation: bool = True,
        min_fill: int | None = None,
    ) -> None:
        meta = loaded.meta
        self.model = loaded.model.eval()
        self.meta = meta
        self.source = source
        self.model_id = model_id_
        self.class_names = tuple(meta.class_names)
        self.class_ids = tuple(int(i) for i in meta.class_ids)
        self.length = int(length)
        # samples before the first window is classified (front edge-padded up to `length`)
        self.min_fill = self.length if min_fill is None else max(2, min(int(min_fill), self.length))
        self.hop_ns = int(round(hop_s * 1e9))
        self.max_gap_ns = int(round(max_gap_s * 1e9))
        self.sampler = sampler
        # online segmentation filter and forecaster stored with the model (None: plain windows)
        self.segmenter = filter_from_meta(meta, hop_s=hop_s) if segmentation else None
        self.forecaster = forecaster_from_meta(meta) if segmentation else None
        self._features: deque = deque(maxlen=self.length)
        self._stamps: deque = deque(maxlen=self.length)
        self._last_stamp_ns: int | None = None
        self._next_due_ns: int | None = None
        self.stats = {"samples": 0, "skipped_by_rate": 0, "duplicate_stamps": 0, "stamps_backwards": 0, "gaps": 0,
                      "resets": 0, "predictions": 0}
        self.backend = "onnxruntime" if isinstance(loaded.model, OnnxModel) else "torch"
        self.providers: tuple[str, ...] = tuple(getattr(loaded.model, "providers", ()))  # onnxruntime's, in use
        self.backend_reason = ""

    def reset(self) -> None:
        """Forget the window (called on gaps; also useful between recordings)."""
        self._features.clear()
        self._stamps.clear()
        self._last_stamp_ns = None
        self._next_due_ns = None
        if self.sampler is not None:
            self.sampler.reset()
        if getattr(self, "segmenter", None) is not None:
            self.segmenter.reset()
        if getattr(self, "forecaster", None) is not None:
            self.forecaster.reset()

    def admit(self, stamp_ns: int) -> bool:
        """Stamp checks and rate sampling of a sample stamped `stamp_ns`, before its data is
        read: False when the sample is not used (duplicate stamp, or not taken at the
        model's frame rate), True when it must be given to `push_admitted`."""
        stamp_ns = int(stamp_ns)
        last = self._last_stamp_ns
        if last is not None:
            if stamp_ns == last:
                self.stats["duplicate_stamps"] += 1
                return False
            if stamp_ns < last or stamp_ns - last > self.max_gap_ns:
                self.stats["stamps_backwards" if stamp_ns < last else "gaps"] += 1
                self.stats["resets"] += 1
                self.reset()
        if self.sampler is not None and not self.sampler.take(stamp_ns):
            self._last_stamp_ns = stamp_ns
            self.stats["skipped_by_rate"] += 1
            return False
        return True

    def push(self, sample: Any, stamp_ns: int) -> Prediction | None:
        """`admit` then `push_admitted`: a Prediction when one is due."""
        if not self.admit(stamp_ns):
            return None
        return self.push_admitted(sample, stamp_ns)

    def push_admitted(self, sample: Any, stamp_ns: int) -> Prediction | None:
        """Add a sample that `admit(stamp_ns)` accepted; a Prediction when one is due."""
        stamp_ns = int(stamp_ns)
        feature = self._encode(sample)  # validates: a bad sample raises StreamError here
        self._last_stamp_ns = stamp_ns
        self.stats["samples"] += 1
        self._features.append(feature)
        self._stamps.append(stamp_ns)
        if len(self._features) < self.min_fill:
            return None
        if self._next_due_ns is not None and stamp_ns < self._next_due_ns:
            return None
        self._next_due_ns = stamp_ns + self.hop_ns
        window = np.stack(self._features)  # (n, D), n = T once the ring is full (min_fill <= n <= T before)
        raw = self._infer(window)
        probs = raw if self.segmenter is None else self.segmenter.update(raw)
        forecast = None
        if self.forecaster is not None:
            forecast = self.forecaster.update(self.class_ids[int(np.argmax(probs))], stamp_ns)
        self.stats["predictions"] += 1
        return Prediction(
            stamp_ns=stamp_ns,
            window_start_ns=self._stamps[0],
            source=self.source,
            model_id=self.model_id,
            class_names=self.class_names,
            class_ids=self.class_ids,
            probabilities=probs,
            raw_probabilities=raw,
            forecast=forecast,
        )

    def warm_up(self) -> None:
        """Run the model once on a dummy window (no state changes): the first real window
        would otherwise pay torch's one-time costs while samples queue up."""
        raise NotImplementedError

    def _encode(self, sample: Any) -> np.ndarray:
        raise NotImplementedError

    def _infer(self, window: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _min_fill(meta: Any, sample_s: float) -> int | None:
    """Samples of ``sample_s`` seconds in the model's ``min_fill_s`` (None: full windows only;
    skeleton models trained on stream windows with ``--min-fill-s`` have it)."""
    fill_s = meta.min_fill_s
    return None if fill_s is None else fill_samples(fill_s, sample_s)


class SkeletonRecognizer(StreamingRecognizer):
    """SkeletonFrame values (C,) in the BVH channel order of the model's skeleton."""

    def __init__(self, loaded: LoadedModel, *, model_id_: str, hop_s: float, max_gap_s: float,
                 segmentation: bool = True) -> None:
        self.pipeline = pipeline_from_meta(loaded.meta)
        super().__init__(
            loaded,
            source="skeleton",
            model_id_=model_id_,
            length=self.pipeline.raw_length,
            hop_s=hop_s,
            max_gap_s=max_gap_s,
            segmentation=segmentation,
            min_fill=_min_fill(loaded.meta, self.pipeline.frame_time_s),
        )
        self.reset()
        skel = loaded.meta.skeleton or {}
        self.joint_names = list(skel.get("joint_names", []))
        self.channel_names = list(skel.get("channel_names", []))
        self.n_channels = len(self.channel_names)

    def check_layout(self, joint_names: Sequence[str], channel_types: Sequence[str], where: str = "stream",
                     channel_counts: Sequence[int] | None = None) -> None:
        """Raise StreamError unless the stream's joints and channels are the model's.
        ``channel_counts``: channels of each joint (a SkeletonFrame's ``channel_counts``; needed
        when joints differ, e.g. a CMU root with 6 channels and 3 for every other joint);
        None: the same number for every joint."""
        names = list(joint_names)
        types = list(channel_types)
        if channel_counts is None or len(channel_counts) == 0:
            per_joint = len(types) // max(len(names), 1)
            if per_joint * len(names) != len(types):
                raise StreamError(f"{where}: {len(names)} joints but {len(types)} channel types (not a whole number per "
                                  "joint; give the channel counts)")
            counts = [per_joint] * len(names)
        else:
            counts = [int(c) for c in channel_counts]
            if len(counts) != len(names) or sum(counts) != len(types):
                raise StreamError(f"{where}: channel_counts ({len(counts)} joints, {sum(counts)} channels) do not match "
                                  f"{len(names)} joint names and {len(types)} channel types")
        channel_names = [f"{j}.{c}" for j, c in zip(np.repeat(names, counts), types)]
        try:
            check_skeleton(self.meta, names, channel_names)
        except ModelFileError as err:
            raise StreamError(f"{where}: {err}") from err

    def reset(self) -> None:
        super().reset()
        self._parts: deque = deque(maxlen=self.length)  # per-frame feature parts, aligned with the ring's newest
        self._new = 0  # frames pushed since the last inference

    def _encode(self, sample: Any) -> np.ndarray:
        values = np.asarray(sample, dtype=np.float32).reshape(-1)
        if values.size != self.n_channels:
            raise StreamError(f"skeleton frame has {values.size} values; the model's skeleton has {self.n_channels} channels")
        if not np.isfinite(values).all():
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise StreamError(f"skeleton frame has a non-finite value at channel {bad} ({self.channel_names[bad]})")
        self._new += 1
        return values

    @torch.no_grad()
    def warm_up(self) -> None:
        parts = self.pipeline.frame_parts(np.zeros((self.length, self.n_channels), np.float32))
        self.model(torch.from_numpy(self.pipeline.features_from_parts(parts[None])))

    @torch.no_grad()
    def _infer(self, window: np.ndarray) -> np.ndarray:
        # Forward kinematics once per frame: only the frames new since the last window (in one
        # batch), the older ones' parts are kept.
        new = min(self._new, len(window))
        self._parts.extend(self.pipeline.frame_parts(window[len(window) - new:]))
        self._new = 0
        x = self.pipeline.features_from_parts(front_pad(np.stack(self._parts), self.length)[None])  # (1, T, D)
        logits = self.model(torch.from_numpy(x))  # (1, K)
        return torch.softmax(logits, dim=-1)[0].numpy().astype(np.float32)


class FrameRecognizer(StreamingRecognizer):
    """RGB frames (H, W, 3) uint8: the CNN runs once per sampled frame, on arrival; the
    features are kept in the ring and the LSTM head runs every hop (rgb and pose models).

    ``view`` (None: the model's) crops another view of the frames (see load_recognizer).
    ``monitor`` (an InputMonitor) watches the taken frames: whether they fit the view (mosaic
    seams) and, for pose models, whether a person is in them; ``input_check()`` is its verdict."""

    def __init__(self, loaded: LoadedModel, *, model_id_: str, hop_s: float, max_gap_s: float,
                 segmentation: bool = True, view: str | None = None) -> None:
        self.pipeline = pipeline_from_meta(loaded.meta)
        if view is not None:
            if view not in VIEWS:
                raise ModelFileError(f"view {view!r}: use one of {', '.join(VIEWS)}")
            self.pipeline.view = view
        self.monitor = InputMonitor(self.pipeline.view, tuple(self.pipeline.size_hw))
        super().__init__(
            loaded,
            source=loaded.meta.modality or "rgb",
            model_id_=model_id_,
            length=self.pipeline.length,
            hop_s=hop_s,
            max_gap_s=max_gap_s,
            sampler=FrameSampler(self.pipeline.rate_hz),
            segmentation=segmentation,
        )

    @torch.no_grad()
    def warm_up(self) -> None:
        h, w = self.pipeline.size_hw
        feature = self.pipeline.encode_prepared(self.model, np.zeros((1, h, w, 3), np.uint8))  # (1, D)
        self.pipeline.classify(self.model, np.repeat(feature[None], self.length, axis=1))

    @torch.no_grad()
    def _encode(self, sample: Any) -> np.ndarray:
        frame = np.asarray(sample)
        prepared = self.pipeline.prepare(frame)  # validates: a bad frame raises StreamError here
        self.monitor.frame(frame)
        if self.pipeline.kind == "pose":
            kps = self.pipeline.keypoints(prepared[None])  # (1, K, 3)
            self.monitor.keypoints(kps[0])
            return self.pipeline.encode_keypoints(kps)[0]  # (D,)
        return self.pipeline.encode_prepared(self.model, prepared[None])[0]  # (D,)

    def input_check(self) -> InputCheck:
        """Whether the recent frames fit the model's view, and (pose) the fraction with a person."""
        return self.monitor.check()

    def window_person_fraction(self) -> float | None:
        """pose: fraction of the current window's frames with a person (None: rgb, or no frame yet)."""
        return self.monitor.recent_person_fraction(self.length)

    @torch.no_grad()
    def _infer(self, window: np.ndarray) -> np.ndarray:
        logits = self.pipeline.classify(self.model, window[None])  # (1, K)
        return torch.softmax(logits, dim=-1)[0].numpy().astype(np.float32)


def load_recognizer(
    path: str | Path,
    *,
    modality: str | None = None,
    hop_s: float | None = None,
    max_gap_s: float = 0.5,
    segmentation: bool = True,
    view: str | None = None,
    backend: str = "auto",
    providers: str | Sequence[str] | None = "auto",
    threads: int | None = None,
) -> StreamingRecognizer:
    """A streaming recognizer from a model file alone (.safetensors, or its .onnx export).
    `modality` (if given) must match the file's; `hop_s` defaults to the model's training hop.
    `segmentation`: run the model file's online segmentation filter and forecaster (when it
    has them) on the window probabilities. `view` (rgb and pose models; None: the model's)
    overrides the view the frames are cropped to (runs.predict.view_override decides when that
    is allowed). `backend` ("auto", "torch", "onnxruntime"), onnxruntime's `providers` and
    `threads`: see harnets_core.models.backends / models.onnxfile. The recognizer's `backend`,
    `providers` and `backend_reason` say what runs."""
    if not str(path):
        raise ModelFileError("no model file given (parameter model_path is empty)")
    loaded, choice = load_for_inference(path, backend, providers=providers, threads=threads)
    meta = loaded.meta
    if modality is not None and meta.modality != modality:
        raise ModelFileError(f"{path}: a {meta.modality!r} model; this needs a {modality!r} model")
    hop = float(hop_s) if hop_s is not None else meta.hop_s
    mid = model_id(choice.path)
    if meta.modality == "skeleton":
        if view is not None:
            raise ModelFileError(f"{path}: a skeleton model has no view (view {view!r})")
        rec: StreamingRecognizer = SkeletonRecognizer(loaded, model_id_=mid, hop_s=hop, max_gap_s=max_gap_s,
                                                      segmentation=segmentation)
    elif meta.modality in ("rgb", "pose"):
        rec = FrameRecognizer(loaded, model_id_=mid, hop_s=hop, max_gap_s=max_gap_s, segmentation=segmentation, view=view)
    else:
        raise ModelFileError(f"{path}: unknown modality {meta.modality!r}")
    rec.backend = choice.backend
    rec.backend_reason = choice.reason
    return rec
