"""2D body keypoints per video frame, for the pose-keypoint LSTM.

A :class:`KeypointExtractor` maps one RGB frame ``(H, W, 3) uint8`` to ``(K, 3) float32``:
``x``, ``y`` normalized to [0, 1] by the frame's width and height, and a confidence in
[0, 1] (0 = not found; x = y = 0 then). Two real extractors, both optional:

- :class:`BlazePoseExtractor`: MediaPipe 0.10.14 BlazePose (33 keypoints), the
  ``harnets[pose]`` extra, imported only when constructed.
- :class:`OpenPoseExtractor`: the OpenPose Caffe models (MPI 15 keypoints, as the original
  HARNets used; COCO 18; BODY_25) from the user's own ``.prototxt`` / ``.caffemodel`` files
  through OpenCV's DNN module; the keypoint is the argmax of its heatmap.

:func:`keypoints_from_video` runs an extractor over a video view (cached with
:class:`~harnets_core.formats.frame_cache.FrameCache`); :func:`normalize_keypoints` turns ``(T, K, 3)`` into
the LSTM's ``(T, K * 3)`` features and is the ONE function training and streaming both call.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from harnets_core.errors import ConfigError
from harnets_core.formats.frame_cache import FrameCache
from harnets_core.formats.video import iter_frames, probe_video

__all__ = [
    "KeypointExtractor",
    "BLAZEPOSE_NAMES",
    "OPENPOSE_NAMES",
    "OPENPOSE_CHANNELS",
    "BlazePoseExtractor",
    "OpenPoseExtractor",
    "heatmaps_to_keypoints",
    "extractor_cache_key",
    "EXTRACTORS",
    "register_extractor",
    "extractor_from_settings",
    "keypoints_from_video",
    "KEYPOINT_CENTERS",
    "HIP_NAMES",
    "MID_HIP_NAME",
    "hip_indices",
    "normalize_keypoints",
]


@runtime_checkable
class KeypointExtractor(Protocol):
    """One frame in, keypoints out. ``names`` are the K keypoint names in output order."""

    names: tuple[str, ...]

    def __call__(self, frame_rgb: np.ndarray) -> np.ndarray:
        """``frame_rgb (H, W, 3) uint8`` -> ``(K, 3) float32`` (x, y in [0, 1], confidence)."""
        ...


BLAZEPOSE_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
"""MediaPipe BlazePose's 33 landmarks, in its order."""

