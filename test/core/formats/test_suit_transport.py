"""Socket transports of the suit broadcast on 127.0.0.1: a local broadcaster sends the real
clip's frames as text over TCP, binary over TCP (odd chunks, a frame-index gap, reconnection)
and binary over UDP (frames split in two datagrams, merged in one, garbage between them).
Loops are bounded by deadlines."""
from __future__ import annotations

import socket
import threading
import time
from typing import Callable

import numpy as np
import pytest

from harnets_core.formats.axis_neuron import BroadcastLayout, encode_binary_frame, format_text_frame, make_decoder
from harnets_core.formats.bvh import read_bvh
from harnets_core.errors import ConfigError, StreamError
from harnets_core.formats.suit_transport import PollResult, SuitReceiver, TcpSuitClient, UdpSuitReceiver, open_receiver


@pytest.fixture(scope="module")
def clip(real_clip_path):
    return read_bvh(real_clip_path)


@pytest.fixture(scope="module")
def layout(clip):
    return BroadcastLayout(clip.skeleton, source="clip.bvh")


class TcpBroadcaster:
    """Accepts connections one after another; sends each its list of chunks, then closes it
    (or keeps it open until `close` when `hold`)."""

    def __init__(self, sessions: list[list[bytes]], hold: bool = True) -> None:
        self.sessions = sessions
        self.hold = hold
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(10.0)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for k, chunks in enumerate(self.sessions):
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                for chunk in chunks:
                    conn.sendall(chunk)
                    time.sleep(0.002)
                if self.hold and k == len(self.sessions) - 1:
                    self.stop.wait(10.0)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(5.0)


def poll_until(receiver: SuitReceiver, done: Callable[[PollResult], bool], timeout_s: float = 5.0) -> PollResult:
    """Every result of `receiver.poll()` merged, until `done(merged)` or the time is up."""
    merged = PollResult()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done(merged):
        r = receiver.poll()
        merged.frames += r.frames
        merged.errors += r.errors
        merged.connection_errors += r.connection_errors
        merged.events += r.events
        merged.missing_frames += r.missing_frames
        time.sleep(0.001)
    return merged


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[k:k + size] for k in range(0, len(data), size)]


def test_text_over_tcp(clip, layout):
    lines = "".join(format_text_frame(clip.motion[i]) for i in range(10)).encode("ascii")
    server = TcpBroadcaster([chunked(lines, 1000)])
    try:
        with open_receiver("tcp", layout, fmt="text", port=server.port) as client:
            got = poll_until(client, lambda r: len(r.frames) >= 10)
        assert got.errors == [] and got.events == [f"connected to 127.0.0.1:{server.port}"]
        np.testing.assert_allclose([f.values for f in got.frames], clip.motion[:10], atol=1e-5)
        assert all(f.frame_index is None for f in got.frames)
        assert (client.counters.frames, client.counters.gaps, client.counters.connects) == (10, 0, 1)
    finally:
        server.close()


def test_binary_over_tcp_with_a_gap_and_a_reconnection(clip, layout):
    first = b"".join(encode_binary_frame(clip.motion[i], frame_index=i) for i in [0, 1, 2, 5, 6])  # 3 and 4 missing
    second = b"".join(encode_binary_frame(clip.motion[i], frame_index=i) for i in [7, 8])
    server = TcpBroadcaster([chunked(first, 777), [second]])  # closes the first connection
    try:
        with TcpSuitClient("127.0.0.1", server.port, lambda: make_decoder("auto", layout), reconnect_s=0.05) as client:
            got = poll_until(client, lambda r: len(r.frames) >= 7)
            assert client.format == "binary"
        assert [f.frame_index for f in got.frames] == [0, 1, 2, 5, 6, 7, 8]
        for f in got.frames:
            np.testing.assert_array_equal(f.values, clip.motion[f.frame_index].astype(np.float32))
        assert got.missing_frames == 2 and got.errors == []
        assert any("connection closed by the broadcaster; reconnecting in 0.1 s" in m for m in got.connection_errors)
        c = client.counters
        assert (c.frames, c.gaps, c.missing_frames, c.connects, c.reconnects, c.decode_errors) == (7, 1, 2, 2, 1, 0)
        assert server.accepted == 2
    finally:
        server.close()


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_reconnects_with_exponential_backoff(layout):
    port = free_port(socket.SOCK_STREAM)  # nothing listens there
    now = [100.0]
    client = TcpSuitClient("127.0.0.1", port, lambda: make_decoder("binary", layout), reconnect_s=0.5,
                           reconnect_max_s=3.0, clock=lambda: now[0])
    delays = []
    try:
        for attempt in range(5):
            got = poll_until(client, lambda r: bool(r.connection_errors))
            assert len(got.connection_errors) == 1 and "cannot connect to" in got.connection_errors[0]
            delays.append(client.next_attempt_in_s)
            assert client.poll().connection_errors == []  # no attempt before the delay is over
            now[0] += delays[-1]
        assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]
        assert client.counters.connect_failures == 5 and client.counters.connects == 0
    finally:
        client.close()


