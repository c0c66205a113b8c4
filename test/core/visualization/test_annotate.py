"""harnets_core.visualization.annotate.draw_label: banner, text and confidence bar land where expected."""
from __future__ import annotations

import numpy as np

from harnets_core.visualization.annotate import BANNER_RGB, banner_height, draw_label


def _gray(h: int = 240, w: int = 320) -> np.ndarray:
    return np.full((h, w, 3), 128, np.uint8)


def test_banner_text_and_bar_are_drawn_where_expected():
    frame = _gray()
    out = draw_label(frame, "Assemble system 0.75", 0.75, bar_rgb=(255, 0, 0))
    assert out is frame  # in place
    bh = banner_height(240)
    assert bh == 24
    banner = frame[:bh]
    # the banner is dark, with white text pixels on its left part only
    assert ((banner == BANNER_RGB).all(axis=2)).mean() > 0.7
    text = banner.min(axis=2) > 150  # light (anti-aliased white) text pixels
    assert text.sum() > 50
    cols = np.flatnonzero(text.any(axis=0))
    assert cols.min() >= 4 and cols.max() < 319
    # the bar (rows bh .. bh + bh // 6): red from x=0 to round(0.75 * 319), under the banner
    bar_rows = frame[bh: bh + bh // 6 + 1]
    red = (bar_rows == (255, 0, 0)).all(axis=2)
    assert red[:, : round(0.75 * 319) + 1].all() and not red[:, round(0.75 * 319) + 1:].any()
    # below the bar: untouched
    assert (frame[bh + bh // 6 + 1:] == 128).all()


def test_without_confidence_no_bar_and_longer_text_reaches_further():
    short, long = _gray(), _gray()
    draw_label(short, "Pick", None)
    draw_label(long, "Pick up the left-hand subsystem", None)
    bh = banner_height(240)
    assert (short[bh + 1:] == 128).all()  # no bar
    extent = [np.flatnonzero((f[:bh].min(axis=2) > 150).any(axis=0)).max() for f in (short, long)]
    assert extent[1] > extent[0] + 100


def test_confidence_is_clamped_to_the_width():
    frame = _gray(100, 64)
    draw_label(frame, "x", 1.7, bar_rgb=(0, 0, 255))
    bh = banner_height(100)
    assert (frame[bh + 1] == (0, 0, 255)).all()


def test_each_line_gets_its_own_row_and_the_bar_goes_under_them():
    """The activity and its forecast: two rows of text, the banner twice as high, the bar under it."""
    one, two = _gray(), _gray()
    draw_label(one, "Assemble system 0.75", 0.75, bar_rgb=(255, 0, 0))
    draw_label(two, "Assemble system 0.75\nnext: Pick 0.62", 0.75, bar_rgb=(255, 0, 0))
    bh = banner_height(240)
    assert banner_height(240, 2) == 2 * bh
    np.testing.assert_array_equal(two[:bh], one[:bh])  # the first row is the one-line label
    second = two[bh: 2 * bh].min(axis=2) > 150  # text pixels in the second row
    assert second.sum() > 50 and ((two[bh: 2 * bh] == BANNER_RGB).all(axis=2)).mean() > 0.7
    red = (two[2 * bh: 2 * bh + bh // 6 + 1] == (255, 0, 0)).all(axis=2)
    assert red[:, : round(0.75 * 319) + 1].all() and not red[:, round(0.75 * 319) + 1:].any()
    assert (two[2 * bh + bh // 6 + 1:] == 128).all()


def test_a_long_line_is_drawn_smaller_to_fit_the_width():
    frame = _gray()
    draw_label(frame, "Assemble system 0.87\nnext: Take component 0.62 in ~3.1 s (p10-p90 1.2-5.0 s)", 0.87)
    rows = frame[: banner_height(240, 2)].min(axis=2) > 150  # text pixels
    cols = np.flatnonzero(rows.any(axis=0))
    assert cols.min() >= 4 and cols.max() <= 320 - 4  # the whole forecast line is on the image
