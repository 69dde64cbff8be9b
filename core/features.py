"""Features of each test image, the accuracy of every method against them, and the slices
(bins and pairs of bins) where a method does worst.

Four features come from the pixels, computed once and cached: ink mass, slant, stroke
width and the height/width ratio of the ink's box. Three come from results other pages
cache, read when they are there: the Euclidean distance to the nearest training image
(the raw KNN), the distortion distance to it (the distortion KNN) and the distance to the
nearest learned spline template.

A feature is cut into :data:`BINS` bins of about equal counts (its quantiles); a bin is a
rule ``lo ≤ value < hi`` (the last one closed), so every slice found here is a rule that
can be saved and shared (:mod:`core.slices`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from core import duplicates, methods
from core.cache import Store
from core.data import DATA_CHECKSUM, load_mnist
from core.errors import ExplorerError

PIXEL_FEATURES = {
    "ink": "ink mass (grey levels summed, over 255)",
    "slant": "slant in degrees (image moments; positive leans right)",
    "stroke": "stroke width in pixels (twice the ink's area over its outline's length)",
    "aspect": "height / width of the ink's box",
}
CACHED_FEATURES = {
    "nearest train": "Euclidean distance to the nearest training image",
    "distortion": "distortion distance to the nearest training image",
    "template": "distance to the nearest learned spline template",
}
FEATURES = PIXEL_FEATURES | CACHED_FEATURES
BINS = 5
MIN_IMAGES = 100  # the smallest slice the search for the worst ones reports
INK = 64  # grey level from which a pixel counts as ink (box, area, outline)
STORE = Store("image-features", DATA_CHECKSUM, 1)


@dataclass(frozen=True)
class FeatureConfig:
    """The pixel features of one split (the cache key)."""

    split: str = "test"
    ink: int = INK


def pixel_features(images: np.ndarray, ink: int = INK) -> dict[str, np.ndarray]:
    """The four pixel features of (N, 28, 28) images, vectorised."""
    x = np.asarray(images, np.float64)
    mass = x.sum(axis=(1, 2))
    rows, cols = np.arange(28.0)[None, :, None], np.arange(28.0)[None, None, :]
    total = np.maximum(mass, 1e-9)
    cy = (x * rows).sum(axis=(1, 2)) / total
    cx = (x * cols).sum(axis=(1, 2)) / total
    dy, dx = rows - cy[:, None, None], cols - cx[:, None, None]
    mu11 = (x * dy * dx).sum(axis=(1, 2)) / total
    mu02 = (x * dy * dy).sum(axis=(1, 2)) / total
    # x grows as y grows down the image for a digit leaning left: slant right is positive.
    slant = -np.degrees(np.arctan2(mu11, np.maximum(mu02, 1e-9)))
    on = np.asarray(images) >= ink
    area = on.sum(axis=(1, 2))
    # The outline's length: the pixel edges between ink and paper. A stroke of width w and
    # length L ≫ w has area wL and outline about 2L: its width is about 2 area / outline.
    padded = np.pad(on, ((0, 0), (1, 1), (1, 1)))
    across = (padded[:, 1:, :] != padded[:, :-1, :]).sum(axis=(1, 2))
    along = (padded[:, :, 1:] != padded[:, :, :-1]).sum(axis=(1, 2))
    stroke = 2 * area / np.maximum(across + along, 1)
    any_row, any_col = on.any(axis=2), on.any(axis=1)
    height = np.where(any_row.any(1), 28 - any_row[:, ::-1].argmax(1) - any_row.argmax(1), 0)
    width = np.where(any_col.any(1), 28 - any_col[:, ::-1].argmax(1) - any_col.argmax(1), 0)
    aspect = height / np.maximum(width, 1)
    return {"ink": mass / 255, "slant": slant, "stroke": stroke, "aspect": aspect}


def _cached_pixel_features(split: str = "test") -> dict[str, np.ndarray]:
    config = FeatureConfig(split)

    def compute():
        return pixel_features(load_mnist(split)[0], config.ink), {}

    return dict(STORE.get_or_compute(config, compute).arrays)


def _from_caches() -> dict[str, np.ndarray]:
    """The features other results provide, those cached."""
    out = {}
    for feature, kind in (
        ("nearest train", "test-train"),
        ("distortion", "test-train (distortion)"),
    ):
        found = duplicates.nearest(kind)  # each test image's nearest training image
        if found is not None:
            out[feature] = found[1]
    learned = methods.get("splines-learned")
    found = learned.store.load(learned.config)
    if found is not None:
        out["template"] = found.arrays["test_distances"].min(axis=1).astype(np.float64)
    return out


def test_features() -> pd.DataFrame:
    """(10000, features) of the test images: the pixel features, then those cached."""
    return pd.DataFrame(_cached_pixel_features("test") | _from_caches()).rename_axis("test index")


# -- bins and slices -------------------------------------------------------------------------


def bin_edges(values: np.ndarray, bins: int = BINS) -> np.ndarray:
    """``bins + 1`` edges at the quantiles of ``values`` (duplicates merged)."""
    edges = np.unique(np.quantile(np.asarray(values, np.float64), np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0], edges[0]])
    return edges


def bin_of(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each value: i where edges[i] ≤ v < edges[i+1] (the last bin closed)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def rule_text(feature: str, lo: float, hi: float, last: bool) -> str:
    return f"{lo:.4g} ≤ {feature} {'≤' if last else '<'} {hi:.4g}"


def in_rule(frame: pd.DataFrame, rule: dict[str, tuple[float, float, bool]]) -> np.ndarray:
    """Which images meet every ``feature: (lo, hi, closed)`` of ``rule``."""
    keep = np.ones(len(frame), bool)
    for feature, (lo, hi, closed) in rule.items():
        if feature not in frame:
            raise ExplorerError(
                f"rule: expected features among {list(frame.columns)}, found {feature!r}"
            )
        v = frame[feature].to_numpy()
        keep &= (v >= lo) & ((v <= hi) if closed else (v < hi))
    return keep


def accuracy_by_bin(
    frame: pd.DataFrame, feature: str, predictions: dict[str, np.ndarray], labels, bins=BINS
) -> pd.DataFrame:
    """One row per bin of ``feature``: its range, its images, every method's accuracy."""
    edges = bin_edges(frame[feature].to_numpy(), bins)
    which = bin_of(frame[feature].to_numpy(), edges)
    labels = np.asarray(labels)
    rows = []
    for b in range(len(edges) - 1):
        mask = which == b
        row = {
            "bin": b + 1,
            "from": edges[b],
            "to": edges[b + 1],
            "middle": float(np.median(frame[feature].to_numpy()[mask])) if mask.any() else np.nan,
            "images": int(mask.sum()),
        }
        for name, pred in predictions.items():
            row[name] = (
                float(np.mean(np.asarray(pred)[mask] == labels[mask])) if mask.any() else np.nan
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _bins(frame: pd.DataFrame, bins: int) -> dict[str, list[tuple[dict, np.ndarray]]]:
    """Each feature's bins as (rule, mask)."""
    out = {}
    for feature in frame.columns:
        values = frame[feature].to_numpy()
        edges = bin_edges(values, bins)
        which = bin_of(values, edges)
        last = len(edges) - 2
        out[feature] = [
            ({feature: (float(edges[b]), float(edges[b + 1]), b == last)}, which == b)
            for b in range(len(edges) - 1)
        ]
    return out


def worst_slices(
    frame: pd.DataFrame,
    right: np.ndarray,
    bins: int = BINS,
    min_images: int = MIN_IMAGES,
    top: int = 10,
) -> pd.DataFrame:
    """The bins and pairs of bins (of two features) with at least ``min_images`` images
    where ``right`` (one method's right answers) is lowest: columns ``slice`` (its rule
    in words), ``rule`` (for :func:`in_rule`), ``images``, ``accuracy``, ``errors``."""
    right = np.asarray(right, bool)
    per_feature = _bins(frame, bins)
    candidates = [item for items in per_feature.values() for item in items]
    for f, g in combinations(per_feature, 2):
        for rule_f, mask_f in per_feature[f]:
            for rule_g, mask_g in per_feature[g]:
                candidates.append((rule_f | rule_g, mask_f & mask_g))
    rows = []
    for rule, mask in candidates:
        n = int(mask.sum())
        if n < min_images:
            continue
        hits = int(right[mask].sum())
        rows.append(
            {
                "slice": " and ".join(rule_text(k, *v) for k, v in rule.items()),
                "rule": rule,
                "images": n,
                "accuracy": hits / n,
                "errors": n - hits,
            }
        )
    found = pd.DataFrame(rows, columns=["slice", "rule", "images", "accuracy", "errors"])
    return found.sort_values(["accuracy", "images"], ascending=[True, False]).head(top)
