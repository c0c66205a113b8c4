"""Read and write BVH motion-capture files (InHARD skeletons: 59 joints x 6 channels, 120 Hz).

The hierarchy (a few hundred lines) is parsed token by token in Python; the motion block
(tens of MB on a full InHARD session) is parsed VECTORIZED with numpy, in chunks of about
16,000 values (so that every temporary stays below glibc's mmap threshold and is recycled,
not page-faulted in again), on one thread per core for large files (numpy releases the GIL):

* line ends and token boundaries are found with byte-level boolean masks, and every line's
  token count is checked at once against the channel count;
* plain decimals (``-22.167509``, ``0.000000``, ``-20``: 1-8 integer digits, 0-7 fraction
  digits, no exponent) are converted with SWAR arithmetic on uint64 words (8 ASCII digits a
  word, reduced by three multiply-shift steps): the integer mantissa ``m`` (< 10**15, exact)
  then ``+-m / 10**k``, one correctly rounded IEEE division, hence values bit-identical to
  Python's ``float(token)`` (and to the ``bvh`` package), ``-0.0`` included;
* the rare other tokens (exponents such as ``-3.9e-05``, which InHARD does contain, long
  tokens, or garbage) go through ``float()`` one by one, guarded by a strict regex.

Speed: see docs/BENCHMARKS.md ("BVH loading").

Every malformed file raises :class:`~harnets_core.errors.BvhParseError` naming the file and
the 1-based line: truncated file (fewer motion lines than ``Frames:``, a cut last line),
a wrong value count, a non-numeric value, NaN/inf, an empty motion, unknown channel names,
a duplicate joint name, more motion lines than ``Frames:``, a missing
``MOTION``/``Frames:``/``Frame Time:``, a frame time outside [``MIN_FRAME_TIME_S``,
``MAX_FRAME_TIME_S``] (at most 10 kHz, at least one frame a minute), unbalanced braces,
UTF-16 text. A frame range outside the file (or not integers) is a ``BvhParseError`` too,
naming the file and the range. LF, CRLF and CR-only line endings, a UTF-8 byte-order mark,
tabs and spaces are accepted; ``End Site`` and ``End site`` are both accepted. Trailing
blank lines after the motion are ignored.

Limit: a last line cut in the middle of its last number (``-20.0`` -> ``-20``) with no
trailing newline cannot be told from a complete file; every other cut is detected.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from harnets_core.errors import BvhParseError

__all__ = [
    "CHANNEL_NAMES",
    "MIN_FRAME_TIME_S",
    "MAX_FRAME_TIME_S",
    "Joint",
    "Skeleton",
    "BvhClip",
    "read_bvh",
    "parse_bvh",
    "format_bvh",
    "write_bvh",
]

CHANNEL_NAMES: tuple[str, ...] = (
    "Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation",
)

_NUMBER_RE = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NONFINITE_RE = re.compile(rb"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_MOTION_RE = re.compile(rb"^[ \t]*MOTION[ \t]*\r?$", re.MULTILINE)
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Accepted 'Frame Time:' (seconds): at most 10 kHz (mocap runs at 30 Hz to 1 kHz), at least one
# frame a minute. Outside, the value is a typo or garbage (1e-300 would mean 1e300 frames/s).
MIN_FRAME_TIME_S = 1e-4
MAX_FRAME_TIME_S = 60.0


@dataclass(frozen=True, eq=False)
class Joint:
    """One joint (or End Site) of a BVH hierarchy.

    ``offset_cm``: (3,) float64 offset from the parent in centimetres (read-only).
    ``channels``: channel names in file order, empty for End Sites.
    ``channel_start``: column of the joint's first channel in the motion array.
    """

    name: str
    parent: int
    offset_cm: np.ndarray
    channels: tuple[str, ...]
    channel_start: int
    is_end_site: bool = False

    def __post_init__(self) -> None:
        offset = np.array(self.offset_cm, dtype=np.float64).reshape(3)
        offset.flags.writeable = False
        object.__setattr__(self, "offset_cm", offset)
        object.__setattr__(self, "channels", tuple(self.channels))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Joint):
            return NotImplemented
        return (
            self.name == other.name
            and self.parent == other.parent
            and self.channels == other.channels
            and self.channel_start == other.channel_start
            and self.is_end_site == other.is_end_site
            and bool(np.array_equal(self.offset_cm, other.offset_cm))
        )

    def __hash__(self) -> int:
        return hash((self.name, self.parent, self.channels, self.channel_start,
                     self.is_end_site, tuple(self.offset_cm.tolist())))


@dataclass(frozen=True)
class Skeleton:
    """A BVH hierarchy: ``joints`` in depth-first file order, End Sites included."""

    joints: tuple[Joint, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "joints", tuple(self.joints))

    @cached_property
    def _index(self) -> dict[str, int]:
        return {j.name: i for i, j in enumerate(self.joints)}

    @property
    def joint_names(self) -> list[str]:
        """Names of the real joints (End Sites excluded), file order."""
        return [j.name for j in self.joints if not j.is_end_site]

    @property
    def channel_names(self) -> list[str]:
        """``"Hips.Xposition"``, ... one per motion column (length ``n_channels``)."""
        return [f"{j.name}.{c}" for j in self.joints for c in j.channels]

    @property
    def n_channels(self) -> int:
        return sum(len(j.channels) for j in self.joints)

    @property
    def parents(self) -> np.ndarray:
        """(J,) int parent index of every entry of ``joints`` (-1 for the root)."""
        return np.array([j.parent for j in self.joints], dtype=np.int64)

    def index(self, name: str) -> int:
        """Position of joint ``name`` in ``joints`` (End Sites such as ``"Head_End"`` too)."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no joint named {name!r} in the skeleton") from None

    def signature(self) -> str:
        """Stable hash (sha256 hex, 16 chars) of joint names, parents and channel layout.

        Offsets (bone lengths, which differ between subjects) are NOT part of it.
        """
        text = "\n".join(
            f"{j.name}|{j.parent}|{int(j.is_end_site)}|{','.join(j.channels)}"
            for j in self.joints
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class BvhClip:
    """A parsed BVH file: ``motion`` (F, C) float64, columns as ``skeleton.channel_names``."""

    skeleton: Skeleton
    frame_time_s: float
    motion: np.ndarray
    path: Path | None = None

    @property
    def n_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time_s


# --------------------------------------------------------------------------- header


class _Tokens:
    """Whitespace tokens of the header with their 1-based line numbers."""

    def __init__(self, text: str, path: str | Path | None, first_line: int = 1) -> None:
        self.items: list[tuple[str, int]] = [
            (tok, n)
            for n, line in enumerate(text.splitlines(), start=first_line)
            for tok in line.split()
        ]
        self.pos = 0
        self.path = path
        self.last_line = first_line + max(text.count("\n"), 0)

    def peek(self) -> tuple[str, int] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.items):
            raise BvhParseError(self.path, self.last_line, f"unexpected end of hierarchy, expected {what}")
        item = self.items[self.pos]
        self.pos += 1
        return item

    def expect(self, word: str) -> int:
        tok, line = self.next(repr(word))
        if tok != word:
            raise BvhParseError(self.path, line, f"expected {word!r}, found {tok!r}")
        return line

    def number(self, what: str) -> float:
        tok, line = self.next(what)
        try:
            value = float(tok)
        except ValueError:
            raise BvhParseError(self.path, line, f"{what}: {tok!r} is not a number") from None
        if not np.isfinite(value):
            raise BvhParseError(self.path, line, f"{what}: {tok!r} is not finite")
        return value


