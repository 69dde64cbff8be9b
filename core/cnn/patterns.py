"""What the pattern networks' zones learned: per-digit statistics, triples, pictures.

Inputs are a cached network's test activations (N, 26): the three zones' pattern
activations side by side (8, 10 and 8 of them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.cnn.models import PATTERNS, ZONE_ROWS

ZONES = ("top", "middle", "bottom")


def _zone_slices() -> list[slice]:
    ends = np.cumsum((0, *PATTERNS))
    return [slice(a, b) for a, b in zip(ends[:-1], ends[1:], strict=True)]


def pattern_stats(activations: np.ndarray, labels: np.ndarray) -> list[dict[str, pd.DataFrame]]:
    """Per zone, digit × pattern tables of the mean and variance of the activations
    (the report's ``Pattern(j)``, for every digit at once)."""
    out = []
    for sl in _zone_slices():
        a = pd.DataFrame(activations[:, sl]).groupby(np.asarray(labels))
        mean, var = a.mean(), a.var(ddof=1)
        for t in (mean, var):
            t.index.name, t.columns.name = "digit", "pattern"
        out.append({"mean": mean, "var": var})
    return out


def fired_patterns(activations: np.ndarray) -> np.ndarray:
    """The pattern that fires in each zone (largest activation): int (N, 3)."""
    return np.stack([activations[:, sl].argmax(1) for sl in _zone_slices()], axis=1)


def pattern_triples(activations: np.ndarray, labels: np.ndarray, digit: int) -> pd.DataFrame:
    """How often each (top, middle, bottom) triple of fired patterns occurs for ``digit``."""
    triples = fired_patterns(activations)[np.asarray(labels) == digit]
    frame = pd.DataFrame(triples, columns=["top", "middle", "bottom"])
    counts = frame.value_counts().rename("images").reset_index()
    counts["share"] = counts["images"] / len(frame)
    return counts


def zone_crops(images: np.ndarray, zone: int) -> np.ndarray:
    """The 10-row zone of every image, as the network saw it (padded to 30 rows)."""
    padded = np.pad(np.asarray(images), ((0, 0), (1, 1), (0, 0)))
    return padded[:, zone * ZONE_ROWS : (zone + 1) * ZONE_ROWS]


def pattern_picture(
    images: np.ndarray, activations: np.ndarray, zone: int, pattern: int, top: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """What a pattern looks like: the mean zone crop of the images where it fires, and
    the indices of its ``top`` most activating images. Returns ((10, 28), (top,))."""
    sl = _zone_slices()[zone]
    fires = fired_patterns(activations)[:, zone] == pattern
    crops = zone_crops(images, zone)
    mean = crops[fires].mean(axis=0) if fires.any() else np.zeros(crops.shape[1:])
    strongest = np.argsort(-activations[:, sl][:, pattern], kind="stable")[:top]
    return mean, strongest


def pattern_share(activations: np.ndarray, labels: np.ndarray, zone: int) -> pd.DataFrame:
    """Digit × pattern: the share of each digit's images where the pattern fires in ``zone``."""
    fired = fired_patterns(activations)[:, zone]
    share = pd.crosstab(
        pd.Series(np.asarray(labels), name="digit"),
        pd.Series(fired, name="pattern"),
        normalize="index",
    )
    return share.reindex(index=range(10), columns=range(PATTERNS[zone]), fill_value=0.0)


def pattern_tiles(
    images: np.ndarray, activations: np.ndarray, zone: int, pattern: int, top: int = 8
) -> tuple[np.ndarray, np.ndarray, int]:
    """A pattern drawn as tiles: its mean crop (rounded) followed by its ``top`` strongest
    crops, uint8 (1 + top, 10, 28); the indices of those images; how many images fire it."""
    mean, strongest = pattern_picture(images, activations, zone, pattern, top)
    n_fire = int((fired_patterns(activations)[:, zone] == pattern).sum())
    crops = zone_crops(images[strongest], zone)
    return np.concatenate([mean[None].round().astype(np.uint8), crops]), strongest, n_fire


def triple_rank(
    activations: np.ndarray, labels: np.ndarray, row: int, digit: int | None = None
) -> dict:
    """Where image ``row``'s (top, middle, bottom) triple of fired patterns sits among the
    triples of ``digit``'s images (default: its own label): its rank (1 = the commonest),
    how many images share it, their share, and how many distinct triples there are."""
    digit = int(np.asarray(labels)[row]) if digit is None else digit
    triple = tuple(int(p) for p in fired_patterns(activations[row : row + 1])[0])
    counts = pattern_triples(activations, labels, digit)
    found = counts[(counts["top"] == triple[0]) & (counts["middle"] == triple[1])
                   & (counts["bottom"] == triple[2])]  # fmt: skip
    if found.empty:
        return {"triple": triple, "digit": digit, "rank": None, "images": 0, "share": 0.0,
                "distinct": len(counts)}  # fmt: skip
    return {"triple": triple, "digit": digit, "rank": int(found.index[0]) + 1,
            "images": int(found["images"].iloc[0]), "share": float(found["share"].iloc[0]),
            "distinct": len(counts)}  # fmt: skip
