"""Spline-halo scoring against the report's loop-based procedure, side by side.

    .venv/bin/python bench/bench_splines.py

The reference is the annex's procedure written loop for loop (a pure-Python halo over
28×9 pixels × 1000 curve samples for every stroke, redrawn for every image, then the
pixel differences): it is timed on a few images and scaled to the 10,000 test images.
"""

from __future__ import annotations

import time

import numpy as np

from core import load_mnist
from core.splines.bezier import bezier_points, rasterize_halo
from core.splines.report import BAND_GRID, report_templates, scores


def _loop_halo(points, width, ring):
    # The annex's Halo_* functions, as loops (the reference being measured).
    curve = bezier_points(np.array(points), 1000)
    pixels = np.zeros(BAND_GRID)
    for i in range(BAND_GRID[0]):
        for j in range(BAND_GRID[1]):
            d = round(min(max(abs(x - i), abs(y - j)) for x, y in curve))
            if (d == width if ring else d <= width) or d == 0:
                pixels[i, j] = 255
    return pixels


def _loop_scores(image, width):
    strip = image[:, 0:9].astype(float)
    res = []
    for digit in range(10):
        strokes = [s for s in report_templates()[digit]["bottom"] if not s.unused_in_annex]
        diffs = [np.abs(_loop_halo(s.points, width, len(s.points) > 2) - strip) for s in strokes]
        res.append(float(np.min(diffs, axis=0).sum()))
    return res


def main() -> None:
    images, _ = load_mnist("test")
    control = np.array([[7, 0], [14, 5], [14, 0], [21, 5]])
    rasterize_halo(control, 1, BAND_GRID)
    start = time.perf_counter()
    for _ in range(200):
        rasterize_halo(control, 1, BAND_GRID)
    one_template = (time.perf_counter() - start) / 200
    ours = {}
    for mode in ("faithful", "corrected"):
        scores(images[:10], 1, mode)
        start = time.perf_counter()
        ours[mode] = scores(images, 1, mode)
        ours[mode] = (ours[mode], time.perf_counter() - start)
    sample = 3
    start = time.perf_counter()
    ref = [_loop_scores(im, 1) for im in images[:sample]]
    ref_seconds = (time.perf_counter() - start) * len(images) / sample
    np.testing.assert_allclose(ref, ours["faithful"][0][:sample])  # same numbers
    print(f"rasterising one cubic template (28×9, 1000 samples): {1000 * one_template:.3f} ms\n")
    print("| scoring the 10,000 test images, width 1 | ours (s) | the report's loops (s) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for mode, (_, seconds) in ours.items():
        print(
            f"| {mode} | {seconds:.3f} | {ref_seconds:.0f} (timed on {sample} images, "
            f"scaled) | {ref_seconds / seconds:,.0f}× |"
        )


if __name__ == "__main__":
    main()
