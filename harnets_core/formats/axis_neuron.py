"""The Perception Neuron "BVH data broadcast" of Axis Neuron / Axis Studio: decoders.

Two wire formats carry the same thing, one frame of the avatar's BVH channel values:

Text ("String" format): one line per frame, an avatar index and name followed by the values,
closed by ``||`` (e.g. ``0 Avatar00 -22.1 94.4 ... ||``). It has no frame counter.

Binary ("Binary" format): a 64-byte packed little-endian header (NeuronDataReader's
``BvhDataHeader``) followed by ``value count`` float32 values::

    offset  bytes  field
    0       2      uint16 start token 0xDDFF
    2       4      data version (build, revision, minor, major bytes)
    6       2      uint16 value count
    8       1      uint8 with displacement
    9       1      uint8 with reference
    10      4      uint32 avatar index
    14      32     avatar name (NUL padded)
    46      4      uint32 frame index
    50      12     three reserved uint32
    62      2      uint16 end token 0xEEFF

Value layouts, for J joints with channels (59 on the Perception Neuron skeleton), each joint's
block holding its position X Y Z and then its rotation in the export's rotation order (YXZ by
default; the broadcast uses the same output settings as the BVH export):

- with displacement: 6 values per joint (6 J = 354);
- without displacement: the root's position and rotation, then 3 rotations per other joint
  (3 J + 3 = 180), as the public readers decode it (pfiguero/VRPN-PerceptionNeuron, after the
  NeuronDataReader documentation); 3 per joint (3 J = 177, rotations only) is accepted too;
- with reference: NeuronDataReader's header says "with/out reference bone data at first". Taken
  to be 6 values (the reference bone's position and rotation) before the avatar's, counted in
  the value count (the VRPN reader skips 6 values for it). An assumption: not seen on a real
  stream.

:class:`BroadcastLayout` maps these onto the channel layout of the BVH export the streamer
uses as its skeleton (the *template*). A frame with as many values as the template has
channels is taken as it is. A broadcast without displacement fills the position channels that
the template has and the broadcast lacks from the template's OFFSETs (the rest-pose bone
vectors; on the InHARD test clip the live displacement differs from them by 0.5 cm at most on
most joints and by 3 cm on the feet), or is rejected when ``fill_positions`` is off. Any other
count is a :class:`ChannelCountError` naming the counts.

Decoders are incremental: ``feed(data)`` returns the frames complete so far and the problems
met (typed errors, never raised): text lines are split on ``||`` or newlines; the binary
decoder resynchronizes on the tokens (garbage skipped and reported), takes frames split over
several packets and several frames in one packet, and drops a frame whose end was lost (a
complete new header inside its values).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from harnets_core.formats.bvh import Joint, Skeleton
from harnets_core.errors import ChannelCountError, ConfigError, StreamError

__all__ = [
    "START_TOKEN",
    "END_TOKEN",
    "HEADER_BYTES",
    "REFERENCE_VALUES",
    "TCP_PORT",
    "UDP_PORT",
    "FORMATS",
    "SuitFrame",
    "DecodeResult",
    "BinaryHeader",
    "BroadcastLayout",
    "FrameDecoder",
    "TextFrameDecoder",
    "BinaryFrameDecoder",
    "AutoFrameDecoder",
    "FrameGapCounter",
    "make_decoder",
    "detect_format",
    "encode_binary_frame",
    "format_text_frame",
]

START_TOKEN = 0xDDFF
END_TOKEN = 0xEEFF
HEADER_BYTES = 64
REFERENCE_VALUES = 6  # values of the reference bone before the avatar's (with reference)
MAX_VALUES = 4096  # a header announcing more is no header (resynchronize)
TCP_PORT = 7001  # Axis Neuron / Axis Studio default port of the BVH broadcast over TCP
UDP_PORT = 7002  # ... and over UDP
FORMATS = ("text", "binary", "auto")

# start token, version, count, with displacement, with reference, avatar index, name,
# frame index, 3 reserved, end token
_HEADER = struct.Struct("<HIHBBI32sIIIIH")
assert _HEADER.size == HEADER_BYTES
_START = struct.pack("<H", START_TOKEN)  # b"\xff\xdd"
_END = struct.pack("<H", END_TOKEN)
_END_AT = HEADER_BYTES - 2


@dataclass(frozen=True)
class SuitFrame:
    """One frame of the broadcast, mapped onto the template's channels."""

    values: np.ndarray  # (C,) float32, the template BVH's channel order (cm, degrees)
    frame_index: int | None  # the broadcast's frame counter (binary); None: text has none
    avatar_index: int
    avatar_name: str
    reference: np.ndarray | None = None  # (6,) float32 reference bone values (binary, with reference)


