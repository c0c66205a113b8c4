"""harnets_core.formats.bvh: parsing the real InHARD clip, parity with the `bvh` package, errors."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harnets_core.formats.bvh import BvhClip, format_bvh, parse_bvh, read_bvh, write_bvh
from harnets_core.errors import BvhParseError

ROOT = Path(__file__).resolve().parents[3]
CLIP = ROOT / "test" / "data" / "P01_R01_0026.48_0028.80.bvh"
TEMPLATE = ROOT / "harnets_core" / "data" / "inhard_skeleton.bvh"
FIRST_MOTION_LINE = 352  # 1-based line of frame 0 in the real clip
N_CHANNELS = 354

RAW = CLIP.read_bytes()
HEADER, _, BODY = RAW.partition(b"Frames: 276\n")
LINES = BODY.split(b"\n")[1:-1]  # drop 'Frame Time' line and the final empty piece
assert len(LINES) == 276


def small_file(n_frames: int = 12) -> bytes:
    """The real hierarchy with the first ``n_frames`` real motion lines."""
    return HEADER + b"Frames: %d\nFrame Time: 0.008401\n" % n_frames + b"\n".join(LINES[:n_frames]) + b"\n"


SMALL = small_file()


@pytest.fixture(scope="module")
def clip() -> BvhClip:
    return read_bvh(CLIP)


def test_real_clip_layout(clip: BvhClip) -> None:
    sk = clip.skeleton
    assert clip.n_frames == 276
    assert clip.motion.shape == (276, N_CHANNELS) and clip.motion.dtype == np.float64
    assert clip.frame_time_s == pytest.approx(0.008401)
    assert clip.fps == pytest.approx(1 / 0.008401)
    assert clip.path == CLIP
    assert len(sk.joint_names) == 59 and sk.joint_names[0] == "Hips"
    assert len(sk.joints) == 59 + 13
    ends = [j.name for j in sk.joints if j.is_end_site]
    assert len(ends) == 13 and "Head_End" in ends and "RightFoot_End" in ends
    assert sk.n_channels == N_CHANNELS and len(sk.channel_names) == N_CHANNELS
    assert sk.channel_names[:4] == ["Hips.Xposition", "Hips.Yposition", "Hips.Zposition", "Hips.Yrotation"]
    hips, rul = sk.joints[0], sk.joints[sk.index("RightUpLeg")]
    assert hips.parent == -1 and hips.channel_start == 0
    assert hips.channels == ("Xposition", "Yposition", "Zposition", "Yrotation", "Xrotation", "Zrotation")
    np.testing.assert_array_equal(hips.offset_cm, [0.0, 93.02, 0.0])
    assert rul.parent == 0 and rul.channel_start == 6
    np.testing.assert_array_equal(rul.offset_cm, [-9.25, -1.59, 0.0])
    head_end = sk.joints[sk.index("Head_End")]
    assert head_end.channels == () and sk.joints[head_end.parent].name == "Head"
    # channel_start is consistent with the channel counts
    starts = [j.channel_start for j in sk.joints if j.channels]
    assert starts == list(range(0, N_CHANNELS, 6))


def test_first_and_last_line_values_match_text(clip: BvhClip) -> None:
    lines = RAW.decode().splitlines()
    assert lines[FIRST_MOTION_LINE - 2].startswith("Frame Time")
    first = [float(t) for t in lines[FIRST_MOTION_LINE - 1].split()]
    last = [float(t) for t in lines[-1].split()]
    assert clip.motion[0].tolist() == first
    assert clip.motion[-1].tolist() == last
    assert clip.motion[0, 0] == -22.167509


def test_parity_with_bvh_package(clip: BvhClip) -> None:
    bvh = pytest.importorskip("bvh")
    mocap = bvh.Bvh(RAW.decode())
    ref = np.array(mocap.frames, dtype=np.float64)
    # bit-identical, exponent tokens such as '-3.9e-05' included
    assert ref.shape == clip.motion.shape
    assert np.array_equal(ref.view(np.int64), clip.motion.view(np.int64))
    assert mocap.get_joints_names() == clip.skeleton.joint_names
    assert mocap.frame_time == clip.frame_time_s
    for name in ("Hips", "LeftHandPinky3"):
        assert list(mocap.joint_offset(name)) == clip.skeleton.joints[clip.skeleton.index(name)].offset_cm.tolist()


def test_crlf_tabs_and_spaces_load_identically(clip: BvhClip) -> None:
    crlf = parse_bvh(RAW.replace(b"\n", b"\r\n"), "crlf.bvh")
    assert np.array_equal(crlf.motion, clip.motion) and crlf.skeleton == clip.skeleton
    head, _, body = RAW.partition(b"Frame Time: 0.008401\n")
    messy = head.replace(b"\t", b"  ") + b"Frame Time:\t0.008401\r\n" + body.replace(b" ", b" \t ").replace(b"\n", b" \r\n")
    m = parse_bvh(messy + b"\n\n  \r\n")
    assert np.array_equal(m.motion, clip.motion) and m.skeleton.signature() == clip.skeleton.signature()


def test_text_input_and_frame_range(clip: BvhClip) -> None:
    assert np.array_equal(parse_bvh(RAW.decode()).motion, clip.motion)
    part = read_bvh(CLIP, start_frame=100, end_frame=130)
    assert np.array_equal(part.motion, clip.motion[100:130])
    assert read_bvh(CLIP, start_frame=270).n_frames == 6
    assert np.array_equal(read_bvh(CLIP, start_frame=np.int64(5), end_frame=np.int32(9)).motion, clip.motion[5:9])


@pytest.mark.parametrize("start,end,match", [
    (276 + 5, None, r"frame range \[281, 276\) is outside the file's frames \[0, 276\) \('Frames: 276' on line 350\)"),
    (300, None, r"frame range \[300, 276\) is outside"),
    (-1, 5, r"frame range \[-1, 5\) is outside"),
    (0, 277, r"frame range \[0, 277\) is outside"),
    (10, 5, r"empty frame range \[10, 5\): start_frame must be below end_frame"),
    (10, 10, r"empty frame range \[10, 10\)"),
    (2.5, None, r"start_frame must be an integer frame index, got 2\.5"),
    (0, 3.0, r"end_frame must be an integer frame index, got 3\.0"),
    ("1", None, r"start_frame must be an integer frame index, got '1'"),
    (True, None, r"start_frame must be an integer frame index, got True"),
])
def test_bad_frame_range_is_a_typed_error(start: object, end: object, match: str) -> None:
    """A frame range outside the file, empty or reversed, or not integers: BvhParseError naming file and range."""
    with pytest.raises(BvhParseError, match=match) as info:
        read_bvh(CLIP, start_frame=start, end_frame=end)
    assert info.value.path == str(CLIP) and str(info.value).startswith(f"{CLIP}: ")
    with pytest.raises(BvhParseError, match=match):
        parse_bvh(RAW, "clip.bvh", start_frame=start, end_frame=end)


def test_utf8_byte_order_mark_is_skipped(tmp_path: Path, clip: BvhClip) -> None:
    bom = tmp_path / "bom.bvh"
    bom.write_bytes(b"\xef\xbb\xbf" + RAW)
    read = read_bvh(bom)
    assert read.skeleton == clip.skeleton and np.array_equal(read.motion, clip.motion)
    assert read.n_frames == 276
    assert np.array_equal(parse_bvh("\ufeff" + RAW.decode()).motion, clip.motion)
    # line numbers are those of the file: the BOM is not a line
    bad = b"\xef\xbb\xbf" + SMALL.replace(b"Yrotation", b"Wrotation", 1)
    _raises(bad, 5, "unknown channel 'Wrotation'")


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_utf16_is_named(bom: bytes) -> None:
    _raises(bom + SMALL.decode().encode("utf-16-le" if bom == b"\xff\xfe" else "utf-16-be"), 1, "UTF-16 text")


def test_cr_only_line_ends_load_identically(clip: BvhClip) -> None:
    """Classic Mac OS files end their lines with CR alone."""
    cr = parse_bvh(RAW.replace(b"\n", b"\r"), "cr.bvh")
    assert cr.skeleton == clip.skeleton and np.array_equal(cr.motion, clip.motion)
    # errors keep their line numbers
    lines = SMALL.split(b"\n")
    toks = lines[FIRST_MOTION_LINE - 1 + 3].split(b" ")
    toks[10] = b"abc"
    lines[FIRST_MOTION_LINE - 1 + 3] = b" ".join(toks)
    _raises(b"\r".join(lines), FIRST_MOTION_LINE + 3, "value 11: 'abc' is not a number")
    _raises(SMALL.replace(b"Yrotation", b"Wrotation", 1).replace(b"\n", b"\r"), 5, "unknown channel")


@pytest.mark.parametrize("frame_time", [b"1e-300", b"0.00001", b"1e300", b"3600"])
def test_absurd_frame_time_is_rejected(frame_time: bytes) -> None:
    data = SMALL.replace(b"Frame Time: 0.008401", b"Frame Time: " + frame_time)
    err = _raises(data, FIRST_MOTION_LINE - 1, r"frame time .* is outside \[0\.0001, 60\] s")
    assert frame_time.decode() in err.message


@pytest.mark.parametrize("frame_time", [b"0.0001", b"0.008401", b"0.0333333", b"60"])
def test_sane_frame_times_are_accepted(frame_time: bytes) -> None:
    clip = parse_bvh(SMALL.replace(b"Frame Time: 0.008401", b"Frame Time: " + frame_time))
    assert clip.frame_time_s == float(frame_time)


def test_duplicate_joint_name_names_its_line() -> None:
    lines = SMALL.split(b"\n")
    first = lines.index(b"\tJOINT RightUpLeg") + 1
    second = lines.index(b"\tJOINT LeftUpLeg") + 1
    data = SMALL.replace(b"\tJOINT LeftUpLeg", b"\tJOINT RightUpLeg")
    _raises(data, second, f"duplicate joint name 'RightUpLeg' \\(joint; the first 'RightUpLeg' is on line {first}\\)")


def test_template_has_the_same_skeleton(clip: BvhClip) -> None:
    tpl = read_bvh(TEMPLATE)
    assert tpl.n_frames == 1
    assert tpl.skeleton.signature() == clip.skeleton.signature()


def test_signature_is_stable_and_layout_sensitive(clip: BvhClip) -> None:
    sig = clip.skeleton.signature()
    assert re.fullmatch(r"[0-9a-f]{16}", sig)
    assert parse_bvh(SMALL).skeleton.signature() == sig
    swapped = SMALL.replace(b"Yrotation Xrotation Zrotation", b"Zrotation Xrotation Yrotation", 1)
    assert parse_bvh(swapped).skeleton.signature() != sig
    renamed = SMALL.replace(b"JOINT Head\n", b"JOINT Head2\n")
    assert parse_bvh(renamed).skeleton.signature() != sig
    # offsets (bone lengths differ between subjects) do not change it
    assert parse_bvh(SMALL.replace(b"OFFSET 0.00000 93.02000", b"OFFSET 0.00000 90.00000")).skeleton.signature() == sig


@pytest.mark.parametrize("decimals", [6, None])
def test_write_round_trip(tmp_path: Path, clip: BvhClip, decimals: int | None) -> None:
    out = write_bvh(tmp_path / "out.bvh", clip, decimals=decimals)
    back = read_bvh(out)
    assert back.skeleton == clip.skeleton
    assert back.frame_time_s == clip.frame_time_s
    if decimals is None:
        assert np.array_equal(back.motion, clip.motion)
    else:
        np.testing.assert_allclose(back.motion, clip.motion, rtol=0, atol=5.1e-7)
    text = format_bvh(clip.skeleton, clip.frame_time_s, clip.motion[:2])
    assert text.count("End Site") == 13 and "Frames: 2\n" in text
    with pytest.raises(ValueError, match="NaN"):
        format_bvh(clip.skeleton, 0.01, np.full((1, N_CHANNELS), np.nan))
    with pytest.raises(ValueError):
        write_bvh(tmp_path / "x.bvh", clip.skeleton)


# ----------------------------------------------------------------------------- errors


def _raises(data: bytes, line: int | None, match: str) -> BvhParseError:
    with pytest.raises(BvhParseError, match=match) as info:
        parse_bvh(data, "bad.bvh")
    err = info.value
    assert err.path == "bad.bvh"
    assert err.line == line, f"line {err.line} != {line}: {err}"
    assert str(err).startswith(f"bad.bvh:{line}:" if line is not None else "bad.bvh:")
    return err


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BvhParseError, match="cannot read"):
        read_bvh(tmp_path / "nope.bvh")


def test_unknown_channel() -> None:
    _raises(SMALL.replace(b"Yrotation", b"Wrotation", 1), 5, "unknown channel 'Wrotation'")


def test_frames_disagreeing_with_data() -> None:
    more = small_file().replace(b"Frames: 12", b"Frames: 10")
    _raises(more, FIRST_MOTION_LINE + 10, "more motion lines than 'Frames: 10'")
    fewer = small_file().replace(b"Frames: 12", b"Frames: 15")
    _raises(fewer, FIRST_MOTION_LINE + 12, "truncated.*only 12 motion lines")


def test_empty_motion() -> None:
    _raises(HEADER + b"Frames: 0\nFrame Time: 0.008401\n", 350, "empty motion")
    _raises(HEADER + b"Frames: 3\nFrame Time: 0.008401\n", FIRST_MOTION_LINE, "no motion lines")


def test_missing_motion_frames_frame_time() -> None:
    _raises(HEADER.replace(b"MOTION\n", b""), 349, "missing 'MOTION'")
    _raises(HEADER, 350, "missing 'Frames:'")            # the line where it was expected
    _raises(HEADER + b"Frames: 12\n", 351, "missing 'Frame Time:'")
    no_time = HEADER + b"Frames: 12\n" + b"\n".join(LINES[:12]) + b"\n"
    _raises(no_time, 351, "expected 'Frame Time: <seconds>'")
    _raises(SMALL.replace(b"Frame Time: 0.008401", b"Frame Time: abc"), 351, "frame time")
    _raises(SMALL.replace(b"Frame Time: 0.008401", b"Frame Time: -1"), 351, "positive")
    _raises(SMALL.replace(b"Frames: 12", b"Frames: twelve"), 350, "expected 'Frames: <count>'")


def test_unbalanced_braces() -> None:
    # drop the '}' closing Hips (line 348): MOTION arrives while a joint is open
    lines = SMALL.split(b"\n")
    assert lines[347] == b"}"
    _raises(b"\n".join(lines[:347] + lines[348:]), 348, "unbalanced braces")
    _raises(b"\n".join(lines[:348] + [b"}"] + lines[348:]), 349, "unbalanced braces: extra")
    cut = SMALL[:SMALL.index(b"\tJOINT LeftUpLeg")]
    _raises(cut, cut.count(b"\n") + 1, "unexpected end of hierarchy: missing '}' closing joint 'Hips'")


def test_bad_hierarchy_values() -> None:
    _raises(SMALL.replace(b"OFFSET 0.00000 93.02000", b"OFFSET 0.00000 x93"), 4, "not a number")
    _raises(SMALL.replace(b"HIERARCHY", b"HIERARCHX"), 1, "expected 'HIERARCHY'")
    _raises(SMALL.replace(b"CHANNELS 6", b"CHANNELS 7", 1), 6, "unknown channel 'JOINT'")


@pytest.mark.parametrize("token,match", [
    (b"nan", "NaN/inf"), (b"-inf", "NaN/inf"), (b"Infinity", "NaN/inf"),
    (b"abc", "not a number"), (b"1.2.3", "not a number"), (b"1_0", "not a number"),
    (b"--1", "not a number"), (b"0x1F", "not a number"), (b"1e999", "overflows"), (b"\x00", "control byte"),
])
def test_bad_value(token: bytes, match: str) -> None:
    lines = SMALL.split(b"\n")
    i = FIRST_MOTION_LINE - 1 + 5
    toks = lines[i].split(b" ")
    toks[7] = token
    lines[i] = b" ".join(toks)
    _raises(b"\n".join(lines), FIRST_MOTION_LINE + 5, match)


# ----------------------------------------------------------------------------- property-based

MOTION_START = len(SMALL) - len(b"\n".join(LINES[:12]) + b"\n")
LAST_SEP = SMALL.rstrip().rfind(b" ")


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(cut=19073)  # cut after the "-" of the last value of a line
@given(cut=st.integers(min_value=0, max_value=LAST_SEP))
def test_truncated_anywhere_raises(cut: int) -> None:
    data = SMALL[:cut]
    with pytest.raises(BvhParseError) as info:
        parse_bvh(data, "cut.bvh")
    if cut > MOTION_START:
        kept = data.rstrip()
        last_line = kept.count(b"\n") + 1
        tokens = kept.split(b"\n")[-1].split()
        # a full line of numbers: the error is the missing frames after it; a line cut inside
        # its last number ("-" of "-0.5") is an error on that line
        complete = len(tokens) == N_CHANNELS and _is_number(tokens[-1])
        assert info.value.line == (last_line + 1 if complete else last_line), str(info.value)


@settings(max_examples=60, deadline=None)
@given(frame=st.integers(0, 11), col=st.integers(0, N_CHANNELS - 1), add=st.booleans())
def test_token_dropped_or_added(frame: int, col: int, add: bool) -> None:
    lines = SMALL.split(b"\n")
    i = FIRST_MOTION_LINE - 1 + frame
    toks = lines[i].split()
    if add:
        toks.insert(col, b"1.5")
    else:
        del toks[col]
    lines[i] = b" ".join(toks)
    found = N_CHANNELS + (1 if add else -1)
    _raises(b"\n".join(lines), FIRST_MOTION_LINE + frame, f"expected {N_CHANNELS} values, found {found}")


_GARBAGE = st.one_of(
    st.sampled_from([b"x", b"1.0.0", b"-", b".", b"+-3", b"1e", b"e5", b"3,5", b"1-2", b"0..1"]),
    st.text(alphabet="abcdfghxyz#%,", min_size=1, max_size=6).map(str.encode),
)


@settings(max_examples=80, deadline=None)
@given(frame=st.integers(0, 11), col=st.integers(0, N_CHANNELS - 1), bad=_GARBAGE, nonfinite=st.booleans())
def test_non_numeric_or_nan_injected(frame: int, col: int, bad: bytes, nonfinite: bool) -> None:
    lines = SMALL.split(b"\n")
    i = FIRST_MOTION_LINE - 1 + frame
    toks = lines[i].split()
    toks[col] = b"-nan" if nonfinite and col % 2 else (b"inf" if nonfinite else bad)
    lines[i] = b" ".join(toks)
    err = _raises(b"\n".join(lines), FIRST_MOTION_LINE + frame, "NaN/inf" if nonfinite else "not a number")
    assert f"value {col + 1}" in err.message


_NUMBER_TEXT = st.one_of(
    st.floats(-1e4, 1e4, allow_nan=False).flatmap(
        lambda v: st.sampled_from([repr(v), f"{v:.6f}", f"{v:.1f}", f"{v:.3f}", f"{v:g}", f"{v:.7e}", f"{v:+.2f}"])),
    st.sampled_from(["0", "5.", ".5", "-.25", "+7", "12345678.1234567", "123456789.5", "-0.0", "1e-06", "0.000001"]),
)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(_NUMBER_TEXT, min_size=12 * 6, max_size=12 * 6))
def test_any_number_spelling_matches_python_float(values: list[str]) -> None:
    """The vectorized fast path and the slow path agree with float() bit for bit."""
    text = ("HIERARCHY\nROOT A\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition "
            "Zrotation Xrotation Yrotation\n End Site\n {\n  OFFSET 0 1 0\n }\n}\nMOTION\n"
            "Frames: 12\nFrame Time: 0.01\n")
    text += "\n".join(" ".join(values[k:k + 6]) for k in range(0, len(values), 6))
    clip = parse_bvh(text)
    expected = np.array([float(v) for v in values]).reshape(12, 6)
    assert np.array_equal(clip.motion.view(np.int64), expected.view(np.int64))


_SIX_CHANNELS = ("HIERARCHY\nROOT A\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition "
                 "Zrotation Xrotation Yrotation\n End Site\n {\n  OFFSET 0 1 0\n }\n}\nMOTION\n")


def _random_spellings(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` decimal spellings of the kinds BVH writers use, each compared with float() below:
    6 decimals (mocap exports) over 15 orders of magnitude, 0 to 8 decimals, shortest repr,
    integers, exponents, signed and negative zeros, and the fast path's limits (8 integer
    digits, 7 decimals) and just beyond them (the exact slow path)."""
    magnitude = 10.0 ** rng.uniform(-7, 9, n) * rng.choice([-1.0, 1.0], n)
    kind = rng.integers(0, 10, n)
    out = []
    for v, k in zip(magnitude.tolist(), kind.tolist()):
        if k <= 3:
            out.append(f"{v:.6f}")
        elif k == 4:
            out.append(f"{v:.{int(rng.integers(0, 9))}f}")
        elif k == 5:
            out.append(repr(v))
        elif k == 6:
            out.append(str(int(v)))
        elif k == 7:
            out.append(f"{v:.{int(rng.integers(0, 8))}e}".replace("e+0", "e").replace("e-0", "e-"))
        elif k == 8:
            out.append(str(rng.choice(["-0", "-0.0", "-0.000000", "+0.000000", "0", "0.0", "-0.", "+.5", ".5",
                                       "5.", "12345678.1234567", "-99999999.9999999", "123456789.5",
                                       "-1.12345678", "-3.9e-05", "1e-06", "1E+2", "+7"])))
        else:
            out.append(f"{v:+.6f}")
    return out