def _parse_hierarchy(text: str, path: str | Path | None) -> Skeleton:
    toks = _Tokens(text, path)
    if toks.peek() is None:
        raise BvhParseError(path, 1, "empty file, expected 'HIERARCHY'")
    toks.expect("HIERARCHY")
    tok, line = toks.next("'ROOT'")
    if tok != "ROOT":
        raise BvhParseError(path, line, f"expected 'ROOT', found {tok!r}")
    joints: list[Joint] = []
    name_lines: dict[str, int] = {}
    n_channels = 0

    def parse_joint(parent: int, end_site: bool, name: str, line: int) -> None:
        nonlocal n_channels
        if name in name_lines:
            what = "End Site" if end_site else "joint"
            raise BvhParseError(path, line, f"duplicate joint name {name!r} ({what}; "
                                            f"the first {name!r} is on line {name_lines[name]})")
        name_lines[name] = line
        open_line = toks.expect("{")
        tok, ln = toks.next("'OFFSET'")
        if tok != "OFFSET":
            raise BvhParseError(path, ln, f"joint {name!r}: expected 'OFFSET', found {tok!r}")
        offset = [toks.number(f"OFFSET of {name!r}") for _ in range(3)]
        channels: tuple[str, ...] = ()
        nxt = toks.peek()
        if not end_site and nxt is not None and nxt[0] == "CHANNELS":
            toks.next("'CHANNELS'")
            count_tok, ln = toks.next("channel count")
            if not count_tok.isdigit():
                raise BvhParseError(path, ln, f"joint {name!r}: channel count {count_tok!r} is not an integer")
            names = []
            for _ in range(int(count_tok)):
                ch, ch_line = toks.next("a channel name")
                if ch not in CHANNEL_NAMES:
                    raise BvhParseError(
                        path, ch_line,
                        f"joint {name!r}: unknown channel {ch!r} (expected one of {', '.join(CHANNEL_NAMES)})",
                    )
                names.append(ch)
            if len(set(names)) != len(names):
                raise BvhParseError(path, ln, f"joint {name!r}: repeated channel in {names}")
            channels = tuple(names)
        index = len(joints)
        joints.append(Joint(name, parent, np.array(offset), channels, n_channels, end_site))
        n_channels += len(channels)
        while True:
            if toks.peek() is None:
                raise BvhParseError(
                    path, toks.last_line,
                    f"unexpected end of hierarchy: missing '}}' closing joint {name!r} opened on line "
                    f"{open_line} (unbalanced braces or truncated file)",
                )
            tok, ln = toks.next("'}'")
            if tok == "}":
                return
            if end_site:
                raise BvhParseError(path, ln, f"End Site of {name[:-4]!r}: expected '}}', found {tok!r}")
            if tok == "JOINT":
                child, cl = toks.next("a joint name")
                parse_joint(index, False, child, cl)
            elif tok == "End":
                site, sl = toks.next("'Site'")
                if site.lower() != "site":
                    raise BvhParseError(path, sl, f"expected 'Site' after 'End', found {site!r}")
                parse_joint(index, True, f"{name}_End", sl)
            elif tok in ("MOTION", "ROOT"):
                raise BvhParseError(
                    path, ln, f"unbalanced braces: {tok!r} before '}}' closing joint {name!r} (line {open_line})"
                )
            else:
                raise BvhParseError(path, ln, f"joint {name!r}: unexpected {tok!r}")

    name, line = toks.next("the root joint name")
    parse_joint(-1, False, name, line)
    extra = toks.peek()
    if extra is not None:
        msg = "unbalanced braces: extra '}'" if extra[0] == "}" else f"unexpected {extra[0]!r} after the hierarchy"
        if extra[0] == "ROOT":
            msg = "only one ROOT is supported"
        raise BvhParseError(path, extra[1], msg)
    return Skeleton(tuple(joints))


