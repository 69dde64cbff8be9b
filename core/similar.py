"""Images like this one: its nearest training and test images under three distances.

- **Euclidean** on the pixels: exact (:func:`core.knn.nearest_neighbours`), a few tens of
  milliseconds for one image once the process has searched before (a test image's
  nearest training images are read from the raw KNN's cache when it is there);
- **distortion**: the distortion KNN's IDM-nearest training images of a test image, read
  from its cache (each pixel free to match within ±2 pixels, deskewed);
- **CNN features**: Euclidean on the 64 features the modern CNN computes before its last
  layer, for the 70,000 images, cached once per trained network (:func:`cnn_features`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core import cnn, knn, methods
from core.cache import Result, Store
from core.data import DATA_CHECKSUM, load_mnist
from core.errors import ExplorerError
from core.progress import Progress

DISTANCES = ("Euclidean", "distortion", "CNN features")
SPLITS = ("train", "test")
STORE = Store("cnn-features", DATA_CHECKSUM, 1)


@dataclass(frozen=True)
class FeatureConfig:
    """The modern CNN's features of every image: its cache key names the network."""

    cnn_entry: str  # the cached modern CNN's entry (a retrained network: new features)


def feature_config() -> FeatureConfig:
    """The features of the modern CNN as cached now (an error if it is not trained)."""
    store, net = cnn.STORES["modern"], cnn.CONFIGS["modern"]
    if not store.exists(net):
        raise ExplorerError("CNN features: expected the modern CNN trained, found none cached")
    return FeatureConfig(store.path(net).name)


def cnn_features(progress: Progress | None = None) -> Result:
    """The modern CNN's 64 features of every training and test image (arrays ``train``
    (60000, 64) and ``test`` (10000, 64), float32)."""
    config = feature_config()

    def compute():
        net = cnn.CONFIGS["modern"]
        model = cnn.load_model(cnn.STORES["modern"].load(net), net)
        splits = {s: load_mnist(s)[0] for s in SPLITS}
        total, done, out = sum(len(x) for x in splits.values()), 0, {}
        for split, images in splits.items():
            step = (
                None if progress is None else (lambda d, _n, base=done: progress(base + d, total))
            )
            out[split] = cnn.features_of(model, images, net, step)
            done += len(images)
        return out, {"dims": int(out["test"].shape[1])}

    return STORE.get_or_compute(config, compute)


def cached_cnn_features() -> Result | None:
    """The cached features of the modern CNN as trained now, or None."""
    try:
        return STORE.load(feature_config())
    except ExplorerError:
        return None


def _frame(index: np.ndarray, distance: np.ndarray, split: str) -> pd.DataFrame:
    labels = load_mnist(split)[1]
    return pd.DataFrame(
        {"index": index.astype(np.int64), "distance": distance, "label": labels[index]}
    )


def euclidean(split: str, index: int, among: str, k: int = 8) -> pd.DataFrame:
    """The ``k`` nearest ``among`` images of image ``index`` of ``split`` (itself left
    out), exact: columns ``index``, ``distance`` (on 0..255 pixels), ``label``. A test
    image's nearest training images are the raw KNN's cached neighbours when it has them."""
    cached = (
        knn.cached_neighbours(knn.NeighbourConfig())
        if (split, among) == ("test", "train")
        else None
    )
    if cached is not None and k <= cached.arrays["indices"].shape[1]:
        idx = cached.arrays["indices"][index, :k]
        return _frame(idx, np.sqrt(cached.arrays["sqdist"][index, :k].astype(np.float64)), among)
    query = load_mnist(split)[0][index : index + 1]
    pool = load_mnist(among)[0]
    found = knn.nearest_neighbours(pool, query, k + 1)
    idx, sq = found.indices[0], found.sqdist[0]
    keep = idx != index if split == among else np.ones(len(idx), bool)
    idx, sq = idx[keep][:k], sq[keep][:k]
    return _frame(idx, np.sqrt(sq.astype(np.float64)), among)


def distortion(index: int, k: int = 8) -> pd.DataFrame | None:
    """The IDM-nearest training images of test image ``index`` as the distortion KNN
    cached them (an augmented copy counted as its original), or None if not cached."""
    idm = methods.get("knn-idm")
    found = idm.store.load(idm.config)
    if found is None:
        return None
    keys, dist = found.arrays["keys"][index], found.arrays["distances"][index]
    valid = keys >= 0
    n_train = len(load_mnist("train")[1])
    base = keys[valid] % n_train
    _, first = np.unique(base, return_index=True)  # an original once, at its best copy
    first = np.sort(first)[:k]
    return _frame(base[first], dist[valid][first].astype(np.float64), "train")


def by_features(features: Result, split: str, index: int, among: str, k: int = 8) -> pd.DataFrame:
    """The ``k`` nearest ``among`` images of image ``index`` of ``split`` in the CNN's
    feature space (itself left out)."""
    if split not in SPLITS or among not in SPLITS:
        raise ExplorerError(f"split: expected one of {SPLITS}, found {split!r}, {among!r}")
    q = features.arrays[split][index].astype(np.float64)
    pool = features.arrays[among]
    d = np.sqrt(np.maximum(((pool.astype(np.float64) - q) ** 2).sum(1), 0))
    if split == among:
        d[index] = np.inf
    order = np.argsort(d, kind="stable")[:k]
    return _frame(order, d[order], among)
