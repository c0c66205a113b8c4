"""Socket transports of the Perception Neuron BVH broadcast (Axis Neuron / Axis Studio).

`TcpSuitClient` connects to the broadcaster (TCP, default port 7001) and reconnects with an
exponential backoff; `UdpSuitReceiver` binds a port (default 7002) and takes the datagrams sent
to it. Each feeds a decoder of :mod:`harnets_core.formats.axis_neuron` (text, binary or auto-detected)
and counts what happened: frames, frame-index gaps and missing frames, decode errors, skipped
bytes, connections. Both are non-blocking: `poll()` returns at once with what has arrived, for
a node's timer or any loop; bad data never raises, it comes back as typed errors.
"""
from __future__ import annotations

import errno
import os
import select
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from harnets_core.formats.axis_neuron import (
    TCP_PORT,
    UDP_PORT,
    BroadcastLayout,
    FrameDecoder,
    FrameGapCounter,
    SuitFrame,
    make_decoder,
)
from harnets_core.errors import ConfigError, StreamError

__all__ = ["SuitCounters", "PollResult", "SuitReceiver", "TcpSuitClient", "UdpSuitReceiver", "open_receiver"]

DecoderFactory = Callable[[], FrameDecoder]


@dataclass
class SuitCounters:
    """Running totals of one receiver."""

    received_bytes: int = 0
    frames: int = 0  # frames handed out
    gaps: int = 0  # jumps of the frame counter
    missing_frames: int = 0  # frames those jumps skipped
    restarts: int = 0  # frame counter going back
    duplicates: int = 0  # the same frame index again (dropped)
    decode_errors: int = 0
    skipped_bytes: int = 0  # bytes that were no frame
    other_avatars: int = 0  # frames of an avatar not asked for (dropped)
    connects: int = 0
    reconnects: int = 0  # connections after the first
    connect_failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class PollResult:
    """What one `poll` brought: frames in arrival order, decode errors, connection problems and
    news (for the log), and the frames found missing from the counter meanwhile."""

    frames: list[SuitFrame] = field(default_factory=list)
    errors: list[StreamError] = field(default_factory=list)
    connection_errors: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    missing_frames: int = 0


class SuitReceiver:
    """Decoding and counting shared by the transports."""

    def __init__(self, decoder_factory: DecoderFactory, *, avatar_index: int | None = None) -> None:
        self.decoder_factory = decoder_factory
        self.avatar_index = avatar_index
        self.counters = SuitCounters()
        self._gaps = FrameGapCounter()
        self._decoder = decoder_factory()

    @property
    def format(self) -> str:
        """The decoder's format ('auto' until detected)."""
        return self._decoder.format

    def _ingest(self, data: bytes, result: PollResult) -> None:
        decoded = self._decoder.feed(data)
        c = self.counters
        c.received_bytes += len(data)
        c.skipped_bytes += decoded.skipped_bytes
        c.decode_errors += len(decoded.errors)
        result.errors += decoded.errors
        for frame in decoded.frames:
            if self.avatar_index is not None and frame.avatar_index != self.avatar_index:
                c.other_avatars += 1
                continue
            if frame.frame_index is not None:  # binary: a frame counter
                g = self._gaps
                duplicates = g.duplicates
                result.missing_frames += g.update(frame.avatar_index, frame.frame_index)
                c.gaps, c.missing_frames, c.restarts, c.duplicates = g.gaps, g.missing_frames, g.restarts, g.duplicates
                if g.duplicates > duplicates:
                    continue
            c.frames += 1
            result.frames.append(frame)

    def poll(self) -> PollResult:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> SuitReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TcpSuitClient(SuitReceiver):
    """Connects to the broadcaster at host:port and reconnects after a failure or a closed
    connection: first after `reconnect_s`, doubling up to `reconnect_max_s` while attempts fail
    (back to `reconnect_s` once connected). A new connection starts a fresh decoder."""

    def __init__(self, host: str, port: int, decoder_factory: DecoderFactory, *, reconnect_s: float = 1.0,
                 reconnect_max_s: float = 10.0, connect_timeout_s: float = 2.0, avatar_index: int | None = None,
                 clock: Callable[[], float] = time.monotonic, max_reads: int = 64, read_bytes: int = 1 << 16) -> None:
        super().__init__(decoder_factory, avatar_index=avatar_index)
        if reconnect_s <= 0 or reconnect_max_s < reconnect_s:
            raise ConfigError(f"reconnect_s = {reconnect_s}, reconnect_max_s = {reconnect_max_s}: need 0 < reconnect_s <= reconnect_max_s")
        self.host, self.port = host, int(port)
        self.reconnect_s, self.reconnect_max_s = float(reconnect_s), float(reconnect_max_s)
        self.connect_timeout_s = connect_timeout_s
        self.clock = clock
        self.max_reads, self.read_bytes = max_reads, read_bytes
        self._sock: socket.socket | None = None
        self._connecting = False
        self._deadline_s = 0.0
        self._next_attempt_s = clock()  # now
        self._delay_s = self.reconnect_s

    @property
    def connected(self) -> bool:
        return self._sock is not None and not self._connecting

    @property
    def next_attempt_in_s(self) -> float:
        """Seconds until the next connection attempt (0 while connected or connecting)."""
        return 0.0 if self._sock is not None else max(0.0, self._next_attempt_s - self.clock())

    def __str__(self) -> str:
        return f"tcp {self.host}:{self.port}"

    def poll(self) -> PollResult:
        result = PollResult()
        if self._sock is None:
            if self.clock() < self._next_attempt_s:
                return result
            self._start_connect(result)
        if self._sock is not None and self._connecting:
            self._finish_connect(result)
        if not self.connected:
            return result
        for _ in range(self.max_reads):
            try:
                data = self._sock.recv(self.read_bytes)  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                break
            except OSError as err:
                self._lost(f"receive failed: {err}", result)
                break
            if not data:
                self._lost("connection closed by the broadcaster", result)
                break
            self._ingest(data, result)
        return result

    def _start_connect(self, result: PollResult) -> None:
        try:
            family, kind, proto, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, kind, proto)
        except OSError as err:
            self._failed(f"cannot resolve {self.host}:{self.port}: {err}", result)
            return
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            sock.close()
            self._failed(f"cannot connect to {self.host}:{self.port}: {os.strerror(code)}", result)
            return
        self._sock, self._connecting = sock, True
        self._deadline_s = self.clock() + self.connect_timeout_s

    def _finish_connect(self, result: PollResult) -> None:
        assert self._sock is not None
        _, writable, _ = select.select([], [self._sock], [], 0)
        if not writable:
            if self.clock() > self._deadline_s:
                self._close()
                self._failed(f"cannot connect to {self.host}:{self.port}: no answer in {self.connect_timeout_s:.1f} s", result)
            return
        code = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._close()
            self._failed(f"cannot connect to {self.host}:{self.port}: {os.strerror(code)}", result)
            return
        self._connecting = False
        self.counters.connects += 1
        if self.counters.connects > 1:
            self.counters.reconnects += 1
        self._delay_s = self.reconnect_s
        self._decoder = self.decoder_factory()
        result.events.append(f"connected to {self.host}:{self.port}")

    def _failed(self, message: str, result: PollResult) -> None:
        self.counters.connect_failures += 1
        self._next_attempt_s = self.clock() + self._delay_s
        result.connection_errors.append(f"{message}; next attempt in {self._delay_s:.1f} s")
        self._delay_s = min(self._delay_s * 2.0, self.reconnect_max_s)

    def _lost(self, message: str, result: PollResult) -> None:
        self._close()
        self._delay_s = self.reconnect_s
        self._next_attempt_s = self.clock() + self._delay_s
        result.connection_errors.append(f"{self.host}:{self.port}: {message}; reconnecting in {self._delay_s:.1f} s")

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._connecting = None, False

    def close(self) -> None:
        self._close()


