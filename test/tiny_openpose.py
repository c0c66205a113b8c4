"""A tiny but genuine OpenPose-MPI-shaped Caffe model, written by hand, for the OpenPose tests.

Real OpenPose files cannot be downloaded here, so the tests build a ``.prototxt`` and a
binary ``.caffemodel`` (a serialized ``caffe.NetParameter``, encoded below with the protobuf
wire format: no protobuf package needed) that OpenCV's Caffe importer loads and runs.

The network sees the image as OpenPose's body models do: BGR, ``x / 256 - 0.5``, so
``u`` is about -0.5 (channel off) or +0.5 (channel on). Its output has MPI's layout at
OpenPose's stride 8: 15 keypoint heatmaps, 1 background map, then 28 PAF channels (44).

- ``colour`` (1x1 conv) + ReLU: detector ``i`` fires (1.5) on pixels of colour
  ``COLOURS_BGR[i]`` (each BGR channel fully on or off) and is 0 on every other such colour
  and on black: ``2 * (sum_c (2 s_c - 1) u_c - 0.75)``.
- ``pool``: max over 8 x 8 cells, stride 8 (the network's stride).
- ``Mconv7_stage4_L2`` (1x1 conv, 16 maps): heatmap ``k`` = ``PEAK`` / 1.5 * detector
  ``order[k]`` for ``k < 7``; heatmap 7 is the constant ``FAINT`` (under the default
  threshold 0.1); heatmaps 8-14 are 0; map 15 (background) is 1 - the detectors.
- ``Mconv7_stage4_L1`` (1x1 conv, 28 PAF maps): 2 * the detectors in reverse order, so
  reading the wrong channels gives wrong keypoints.
- ``net_output``: Concat of L2 and L1, as OpenPose's ``net_output``.
"""
from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["COLOURS_BGR", "N_DETECTORS", "PEAK", "FAINT", "STRIDE", "rgb_of", "write_tiny_openpose"]

COLOURS_BGR: tuple[tuple[int, int, int], ...] = (
    (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1),
)
"""Detector colours, BGR channels on (1) or off (0): blue, green, red, cyan, magenta, yellow, white."""
N_DETECTORS = len(COLOURS_BGR)
PEAK = 0.8
"""Heatmap value on a spot of the detector's colour (its keypoint's confidence)."""
FAINT = 0.05
"""Constant value of heatmap 7: under the extractor's default threshold (0.1)."""
STRIDE = 8
_N_HEAT, _N_PAF = 16, 28  # MPI: 15 keypoints + background; 14 limbs x (dx, dy)


def rgb_of(detector: int) -> tuple[int, int, int]:
    """The uint8 RGB colour detector ``detector`` fires on."""
    b, g, r = COLOURS_BGR[detector]
    return (255 * r, 255 * g, 255 * b)


# ----------------------------------------------------------------------------- wire format
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings, sub-messages, packed repeated."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _blob(array: np.ndarray) -> bytes:
    """caffe.BlobProto: shape = 7 (BlobShape: dim = 1, packed int64), data = 5 (packed float)."""
    shape = _field(1, b"".join(_varint(int(d)) for d in array.shape))
    data = struct.pack(f"<{array.size}f", *np.asarray(array, np.float32).ravel())
    return _field(7, shape) + _field(5, data)


def _layer(name: str, type_: str, blobs: Sequence[np.ndarray]) -> bytes:
    """caffe.LayerParameter: name = 1, type = 2, blobs = 7."""
    return _field(1, name.encode()) + _field(2, type_.encode()) + b"".join(_field(7, _blob(b)) for b in blobs)


def _net(name: str, layers: Sequence[bytes]) -> bytes:
    """caffe.NetParameter: name = 1, layer = 100."""
    return _field(1, name.encode()) + b"".join(_field(100, layer) for layer in layers)