@dataclass
class DecodeResult:
    """What one `feed` call completed: frames, problems (typed errors) and skipped bytes."""

    frames: list[SuitFrame] = field(default_factory=list)
    errors: list[StreamError] = field(default_factory=list)
    skipped_bytes: int = 0


@dataclass(frozen=True)
class BinaryHeader:
    """The 64-byte header of a binary broadcast frame."""

    value_count: int
    with_displacement: bool
    with_reference: bool
    avatar_index: int = 0
    avatar_name: str = ""
    frame_index: int = 0
    version: tuple[int, int, int, int] = (1, 1, 0, 0)  # major, minor, revision, build

    def pack(self) -> bytes:
        major, minor, revision, build = self.version
        version = build | revision << 8 | minor << 16 | major << 24
        return _HEADER.pack(START_TOKEN, version, self.value_count, int(self.with_displacement), int(self.with_reference),
                            self.avatar_index, self.avatar_name.encode("utf-8")[:32], self.frame_index & 0xFFFFFFFF,
                            0, 0, 0, END_TOKEN)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview, offset: int = 0) -> BinaryHeader | None:
        """The header at `offset`, or None when its tokens are not there."""
        (start, version, count, disp, ref, avatar, name, frame, _r0, _r1, _r2, end) = _HEADER.unpack_from(data, offset)
        if start != START_TOKEN or end != END_TOKEN:
            return None
        version_bytes = ((version >> 24) & 0xFF, (version >> 16) & 0xFF, (version >> 8) & 0xFF, version & 0xFF)
        return cls(value_count=count, with_displacement=bool(disp), with_reference=bool(ref), avatar_index=avatar,
                   avatar_name=name.split(b"\0", 1)[0].decode("utf-8", errors="replace"), frame_index=frame,
                   version=version_bytes)


def encode_binary_frame(values: np.ndarray, *, frame_index: int, with_displacement: bool = True,
                        with_reference: bool = False, avatar_index: int = 0, avatar_name: str = "Avatar00") -> bytes:
    """One binary broadcast frame (header + float32 values), as Axis Neuron sends it.
    With reference, `values` include the reference bone's 6 values first."""
    data = np.asarray(values, dtype="<f4").ravel()
    header = BinaryHeader(len(data), with_displacement, with_reference, avatar_index, avatar_name, frame_index)
    return header.pack() + data.tobytes()


def format_text_frame(values: np.ndarray, *, avatar_index: int = 0, avatar_name: str = "Avatar00", decimals: int = 6) -> str:
    """One text broadcast frame line, closed by ``||``."""
    return f"{avatar_index} {avatar_name} {' '.join(f'{v:.{decimals}f}' for v in np.asarray(values).ravel())} ||"


# ------------------------------------------------------------------------------------ layout
@dataclass(frozen=True)
class _Mapping:
    kind: str  # what the broadcast sends (for messages)
    src: np.ndarray  # (K,) broadcast value indices
    dst: np.ndarray  # (K,) template channel indices
    base: np.ndarray  # (C,) float32: filled values (OFFSETs) where nothing is copied


_KINDS = {
    "displacement": "with displacement",
    "root_position": "without displacement: root position + rotations",
    "rotations": "rotations only",
}


def _joint_columns(joint: Joint) -> tuple[list[int], list[int]] | None:
    """(position columns in X Y Z order, rotation columns in channel order) of a joint whose
    channels are 3 positions then 3 rotations, or 3 rotations; None otherwise."""
    names = list(joint.channels)
    rot = [k for k, c in enumerate(names) if c.endswith("rotation")]
    pos = [k for k, c in enumerate(names) if c.endswith("position")]
    if len(rot) != 3 or len(pos) not in (0, 3) or len(pos) + len(rot) != len(names) or (pos and max(pos) > min(rot)):
        return None
    by_axis = sorted(pos, key=lambda k: names[k][0])  # Xposition, Yposition, Zposition
    if pos and "".join(names[k][0] for k in by_axis) != "XYZ":
        return None
    return [joint.channel_start + k for k in by_axis], [joint.channel_start + k for k in rot]


