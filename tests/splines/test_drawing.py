"""Templates as pictures: the halo a page draws is the one the classifier scores with."""

import numpy as np
import pytest

from core.splines import (
    BANDS,
    WIDTHS,
    band_points,
    corrected_templates,
    overlay,
    report_templates,
    template_drawing,
)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_drawn_template_is_the_scored_template(width):
    for digit in range(10):
        drawing = template_drawing(digit, width)
        np.testing.assert_array_equal(drawing.halo, corrected_templates(width)[digit])
        n_strokes = sum(len(report_templates()[digit][b]) for b in BANDS)
        assert len(drawing.curves) == len(drawing.controls) == n_strokes


def test_band_points_land_in_their_band_with_y_up():
    points = np.array([[0.0, 0.0], [27.0, 8.0]])  # (x, y): bottom-left, top-right of a band
    for b in range(3):
        rows_cols = band_points(points, b)
        np.testing.assert_array_equal(rows_cols[:, 0], [9 * b + 8, 9 * b])  # y up: row down
        np.testing.assert_array_equal(rows_cols[:, 1], [0, 27])


def test_one_band_drawing_holds_only_that_band():
    whole = template_drawing(2, 1).halo
    for b, band in enumerate(BANDS):
        part = template_drawing(2, 1, bands=(band,)).halo
        np.testing.assert_array_equal(part[9 * b : 9 * b + 9], whole[9 * b : 9 * b + 9])
        assert not np.delete(part, np.s_[9 * b : 9 * b + 9], axis=0).any()


def test_overlay_keeps_the_ink_over_a_faint_template():
    image = np.zeros((28, 28), np.uint8)
    image[5, 5] = 200
    template = np.zeros((27, 28), np.uint8)
    template[5, 5] = template[6, 6] = 255
    out = overlay(template, image)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[5, 5] == 200 and out[6, 6] == 85 and out[27].max() == 0
