"""Typed options of a run, one dataclass per concern: the skeleton window and features, the
LSTM head, and the view / window / CNN of RGB and pose models. The command line fills them
(harnets_core.cli.options); everything below takes them as they are."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harnets_core.datasets.inhard import DEFAULT_SCENARIO_THRESHOLD_S
from harnets_core.datasets.selection import DataSelection, select_data
from harnets_core.errors import ConfigError
from harnets_core.features.skeleton import FeatureConfig
from harnets_core.formats.video import HARNETS_VIEW_SIZE_HW

__all__ = ["DataOptions", "RGB_SCENARIOS", "FRAME_VIEWS", "DEFAULT_RGB_SIZE_HW", "SkeletonOptions", "ModelOptions", "RgbOptions", "PoseOptions"]

RGB_SCENARIOS: dict[str, str] = {"RGB": "left", "RGB-SP": "top"}
"""HARNets' scenario names -> mosaic view: "RGB" is the side view, "RGB-SP" the top view."""


FRAME_VIEWS: tuple[str, ...] = ("top", "left", "right", "full")


DEFAULT_RGB_SIZE_HW: tuple[int, int] = (48, 80)
"""Default RGB model input (H, W): HARNets' 3:5 aspect ratio at half of video's
DEFAULT_VIEW_SIZE_HW (96 x 160). The CNN is trained end to end, so per-frame features cannot be
cached in training: every epoch runs the CNN forward AND backward on every frame of every
window. At 48 x 80 the small encoder costs ~4x less than at 96 x 160, which keeps a 15-epoch
run on the default synthetic data at 1 to 3 minutes on 2 shared CPU cores
(docs/RESULTS_RGB.md), and the body, bench, sheets and shelf still span several pixels (the
operator is about 25 px tall in the side views, 15 px across in the top view). Pass
``size_hw=(96, 160)`` or more with a GPU."""


@dataclass(frozen=True)
class DataOptions:
    """Which data a run reads: the dataset root and layout, the session split, the classes
    (names or ids; None: all present), the scenario, and the modality whose files it needs."""

    root: Path
    split: str = "official"
    classes: tuple[int | str, ...] | None = None
    class_limit: int | None = None
    scenario: str = "all"
    threshold_s: float = DEFAULT_SCENARIO_THRESHOLD_S
    layout: str = "auto"
    modality: str = "skeleton"
    group_pattern: str | None = None  # own `classes` layout: the recording a file belongs to

    def select(self) -> DataSelection:
        """The sessions, classes and segments these options describe (datasets.select_data)."""
        return select_data(self.root, split=self.split, classes=None if self.classes is None else list(self.classes),
                           class_limit=self.class_limit, scenario=self.scenario, threshold_s=self.threshold_s,
                           layout=self.layout, modality=self.modality, group_pattern=self.group_pattern)


@dataclass
class SkeletonOptions:
    """Window and features of a skeleton model. HARNets used 150 or 200 frames at 120 Hz
    (1.25 or 1.67 s); the default resamples to 30 Hz, which keeps the motion (arm movements
    are well below 10 Hz) and makes the LSTM 4x shorter."""

    window_s: float = 200 * 0.008401
    hop_s: float = 0.25
    rate_hz: float = 30.0
    features: FeatureConfig = field(default_factory=FeatureConfig)
    short_policy: str = "pad"
    windows: str = "stream"  # "stream": over whole sessions, newest-frame label; "segments": inside annotations
    background: bool = True  # idle ("No action") as a class, from the unannotated time
    train_hop_s: float | None = None  # hop between TRAINING windows (default hop_s; streaming always uses hop_s)
    min_fill_s: float | None = None  # stream windows: classify a stream's first windows once this much is in (front-padded)


@dataclass
class ModelOptions:
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.2
    members: int = 1  # LSTM models: an ensemble of this many, trained one after another (seeds seed, seed + 1, ...)


