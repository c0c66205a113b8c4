"""harnets_core.datasets.windows: exact frame indices on tiny arrays."""
from __future__ import annotations

import numpy as np
import pytest

from harnets_core.errors import ConfigError
from harnets_core.datasets.windows import (
    WindowConfig,
    convert_frame_index,
    convert_span,
    frame_labels,
    segment_windows,
    session_segment_windows,
    stack_windows,
    window_labels,
    window_starts,
)


def _ramp(n: int, d: int = 2) -> np.ndarray:
    """(n, d) with row f = [f, 100 + f, ...] so every value names its frame."""
    return np.arange(n)[:, None] + 100.0 * np.arange(d)[None, :]


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="length"):
        WindowConfig(0, 1)
    with pytest.raises(ConfigError, match="short_policy"):
        WindowConfig(4, 2, "wrap")
    cfg = WindowConfig(4, 2, "drop")
    assert WindowConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown key"):
        WindowConfig.from_dict({"length": 4, "hop": 2, "stride": 1})


def test_window_starts_exact() -> None:
    assert window_starts(10, WindowConfig(4, 3)).tolist() == [0, 3, 6]
    assert window_starts(9, WindowConfig(4, 3)).tolist() == [0, 3]  # 6..9 would overrun
    assert window_starts(4, WindowConfig(4, 1)).tolist() == [0]
    assert window_starts(3, WindowConfig(4, 1, "pad")).tolist() == [0]
    assert window_starts(3, WindowConfig(4, 1, "drop")).tolist() == []
    assert window_starts(0, WindowConfig(4, 1)).tolist() == []


def test_stack_windows_exact_and_copied() -> None:
    feats = _ramp(10)
    x = stack_windows(feats, window_starts(10, WindowConfig(4, 3)), 4)
    assert x.shape == (3, 4, 2)
    assert x[:, :, 0].tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert x[1, :, 1].tolist() == [103, 104, 105, 106]
    x[0, 0, 0] = -1
    assert feats[0, 0] == 0, "windows are a copy, not a view"
    assert x.flags.c_contiguous
    padded = stack_windows(_ramp(3), [0], 5)
    assert padded[0, :, 0].tolist() == [0, 1, 2, 2, 2]
    assert stack_windows(feats, [], 4).shape == (0, 4, 2)
    with pytest.raises(ConfigError, match="starts must lie in 0..6"):
        stack_windows(feats, [7], 4)


def test_segment_windows_stay_inside_segment() -> None:
    feats = _ramp(30)
    b = segment_windows(feats, 5, 14, label=3, cfg=WindowConfig(4, 3))  # 10 frames
    assert b.starts.tolist() == [5, 8, 11]
    assert b.x[:, :, 0].tolist() == [[5, 6, 7, 8], [8, 9, 10, 11], [11, 12, 13, 14]]
    assert b.y.tolist() == [3, 3, 3] and b.n_dropped == 0
    short = segment_windows(feats, 20, 21, label=1, cfg=WindowConfig(4, 3, "pad"))
    assert short.x[0, :, 0].tolist() == [20, 21, 21, 21]  # edge-padded, not frames 22, 23
    dropped = segment_windows(feats, 20, 21, label=1, cfg=WindowConfig(4, 3, "drop"))
    assert dropped.x.shape == (0, 4, 2) and dropped.n_dropped == 1


def test_session_segment_windows_counts_drops() -> None:
    feats = _ramp(20)
    b = session_segment_windows(feats, [(0, 7, 1), (8, 9, 2), (10, 19, 5)], WindowConfig(4, 4, "drop"))
    assert b.starts.tolist() == [0, 4, 10, 14]
    assert b.y.tolist() == [1, 1, 5, 5] and b.n_dropped == 1


def test_no_window_crosses_sessions() -> None:
    """Windows are cut per session array: the last window of A never reaches into B."""
    cfg = WindowConfig(4, 2)
    a, b = _ramp(7, 1), 1000 + _ramp(6, 1)
    wins = [stack_windows(s, window_starts(len(s), cfg), cfg.length) for s in (a, b)]
    for w, lo, hi in zip(wins, (0, 1000), (6, 1005)):
        assert ((w >= lo) & (w <= hi)).all()
    assert [w.shape[0] for w in wins] == [2, 2]


def test_labels_by_last_frame() -> None:
    labels = frame_labels(10, [(2, 4, 7), (5, 8, 3)], background=0)
    assert labels.tolist() == [0, 0, 7, 7, 7, 3, 3, 3, 3, 0]
    starts = window_starts(10, WindowConfig(3, 2))  # 0, 2, 4, 6
    assert window_labels(labels, starts, 3).tolist() == [7, 7, 3, 3]  # frames 2, 4, 6, 8
    assert window_labels(labels[:2], np.array([0]), 3).tolist() == [0]  # padded: clipped


def test_rate_conversions() -> None:
    bvh_hz = 1 / 0.008401
    # InHARD's example: BVH frames 3151..3428 = 26.47..28.80 s
    assert convert_frame_index(3151, bvh_hz, 30.0) == 794
    assert convert_span(3151, 3428, bvh_hz, 30.0) == (795, 863)
    assert convert_frame_index(120, 120.0, 30.0) == 30
    assert convert_span(120, 123, 120.0, 30.0) == (30, 30)
    assert convert_span(121, 122, 120.0, 30.0) == (30, 30)  # no 30 Hz instant inside
    assert convert_span(0, 119, 120.0, 30.0) == (0, 29)