# --------------------------------------------------------------------------- motion


def _slow_token(tok: bytes, path, line: int, col: int) -> float:
    """Exact parse of one token with full validation (used for the rare non-plain tokens)."""
    if _NONFINITE_RE.fullmatch(tok):
        raise BvhParseError(path, line, f"value {col + 1} is {tok.decode(errors='replace')!r} (NaN/inf not allowed)")
    if not _NUMBER_RE.fullmatch(tok):
        raise BvhParseError(path, line, f"value {col + 1}: {tok.decode(errors='replace')!r} is not a number")
    value = float(tok)
    if not np.isfinite(value):
        raise BvhParseError(path, line, f"value {col + 1}: {tok.decode(errors='replace')!r} overflows float64")
    return value


def _line_count_error(path, line: int, found: int, n_channels: int, last: bool) -> BvhParseError:
    hint = " (file truncated?)" if last and found < n_channels else ""
    return BvhParseError(path, line, f"expected {n_channels} values, found {found}{hint}")


# SWAR ("SIMD within a register") constants: 8 ASCII bytes in one little-endian uint64.
_U = np.uint64
_ZEROS_ASCII = _U(0x3030303030303030)
_HI_NIBBLES = _U(0xF0F0F0F0F0F0F0F0)
_PLUS6 = _U(0x0606060606060606)
_LOW7 = _U(0x7F7F7F7F7F7F7F7F)
_DOTS = _U(0x2E2E2E2E2E2E2E2E)
# 8 digit values (most significant at the lowest address) -> their value, in 3 multiply-shift steps.
_SWAR_MUL1, _SWAR_MASK2 = _U(1 + (10 << 8)), _U(0x00FF00FF00FF00FF)
_SWAR_MUL2, _SWAR_MASK4 = _U(1 + (100 << 16)), _U(0x0000FFFF0000FFFF)
_SWAR_MUL3 = _U(1 + (10000 << 32))
_SH8, _SH16, _SH32, _SH64 = _U(8), _U(16), _U(32), _U(64)
_ALL = 2**64 - 1
# Integer digits: index n_int (clipped to 0..9): keep the n most significant bytes; 0 and 9 invalid.
_KEEP_INT = np.array([0] + [_ALL << (8 * (8 - n)) & _ALL for n in range(1, 9)] + [0], dtype=np.uint64)
_BAD_INT = np.array([0xF0F0F0F0F0F0F0F0] + [0] * 8 + [0xF0F0F0F0F0F0F0F0], dtype=np.uint64)
# Fraction digits: index n_frac1 = 1 + digits after the dot (0: no dot): keep the n_frac1 - 1 most
# significant bytes; scale 10**(n_frac1 - 1) as an exact integer and as float64 (+ and -, index + 9).
_KEEP_FRAC = np.array([0, 0] + [_ALL << (8 * (9 - m)) & _ALL for m in range(2, 9)], dtype=np.uint64)
_SCALE_U64 = np.array([1, 1] + [10**(m - 1) for m in range(2, 9)], dtype=np.uint64)
_SCALE_SIGNED = np.concatenate((_SCALE_U64, -_SCALE_U64.astype(np.int64))).astype(np.float64)
# Highest '.' of an 8-byte word: its 0x80 flag at byte j makes float64 exponent bits 1030 + 8j,
# so (bits >> 55) = 128 + j -> n_frac1 = 8 - j; 0 (no '.') -> a length no token has.
_N_FRAC1 = np.full(136, 1 << 30, dtype=np.int64)
_N_FRAC1[128:] = 8 - np.arange(8)
# Values a chunk holds: its (N,) 8-byte temporaries stay below glibc's mmap threshold (128 KiB),
# so they are recycled from the heap instead of being page-faulted in for every chunk (which
# cost more system time than the parsing itself with 256 KiB chunks).
_CHUNK_VALUES = 16_000
# Threads parsing motion chunks of a large file (one per core, at most 4).
_PARSE_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)))
_THREADED_MIN_CHUNKS = 64


