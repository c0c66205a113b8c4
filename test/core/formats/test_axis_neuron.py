"""Decoders of the Axis Neuron / Axis Studio BVH broadcast: binary frames split over packets,
merged in one, garbage between them, a lost tail, wrong value counts, the layouts without
displacement and with reference, text lines, format detection and the frame-gap counter.
Frames are the real InHARD clip's values."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from harnets_core.formats.axis_neuron import (
    HEADER_BYTES,
    AutoFrameDecoder,
    BinaryFrameDecoder,
    BinaryHeader,
    BroadcastLayout,
    FrameGapCounter,
    TextFrameDecoder,
    detect_format,
    encode_binary_frame,
    format_text_frame,
    make_decoder,
)
from harnets_core.formats.bvh import parse_bvh, read_bvh
from harnets_core.errors import ChannelCountError, ConfigError


@pytest.fixture(scope="module")
def clip(real_clip_path):
    return read_bvh(real_clip_path)


@pytest.fixture(scope="module")
def layout(clip):
    return BroadcastLayout(clip.skeleton, source="clip.bvh")


def frames_bytes(clip, indices) -> list[bytes]:
    return [encode_binary_frame(clip.motion[i % clip.n_frames], frame_index=i) for i in indices]


def feed_all(decoder, chunks):
    frames, errors, skipped = [], [], 0
    for chunk in chunks:
        result = decoder.feed(chunk)
        frames += result.frames
        errors += result.errors
        skipped += result.skipped_bytes
    return frames, errors, skipped


def check_frames(frames, clip, indices):
    assert [f.frame_index for f in frames] == list(indices)
    for f, i in zip(frames, indices):
        assert f.values.dtype == np.float32 and f.values.shape == (354,)
        np.testing.assert_array_equal(f.values, clip.motion[i % clip.n_frames].astype(np.float32))
        assert (f.avatar_index, f.avatar_name, f.reference) == (0, "Avatar00", None)


def test_header_is_64_packed_little_endian_bytes():
    header = BinaryHeader(354, True, False, avatar_index=2, avatar_name="Worker", frame_index=0x01020304, version=(1, 1, 0, 0))
    raw = header.pack()
    assert len(raw) == HEADER_BYTES == 64
    assert raw[0:2] == b"\xff\xdd" and raw[62:64] == b"\xff\xee"
    assert raw[2:6] == bytes([0, 0, 1, 1])  # build, revision, minor, major
    assert struct.unpack_from("<H", raw, 6)[0] == 354 and raw[8] == 1 and raw[9] == 0
    assert struct.unpack_from("<I", raw, 10)[0] == 2 and raw[14:20] == b"Worker" and raw[20:46] == bytes(26)
    assert struct.unpack_from("<I", raw, 46)[0] == 0x01020304 and raw[50:62] == bytes(12)
    assert BinaryHeader.unpack(raw) == header
    assert BinaryHeader.unpack(b"\x00" + raw[1:]) is None


@pytest.mark.parametrize("cut", [1, 2, 30, 63, 64, 65, 700, 1479])
def test_binary_frame_split_in_two_packets(clip, layout, cut):
    decoder = BinaryFrameDecoder(layout)
    chunks = []
    for frame in frames_bytes(clip, range(4)):
        assert len(frame) == 64 + 354 * 4
        chunks += [frame[:cut], frame[cut:]]
    frames, errors, skipped = feed_all(decoder, chunks)
    assert errors == [] and skipped == 0
    check_frames(frames, clip, range(4))
    assert decoder.pending_bytes == 0


def test_binary_frames_merged_and_byte_by_byte(clip, layout):
    data = b"".join(frames_bytes(clip, range(6)))
    frames, errors, _ = feed_all(BinaryFrameDecoder(layout), [data[:3000], data[3000:]])  # 2 frames + a piece, then the rest
    assert errors == []
    check_frames(frames, clip, range(6))
    frames, errors, _ = feed_all(BinaryFrameDecoder(layout), [data[i:i + 1] for i in range(2 * 1480)])
    assert errors == []
    check_frames(frames, clip, range(2))


def test_binary_resynchronizes_on_the_tokens_after_garbage(clip, layout):
    f = frames_bytes(clip, range(4))
    fake_start = b"\xff\xdd" + bytes(70)  # a start token without its end token 62 bytes on
    garbage = [b"hello", fake_start, bytes(range(200, 256)) * 3, b"\xff"]
    data = garbage[0] + f[0] + garbage[1] + f[1] + garbage[2] + f[2] + garbage[3] + f[3]
    frames, errors, skipped = feed_all(BinaryFrameDecoder(layout), [data[k:k + 997] for k in range(0, len(data), 997)])
    check_frames(frames, clip, range(4))
    assert skipped == sum(len(g) for g in garbage)
    assert len(errors) == 4 and all("bytes that were no binary frame skipped" in str(e) for e in errors)
    assert [int(str(e).split()[3]) for e in errors] == [len(g) for g in garbage]


def test_binary_frame_whose_end_was_lost_is_dropped(clip, layout):
    f = frames_bytes(clip, range(3))
    # UDP: frame 1's second packet lost; frame 2 arrives whole, in one and then in two packets
    for chunks in ([f[0], f[1][:900], f[2]], [f[0], f[1][:900], f[2][:100], f[2][100:]]):
        frames, errors, skipped = feed_all(BinaryFrameDecoder(layout), chunks)
        check_frames(frames, clip, [0, 2])
        assert len(errors) == 1 and "frame 1 ends after 836 of its 1416 value bytes" in str(errors[0])
        assert skipped == 0


def test_binary_wrong_value_count_is_a_typed_error_naming_the_counts(clip, layout):
    bad = encode_binary_frame(np.zeros(100, np.float32), frame_index=1)
    frames, errors, _ = feed_all(BinaryFrameDecoder(layout), [frames_bytes(clip, [0])[0] + bad + frames_bytes(clip, [2])[0]])
    check_frames(frames, clip, [0, 2])  # the stream stays in step
    assert len(errors) == 1 and isinstance(errors[0], ChannelCountError)
    assert errors[0].received == 100 and errors[0].expected == (354, 180, 177)
    message = str(errors[0])
    assert "100 values in a frame (binary frame 1, with displacement, without reference)" in message
    assert "clip.bvh (59 joints, 354 channels)" in message and "354 (with displacement)" in message


def test_binary_non_finite_value_drops_the_frame(clip, layout):
    row = clip.motion[1].astype(np.float32).copy()
    row[7] = np.nan
    data = frames_bytes(clip, [0])[0] + encode_binary_frame(row, frame_index=1) + frames_bytes(clip, [2])[0]
    frames, errors, _ = feed_all(BinaryFrameDecoder(layout), [data])
    check_frames(frames, clip, [0, 2])
    assert len(errors) == 1 and "non-finite value in binary frame 1" in str(errors[0])


def rotations_of(skeleton, motion_row, root_position: bool) -> np.ndarray:
    """The values of a broadcast without displacement: (root position), then 3 rotations per joint."""
    out = []
    for k, joint in enumerate(j for j in skeleton.joints if not j.is_end_site):
        block = motion_row[joint.channel_start: joint.channel_start + 6]
        out += list(block) if (k == 0 and root_position) else list(block[3:])
    return np.asarray(out, np.float32)


@pytest.mark.parametrize("root_position", [True, False])
def test_without_displacement_positions_come_from_the_template_offsets(clip, layout, root_position):
    skeleton = clip.skeleton
    values = rotations_of(skeleton, clip.motion[5], root_position)
    assert len(values) == (180 if root_position else 177)
    data = encode_binary_frame(values, frame_index=5, with_displacement=False)
    frames, errors, _ = feed_all(BinaryFrameDecoder(layout), [data])
    assert errors == [] and len(frames) == 1
    expected = clip.motion[5].astype(np.float32).copy()
    for k, joint in enumerate(j for j in skeleton.joints if not j.is_end_site):
        if k > 0 or not root_position:
            expected[joint.channel_start: joint.channel_start + 3] = joint.offset_cm
    np.testing.assert_array_equal(frames[0].values, expected)
    # the filled positions of the other joints are close to the live ones (rotations only: the
    # root stands at its rest position, its translation is lost)
    assert np.abs(frames[0].values[3:] - clip.motion[5, 3:]).max() < 3.5


def test_without_displacement_rejected_when_filling_is_off(clip):
    layout = BroadcastLayout(clip.skeleton, fill_positions=False, source="clip.bvh")
    assert layout.accepted_counts == (354,)
    data = encode_binary_frame(rotations_of(clip.skeleton, clip.motion[0], True), frame_index=0, with_displacement=False)
    frames, errors, _ = feed_all(BinaryFrameDecoder(layout), [data])
    assert frames == [] and isinstance(errors[0], ChannelCountError)
    assert "180 values are a broadcast without displacement" in str(errors[0]) and "fill_positions" in str(errors[0])


def test_with_reference_the_first_six_values_are_the_reference_bone(clip, layout):
    reference = np.arange(6, dtype=np.float32)
    values = np.concatenate([reference, clip.motion[3].astype(np.float32)])
    data = encode_binary_frame(values, frame_index=3, with_reference=True)
    frames, errors, _ = feed_all(BinaryFrameDecoder(layout), [data])
    assert errors == []
    np.testing.assert_array_equal(frames[0].reference, reference)
    np.testing.assert_array_equal(frames[0].values, clip.motion[3].astype(np.float32))


SMALL_NO_DISPLACEMENT = """HIERARCHY
ROOT Hips
{
  OFFSET 0 90 0
  CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Yrotation Xrotation Zrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.008333
1 2 3 4 5 6 7 8 9
"""


def test_template_without_displacement_takes_both_broadcasts():
    layout = BroadcastLayout(parse_bvh(SMALL_NO_DISPLACEMENT).skeleton)
    assert sorted(layout.accepted_counts) == [6, 9, 12]
    with_disp = np.array([1, 2, 3, 4, 5, 6, 0, 10, 0, 7, 8, 9], np.float32)  # Spine's position dropped
    np.testing.assert_array_equal(layout.map(with_disp), [1, 2, 3, 4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(layout.map(np.arange(1, 10, dtype=np.float32)), np.arange(1, 10))
    np.testing.assert_array_equal(layout.map(np.array([4, 5, 6, 7, 8, 9], np.float32)), [0, 90, 0, 4, 5, 6, 7, 8, 9])
    with pytest.raises(ChannelCountError, match="7 values in a frame"):
        layout.map(np.zeros(7, np.float32))


def test_text_lines_split_over_chunks(clip, layout):
    lines = [format_text_frame(clip.motion[i]) for i in range(3)]
    lines[1] = lines[1].replace("0 Avatar00 ", "0 ", 1)  # no name: the avatar index is not a value
    data = ("".join(lines[:2]) + lines[2] + "\n").encode("ascii")
    frames, errors, _ = feed_all(TextFrameDecoder(layout), [data[k:k + 333] for k in range(0, len(data), 333)])
    assert errors == [] and len(frames) == 3
    for k, f in enumerate(frames):
        np.testing.assert_allclose(f.values, clip.motion[k], atol=1e-5)
        assert f.frame_index is None and f.avatar_index == 0
    assert [f.avatar_name for f in frames] == ["Avatar00", "", "Avatar00"]


def test_text_bad_lines_are_typed_errors_and_the_stream_goes_on(clip, layout):
    data = ("0 Avatar00 1.0 2.0 3.0 ||" + "hello world again and again ||" + "0 Avatar00 1 nan" + " 0" * 352 + " ||"
            + format_text_frame(clip.motion[0])).encode("ascii")
    frames, errors, _ = feed_all(TextFrameDecoder(layout), [data])
    assert len(frames) == 1 and len(errors) == 3
    assert isinstance(errors[0], ChannelCountError) and "3 values in a frame (text)" in str(errors[0])
    assert "not a frame line" in str(errors[1]) and "non-finite" in str(errors[2])


def test_auto_detects_binary_and_text(clip, layout):
    binary = b"".join(frames_bytes(clip, range(2)))
    decoder = AutoFrameDecoder(layout)
    first = decoder.feed(binary[1000:1500])  # the tail of a frame: undecided yet
    assert (first.frames, first.errors, decoder.format) == ([], [], "auto")
    rest = decoder.feed(binary)
    assert decoder.format == "binary" and [f.frame_index for f in rest.frames] == [0, 1]
    assert rest.skipped_bytes == 500
    decoder = AutoFrameDecoder(layout)
    frames = decoder.feed(format_text_frame(clip.motion[0]).encode()).frames
    assert decoder.format == "text" and len(frames) == 1
    assert detect_format(b"0 Avatar00 1.0") is None
    decoder = AutoFrameDecoder(layout, max_probe_bytes=100)
    result = decoder.feed(bytes(range(128, 256)))
    assert result.skipped_bytes == 128 and "neither a binary frame header" in str(result.errors[0])


def test_make_decoder_rejects_an_unknown_format(layout):
    assert make_decoder("binary", layout).format == "binary"
    with pytest.raises(ConfigError, match="'csv'"):
        make_decoder("csv", layout)


def test_frame_gap_counter():
    gaps = FrameGapCounter()
    missing = [gaps.update(0, i) for i in [10, 11, 14, 15, 15, 3, 4, 0xFFFFFFFF]]
    assert missing == [0, 0, 2, 0, 0, 0, 0, 0]
    assert (gaps.gaps, gaps.missing_frames, gaps.duplicates, gaps.restarts) == (1, 2, 1, 2)
    assert gaps.update(0, 1) == 1  # across the uint32 wrap: 0 is missing
    assert gaps.update(1, 50) == 0  # each avatar has its own counter