@pytest.mark.parametrize("threaded", [False, True])
def test_random_spellings_are_bit_identical_to_python_float(monkeypatch: pytest.MonkeyPatch, threaded: bool) -> None:
    """The vectorized reader, serial and on threads, gives float(token) bit for bit."""
    import harnets_core.formats.bvh as bvh_module
    if threaded:   # 4 lines a chunk: hundreds of chunks, parsed on two threads
        monkeypatch.setattr(bvh_module, "_CHUNK_VALUES", 24)
        monkeypatch.setattr(bvh_module, "_PARSE_THREADS", 2)
    n_lines = 3000
    tokens = _random_spellings(np.random.default_rng(7), n_lines * 6)
    lines = [" ".join(tokens[i:i + 6]) for i in range(0, len(tokens), 6)]
    clip = parse_bvh(_SIX_CHANNELS + f"Frames: {n_lines}\nFrame Time: 0.008333\n" + "\n".join(lines) + "\n")
    expected = np.array([float(t) for t in tokens]).reshape(n_lines, 6)
    assert np.array_equal(clip.motion.view(np.int64), expected.view(np.int64))
    assert np.signbit(clip.motion).sum() == np.signbit(expected).sum()
    # the same on a slice
    part = parse_bvh(_SIX_CHANNELS + f"Frames: {n_lines}\nFrame Time: 0.008333\n" + "\n".join(lines),
                     start_frame=1001, end_frame=2999)
    assert np.array_equal(part.motion.view(np.int64), expected[1001:2999].view(np.int64))


