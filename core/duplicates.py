"""Near-duplicates between and within the training and test sets: how much the test set
leaks into training, and whether the methods do better on the test images that have a
twin there.

A pair is two images closer than a threshold under one distance:

- ``test-train`` (Euclidean): each test image's nearest training image, the exact search
  of the raw KNN (its cached neighbours are read, nothing is searched again);
- ``test-train (distortion)``: its IDM-nearest training image (deskewed, each pixel free
  to match within ±2 pixels; cached by the distortion KNN), an augmented copy counted as
  the image it was made from;
- ``test-test`` and ``train-train`` (Euclidean): each image's nearest other image of its
  own split, found by the same exact search and cached here (the training set's is a
  minute of work: it runs in the job runner);
- ``test-test (distortion)`` and ``train-train (distortion)``: each image's IDM-nearest
  other image of its split, both deskewed, among its 20 Euclidean nearest of the deskewed
  split (re-ranked exactly, as the distortion KNN re-ranks its candidates; cached here, the
  training set's in the job runner). The IDM distance is not symmetric: a pair found from
  both of its images keeps the smaller of its two distances.

Distances are on 0..255 pixels: a Euclidean distance of 300 is a root-mean-square
difference of about 11 grey levels per pixel (MNIST's median nearest-training distance
of a test image is about 1,100).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core import knn, methods
from core.cache import Result, Store
from core.data import DATA_CHECKSUM, load_mnist
from core.errors import ExplorerError
from core.knn import augment, distortion, idm
from core.progress import Progress

KINDS = (
    "test-train",
    "test-train (distortion)",
    "test-test",
    "test-test (distortion)",
    "train-train",
    "train-train (distortion)",
)
DISTANCES = ("euclidean", "distortion")
# Default thresholds: the Euclidean one keeps about the closest 0.4% of test images' nearest
# training images, the distortion one about the same share of its own distances.
EUCLIDEAN = 300.0
DISTORTION = 6_000_000.0
STORE = Store("twins", DATA_CHECKSUM, 1)
_BATCH = 64  # images re-ranked per IDM kernel call
_ADDED = {"added": True}  # fields added after Euclidean twins were cached (same keys)


@dataclass(frozen=True)
class TwinConfig:
    """The nearest other image of each image of one split (the cache key).

    ``candidates``, ``window`` and ``context`` apply to the distortion distance only: how
    many Euclidean nearest of the deskewed split are re-ranked, and the IDM's bending and
    context (the distortion KNN's, :class:`core.knn.idm.IdmConfig`).
    """

    split: str = "test"
    distance: str = field(default="euclidean", metadata=_ADDED)
    candidates: int = field(default=20, metadata=_ADDED)
    window: int = field(default=2, metadata=_ADDED)
    context: int = field(default=1, metadata=_ADDED)

    def __post_init__(self):
        if self.split not in ("train", "test"):
            raise ExplorerError(f"split: expected 'train' or 'test', found {self.split!r}")
        if self.distance not in DISTANCES:
            raise ExplorerError(
                f"distance: expected one of {list(DISTANCES)}, found {self.distance!r}"
            )
        if not 1 <= self.candidates <= 100:
            raise ExplorerError(f"candidates: expected 1..100, found {self.candidates}")
        if not 0 <= self.window <= 4 or not 0 <= self.context <= 2:
            raise ExplorerError(
                f"window, context: expected 0..4 and 0..2, found {self.window}, {self.context}"
            )


def twins(config: TwinConfig, progress: Progress | None = None) -> Result:
    """Each image's nearest other image of its split, with its distance.

    Arrays ``index`` (n,) and, for the Euclidean distance, ``sqdist`` (n,) its exact
    square, for the distortion distance ``distance`` (n,) the exact IDM distance. An exact
    duplicate of an image counts (distance 0); the image itself does not.
    """

    def compute():
        images = load_mnist(config.split)[0]
        if config.distance == "distortion":
            return _distortion_twins(config, images, progress)
        found = knn.nearest_neighbours(images, images, 2, progress=progress)
        rows = np.arange(len(images))
        # The image itself is one of its two nearest, at distance 0 (first, unless an exact
        # duplicate of it ties with it): the other one is its twin.
        other = np.where(found.indices[:, 0] == rows, 1, 0)
        index = found.indices[rows, other].astype(np.int64)
        sqdist = found.sqdist[rows, other].astype(np.int64)
        return {"index": index, "sqdist": sqdist}, {"products": found.products}

    return STORE.get_or_compute(config, compute)


def _distortion_twins(config: TwinConfig, images: np.ndarray, progress: Progress | None):
    """Each deskewed image's IDM-nearest among its ``candidates`` Euclidean nearest others
    (ties: the Euclidean order)."""
    n = len(images)

    def steps(done: int, total: int, base: int) -> None:  # the search, then the re-ranking
        if progress is not None:
            progress(base + done * n // max(total, 1), 2 * n)

    prepared = augment.deskew(images)
    found = knn.nearest_neighbours(
        train=prepared,
        query=prepared,
        k_max=config.candidates + 1,
        progress=lambda done, total: steps(done, total, 0),
    )
    candidates = found.indices.astype(np.int64)
    candidates[candidates == np.arange(n)[:, None]] = -1  # never the image itself
    index, distance = np.empty(n, np.int64), np.empty(n, np.int64)
    for s in range(0, n, _BATCH):
        batch = candidates[s : s + _BATCH]
        pool, rows = idm.pool_rows(batch)
        d = distortion.distances(
            queries=prepared[s : s + _BATCH],
            references=prepared[np.maximum(pool, 0)],
            rows=rows,
            window=config.window,
            context=config.context,
            keep=1,
        )
        best = d.argmin(axis=1)  # the first of equal distances: the Euclidean order
        picked = np.arange(len(batch))
        index[s : s + _BATCH], distance[s : s + _BATCH] = batch[picked, best], d[picked, best]
        steps(s + len(batch), n, n)
    return {"index": index, "distance": distance}, {"products": found.products}


# What each kind of pair reads, said when it is not cached.
_NEEDS = {
    "test-train": "the raw KNN's neighbours (method knn-raw)",
    "test-train (distortion)": "the distortion KNN (method knn-idm)",
    "test-test": "the test set's nearest other images",
    "test-test (distortion)": "the test set's nearest other images under the distortion distance",
    "train-train": "the training set's nearest other images",
    "train-train (distortion)": (
        "the training set's nearest other images under the distortion distance"
    ),
}


def within(kind: str) -> TwinConfig | None:
    """The cached twins a kind of pairs within one split reads (None: a test-train kind)."""
    if kind not in KINDS:
        raise ExplorerError(f"kind: expected one of {list(KINDS)}, found {kind!r}")
    if kind.startswith("test-train"):
        return None
    return TwinConfig(splits(kind)[0], "distortion" if "distortion" in kind else "euclidean")


def nearest(kind: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Each query's nearest image under ``kind`` and the distance, or None if not cached."""
    config = within(kind)
    if config is None:
        return _nearest_training(kind)
    found = STORE.load(config)
    if found is None:
        return None
    a = found.arrays
    if "distance" in a:  # the distortion distance, as the distortion KNN's
        return a["index"], a["distance"].astype(np.float64)
    return a["index"], np.sqrt(a["sqdist"].astype(np.float64))


def _nearest_training(kind: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Each test image's nearest training image, read from a KNN's cached neighbours."""
    if kind == "test-train":
        found = knn.cached_neighbours(knn.NeighbourConfig())
        if found is None:
            return None
        a = found.arrays
        return a["indices"][:, 0].astype(np.int64), np.sqrt(a["sqdist"][:, 0].astype(np.float64))
    idm = methods.get("knn-idm")
    found = idm.store.load(idm.config)
    if found is None:
        return None
    keys = found.arrays["keys"][:, 0]
    n_train = len(knn.training_labels(knn.NeighbourConfig()))
    return keys % n_train, found.arrays["distances"][:, 0].astype(np.float64)


def what_is_missing(kind: str) -> str | None:
    """What ``kind``'s pairs need that is not cached (None: nothing)."""
    return None if nearest(kind) is not None else _NEEDS[kind]


def pairs(kind: str, threshold: float) -> pd.DataFrame:
    """The pairs of ``kind`` closer than ``threshold``, closest first: columns ``a`` (the
    query: a test image, or a training image for train-train), ``b`` (its twin),
    ``distance``, and their labels ``label_a``, ``label_b``. Within one split a pair is
    listed once (a < b), at the smaller of its two distances."""
    found = nearest(kind)
    if found is None:
        raise ExplorerError(f"{kind} pairs: expected {_NEEDS[kind]} in the cache, found none")
    index, distance = found
    a = np.flatnonzero(distance < threshold)
    frame = pd.DataFrame({"a": a, "b": index[a], "distance": distance[a]})
    if within(kind) is not None:  # (i, j) and (j, i): once, the closer first
        lo, hi = np.minimum(frame["a"], frame["b"]), np.maximum(frame["a"], frame["b"])
        frame = frame.assign(a=lo, b=hi).sort_values("distance", kind="stable")
        frame = frame.drop_duplicates(["a", "b"])
    a_split, b_split = splits(kind)
    frame["label_a"] = load_mnist(a_split)[1][frame["a"].to_numpy()].astype(np.int64)
    frame["label_b"] = load_mnist(b_split)[1][frame["b"].to_numpy()].astype(np.int64)
    return frame.sort_values(["distance", "a"], kind="stable").reset_index(drop=True)


def splits(kind: str) -> tuple[str, str]:
    """The splits of a pair's two images under ``kind``."""
    for split in ("test", "train"):
        if kind.startswith(f"{split}-{split}"):
            return split, split
    return "test", "train"


def twin_mask(found: pd.DataFrame, n: int = 10_000) -> np.ndarray:
    """(n,) whether each query image is the ``a`` of one of the pairs ``found``."""
    mask = np.zeros(n, bool)
    mask[found["a"].to_numpy()] = True
    return mask


def with_twin(kind: str, threshold: float) -> np.ndarray:
    """(10000,) whether each test image has a training twin under ``kind`` (a test-train kind)."""
    if not kind.startswith("test-train"):
        raise ExplorerError(f"kind: expected a test-train kind, found {kind!r}")
    return twin_mask(pairs(kind, threshold))


def accuracy_with_and_without(
    twin: np.ndarray, predictions: dict[str, np.ndarray], labels: np.ndarray
) -> pd.DataFrame:
    """Each method's accuracy on the test images with a training twin and on the others."""
    twin, labels = np.asarray(twin, bool), np.asarray(labels)
    rows = []
    for name, pred in predictions.items():
        right = np.asarray(pred) == labels
        rows.append(
            {
                "method": name,
                "with a twin": float(right[twin].mean()) if twin.any() else float("nan"),
                "without": float(right[~twin].mean()) if (~twin).any() else float("nan"),
                "errors with a twin": int((~right[twin]).sum()),
            }
        )
    return pd.DataFrame(rows)
