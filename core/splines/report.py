"""The report's hand-made classifier: Bézier templates per digit and band, as halos.

Two readings of the annex:

- **faithful**: the procedure exactly as written. The image is cut into three column
  strips of 28×9 (``X[i, j]``, ``X[i, j+9]``, ``X[i, j+18]``: the strip the text calls
  the bottom band is the leftmost one), several strokes of a band are combined by a
  pixelwise minimum of their differences, and because ``distance1[i, j]`` is assigned
  three times in a row only the last band (the bottom strokes against the leftmost
  strip) is scored. Lines are drawn as filled bands (distance ≤ width) and curves as
  rings (distance == width, plus the curve), as the annex's three functions do.
- **corrected**: what the text describes. Three horizontal bands of 9 rows (top,
  middle, bottom), each template drawn in its band (x across, y up), the strokes of a
  band united, and the differences of all three bands summed.

Either way an image gets the digit whose templates differ least from it, pixel by
pixel (the first digit on a tie, as ``res.index(min(res))``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import ExplorerError
from core.splines.bezier import rasterize_halo

BANDS = ("top", "middle", "bottom")
BAND_GRID = (28, 9)  # (x, y) grid of one band, as the annex draws it
MODES = ("faithful", "corrected")
_TEMPLATES = Path(__file__).parent / "templates" / "report.json"


@dataclass(frozen=True)
class Stroke:
    """One Bézier stroke of a template: 2, 3 or 4 control points (x, y) in its band."""

    points: tuple[tuple[float, float], ...]
    fixed_width: int | None = None  # the annex's one stroke drawn at width 1 regardless
    unused_in_annex: bool = False  # defined, but not used by the annex's loop


@functools.cache
def report_templates() -> dict[int, dict[str, tuple[Stroke, ...]]]:
    """The annex's templates: ``{digit: {band: strokes}}``, read from a data file."""
    raw = json.loads(_TEMPLATES.read_text())["digits"]
    return {
        int(digit): {
            band: tuple(
                Stroke(
                    tuple(tuple(p) for p in s["points"]),
                    s.get("fixed_width"),
                    s.get("unused_in_annex", False),
                )
                for s in strokes
            )
            for band, strokes in bands.items()
        }
        for digit, bands in raw.items()
    }


def _stroke_mode(stroke: Stroke) -> str:
    # Halo_Lineaire keeps distance <= d; Halo_Quadratique and Halo_Cubique keep == d.
    return "band" if len(stroke.points) == 2 else "ring"


def stroke_image(stroke: Stroke, width: int, mode: str | None = None) -> np.ndarray:
    """One stroke's halo on the band grid, indexed ``[x, y]``: uint8 of shape (28, 9)."""
    w = stroke.fixed_width if stroke.fixed_width is not None else width
    return rasterize_halo(np.array(stroke.points), w, BAND_GRID, mode or _stroke_mode(stroke))


def _faithful_templates(width: int) -> np.ndarray:
    """(10, n_max, 28, 9) bottom-band stroke images, padded with NaN strokes."""
    per_digit = [
        [stroke_image(s, width) for s in report_templates()[d]["bottom"] if not s.unused_in_annex]
        for d in range(10)
    ]
    n_max = max(len(p) for p in per_digit)
    out = np.full((10, n_max, *BAND_GRID), np.nan)
    for d, strokes in enumerate(per_digit):
        out[d, : len(strokes)] = strokes
    return out


def band_to_image_rows(stroke_img: np.ndarray) -> np.ndarray:
    """A band drawn ``[x, y]`` with y up, as 9 image rows × 28 columns (row 0 on top)."""
    return stroke_img.T[::-1]


@functools.cache
def corrected_templates(width: int, mode: str | None = None) -> np.ndarray:
    """(10, 27, 28) uint8 template images: the three bands stacked, strokes united."""
    out = np.zeros((10, 27, 28), np.uint8)
    for d in range(10):
        for b, band in enumerate(BANDS):
            for stroke in report_templates()[d][band]:
                img = band_to_image_rows(stroke_image(stroke, width, mode))
                out[d, 9 * b : 9 * b + 9] = np.maximum(out[d, 9 * b : 9 * b + 9], img)
    return out


def scores(images: np.ndarray, width: int, mode: str = "corrected") -> np.ndarray:
    """Template distance of every image to every digit: float64 (N, 10); lower is closer.

    images : ndarray of shape (N, 28, 28), pixels 0..255
    """
    if mode not in MODES:
        raise ExplorerError(f"mode: expected one of {MODES}, found {mode!r}")
    x = np.asarray(images, np.float32)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ExplorerError(f"images: expected shape (N, 28, 28), found {x.shape}")
    if mode == "corrected":
        t = corrected_templates(width).astype(np.float32)  # (10, 27, 28)
        flat = x[:, :27].reshape(len(x), -1)
        # Σ|t - x| for t in {0, 255}: Σx over t == 0 plus Σ(255 - x) over t == 255.
        on = (t.reshape(10, -1) > 0).astype(np.float32)
        return (flat.sum(1)[:, None] + (255.0 - 2.0 * flat) @ on.T).astype(np.float64)
    strip = x[:, :, 0:9]  # the leftmost 28×9 strip: the annex's part3
    t = _faithful_templates(width)  # (10, n, 28, 9)
    diff = np.abs(t[None] - strip[:, None, None])  # (N, 10, n, 28, 9)
    return np.nanmin(diff, axis=2).sum(axis=(2, 3))


def predict(images: np.ndarray, width: int, mode: str = "corrected") -> np.ndarray:
    """The digit of lowest template distance for each image (the first on a tie)."""
    return scores(images, width, mode).argmin(axis=1)


def diagnosis(images: np.ndarray, labels: np.ndarray, width: int) -> pd.DataFrame:
    """Why the corrected templates fail, per digit template, on the given images.

    Columns: ``on_pixels`` (pixels the template draws), ``hit_own`` / ``hit_other``
    (fraction of those pixels that land on ink, > 127, in images of its own digit / of
    other digits), ``predicted_share`` (fraction of all images given that digit) and
    ``recall`` (fraction of its own digit's images given that digit).

    A template pixel lowers the score Σ|t - x| only where the image has ink above
    127.5; everywhere else it raises it. Templates drawn by hand rarely land on the
    ink, so the emptiest template (the 1) wins for most images.
    """

    t = corrected_templates(width) > 0  # (10, 27, 28)
    ink = np.asarray(images)[:, :27] > 127  # (N, 27, 28)
    hits = np.einsum("nij,dij->nd", ink.astype(np.float32), t.astype(np.float32))
    hits /= np.maximum(t.sum(axis=(1, 2)), 1)
    pred = predict(images, width, "corrected")
    own = labels[:, None] == np.arange(10)
    return pd.DataFrame(
        {
            "on_pixels": t.sum(axis=(1, 2)),
            "hit_own": (hits * own).sum(0) / own.sum(0),
            "hit_other": (hits * ~own).sum(0) / (~own).sum(0),
            "predicted_share": np.bincount(pred, minlength=10) / len(pred),
            "recall": [(pred[labels == d] == d).mean() for d in range(10)],
        },
        index=pd.Index(range(10), name="digit"),
    )
