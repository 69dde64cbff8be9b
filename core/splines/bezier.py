"""Bézier curves and their L∞ halos on a pixel grid (chapter 2 of the report).

A curve of degree 1, 2 or 3 is given by 2, 3 or 4 control points
``P(t) = Σ_k C(n, k) t^k (1-t)^(n-k) P_k``. It is sampled at ``samples`` values of t in
[0, 1] (the report used 1000). The L∞ (Chebyshev) distance from a pixel centre
``(x, y)`` to the curve is ``min_t max(|x - P_x(t)|, |y - P_y(t)|)``; a halo keeps the
pixels whose rounded distance is the width (the report's first definition, a ring, plus
the curve itself) or at most the width (a filled band).

Coordinates follow the report: ``x`` is the first index of the grid, ``y`` the second.
"""

from __future__ import annotations

from math import comb

import numpy as np

from core.errors import ExplorerError

REPORT_SAMPLES = 1000
HALO_MODES = ("ring", "band")


def bezier_points(control: np.ndarray, samples: int = REPORT_SAMPLES) -> np.ndarray:
    """Points of the curve: ndarray of shape (samples, 2) for control of shape (n, 2)."""
    control = np.asarray(control, np.float64)
    if control.ndim != 2 or control.shape[1] != 2 or not 2 <= len(control) <= 4:
        raise ExplorerError(
            f"control points: expected 2 to 4 points (x, y), found shape {control.shape}"
        )
    degree = len(control) - 1
    t = np.linspace(0.0, 1.0, samples)[:, None]
    k = np.arange(degree + 1)
    bernstein = np.array([comb(degree, i) for i in k]) * t**k * (1 - t) ** (degree - k)
    return bernstein @ control


def linf_distance(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """L∞ distance from every grid point ``(x, y)`` of ``shape`` to the nearest of ``points``.

    points : ndarray of shape (T, 2). Returns float64 of ``shape``, by broadcasting over
    the whole grid at once (no loop over pixels or samples).
    """
    xs = np.arange(shape[0], dtype=np.float64)[:, None, None]  # (X, 1, 1)
    ys = np.arange(shape[1], dtype=np.float64)[None, :, None]  # (1, Y, 1)
    dx = np.abs(xs - points[:, 0])  # (X, 1, T)
    dy = np.abs(ys - points[:, 1])  # (1, Y, T)
    return np.maximum(dx, dy).min(axis=2)


def halo(distance: np.ndarray, width: int, mode: str = "ring") -> np.ndarray:
    """Boolean mask of the halo of a distance field (distances rounded half to even).

    ``ring``: rounded distance equal to ``width``, plus the curve (distance 0);
    ``band``: rounded distance at most ``width``.
    """
    if mode not in HALO_MODES:
        raise ExplorerError(f"halo mode: expected one of {HALO_MODES}, found {mode!r}")
    if width < 0:
        raise ExplorerError(f"halo width: expected 0 or more, found {width}")
    rounded = np.round(distance)
    if mode == "band":
        return rounded <= width
    return (rounded == width) | (rounded == 0)


def rasterize_halo(
    control: np.ndarray,
    width: int,
    shape: tuple[int, int],
    mode: str = "ring",
    samples: int = REPORT_SAMPLES,
) -> np.ndarray:
    """The halo of one curve as a uint8 image of ``shape`` (255 on the halo, 0 elsewhere)."""
    field = linf_distance(bezier_points(control, samples), shape)
    return np.where(halo(field, width, mode), np.uint8(255), np.uint8(0))


def figure_2_1(
    control: np.ndarray, width: int, shape: tuple[int, int], mode: str = "ring"
) -> dict[str, np.ndarray]:
    """The three steps of the report's figure 2.1, as arrays for a plot.

    ``control`` (n, 2) and ``curve`` (samples, 2): step 1, the spline and its control
    points; ``distance`` (shape): step 2, the L∞ distance field the halo is cut from;
    ``pixels`` (shape, uint8): step 3, the resulting pixels.
    """
    curve = bezier_points(control)
    distance = linf_distance(curve, shape)
    pixels = np.where(halo(distance, width, mode), np.uint8(255), np.uint8(0))
    return {"control": np.asarray(control, float), "curve": curve, "distance": distance,
            "pixels": pixels}  # fmt: skip