class BroadcastLayout:
    """Maps a broadcast frame's values onto the channels of the template BVH skeleton.

    Accepted value counts (J joints with channels, C template channels): C as it is; and, when
    every joint of the template has 3 positions then 3 rotations or 3 rotations: 6 J (with
    displacement; positions the template lacks are dropped), 3 J + 3 (without displacement:
    root position and rotations) and 3 J (rotations only), the template's positions that the
    broadcast lacks filled from its OFFSETs when `fill_positions` (else rejected)."""

    def __init__(self, skeleton: Skeleton, *, fill_positions: bool = True, source: str = "the template BVH") -> None:
        self.skeleton = skeleton
        self.source = source
        self.fill_positions = fill_positions
        joints = [j for j in skeleton.joints if not j.is_end_site]
        self.n_joints = len(joints)
        self.n_channels = skeleton.n_channels
        if not joints:
            raise ConfigError(f"{source}: the skeleton has no joint with channels")
        identity = np.arange(self.n_channels)
        self._mappings: dict[int, _Mapping] = {
            self.n_channels: _Mapping("as the template", identity, identity, np.zeros(self.n_channels, np.float32))}
        self._refused: dict[int, str] = {}
        columns = [_joint_columns(j) for j in joints]
        if all(c is not None for c in columns):
            for kind in _KINDS:
                mapping, count, needs_fill = self._mapping(kind, joints, columns)
                if count in self._mappings:  # the template's own layout: name it
                    self._mappings[count] = replace(self._mappings[count], kind=_KINDS[kind])
                    continue
                if needs_fill and not fill_positions:
                    self._refused[count] = kind
                else:
                    self._mappings[count] = mapping

    def _mapping(self, kind: str, joints: list[Joint], columns: list) -> tuple[_Mapping, int, bool]:
        """(mapping, broadcast value count, whether template positions are filled) of a kind."""
        src: list[int] = []
        dst: list[int] = []
        base = np.zeros(self.n_channels, np.float32)
        needs_fill = False
        k = 0  # broadcast value index
        for i, (joint, (pos_cols, rot_cols)) in enumerate(zip(joints, columns)):
            if kind == "displacement" or (kind == "root_position" and i == 0):
                if pos_cols:
                    src += [k, k + 1, k + 2]
                    dst += pos_cols
                k += 3  # dropped when the template has no position channels for this joint
            elif pos_cols:
                base[pos_cols] = joint.offset_cm
                needs_fill = True
            src += [k, k + 1, k + 2]
            dst += rot_cols
            k += 3
        return _Mapping(_KINDS[kind], np.asarray(src), np.asarray(dst), base), k, needs_fill

    @property
    def accepted_counts(self) -> tuple[int, ...]:
        return tuple(self._mappings)

    def accepts(self, count: int) -> bool:
        return count in self._mappings

    def describe(self) -> str:
        parts = [f"{n} ({m.kind})" for n, m in self._mappings.items()]
        return ", ".join(parts)

    def map(self, values: np.ndarray, what: str = "") -> np.ndarray:
        """(C,) float32 template channel values from one frame's broadcast values (reference
        values already removed). Raises ChannelCountError naming the counts."""
        n = len(values)
        mapping = self._mappings.get(n)
        if mapping is None:
            raise self.count_error(n, what)
        out = mapping.base.copy()
        out[mapping.dst] = values[mapping.src]
        return out

    def count_error(self, n: int, what: str = "") -> ChannelCountError:
        detail = f" ({what})" if what else ""
        message = (f"Axis Neuron broadcast: {n} values in a frame{detail}; the skeleton of {self.source} "
                   f"({self.n_joints} joints, {self.n_channels} channels) takes {self.describe()}")
        if n in self._refused:
            message += (f". {n} values are a broadcast {_KINDS[self._refused[n]]}: turn on 'with displacement' in "
                        "Axis Neuron, or set fill_positions to fill the positions from the template's OFFSETs")
        else:
            message += " (is displacement broadcasting set as in the BVH export?)"
        return ChannelCountError(n, self.accepted_counts, message)


# ---------------------------------------------------------------------------------- decoders
class FrameDecoder(Protocol):
    """Incremental decoder: bytes in, complete frames out."""

    format: str

    def feed(self, data: bytes) -> DecodeResult: ...


def _finite(values: np.ndarray, what: str) -> StreamError | None:
    if np.isfinite(values).all():
        return None
    return StreamError(f"Axis Neuron broadcast: non-finite value in {what}: frame dropped")