def test_binary_over_udp_split_merged_and_garbage(clip, layout):
    frames = [encode_binary_frame(clip.motion[i], frame_index=i) for i in range(12)]
    garbage = b"not a frame at all"
    datagrams = [
        frames[0],
        frames[1][:600], frames[1][600:],  # split in two
        frames[2] + frames[3],  # merged
        garbage,
        frames[4] + frames[5][:100], frames[5][100:] + frames[6],  # split and merged
        frames[8],  # 7 missing
        frames[9][:1000],  # its second packet lost
        frames[10], frames[11],
    ]
    with UdpSuitReceiver(0, lambda: make_decoder("binary", layout), bind_address="127.0.0.1") as receiver:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for d in datagrams:
                sender.sendto(d, ("127.0.0.1", receiver.port))
        got = poll_until(receiver, lambda r: len(r.frames) >= 10)
    assert [f.frame_index for f in got.frames] == [0, 1, 2, 3, 4, 5, 6, 8, 10, 11]
    for f in got.frames:
        np.testing.assert_array_equal(f.values, clip.motion[f.frame_index].astype(np.float32))
    c = receiver.counters
    assert (c.gaps, c.missing_frames, c.skipped_bytes, c.decode_errors) == (2, 2, len(garbage), 2)
    assert got.missing_frames == 2
    assert "18 bytes that were no binary frame" in str(got.errors[0]) and "frame 9 ends after" in str(got.errors[1])


def test_udp_avatar_filter_and_duplicates(clip, layout):
    with UdpSuitReceiver(0, lambda: make_decoder("auto", layout), bind_address="127.0.0.1", avatar_index=1) as receiver:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for i, avatar in [(0, 1), (0, 0), (1, 1), (1, 1), (2, 1)]:
                sender.sendto(encode_binary_frame(clip.motion[i], frame_index=i, avatar_index=avatar, avatar_name=f"A{avatar}"),
                              ("127.0.0.1", receiver.port))
        got = poll_until(receiver, lambda r: len(r.frames) >= 3)
        spin = poll_until(receiver, lambda r: False, 0.2)
    assert [(f.frame_index, f.avatar_name) for f in got.frames + spin.frames] == [(0, "A1"), (1, "A1"), (2, "A1")]
    assert (receiver.counters.other_avatars, receiver.counters.duplicates, receiver.counters.gaps) == (1, 1, 0)


def test_udp_port_in_use_is_a_stream_error(layout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(StreamError, match=f"UDP 127.0.0.1:{port}"):
            UdpSuitReceiver(port, lambda: make_decoder("binary", layout), bind_address="127.0.0.1")


def test_open_receiver_rejects_unknown_protocol_and_format(layout):
    with pytest.raises(ConfigError, match="'serial'"):
        open_receiver("serial", layout)
    with pytest.raises(ConfigError, match="'csv'"):
        open_receiver("udp", layout, fmt="csv")
    with pytest.raises(ConfigError, match="reconnect_s"):
        open_receiver("tcp", layout, reconnect_s=5.0, reconnect_max_s=1.0)
