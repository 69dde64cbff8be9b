"""A map of the test set: the 10,000 test images as points in two dimensions.

Three ways to see an image — its pixels, its deskewed pixels, or the 64 features the
modern CNN computes before its last layer — each laid out by UMAP (``umap-learn``; on the
first 50 principal components, seeded, so a map is the same every time) or by PCA, the
instant fallback that needs no computing. UMAP maps are cached per :class:`MapConfig` and
computed by the job runner.

UMAP is handed each point's exact nearest neighbours, found by one blocked matrix
product here, instead of building its approximate graph itself: the graph search is
the part of ``umap-learn`` that numba compiles anew in every process (about a minute on
a slow 2-core CPU, for a search that takes two seconds exactly).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from core import cnn
from core.cache import Result, Store
from core.data import DATA_CHECKSUM, load_mnist
from core.errors import ExplorerError
from core.knn import deskew
from core.progress import Progress

STORE = Store("maps", DATA_CHECKSUM, 2)  # 2: the exact neighbour graph
FEATURES = {
    "pixels": "the 784 pixels",
    "deskewed": "the 784 pixels, deskewed",
    "cnn": "the modern CNN's 64 features before its last layer",
}
LAYOUTS = ("umap", "pca")


@dataclass(frozen=True)
class MapConfig:
    """How a map is made: its cache key."""

    features: str = "pixels"  # a key of FEATURES
    layout: str = "umap"  # "umap" or "pca"
    n_neighbors: int = 15  # UMAP: the size of the neighbourhoods it keeps
    min_dist: float = 0.1  # UMAP: how tightly points may pack
    pca_first: int = 50  # UMAP on this many principal components first (0: on all features)
    seed: int = 0
    cnn_entry: str = ""  # features "cnn": the cached network they come from (its entry)

    def __post_init__(self):
        if self.features not in FEATURES:
            raise ExplorerError(
                f"features: expected one of {list(FEATURES)}, found {self.features!r}"
            )
        if self.layout not in LAYOUTS:
            raise ExplorerError(f"layout: expected one of {LAYOUTS}, found {self.layout!r}")


def config(features: str = "pixels", layout: str = "umap") -> MapConfig:
    """The map of ``features``, tied to the cached modern CNN when its features are used."""
    entry = ""
    if features == "cnn":
        store, net = cnn.STORES["modern"], cnn.CONFIGS["modern"]
        if not store.exists(net):
            raise ExplorerError(
                "features 'cnn': expected the modern CNN trained, found none cached"
            )
        entry = store.path(net).name
    return MapConfig(features, layout, cnn_entry=entry)


def features(c: MapConfig) -> np.ndarray:
    """The test set's features for a map: float32 (10000, d)."""
    images = load_mnist("test")[0]
    if c.features == "pixels":
        return images.reshape(len(images), -1).astype(np.float32) / 255
    if c.features == "deskewed":
        return deskew(images).reshape(len(images), -1).astype(np.float32) / 255
    net_config = cnn.CONFIGS["modern"]
    entry = cnn.STORES["modern"].load(net_config)
    if entry is None or entry.path.name != c.cnn_entry:
        raise ExplorerError(
            "features 'cnn': expected the modern CNN this map was made from, "
            "found it missing or retrained"
        )
    return cnn.features_of(cnn.load_model(entry, net_config), images, net_config)


def _pca(x: np.ndarray, n: int) -> np.ndarray:
    centred = x - x.mean(axis=0)
    # The leading right singular vectors, from the small (d × d) covariance.
    values, vectors = np.linalg.eigh(centred.T.astype(np.float64) @ centred)
    return (centred @ vectors[:, ::-1][:, :n]).astype(np.float32)


def nearest(x: np.ndarray, k: int, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest points of every point of ``x`` (N, d), itself first (Euclidean).

    Returns (indices int32 (N, k), distances float32 (N, k)), nearest first, equal
    distances in index order (which of several tied for the k-th place is kept is left to
    ``argpartition``); a block of ``block`` rows at a time (no N × N matrix in memory).
    """
    x = np.ascontiguousarray(x, np.float32)
    if not 1 <= k <= len(x):
        raise ExplorerError(f"k: expected 1..{len(x)} neighbours, found {k}")
    norms = np.einsum("ij,ij->i", x, x)
    indices = np.empty((len(x), k), np.int32)
    distances = np.empty((len(x), k), np.float32)
    for s in range(0, len(x), block):
        rows = np.arange(s, min(s + block, len(x)))
        d2 = norms[rows, None] + norms[None] - 2 * (x[rows] @ x.T)
        d2[np.arange(len(rows)), rows] = -np.inf  # each point its own nearest
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        order = np.lexsort((part, np.take_along_axis(d2, part, 1)), axis=1)
        chosen = np.take_along_axis(part, order, 1)
        indices[rows] = chosen
        distances[rows] = np.sqrt(np.maximum(np.take_along_axis(d2, chosen, 1), 0))
    return indices, distances


def layout(c: MapConfig, x: np.ndarray) -> np.ndarray:
    """The 2-D positions (10000, 2) of features ``x`` (N, d) under ``c``."""
    if c.layout == "pca":
        return _pca(x, 2)
    import umap  # imported here: numba compiles it on first use (seconds)

    if c.pca_first and x.shape[1] > c.pca_first:
        x = _pca(x, c.pca_first)
    graph = (*nearest(x, c.n_neighbors), None)
    reducer = umap.UMAP(
        n_neighbors=c.n_neighbors,
        min_dist=c.min_dist,
        random_state=c.seed,
        n_jobs=1,
        precomputed_knn=graph,
    )
    with warnings.catch_warnings():  # no search index: no transform of new points, unused
        warnings.filterwarnings("ignore", "precomputed_knn", UserWarning)
        return reducer.fit_transform(x).astype(np.float32)


def compute(c: MapConfig, progress: Progress | None = None) -> Result:
    """The cached map of ``c`` (computed if missing)."""

    def run():
        start = time.perf_counter()
        x = features(c)
        if progress is not None:
            progress(1, 3)
        xy = layout(c, x)
        if progress is not None:
            progress(3, 3)
        return {"xy": xy}, {"seconds": round(time.perf_counter() - start, 2), "dims": x.shape[1]}

    return STORE.get_or_compute(c, run)


def instant(c: MapConfig) -> np.ndarray:
    """A PCA map of ``c``'s features, computed now (a second or two): the fallback."""
    return layout(MapConfig(c.features, "pca", cnn_entry=c.cnn_entry), features(c))