def _reduce8(t: np.ndarray) -> np.ndarray:
    """(K,) uint64 of 8 digit VALUES (0..9, most significant at the lowest byte) -> their value."""
    t *= _SWAR_MUL1
    t >>= _SH8
    t &= _SWAR_MASK2
    t *= _SWAR_MUL2
    t >>= _SH16
    t &= _SWAR_MASK4
    t *= _SWAR_MUL3
    t >>= _SH32
    return t


def _parse_chunk(arr: np.ndarray, windows: np.ndarray, s: int, newlines: np.ndarray, out: np.ndarray,
                 first_line: int, path, is_last_chunk: bool) -> None:
    """Parse the motion lines ``arr[s + 1 : s + newlines[-1]]`` into ``out`` (n_lines, C) float64.

    ``arr`` is the file (uint8), ``windows[i]`` its 16 bytes ``arr[i : i + 16]`` (an overlapping
    ``V16`` view); ``arr[s]`` is the ``\\n`` before the first line (``s >= 16``); ``newlines``
    (n_lines,) are the positions, relative to ``s``, of the byte ending each line (whitespace).

    A plain token ``[+-]ddd.fff`` (1-8 integer digits, 0-7 fraction digits, or an integer) is read
    from the 16 bytes ending at its last byte (one gather) as two SWAR words, its last 8 bytes and
    the 8 bytes ending before its dot; its value ``+-mantissa / 10**n_frac`` (mantissa < 10**15 <
    2**53, exact) is one correctly rounded division, identical to ``float(token)``. Other tokens
    go through :func:`_slow_token`.
    """
    n_lines, c = out.shape
    end = s + int(newlines[-1]) + 1
    ws = arr[s:end] <= 32                           # (B,) whitespace; ws[0] and ws[-1] are True
    edges = np.flatnonzero(ws[:-1] != ws[1:])       # alternating: last space before a token, its last byte
    before = edges[0::2]                            # (N,) token k is arr[s + before[k] + 1 : s + ends[k] + 1]
    ends = edges[1::2]
    inner = arr[s + 1:end - 1]
    n_ctrl = np.count_nonzero(inner < 32)
    if n_ctrl != n_lines - 1 and n_ctrl != n_lines - 1 + np.count_nonzero(inner == 9) + np.count_nonzero(inner == 13):
        bad = int(np.flatnonzero((inner < 32) & (inner != 9) & (inner != 10) & (inner != 13))[0]) + 1
        raise BvhParseError(path, first_line + int(np.searchsorted(newlines, bad)),
                            f"control byte 0x{int(arr[s + bad]):02x} in motion data")
    if ends.size != n_lines * c or not (
        (ends[c - 1::c] < newlines).all() and (before[c::c] >= newlines[:-1]).all()
    ):
        per_line = np.diff(np.searchsorted(ends, newlines), prepend=0)
        i = int(np.flatnonzero(per_line != c)[0])
        raise _line_count_error(path, first_line + i, int(per_line[i]), c,
                                is_last_chunk and i == n_lines - 1)
    pairs = windows[s - 15:][ends].view("<u8").reshape(-1, 2)   # (N, 2): the 16 bytes ending at each token's end
    last8 = pairs[:, 1].copy()                      # (N,) uint64, the token's last 8 bytes
    x = last8 ^ _DOTS                               # '.' -> 0x00
    x = ~(((x & _LOW7) + _LOW7) | x | _LOW7)        # 0x80 exactly in the bytes that were '.'
    n_frac1 = _N_FRAC1.take(x.astype(np.float64).view(np.int64) >> 55)   # 1 + digits after the dot
    no_dot = n_frac1 > ends - before                # no '.' in the token itself: an integer
    n_frac1[no_dot] = 0
    first = arr[s + 1:].take(before)                # first byte of each token
    neg = first == 45
    n_int = ends - n_frac1 - before - (neg | (first == 43))
    shift = (n_frac1 << 3).view(np.uint64)          # the 8 bytes ending before the dot (at the end if none)
    t_int = pairs[:, 0] >> (_SH64 - shift)
    t_int |= last8 << shift
    t_int ^= _ZEROS_ASCII                           # digits -> their values 0..9
    t_int &= _KEEP_INT.take(n_int, mode="clip")     # bytes before the digits -> leading zeros
    t_frac = last8
    t_frac ^= _ZEROS_ASCII
    t_frac &= _KEEP_FRAC.take(n_frac1)
    # a byte above 9 (not a digit), or an integer part of 0 or > 8 digits: the slow path
    bad = (t_int + _PLUS6) | t_int | (t_frac + _PLUS6) | t_frac
    bad &= _HI_NIBBLES
    bad |= _BAD_INT.take(n_int, mode="clip")
    special = np.flatnonzero(bad)
    mantissa = _reduce8(t_int)
    mantissa *= _SCALE_U64.take(n_frac1)
    mantissa += _reduce8(t_frac)                    # < 10**15: exact
    scale_index = n_frac1
    scale_index += neg * 9                          # negative scale: the sign, -0.0 included
    flat = out.reshape(-1)
    np.divide(mantissa.astype(np.float64), _SCALE_SIGNED.take(scale_index), out=flat)
    for k in special.tolist():
        line, col = divmod(k, c)
        tok = arr[s + before[k] + 1:s + ends[k] + 1].tobytes()
        flat[k] = _slow_token(tok, path, first_line + line, col)


