import numpy as np
import pytest

from core.errors import ExplorerError
from core.splines.bezier import bezier_points, figure_2_1, halo, linf_distance, rasterize_halo


def _report_loop_distance(points, shape):
    # The annex's procedure, loop for loop: the reference our vectorised field must equal.
    out = np.zeros(shape)
    for i in range(shape[0]):
        for j in range(shape[1]):
            out[i, j] = min(max(abs(x - i), abs(y - j)) for x, y in points)
    return out


@pytest.mark.parametrize(
    "control",
    [[[14, 5], [14, 0]], [[7, 0], [14, 5], [21, 0]], [[7, 0], [14, 5], [14, 0], [21, 5]]],
)
def test_distance_field_equals_the_reports_loop(control):
    points = bezier_points(np.array(control), 200)
    np.testing.assert_array_equal(
        linf_distance(points, (28, 9)), _report_loop_distance(points, (28, 9))
    )


def test_bezier_endpoints_and_degree():
    cubic = np.array([[0, 0], [1, 3], [2, 3], [3, 0]], float)
    pts = bezier_points(cubic, 5)
    np.testing.assert_allclose(pts[0], cubic[0])
    np.testing.assert_allclose(pts[-1], cubic[-1])
    np.testing.assert_allclose(pts[2], [1.5, 2.25])  # P(1/2) = (P0 + 3P1 + 3P2 + P3) / 8
    line = bezier_points(np.array([[0, 0], [4, 2]]), 5)
    np.testing.assert_allclose(line[:, 1], line[:, 0] / 2)


def test_halo_ring_and_band():
    d = np.array([[0.0, 0.4, 0.6, 1.5, 2.5, 3.0]])
    assert halo(d, 2, "ring").tolist() == [[True, True, False, True, True, False]]
    assert halo(d, 2, "band").tolist() == [[True, True, True, True, True, False]]
    with pytest.raises(ExplorerError, match="halo mode"):
        halo(d, 1, "blur")
    with pytest.raises(ExplorerError, match="width"):
        halo(d, -1)


def test_vertical_line_halo_is_a_column_band():
    img = rasterize_halo(np.array([[14, 9], [14, 0]]), 1, (28, 9), "band")
    assert set(np.flatnonzero(img.any(axis=1))) == {13, 14, 15}
    assert img.dtype == np.uint8 and set(np.unique(img)) == {0, 255}


def test_bad_control_points():
    with pytest.raises(ExplorerError, match="2 to 4 points"):
        bezier_points(np.zeros((5, 2)))


def test_figure_2_1_steps_are_consistent():
    control = np.array([[7, 0], [14, 5], [14, 0], [21, 5]])
    steps = figure_2_1(control, 1, (28, 9))
    assert steps["curve"].shape == (1000, 2)
    np.testing.assert_allclose(steps["curve"][[0, -1]], control[[0, -1]])
    assert steps["distance"].shape == (28, 9) and steps["distance"].min() < 0.5
    np.testing.assert_array_equal(steps["pixels"], rasterize_halo(control, 1, (28, 9)))
