"""The Perception Neuron "BVH data broadcast" of Axis Neuron / Axis Studio (TCP, text).

With "BVH data" broadcasting on, format "String", the software streams one line per frame:
an avatar index and name followed by the frame's channel values in the BVH channel order of
the exported skeleton, the line closed by ``||`` (e.g. ``0 Avatar00 -22.1 94.4 ... ||``).
Whether displacement (position) channels are sent for every joint is a broadcast setting:
harnets expects the same channel layout as the model's BVH skeleton and rejects lines whose
value count differs, with a clear message.
"""
from __future__ import annotations

import numpy as np

from harnets_core.errors import StreamError

__all__ = ["AxisNeuronLineParser", "parse_broadcast_line"]


def parse_broadcast_line(line: str, n_channels: int) -> np.ndarray:
    """Values (n_channels,) float32 of one broadcast frame line."""
    text = line.strip()
    if text.endswith("||"):
        text = text[:-2]
    tokens = text.split()
    values: list[float] = []
    for tok in reversed(tokens):
        try:
            values.append(float(tok))
        except ValueError:
            break  # reached the avatar name
    values.reverse()
    if len(tokens) - len(values) > 2 or not values:
        raise StreamError(f"Axis Neuron broadcast: not a frame line: {line[:80]!r}")
    # An avatar index precedes the name: drop it if the name was absent and it was read as a value.
    if len(values) == n_channels + 1 and float(values[0]).is_integer():
        values = values[1:]
    if len(values) != n_channels:
        raise StreamError(
            f"Axis Neuron broadcast: {len(values)} values in a frame; the skeleton has {n_channels} "
            "channels (is displacement broadcasting set as in the BVH export?)"
        )
    arr = np.asarray(values, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise StreamError("Axis Neuron broadcast: non-finite value in a frame")
    return arr


class AxisNeuronLineParser:
    """Splits a TCP byte stream into frame lines (``||`` or newline terminated)."""

    def __init__(self, n_channels: int, max_buffer_bytes: int = 1 << 20) -> None:
        self.n_channels = n_channels
        self.max_buffer_bytes = max_buffer_bytes
        self._buffer = ""

    def feed(self, data: bytes) -> tuple[list[np.ndarray], list[str]]:
        """(frames, errors) complete in the data received so far."""
        self._buffer += data.decode("ascii", errors="replace").replace("||", "||\n")
        *lines, self._buffer = self._buffer.split("\n")
        if len(self._buffer) > self.max_buffer_bytes:
            self._buffer = ""
            return [], ["Axis Neuron broadcast: no line end in 1 MiB of data: buffer dropped"]
        frames, errors = [], []
        for line in lines:
            if not line.strip():
                continue
            try:
                frames.append(parse_broadcast_line(line, self.n_channels))
            except StreamError as err:
                errors.append(str(err))
        return frames, errors