class UdpSuitReceiver(SuitReceiver):
    """Binds bind_address:port (port 0: any free port, see `.port`) and decodes the datagrams
    sent to it, from one broadcaster (datagrams of several senders would interleave)."""

    def __init__(self, port: int, decoder_factory: DecoderFactory, *, bind_address: str = "0.0.0.0",
                 avatar_index: int | None = None, receive_buffer_bytes: int = 1 << 20, max_datagrams: int = 256) -> None:
        super().__init__(decoder_factory, avatar_index=avatar_index)
        self.bind_address = bind_address
        self.max_datagrams = max_datagrams
        self._sock = socket.socket(socket.AF_INET6 if ":" in bind_address else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer_bytes)
            self._sock.bind((bind_address, int(port)))
        except OSError as err:
            self._sock.close()
            raise StreamError(f"cannot receive the suit broadcast on UDP {bind_address}:{port}: {err}") from err
        self._sock.setblocking(False)
        self.port: int = self._sock.getsockname()[1]

    def __str__(self) -> str:
        return f"udp {self.bind_address}:{self.port}"

    def poll(self) -> PollResult:
        result = PollResult()
        for _ in range(self.max_datagrams):
            try:
                data = self._sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as err:  # e.g. an ICMP error reported on the socket
                result.connection_errors.append(f"UDP {self.bind_address}:{self.port}: {err}")
                break
            self._ingest(data, result)
        return result

    def close(self) -> None:
        self._sock.close()


def open_receiver(protocol: str, layout: BroadcastLayout, *, fmt: str = "auto", host: str = "127.0.0.1", port: int = 0,
                  bind_address: str = "0.0.0.0", reconnect_s: float = 1.0, reconnect_max_s: float = 10.0,
                  avatar_index: int | None = None) -> TcpSuitClient | UdpSuitReceiver:
    """The receiver of `protocol` 'tcp' (connects to host:port, port 0: 7001) or 'udp' (binds
    bind_address:port, port 0: 7002), decoding format `fmt` ('text', 'binary' or 'auto')."""
    make_decoder(fmt, layout)  # a wrong format is an error now, not at the first data

    def factory() -> FrameDecoder:
        return make_decoder(fmt, layout)

    if protocol == "tcp":
        return TcpSuitClient(host, port or TCP_PORT, factory, reconnect_s=reconnect_s, reconnect_max_s=reconnect_max_s,
                             avatar_index=avatar_index)
    if protocol == "udp":
        return UdpSuitReceiver(port or UDP_PORT, factory, bind_address=bind_address, avatar_index=avatar_index)
    raise ConfigError(f"suit broadcast protocol {protocol!r}: use 'tcp' or 'udp'")