@dataclass
class _FrameOptions:
    view: str = "top"
    size_hw: tuple[int, int] = DEFAULT_RGB_SIZE_HW
    rate_hz: float = 5.0  # frames per second taken from the video
    window_s: float = 2.0  # window length in seconds (length = window_s * rate_hz frames)
    hop_s: float = 0.8  # seconds between window starts (training, evaluation and streaming)
    sequence_length: int | None = None  # frames per window; when set, window_s = sequence_length / rate_hz
    background: bool = True  # idle ("No action") as a class, from the session videos' unannotated time

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.view not in FRAME_VIEWS:
            raise ConfigError(f"{name}.view {self.view!r}: use one of {', '.join(FRAME_VIEWS)} "
                              f"(HARNets' RGB = left, RGB-SP = top)")
        self.size_hw = (int(self.size_hw[0]), int(self.size_hw[1]))
        if min(self.size_hw) < 8:
            raise ConfigError(f"{name}.size_hw {self.size_hw}: both sides must be >= 8")
        self.rate_hz = float(self.rate_hz)
        if not 0.0 < self.rate_hz <= 60.0:
            raise ConfigError(f"{name}.rate_hz {self.rate_hz}: must be in (0, 60]")
        if self.sequence_length is not None:
            if int(self.sequence_length) < 2:
                raise ConfigError(f"{name}.sequence_length {self.sequence_length}: must be >= 2")
            self.sequence_length = int(self.sequence_length)
            self.window_s = self.sequence_length / self.rate_hz
        self.window_s, self.hop_s = float(self.window_s), float(self.hop_s)
        if self.window_s * self.rate_hz < 1.5:
            raise ConfigError(f"{name}.window_s {self.window_s} at {self.rate_hz} Hz: fewer than 2 frames a window")
        steps = self.hop_s * self.rate_hz
        if self.hop_s <= 0 or round(steps) < 1 or abs(steps - round(steps)) > 1e-6:
            raise ConfigError(f"{name}.hop_s {self.hop_s}: must be a whole number (>= 1) of frame periods "
                              f"(1 / rate_hz = {1.0 / self.rate_hz:g} s), so offline and streaming windows agree")

    @property
    def length(self) -> int:
        """Frames per window (T); the same formula as FramePipeline.length."""
        return max(2, int(round(self.window_s * self.rate_hz)))

    @property
    def hop_frames(self) -> int:
        """Taken frames between window starts."""
        return int(round(self.hop_s * self.rate_hz))


@dataclass
class RgbOptions(_FrameOptions):
    """Window, view and CNN of an RGB CNN-LSTM (the LSTM head: runs.ModelOptions).

    Defaults: top view (HARNets' best RGB scenario, RGB-SP), 48 x 80 input
    (:data:`DEFAULT_RGB_SIZE_HW`), 10 frames per second, 2 s windows (20 frames, as
    HARNets' shortest sequence length). 10 Hz rather than 5: the screwing of "Assemble
    system" oscillates at about 2 Hz, which 5 Hz sampling aliases into noise; at 5 Hz the
    top view confused it with "Turn sheets" and stayed below the majority class
    (docs/RESULTS_RGB.md). A window every 0.8 s (the CNN is trained end to end, so every
    window costs its 20 frames forward and backward each epoch: overlapping windows cost
    time and add little; the live recognizer may use a shorter hop). The "small" encoder
    (CPU; GroupNorm, a 3 x 5 feature grid per frame, see models.cnn_lstm); "wide" is for a
    GPU. ``temporal_diff`` (True): the LSTM also sees each frame feature's change from the
    previous frame (motion, which differs less between people than appearance does).
    ``augment`` (True): one random shift, scale, rotation and brightness / contrast change per
    training window (:class:`FrameWindowDataset`), standing in for the people and camera
    placements training never saw. It slows learning: give it 40 epochs (15 underfit), and
    it lifts the validation accuracy of both views by 10 to 20 points over no augmentation
    (docs/RESULTS_RGB.md). ``feature_dropout`` (0) is off: it underfit in 15 epochs.
    """

    rate_hz: float = 10.0
    encoder: str = "small"
    encoder_config: dict[str, Any] = field(default_factory=dict)
    feature_dim: int = 128
    temporal_diff: bool = True  # the LSTM head also gets per-frame feature differences
    feature_dropout: float = 0.0  # dropout on the per-frame features (training only)
    augment: bool = True  # random shift, scale, rotation and brightness of training windows


@dataclass
class PoseOptions(_FrameOptions):
    """Window and view of a pose-keypoint LSTM. ``size_hw`` is the image the extractor sees
    (HARNets' 300 x 500 by default: detectors need more pixels than the CNN; only the
    keypoints are cached, never these frames)."""

    size_hw: tuple[int, int] = HARNETS_VIEW_SIZE_HW
