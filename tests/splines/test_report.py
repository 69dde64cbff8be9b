"""The report's spline-halo classifier: its 14 %, and the corrected reading."""

import numpy as np
import pytest

from core.errors import ExplorerError
from core.splines.bezier import rasterize_halo
from core.splines.report import (
    BAND_GRID,
    corrected_templates,
    diagnosis,
    predict,
    report_templates,
    scores,
    stroke_image,
)


def test_templates_are_the_annexs():
    t = report_templates()
    assert sorted(t) == list(range(10))
    assert t[3]["middle"][0].points == ((19, 9), (14, 5), (14, 5), (21, 0))
    assert t[5]["middle"][0].fixed_width == 1
    assert t[9]["bottom"][1].unused_in_annex
    assert sum(len(s) for bands in t.values() for s in bands.values()) == 42


def test_lines_are_filled_and_curves_are_rings():
    line = report_templates()[1]["middle"][0]
    np.testing.assert_array_equal(
        stroke_image(line, 2), rasterize_halo(np.array(line.points), 2, BAND_GRID, "band")
    )
    curve = report_templates()[0]["top"][0]
    np.testing.assert_array_equal(
        stroke_image(curve, 2), rasterize_halo(np.array(curve.points), 2, BAND_GRID, "ring")
    )


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_faithful_mode_gives_the_reports_14_percent(mnist_train, width):
    # The report's "first 100 training images": rows 1..100 (its CSV lost row 0).
    images, labels = mnist_train[0][1:101], mnist_train[1][1:101]
    assert (predict(images, width, "faithful") == labels).sum() == 14


def test_faithful_mode_scores_only_the_leftmost_strip(mnist_test):
    images = mnist_test[0][:50].copy()
    before = scores(images, 1, "faithful")
    images[:, :, 9:] = 0  # everything but the leftmost 9 columns
    np.testing.assert_array_equal(scores(images, 1, "faithful"), before)


def test_corrected_scores_equal_the_plain_sum_of_differences(mnist_test):
    images = mnist_test[0][:20]
    t = corrected_templates(2).astype(float)
    expected = np.abs(images[:, None, :27].astype(float) - t[None]).sum(axis=(2, 3))
    np.testing.assert_allclose(scores(images, 2, "corrected"), expected)


def test_corrected_beats_faithful_on_the_test_set(mnist_test):
    images, labels = mnist_test
    corrected = (predict(images, 0, "corrected") == labels).mean()
    faithful = (predict(images[:2000], 0, "faithful") == labels[:2000]).mean()
    assert corrected > faithful + 0.1


def test_bad_input():
    with pytest.raises(ExplorerError, match="mode"):
        scores(np.zeros((1, 28, 28)), 1, "magic")
    with pytest.raises(ExplorerError, match=r"shape \(N, 28, 28\)"):
        scores(np.zeros((1, 28, 27)), 1)


def test_diagnosis_backs_the_readme(mnist_test):
    images, labels = mnist_test
    table = diagnosis(images, labels, 1)
    assert table["predicted_share"].sum() == pytest.approx(1.0)
    assert table["on_pixels"].idxmin() == 1 == table["predicted_share"].idxmax()
    assert table.loc[7, "hit_own"] < table.loc[7, "hit_other"]  # the 7 misses its own ink
    assert table.loc[7, "recall"] == 0