def _parse_motion(data: bytes, line_starts: np.ndarray, line_stops: np.ndarray,
                  n_channels: int, first_line: int, path, last_chunk_ends_file: bool) -> np.ndarray:
    """Parse the motion lines given by byte offsets ``line_starts``/``line_stops`` -> (F, C).

    ``data[line_starts[0] - 1]`` is the ``\\n`` before the first line, ``line_starts[0] >= 17``.
    """
    n_lines = line_starts.size
    out = np.empty((n_lines, n_channels), dtype=np.float64)
    if n_lines == 0:
        return out
    arr = np.frombuffer(data, dtype=np.uint8)
    windows = np.ndarray((arr.size - 15,), dtype="V16", buffer=data, strides=(1,))   # overlapping view
    per_chunk = max(1, _CHUNK_VALUES // n_channels)
    n_chunks = -(-n_lines // per_chunk)

    def parse(i: int) -> None:
        c0 = i * per_chunk
        c1 = min(n_lines, c0 + per_chunk)
        s = int(line_starts[c0]) - 1
        newlines = line_stops[c0:c1] - s
        a, w = arr, windows
        if int(line_stops[c1 - 1]) >= arr.size:         # the last line ends the file: pad a copy
            a = np.concatenate((arr[s - 16:], np.full(1, 10, dtype=np.uint8)))
            w = np.ndarray((a.size - 15,), dtype="V16", buffer=a, strides=(1,))
            s = 16
        _parse_chunk(a, w, s, newlines, out[c0:c1], first_line + c0, path,
                     last_chunk_ends_file and c1 == n_lines)

    workers = min(_PARSE_THREADS, n_chunks) if n_chunks >= _THREADED_MIN_CHUNKS else 1
    if workers <= 1:
        for i in range(n_chunks):
            parse(i)
        return out
    # numpy releases the GIL in its loops: chunks parse in parallel on several cores. Chunks are
    # handed out in file order; after an error no later chunk is started, and the error of the
    # earliest failing chunk is raised, as in the serial loop.
    next_chunk = itertools.count()
    lock = threading.Lock()
    errors: dict[int, BaseException] = {}

    def work() -> None:
        for i in next_chunk:
            with lock:
                if i >= n_chunks or (errors and i > min(errors)):
                    return
            try:
                parse(i)
            except BaseException as err:  # noqa: BLE001  (re-raised below, in file order)
                with lock:
                    errors[i] = err

    with ThreadPoolExecutor(max_workers=workers - 1) as pool:
        helpers = [pool.submit(work) for _ in range(workers - 1)]
        work()
        for h in helpers:
            h.result()
    if errors:
        raise errors[min(errors)]
    return out


def _newlines(data: bytes, start: int, stop: int, block: int = 1 << 20) -> np.ndarray:
    """Absolute offsets of every ``\\n`` in ``data[start:stop]`` (blockwise: small temporaries)."""
    parts = []
    for b0 in range(start, stop, block):
        b1 = min(stop, b0 + block)
        parts.append(np.flatnonzero(np.frombuffer(data, np.uint8, b1 - b0, b0) == 10) + b0)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _frame_index(value: object, what: str, path: str | Path | None) -> int:
    """``value`` as a frame index (an int or numpy integer), else :class:`BvhParseError`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise BvhParseError(path, None, f"{what} must be an integer frame index, got {value!r}")
    return int(value)


def _check_frame_range(start: int, end: int, n_frames: int, frames_line: int, path: str | Path | None) -> None:
    """``[start, end)`` must be a non-empty range of the file's ``n_frames`` frames."""
    if start < 0 or start >= n_frames or end > n_frames:
        raise BvhParseError(
            path, None,
            f"frame range [{start}, {end}) is outside the file's frames [0, {n_frames}) "
            f"('Frames: {n_frames}' on line {frames_line})",
        )
    if start >= end:
        raise BvhParseError(path, None, f"empty frame range [{start}, {end}): start_frame must be below end_frame")


def parse_bvh(text: str | bytes, path: str | Path | None = None, *,
              start_frame: int = 0, end_frame: int | None = None) -> BvhClip:
    """Parse BVH text (str or bytes). Frames ``[start_frame, end_frame)`` are kept.

    The number of motion lines is always checked against ``Frames:``; values are
    parsed and validated only inside the requested frame range. A range that is empty,
    reversed or outside the file, or a frame index that is not an integer, is a
    :class:`BvhParseError` naming the file and the range (its ``line`` is None).
    """
    start_frame = _frame_index(start_frame, "start_frame", path)
    if end_frame is not None:
        end_frame = _frame_index(end_frame, "end_frame", path)
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if data.startswith(_UTF8_BOM):                     # a UTF-8 byte-order mark: skip it
        data = data[len(_UTF8_BOM):]
    elif data.startswith(_UTF16_BOMS):
        raise BvhParseError(path, 1, f"UTF-16 text (byte-order mark {data[:2].hex(' ')}): "
                                     "a BVH file must be ASCII or UTF-8")
    if b"\n" not in data and b"\r" in data:           # classic Mac OS line ends (CR only)
        data = data.replace(b"\r", b"\n")
    found = _MOTION_RE.search(data)
    if found is None:
        header_text = data.decode("utf-8", errors="replace")
        # Parse the hierarchy first: an unbalanced/truncated hierarchy is the better message.
        _parse_hierarchy(header_text, path)
        raise BvhParseError(path, header_text.count("\n") + 1, "missing 'MOTION' section")
    try:
        header_text = data[:found.start()].decode("utf-8")
    except UnicodeDecodeError as err:
        raise BvhParseError(path, data[:err.start].count(b"\n") + 1, "hierarchy is not UTF-8 text") from err
    skeleton = _parse_hierarchy(header_text, path)
    motion_line = header_text.count("\n") + 1
    n_channels = skeleton.n_channels
    if n_channels == 0:
        raise BvhParseError(path, motion_line, "the hierarchy declares no channels")

    # 'Frames:' and 'Frame Time:' lines (blank lines tolerated)
    pos = found.end()                                  # at the '\n' ending MOTION (or EOF)
    line_no = motion_line
    header_fields: list[tuple[list[bytes], int]] = []
    while len(header_fields) < 2:
        if pos >= len(data):
            key = "Frames:" if not header_fields else "Frame Time:"
            raise BvhParseError(path, line_no, f"missing {key!r} after 'MOTION' (file truncated?)")
        pos += 1
        line_no += 1
        nl = data.find(b"\n", pos)
        nl = len(data) if nl < 0 else nl
        parts = data[pos:nl].split()
        pos = nl
        if parts:
            header_fields.append((parts, line_no))
    (frames_parts, frames_line), (time_parts, time_line) = header_fields
    if len(frames_parts) != 2 or frames_parts[0] != b"Frames:" or not frames_parts[1].isdigit():
        raise BvhParseError(path, frames_line, f"expected 'Frames: <count>', found {b' '.join(frames_parts).decode(errors='replace')!r}")
    n_frames = int(frames_parts[1])
    if len(time_parts) != 3 or time_parts[:2] != [b"Frame", b"Time:"]:
        raise BvhParseError(path, time_line, f"expected 'Frame Time: <seconds>', found {b' '.join(time_parts).decode(errors='replace')!r}")
    try:
        frame_time_s = float(time_parts[2])
    except ValueError:
        raise BvhParseError(path, time_line, f"frame time {time_parts[2]!r} is not a number") from None
    if not (np.isfinite(frame_time_s) and frame_time_s > 0):
        raise BvhParseError(path, time_line, f"frame time must be positive and finite, got {frame_time_s}")
    if not MIN_FRAME_TIME_S <= frame_time_s <= MAX_FRAME_TIME_S:
        raise BvhParseError(
            path, time_line,
            f"frame time {time_parts[2].decode(errors='replace')} s ({1.0 / frame_time_s:.6g} frames/s) is outside "
            f"[{MIN_FRAME_TIME_S:g}, {MAX_FRAME_TIME_S:g}] s (at most {1.0 / MIN_FRAME_TIME_S:g} frames/s, "
            f"at least one frame a minute)",
        )
    if n_frames == 0:
        raise BvhParseError(path, frames_line, "empty motion (Frames: 0)")
    if end_frame is None:
        end_frame = n_frames
    _check_frame_range(start_frame, end_frame, n_frames, frames_line, path)

    # motion lines: [pos, stop) with trailing whitespace ignored
    pos += 1
    stop = len(data)
    while stop > pos and data[stop - 1] in b" \t\r\n":
        stop -= 1
    first_line = time_line + 1
    if stop <= pos:
        raise BvhParseError(path, first_line, f"empty motion: 'Frames: {n_frames}' but no motion lines (file truncated?)")
    newline_at = _newlines(data, pos, stop)                  # (L-1,) absolute offsets
    n_lines = newline_at.size + 1
    line_starts = np.concatenate(([pos], newline_at + 1))
    line_stops = np.concatenate((newline_at, [stop]))
    i1 = min(end_frame, n_lines)
    motion = _parse_motion(data, line_starts[start_frame:i1], line_stops[start_frame:i1],
                           n_channels, first_line + start_frame, path, i1 == n_lines)
    if n_lines > n_frames:
        raise BvhParseError(path, first_line + n_frames,
                            f"more motion lines than 'Frames: {n_frames}' (line {frames_line}): found {n_lines}")
    if n_lines < n_frames:
        raise BvhParseError(path, first_line + n_lines,
                            f"file truncated: 'Frames: {n_frames}' (line {frames_line}) but only {n_lines} motion lines")
    return BvhClip(skeleton, frame_time_s, motion, None if path is None else Path(path))


def read_bvh(path: str | Path, *, start_frame: int = 0, end_frame: int | None = None) -> BvhClip:
    """Read a BVH file; keep frames ``[start_frame, end_frame)`` (end exclusive).

    Every problem, a bad frame range included, is a :class:`BvhParseError` naming the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise BvhParseError(path, None, f"cannot read file: {err.strerror or err}") from err
    return parse_bvh(data, path, start_frame=start_frame, end_frame=end_frame)


# --------------------------------------------------------------------------- writing


def _format_hierarchy(skeleton: Skeleton) -> list[str]:
    children: dict[int, list[int]] = {}
    for i, j in enumerate(skeleton.joints):
        children.setdefault(j.parent, []).append(i)
    out = ["HIERARCHY"]

    def emit(i: int, depth: int) -> None:
        j = skeleton.joints[i]
        tab = "\t" * depth
        if j.is_end_site:
            out.append(f"{tab}End Site")
        else:
            out.append(f"{tab}{'ROOT' if j.parent < 0 else 'JOINT'} {j.name}")
        out.append(f"{tab}{{")
        out.append(f"{tab}\tOFFSET " + " ".join(f"{v:.5f}" for v in j.offset_cm))
        if not j.is_end_site:
            out.append(f"{tab}\tCHANNELS {len(j.channels)} " + " ".join(j.channels))
        for c in children.get(i, []):
            emit(c, depth + 1)
        out.append(f"{tab}}}")

    roots = children.get(-1, [])
    if len(roots) != 1:
        raise ValueError(f"a BVH skeleton needs exactly one root, found {len(roots)}")
    emit(roots[0], 0)
    return out


def format_bvh(skeleton: Skeleton, frame_time_s: float, motion: np.ndarray, *, decimals: int | None = 6) -> str:
    """BVH text of ``motion`` (F, C).

    ``decimals=6`` (default, InHARD's own precision) writes fixed-point values, so a
    round trip is exact to 6 decimals (|error| <= 5e-7); ``decimals=None`` writes the
    shortest repr of each float64 and a round trip is bit-exact. Offsets keep 5 decimals.
    """
    motion = np.asarray(motion, dtype=np.float64)
    if motion.ndim != 2 or motion.shape[1] != skeleton.n_channels or motion.shape[0] == 0:
        raise ValueError(f"motion must be (F>0, {skeleton.n_channels}), got {motion.shape}")
    if not np.isfinite(motion).all():
        raise ValueError("motion contains NaN or inf")
    if not (np.isfinite(frame_time_s) and frame_time_s > 0):
        raise ValueError(f"frame_time_s must be positive, got {frame_time_s}")
    lines = _format_hierarchy(skeleton)
    lines += ["MOTION", f"Frames: {motion.shape[0]}", f"Frame Time: {frame_time_s:.6g}"]
    if decimals is None:
        lines += [" ".join(map(repr, row)) for row in motion.tolist()]
    else:
        row_fmt = " ".join([f"%.{int(decimals)}f"] * motion.shape[1])
        lines += [row_fmt % tuple(row) for row in motion.tolist()]
    return "\n".join(lines) + "\n"


def write_bvh(path: str | Path, clip_or_skeleton: BvhClip | Skeleton, frame_time_s: float | None = None,
              motion: np.ndarray | None = None, *, decimals: int | None = 6) -> Path:
    """Write a BVH file from a :class:`BvhClip`, or a :class:`Skeleton` + frame time + motion."""
    if isinstance(clip_or_skeleton, BvhClip):
        skeleton = clip_or_skeleton.skeleton
        frame_time_s = clip_or_skeleton.frame_time_s if frame_time_s is None else frame_time_s
        motion = clip_or_skeleton.motion if motion is None else motion
    else:
        skeleton = clip_or_skeleton
        if frame_time_s is None or motion is None:
            raise ValueError("write_bvh(path, skeleton, ...) needs frame_time_s and motion")
    path = Path(path)
    path.write_text(format_bvh(skeleton, frame_time_s, motion, decimals=decimals), encoding="utf-8")
    return path