# ----------------------------------------------------------------------------- the model
def _prototxt(input_hw: tuple[int, int], legacy_input: bool, pool: str) -> str:
    h, w = input_hw
    if legacy_input:  # as OpenPose's own pose_deploy*.prototxt files declare the input
        head = 'input: "image"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 1\ninput_dim: 1\n'
    else:
        head = (f'layer {{ name: "image" type: "Input" top: "image"\n'
                f'  input_param {{ shape {{ dim: 1 dim: 3 dim: {h} dim: {w} }} }} }}\n')
    return f'''name: "tiny_openpose_mpi"
{head}layer {{ name: "colour" type: "Convolution" bottom: "image" top: "colour"
  convolution_param {{ num_output: {N_DETECTORS} kernel_size: 1 }} }}
layer {{ name: "colour_relu" type: "ReLU" bottom: "colour" top: "colour" }}
layer {{ name: "pool" type: "Pooling" bottom: "colour" top: "pool"
  pooling_param {{ pool: {pool} kernel_size: {STRIDE} stride: {STRIDE} }} }}
layer {{ name: "Mconv7_stage4_L2" type: "Convolution" bottom: "pool" top: "Mconv7_stage4_L2"
  convolution_param {{ num_output: {_N_HEAT} kernel_size: 1 }} }}
layer {{ name: "Mconv7_stage4_L1" type: "Convolution" bottom: "pool" top: "Mconv7_stage4_L1"
  convolution_param {{ num_output: {_N_PAF} kernel_size: 1 }} }}
layer {{ name: "net_output" type: "Concat" bottom: "Mconv7_stage4_L2" bottom: "Mconv7_stage4_L1"
  top: "net_output" concat_param {{ axis: 1 }} }}
'''


def _weights(order: Sequence[int]) -> list[bytes]:
    d = N_DETECTORS
    signs = 2.0 * np.array(COLOURS_BGR, np.float32) - 1.0  # (D, 3): +1 channel on, -1 off
    colour_w = (2.0 * signs).reshape(d, 3, 1, 1)  # (D, 3, 1, 1)
    colour_b = np.full(d, -1.5, np.float32)  # 2 * -0.75
    heat_w = np.zeros((_N_HEAT, d, 1, 1), np.float32)  # (16, D, 1, 1)
    heat_b = np.zeros(_N_HEAT, np.float32)
    for k, det in enumerate(order):
        heat_w[k, det] = PEAK / 1.5
    heat_b[7] = FAINT
    heat_w[15, :] = -1.0 / 1.5  # background: 1 where no detector fires
    heat_b[15] = 1.0
    paf_w = np.zeros((_N_PAF, d, 1, 1), np.float32)  # (28, D, 1, 1)
    for j in range(_N_PAF):
        paf_w[j, d - 1 - j % d] = 2.0 / 1.5
    paf_b = np.zeros(_N_PAF, np.float32)
    return [
        _layer("colour", "Convolution", [colour_w, colour_b]),
        _layer("colour_relu", "ReLU", []),
        _layer("pool", "Pooling", []),
        _layer("Mconv7_stage4_L2", "Convolution", [heat_w, heat_b]),
        _layer("Mconv7_stage4_L1", "Convolution", [paf_w, paf_b]),
        _layer("net_output", "Concat", []),
    ]


def write_tiny_openpose(
    directory: Path, *, input_hw: tuple[int, int] = (96, 160), order: Sequence[int] = range(N_DETECTORS),
    legacy_input: bool = False, pool: str = "MAX", stem: str = "tiny_mpi",
) -> tuple[Path, Path]:
    """Write ``<stem>.prototxt`` and ``<stem>.caffemodel`` into ``directory``; return both paths.

    Heatmap ``k`` (``k < len(order)``) peaks at ``PEAK`` on spots of colour ``order[k]``.
    ``legacy_input`` declares the input as OpenPose's files do (``input_dim: 1 3 1 1``)
    instead of an Input layer of ``input_hw``; ``pool`` is the Pooling mode (MAX or AVE).
    """
    if len(order) > 7:
        raise ValueError("heatmaps 7-14 are reserved (faint and empty maps)")
    directory.mkdir(parents=True, exist_ok=True)
    proto, model = directory / f"{stem}.prototxt", directory / f"{stem}.caffemodel"
    proto.write_text(_prototxt(input_hw, legacy_input, pool))
    model.write_bytes(_net("tiny_openpose_mpi", _weights(order)))
    return proto, model