OPENPOSE_NAMES: dict[str, tuple[str, ...]] = {
    "MPI": (
        "Head", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Chest",
    ),
    "COCO": (
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    ),
    "BODY_25": (
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar",
        "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    ),
}  # fmt: skip
"""Keypoint names of the OpenPose Caffe models, in heatmap channel order."""

OPENPOSE_CHANNELS: dict[str, int] = {"MPI": 44, "COCO": 57, "BODY_25": 78}
"""Output maps of each OpenPose model: K keypoint heatmaps, 1 background, then 2 PAF maps per limb."""


# ----------------------------------------------------------------------------- BlazePose
_BLAZEPOSE_LANDMARK_MODELS: dict[int, str] = {
    0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite",
}
"""BlazePose landmark model of each ``model_complexity``; the mediapipe 0.10.14 wheel ships only 1's."""

class BlazePoseExtractor:
    """MediaPipe BlazePose (``mp.solutions.pose.Pose``), 33 keypoints.

    ``static_image_mode=False`` tracks across frames, so feed the frames of ONE video in
    order and call :meth:`reset` before the next video (:func:`keypoints_from_video` does).
    Confidence is the landmark's ``visibility``. Needs ``pip install harnets[pose]``
    (mediapipe 0.10.14); without it the constructor raises ConfigError. The wheel ships the
    landmark model of ``model_complexity=1`` only; mediapipe would download 0's and 2's at
    first use, so without their file in mediapipe's package ConfigError names it instead.
    """

    names = BLAZEPOSE_NAMES

    def __init__(self, *, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        try:
            import mediapipe as mp
        except ImportError as err:
            raise ConfigError(
                "BlazePoseExtractor needs mediapipe: install harnets[pose] (mediapipe==0.10.14)"
            ) from err
        if model_complexity not in _BLAZEPOSE_LANDMARK_MODELS:
            raise ConfigError(f"BlazePose model_complexity {model_complexity!r}: use 0, 1 or 2")
        model = Path(mp.__file__).parent / "modules" / "pose_landmark" / _BLAZEPOSE_LANDMARK_MODELS[model_complexity]
        if not model.is_file():  # mediapipe would download it now; harnets downloads nothing at run time
            raise ConfigError(
                f"{model}: BlazePose model_complexity {model_complexity} needs this file, which the mediapipe "
                "wheel does not ship (mediapipe downloads it at first use); use model_complexity=1 (shipped) "
                f"or place the file there (https://storage.googleapis.com/mediapipe-assets/{model.name})"
            )
        self._mp = mp
        self._kwargs = dict(model_complexity=model_complexity, static_image_mode=False,
                            min_detection_confidence=min_detection_confidence,
                            min_tracking_confidence=min_tracking_confidence)
        self.cache_key = f"blazepose-{getattr(mp, '__version__', '?')}-c{model_complexity}"
        self._pose = mp.solutions.pose.Pose(**self._kwargs)

    def reset(self) -> None:
        """Forget the tracking state (start of a new video)."""
        self._pose.close()
        self._pose = self._mp.solutions.pose.Pose(**self._kwargs)

    def close(self) -> None:
        self._pose.close()

    def __call__(self, frame_rgb: np.ndarray) -> np.ndarray:
        result = self._pose.process(np.ascontiguousarray(frame_rgb))
        out = np.zeros((len(self.names), 3), np.float32)  # (K, 3)
        if result.pose_landmarks is not None:
            for k, lm in enumerate(result.pose_landmarks.landmark):
                out[k] = (lm.x, lm.y, lm.visibility)
            out[:, :2] = np.clip(out[:, :2], 0.0, 1.0)
        return out


# ----------------------------------------------------------------------------- OpenPose
def _files_digest(*paths: Path) -> str:
    """SHA-1 of the files' whole contents (a 200 MB caffemodel takes about 0.3 s): two
    models that share their first layers, or one caffemodel under two prototxts (OpenPose's
    MPI ships a 6-stage and a faster 4-stage one), get different digests."""
    h = hashlib.sha1()
    for path in paths:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()[:12]


class OpenPoseExtractor:
    """OpenPose body keypoints from the user's Caffe model files via ``cv2.dnn``.

    ``prototxt`` / ``caffemodel``: e.g. ``pose_deploy_linevec_faster_4_stages.prototxt`` and
    ``pose_iter_160000.caffemodel`` for ``variant="MPI"`` (15 keypoints, the model the
    original HARNets used), ``pose_iter_440000.caffemodel`` for COCO, ``pose_iter_584000``
    for BODY_25. The frame is stretched to ``input_hw`` (368 x 368 as OpenCV's OpenPose
    sample; smaller is faster and coarser; OpenPose's own demo keeps the aspect ratio) and
    fed as OpenPose's body models expect: BGR, ``x / 256 - 0.5``. Each keypoint is the argmax
    of its heatmap in the network's output (stride 8), x and y normalized by the frame's size
    (a confidence under ``threshold`` gives ``(0, 0, 0)``). ``cache_key`` holds a digest of
    both files and the settings. Missing files raise ConfigError naming the file; an OpenCV
    without the Caffe importer (OpenCV 5 removed it) raises ConfigError saying so; a network
    whose output is not ``variant``'s (:data:`OPENPOSE_CHANNELS`) raises ConfigError on the
    first frame.
    """

    def __init__(self, prototxt: str | Path, caffemodel: str | Path, variant: str = "MPI", *,
                 input_hw: tuple[int, int] = (368, 368), threshold: float = 0.1) -> None:
        if variant not in OPENPOSE_NAMES:
            raise ConfigError(f"OpenPose variant {variant!r}: use one of {', '.join(OPENPOSE_NAMES)}")
        self.prototxt, self.caffemodel = Path(prototxt), Path(caffemodel)
        for path, what in ((self.prototxt, "prototxt"), (self.caffemodel, "caffemodel")):
            if not path.is_file():
                raise ConfigError(f"{path}: OpenPose {variant} {what} file not found")
        if not hasattr(cv2.dnn, "readNetFromCaffe"):
            raise ConfigError(
                f"{self.caffemodel}: OpenCV {cv2.__version__} has no Caffe importer "
                "(cv2.dnn.readNetFromCaffe, removed in OpenCV 5): pip install 'opencv-python-headless>=4.8,<5' "
                "(with mediapipe, also 'opencv-contrib-python>=4.8,<5', as harnets[pose] does)"
            )
        try:
            self._net = cv2.dnn.readNetFromCaffe(str(self.prototxt), str(self.caffemodel))
        except cv2.error as err:
            raise ConfigError(f"{self.caffemodel}: OpenCV cannot load the OpenPose model: {err}") from err
        self.variant = variant
        self.names = OPENPOSE_NAMES[variant]
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self.threshold = float(threshold)
        digest = _files_digest(self.prototxt, self.caffemodel)
        self.cache_key = f"openpose-{variant}-{self.input_hw[0]}x{self.input_hw[1]}-t{self.threshold:g}-{digest}"

    def __call__(self, frame_rgb: np.ndarray) -> np.ndarray:
        h, w = self.input_hw
        # OpenPose's body models see BGR scaled to x / 256 - 0.5 (its uCharCvMatToFloatPtr,
        # "VGG" normalization); blobFromImage computes (x - mean) * scale after the swap.
        blob = cv2.dnn.blobFromImage(frame_rgb, 1.0 / 256, (w, h), (128, 128, 128), swapRB=True, crop=False)
        self._net.setInput(blob)  # (1, 3, h, w)
        heat = self._net.forward()[0]  # (C, h / 8, w / 8): K keypoint maps, background, PAFs
        if heat.ndim != 3 or heat.shape[0] != OPENPOSE_CHANNELS[self.variant]:
            raise ConfigError(
                f"{self.caffemodel}: the network outputs {heat.shape}, OpenPose {self.variant} has "
                f"{OPENPOSE_CHANNELS[self.variant]} maps; wrong variant or model files?"
            )
        return heatmaps_to_keypoints(heat[: len(self.names)], self.threshold)


def heatmaps_to_keypoints(heatmaps: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Argmax of each heatmap ``(K, h, w)`` -> ``(K, 3) float32``: x, y of the pixel centre
    normalized to [0, 1], the peak value as confidence (clipped to [0, 1]); peaks under
    ``threshold`` give ``(0, 0, 0)``."""
    k, hh, ww = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    arg = flat.argmax(axis=1)
    conf = flat[np.arange(k), arg]
    ys, xs = np.divmod(arg, ww)
    out = np.stack([(xs + 0.5) / ww, (ys + 0.5) / hh, np.clip(conf, 0.0, 1.0)], axis=1).astype(np.float32)
    out[conf < threshold] = 0.0
    return out


# ----------------------------------------------------------------------------- settings
EXTRACTORS: dict[str, Callable[..., KeypointExtractor]] = {
    "blazepose": BlazePoseExtractor,
    "openpose": OpenPoseExtractor,
}
"""Extractor name -> factory called as ``factory(**kwargs)`` by :func:`extractor_from_settings`."""


def register_extractor(name: str, factory: Callable[..., KeypointExtractor]) -> None:
    """Make ``factory(**kwargs)`` available as ``{"name": name, **kwargs}`` in model files."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"extractor name must be a non-empty string, got {name!r}")
    EXTRACTORS[name] = factory


def extractor_from_settings(settings: Mapping[str, Any]) -> KeypointExtractor:
    """The extractor a model file's ``preprocessing.settings`` describes: ``{"name": ...,
    **kwargs}``, e.g. ``{"name": "blazepose", "model_complexity": 1}`` or ``{"name":
    "openpose", "prototxt": ..., "caffemodel": ..., "variant": "MPI"}`` (``input_hw`` as a
    list is accepted). Unknown names or arguments raise ConfigError."""
    if not isinstance(settings, Mapping) or not settings.get("name"):
        raise ConfigError(f"pose extractor settings {settings!r}: need a 'name' (one of {sorted(EXTRACTORS)})")
    kwargs = {k: v for k, v in settings.items() if k != "name"}
    name = str(settings["name"])
    if name not in EXTRACTORS:
        raise ConfigError(f"unknown pose extractor {name!r}; known extractors are {sorted(EXTRACTORS)} (see register_extractor)")
    if "input_hw" in kwargs:
        kwargs["input_hw"] = tuple(int(v) for v in kwargs["input_hw"])
    try:
        return EXTRACTORS[name](**kwargs)
    except TypeError as err:
        raise ConfigError(f"pose extractor {name!r}: bad settings {kwargs}: {err}") from err


# ----------------------------------------------------------------------------- videos
def extractor_cache_key(extractor: KeypointExtractor) -> str:
    """Name of an extractor's outputs in a cache: its ``cache_key`` attribute, else its class."""
    key = getattr(extractor, "cache_key", None)
    return str(key) if key else f"{type(extractor).__module__}.{type(extractor).__qualname__}"


def keypoints_from_video(
    path: str | Path,
    view: str,
    extractor: KeypointExtractor,
    cache: FrameCache | None = None,
    *,
    size_hw: tuple[int, int] | None = None,
) -> np.ndarray:
    """Keypoints of every frame of one view of a video: ``(N, K, 3) float32``.

    Frames are cropped to ``view`` and resized to ``size_hw`` (None = the crop's own size,
    best for the detectors) and fed in order (``extractor.reset()`` first, if it has one).
    With ``cache`` the result is stored under the extractor's :func:`extractor_cache_key`, the
    view and the size, and later calls never decode the video.
    """
    path = Path(path)

    def compute() -> np.ndarray:
        if hasattr(extractor, "reset"):
            extractor.reset()
        info = probe_video(path)
        out = np.zeros((info.n_frames, len(extractor.names), 3), np.float32)  # (N, K, 3)
        for i, frame in enumerate(iter_frames(path, view=view, size_hw=size_hw, info=info)):
            out[i] = extractor(frame)
        return out

    if cache is None:
        return compute()
    settings = {"view": view, "size_hw": None if size_hw is None else list(map(int, size_hw)),
                "names": list(extractor.names)}
    return cache.array(f"keypoints-{extractor_cache_key(extractor)}", path, compute, settings=settings)


KEYPOINT_CENTERS: tuple[str, ...] = ("hips", "mean")
"""Rules :func:`normalize_keypoints` centres a frame's keypoints by. ``"hips"`` (harnets'
rule since model files record ``preprocessing.keypoint_center``); ``"mean"`` (the mean of the
confident keypoints) is how pose models without that key were trained, and they keep it."""

HIP_NAMES: tuple[tuple[str, str], ...] = (("left_hip", "right_hip"), ("LHip", "RHip"))
"""(left, right) hip names: BlazePose's, and OpenPose's (COCO, MPI and BODY_25 alike)."""

MID_HIP_NAME = "MidHip"
"""OpenPose BODY_25's own hip mid-point, the centre when neither hip is confident."""


def hip_indices(names: Sequence[str] | None) -> tuple[list[int], int | None]:
    """Where the hips are in ``names``: ``([left, right], mid)``, ``[]`` when no pair of
    :data:`HIP_NAMES` is named, ``mid`` the index of BODY_25's ``MidHip`` or None."""
    names = list(names or ())
    pair = next(([names.index(left), names.index(right)] for left, right in HIP_NAMES
                 if left in names and right in names), [])
    return pair, names.index(MID_HIP_NAME) if MID_HIP_NAME in names else None


def normalize_keypoints(
    kps: np.ndarray, names: Sequence[str] | None = None, *, center: str = "hips",
    min_confidence: float = 0.1,
) -> np.ndarray:
    """Keypoints ``(T, K, 3)`` -> LSTM features ``(T, K * 3) float32``, frame by frame.

    Per frame: keypoints under ``min_confidence`` are dropped (all three values 0); x, y are
    moved so that the frame's centre is at 0 and divided by the RMS distance of the
    confident keypoints from it (scale and position invariant; a frame with fewer than two
    confident keypoints becomes all zeros). Confidence is kept as the third value.

    The centre, ``center="hips"`` (``names`` are the K keypoint names, e.g. the extractor's):
    the mid-point of the left and right hips (:data:`HIP_NAMES`) when both are confident; the
    one hip that is, when only one is; BODY_25's ``MidHip`` when neither is and it is; else
    (no hip confident, or none named, or ``names`` None) the mean of the confident
    keypoints. ``center="mean"``: always the mean of the confident keypoints (the rule of pose
    models trained before model files recorded ``keypoint_center``).
    Per frame only, so a streaming window and a training window give the same numbers.
    """
    if center not in KEYPOINT_CENTERS:
        raise ConfigError(f"keypoint centre {center!r}: use one of {', '.join(KEYPOINT_CENTERS)}")
    kps = np.asarray(kps, dtype=np.float32)
    if kps.ndim != 3 or kps.shape[2] != 3:
        raise ConfigError(f"keypoints {kps.shape}: want (T, K, 3)")
    t, k, _ = kps.shape
    if names is not None and len(names) != k:
        raise ConfigError(f"{len(names)} keypoint names for {k} keypoints")
    conf = kps[..., 2]
    ok = conf >= min_confidence  # (T, K)
    xy = kps[..., :2]
    n_ok = ok.sum(axis=1)  # (T,)
    center_xy = (xy * ok[..., None]).sum(axis=1) / np.maximum(n_ok, 1)[:, None]  # (T, 2) mean of the confident
    if center == "hips":
        pair, mid = hip_indices(names)
        if mid is not None:
            center_xy = np.where(ok[:, mid, None], xy[:, mid], center_xy)
        if pair:
            hip_ok = ok[:, pair]  # (T, 2)
            n_hip = hip_ok.sum(axis=1)  # (T,)
            hip_xy = (xy[:, pair] * hip_ok[..., None]).sum(axis=1) / np.maximum(n_hip, 1)[:, None]  # (T, 2)
            center_xy = np.where((n_hip > 0)[:, None], hip_xy, center_xy)
    rel = (xy - center_xy[:, None, :]) * ok[..., None]  # (T, K, 2)
    rms = np.sqrt((rel ** 2).sum(axis=(1, 2)) / np.maximum(n_ok, 1))  # (T,)
    valid = (n_ok >= 2) & (rms > 1e-6)
    rel = rel / np.where(valid, rms, 1.0)[:, None, None]
    out = np.concatenate([rel, (conf * ok)[..., None]], axis=2)  # (T, K, 3)
    out[~valid] = 0.0
    return out.reshape(t, k * 3).astype(np.float32, copy=False)
