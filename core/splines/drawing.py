"""Templates as pictures: strokes, control points and halos in image coordinates.

The report draws a band's strokes with x across and y up on a 28 × 9 grid; a template is
three bands stacked, top band first, 27 rows in all. These functions put everything in
(row, column) image coordinates, ready to be plotted over a digit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.splines.bezier import bezier_points
from core.splines.learned import hard_templates
from core.splines.report import BANDS, band_to_image_rows, report_templates, stroke_image

SAMPLES = 200  # points per drawn curve


@dataclass(frozen=True)
class Drawing:
    """What a plot of templates shows: the halo and, per stroke, its curve and controls.

    halo : uint8 (27, 28), 255 on the halo
    curves : one (SAMPLES, 2) array of (row, column) per stroke
    controls : one (n_points, 2) array of (row, column) per stroke
    """

    halo: np.ndarray
    curves: list[np.ndarray]
    controls: list[np.ndarray]


def band_points(points: np.ndarray, band: int) -> np.ndarray:
    """Band coordinates (x across, y up) → (row, column) in the 27-row template."""
    points = np.asarray(points, np.float64)
    return np.stack([9 * band + 8 - points[:, 1], points[:, 0]], axis=1)


def template_drawing(digit: int, width: int, bands: tuple[str, ...] = BANDS) -> Drawing:
    """A report template of ``digit`` (the chosen bands of it) at a halo width."""
    halo = np.zeros((27, 28), np.uint8)
    curves, controls = [], []
    for name in bands:
        b = BANDS.index(name)
        for stroke in report_templates()[digit][name]:
            rows = band_to_image_rows(stroke_image(stroke, width))
            halo[9 * b : 9 * b + 9] = np.maximum(halo[9 * b : 9 * b + 9], rows)
            points = np.array(stroke.points, np.float64)
            curves.append(band_points(bezier_points(points, SAMPLES), b))
            controls.append(band_points(points, b))
    return Drawing(halo, curves, controls)


def learned_drawing(control: np.ndarray, width: int) -> Drawing:
    """One learned (or deformed) template, control (strokes, degree + 1, 2) in (row,
    column) pixels, as a halo (28, 28) with its curves and control points."""
    control = np.asarray(control, np.float64)
    curves = [bezier_points(stroke, SAMPLES) for stroke in control]
    return Drawing(hard_templates(control[None], width)[0], curves, list(control))


def overlay(template: np.ndarray, image: np.ndarray) -> np.ndarray:
    """A template (27 or 28 rows, 0/255) drawn faintly under a digit's ink: uint8 (28, 28)."""
    template = np.asarray(template, np.uint8)
    if template.shape[0] < image.shape[0]:
        template = np.pad(template, ((0, image.shape[0] - template.shape[0]), (0, 0)))
    return np.maximum(template // 3, np.asarray(image, np.uint8))