def _split_line(line: str) -> tuple[int | None, str, list[float]]:
    """(avatar index or None, avatar name, values) of one text frame line."""
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
    head = tokens[: len(tokens) - len(values)]
    if len(head) > 2 or not values:
        raise StreamError(f"Axis Neuron broadcast: not a frame line: {line[:80]!r}")
    index: int | None = None
    if len(head) == 2:
        try:
            index = int(head[0])
        except ValueError as err:
            raise StreamError(f"Axis Neuron broadcast: not a frame line (avatar index {head[0]!r}): {line[:80]!r}") from err
    return index, (head[-1] if head else ""), values


class TextFrameDecoder:
    """The text ("String") broadcast: lines closed by ``||`` or a newline."""

    format = "text"

    def __init__(self, layout: BroadcastLayout, max_buffer_bytes: int = 1 << 20) -> None:
        self.layout = layout
        self.max_buffer_bytes = max_buffer_bytes
        self._buffer = ""

    def feed(self, data: bytes) -> DecodeResult:
        result = DecodeResult()
        self._buffer += data.decode("ascii", errors="replace").replace("||", "||\n")
        *lines, self._buffer = self._buffer.split("\n")
        if len(self._buffer) > self.max_buffer_bytes:
            result.skipped_bytes += len(self._buffer)
            result.errors.append(StreamError(
                f"Axis Neuron broadcast: no line end in {len(self._buffer)} bytes of text: buffer dropped"))
            self._buffer = ""
        for line in lines:
            if not line.strip():
                continue
            try:
                result.frames.append(self._frame(line))
            except StreamError as err:
                result.errors.append(err)
        return result

    def _frame(self, line: str) -> SuitFrame:
        index, name, values = _split_line(line)
        # Without a name, the avatar index was read as a value: drop it when that makes the count fit.
        if index is None and not name and not self.layout.accepts(len(values)) and self.layout.accepts(len(values) - 1) \
                and float(values[0]).is_integer():
            index, values = int(values[0]), values[1:]
        arr = np.asarray(values, dtype=np.float32)
        err = _finite(arr, "a text frame")
        if err is not None:
            raise err
        return SuitFrame(self.layout.map(arr, "text"), None, index or 0, name)


class BinaryFrameDecoder:
    """The binary broadcast: 64-byte header + float32 values, resynchronized on the tokens."""

    format = "binary"

    def __init__(self, layout: BroadcastLayout, max_skip_report_bytes: int = 1 << 16) -> None:
        self.layout = layout
        self.max_skip_report_bytes = max_skip_report_bytes
        self._buffer = bytearray()
        self._skipped = 0  # garbage bytes skipped and not yet reported

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> DecodeResult:
        result = DecodeResult()
        buf = self._buffer
        buf += data
        while True:
            start = buf.find(_START)
            if start < 0:
                keep = 1 if buf[-1:] == _START[:1] else 0  # the first byte of a token may end the data
                self._skip(len(buf) - keep, result)
                del buf[: len(buf) - keep]
                break
            if start:
                self._skip(start, result)
                del buf[:start]
            if len(buf) < HEADER_BYTES:
                break
            header = BinaryHeader.unpack(buf)
            if header is None or header.value_count > MAX_VALUES:
                self._skip(1, result)  # not a header: look for the next start token
                del buf[:1]
                continue
            self._report_skip(result)
            size = HEADER_BYTES + 4 * header.value_count
            inner = self._next_header(buf, HEADER_BYTES, min(size, len(buf)))
            if inner is not None:  # a new frame starts before this one's end: its end was lost
                result.errors.append(StreamError(
                    f"Axis Neuron broadcast: frame {header.frame_index} ends after {inner - HEADER_BYTES} of its "
                    f"{4 * header.value_count} value bytes (the rest was lost): frame dropped"))
                del buf[:inner]
                continue
            if len(buf) < size:
                break
            values = np.frombuffer(bytes(buf[HEADER_BYTES:size]), dtype="<f4").astype(np.float32)
            del buf[:size]
            try:
                result.frames.append(self._frame(header, values))
            except StreamError as err:
                result.errors.append(err)
        if self._skipped >= self.max_skip_report_bytes:
            self._report_skip(result)
        return result

    @staticmethod
    def _next_header(buf: bytearray, begin: int, end: int) -> int | None:
        """Offset of the first complete valid header starting in [begin, end), or None."""
        pos = buf.find(_START, begin, end)
        while 0 <= pos:
            if pos + HEADER_BYTES <= len(buf) and buf[pos + _END_AT: pos + HEADER_BYTES] == _END:
                header = BinaryHeader.unpack(buf, pos)
                if header is not None and header.value_count <= MAX_VALUES:
                    return pos
            pos = buf.find(_START, pos + 1, end)
        return None

    def _skip(self, n: int, result: DecodeResult) -> None:
        self._skipped += n
        result.skipped_bytes += n

    def _report_skip(self, result: DecodeResult) -> None:
        if self._skipped:
            result.errors.append(StreamError(
                f"Axis Neuron broadcast: {self._skipped} bytes that were no binary frame skipped (resynchronized on 0xDDFF)"))
            self._skipped = 0

    def _frame(self, header: BinaryHeader, values: np.ndarray) -> SuitFrame:
        what = (f"binary frame {header.frame_index}, {'with' if header.with_displacement else 'without'} displacement, "
                f"{'with' if header.with_reference else 'without'} reference")
        reference = None
        if header.with_reference:
            if len(values) < REFERENCE_VALUES:
                raise self.layout.count_error(len(values), what)
            reference, values = values[:REFERENCE_VALUES], values[REFERENCE_VALUES:]
        err = _finite(values, what)
        if err is not None:
            raise err
        return SuitFrame(self.layout.map(values, what), header.frame_index, header.avatar_index, header.avatar_name, reference)