def test_real_clip_is_bit_identical_to_python_float(clip: BvhClip) -> None:
    """Every value of the real clip (Axis Neuron's style, exponents included) equals float(token)."""
    expected = np.array([[float(t) for t in line.split()] for line in LINES])
    assert np.array_equal(clip.motion.view(np.int64), expected.view(np.int64))
    # and in six-decimal style, as mocap exports write it
    six = b"\n".join(b" ".join(b"%.6f" % float(t) for t in line.split()) for line in LINES)
    tokens = [line.split() for line in six.split(b"\n")]
    parsed = parse_bvh(HEADER + b"Frames: 276\nFrame Time: 0.008401\n" + six + b"\n")
    assert np.array_equal(parsed.motion.view(np.int64), np.array([[float(t) for t in row] for row in tokens]).view(np.int64))


def test_threaded_parse_raises_the_first_error_in_file_order(monkeypatch: pytest.MonkeyPatch) -> None:
    import harnets_core.formats.bvh as bvh_module
    monkeypatch.setattr(bvh_module, "_CHUNK_VALUES", N_CHANNELS)      # one line a chunk
    monkeypatch.setattr(bvh_module, "_PARSE_THREADS", 2)
    lines = [LINES[i % len(LINES)] for i in range(400)]
    lines[390] = lines[390].rsplit(b" ", 1)[0]                         # a missing value, late
    toks = lines[120].split(b" ")
    toks[3] = b"x"
    lines[120] = b" ".join(toks)                                       # a bad value, earlier
    data = HEADER + b"Frames: 400\nFrame Time: 0.008401\n" + b"\n".join(lines) + b"\n"
    _raises(data, FIRST_MOTION_LINE + 120, "value 4: 'x' is not a number")
    del lines[120]
    lines.insert(120, LINES[0])
    data = HEADER + b"Frames: 400\nFrame Time: 0.008401\n" + b"\n".join(lines) + b"\n"
    _raises(data, FIRST_MOTION_LINE + 390, f"expected {N_CHANNELS} values, found {N_CHANNELS - 1}")
    good = parse_bvh(HEADER + b"Frames: 276\nFrame Time: 0.008401\n" + b"\n".join(LINES))   # no final newline
    assert np.array_equal(good.motion, read_bvh(CLIP).motion)