def detect_format(data: bytes) -> str | None:
    """'binary' when a complete binary header is in `data`, 'text' when it is ASCII text with a
    line end, None while undecided."""
    pos = data.find(_START)
    while 0 <= pos:
        if pos + HEADER_BYTES <= len(data) and BinaryHeader.unpack(data, pos) is not None:
            return "binary"
        pos = data.find(_START, pos + 1)
    if data.isascii() and (b"||" in data or b"\n" in data):
        return "text"
    return None


class AutoFrameDecoder:
    """Detects the format on the first data (a binary header, or ASCII lines), then decodes it."""

    def __init__(self, layout: BroadcastLayout, max_probe_bytes: int = 1 << 16) -> None:
        self.layout = layout
        self.max_probe_bytes = max_probe_bytes
        self._probe = b""
        self._decoder: TextFrameDecoder | BinaryFrameDecoder | None = None

    @property
    def format(self) -> str:
        return "auto" if self._decoder is None else self._decoder.format

    def feed(self, data: bytes) -> DecodeResult:
        if self._decoder is None:
            self._probe += data
            fmt = detect_format(self._probe)
            if fmt is None:
                if len(self._probe) <= self.max_probe_bytes:
                    return DecodeResult()
                n = len(self._probe)
                self._probe = b""
                return DecodeResult(errors=[StreamError(
                    f"Axis Neuron broadcast: neither a binary frame header (0xDDFF ... 0xEEFF) nor text lines in "
                    f"{n} bytes: dropped")], skipped_bytes=n)
            self._decoder = make_decoder(fmt, self.layout)
            data, self._probe = self._probe, b""
        return self._decoder.feed(data)


def make_decoder(fmt: str, layout: BroadcastLayout) -> TextFrameDecoder | BinaryFrameDecoder | AutoFrameDecoder:
    """The decoder of format 'text', 'binary' or 'auto'."""
    if fmt == "text":
        return TextFrameDecoder(layout)
    if fmt == "binary":
        return BinaryFrameDecoder(layout)
    if fmt == "auto":
        return AutoFrameDecoder(layout)
    raise ConfigError(f"Axis Neuron broadcast format {fmt!r}: use one of {', '.join(FORMATS)}")


# ------------------------------------------------------------------------------ frame counter
class FrameGapCounter:
    """Counts frames missing from the broadcast's frame counter (uint32), per avatar.

    `update` returns how many frames are missing before this one (0 in order). A counter that
    goes back (the broadcaster restarted) counts a restart; the same index again, a duplicate."""

    def __init__(self) -> None:
        self.gaps = 0
        self.missing_frames = 0
        self.restarts = 0
        self.duplicates = 0
        self._last: dict[int, int] = {}

    def update(self, avatar_index: int, frame_index: int) -> int:
        last = self._last.get(avatar_index)
        self._last[avatar_index] = frame_index
        if last is None:
            return 0
        step = (frame_index - last) & 0xFFFFFFFF
        if step == 0:
            self.duplicates += 1
            return 0
        if step >= 1 << 31:  # went back
            self.restarts += 1
            return 0
        missing = step - 1
        if missing:
            self.gaps += 1
            self.missing_frames += missing
        return missing
