"""Chapter 1 of the report as cached computations: neighbours once, then any vote.

Neighbour lists are the expensive part (a pass over every training image for every
query); they are cached per :class:`NeighbourConfig`. Everything the report computed
(test accuracy for any K and weighting, cross-validation folds, the grid search,
per-digit tables, the augmentation ablation) is then a vote over cached neighbours and
takes milliseconds.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import StratifiedKFold

from core import augment, evaluate
from core.cache import Result, Store
from core.data import DATA_CHECKSUM, load_mnist
from core.errors import ExplorerError
from core.knn import WEIGHTS, nearest_neighbours, vote
from core.pca import fit_pca
from core.progress import Progress

CODE_VERSION = 2  # bump when a change alters cached neighbour lists (2: lists an
# int8 kernel that saturates may have got wrong are recomputed)
STORE = Store("knn", DATA_CHECKSUM, CODE_VERSION)


@dataclass(frozen=True)
class Variant:
    """How training images (and, for deskewing and PCA, queries) are prepared."""

    groups: tuple[str, ...] = ()  # augmentation groups of core.augment.GROUPS
    deskew: bool = False  # straighten by image moments; augmentations then stay in 0..255
    pca: int = 0  # 0: distances on pixels; n: on the n leading principal components


# The report's variants (its augmentation and ablation), then ours, beyond the report.
VARIANTS: dict[str, Variant] = {
    "raw": Variant(),
    "shifts": Variant(("shifts",)),
    "rotations": Variant(("rotations",)),
    "zooms": Variant(("zooms",)),
    "augmented": Variant(augment.REPORT_GROUPS),
    "deskewed": Variant(deskew=True),
    "deskewed+augmented": Variant(augment.REPORT_GROUPS, deskew=True),
    "deskewed+augmented+diagonals": Variant((*augment.REPORT_GROUPS, "diagonals"), True),
    "deskewed+augmented+diagonals+pca60": Variant((*augment.REPORT_GROUPS, "diagonals"), True, 60),
}
REPORT_VARIANTS = ("raw", "shifts", "rotations", "zooms", "augmented")
REPORT_K, REPORT_WEIGHTS = 4, "distance"  # the report's chosen configuration
GRID_K = (3, 4, 5, 6, 8, 10)  # the report's grid
K_RANGE = tuple(range(1, 21))  # our extension


@dataclass(frozen=True)
class NeighbourConfig:
    """What a neighbour list is computed from: its cache key."""

    variant: str = "raw"  # training-set variant, a key of VARIANTS
    fold: int | None = None  # None: queries = test set; i: fold i of the training set
    n_folds: int = 5  # stratified folds of the cross-validation
    cv_seed: int = 42  # the report's random_state for StratifiedKFold(shuffle=True)
    cv_scheme: str = "report"  # how folds are drawn, a key of CV_SCHEMES
    k_max: int = 20  # neighbours kept per query

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ExplorerError(
                f"variant: expected one of {list(VARIANTS)}, found {self.variant!r}"
            )
        if self.cv_scheme not in CV_SCHEMES:
            raise ExplorerError(
                f"cv_scheme: expected one of {list(CV_SCHEMES)}, found {self.cv_scheme!r}"
            )
        if self.fold is not None and not 0 <= self.fold < self.n_folds:
            raise ExplorerError(f"fold: expected 0..{self.n_folds - 1} or None, found {self.fold}")
        if not 1 <= self.k_max <= 100:
            raise ExplorerError(f"k_max: expected 1..100, found {self.k_max}")


CV_SCHEMES = {
    "report": "as the report ran it: 59,999 images (its CSV lost the first one to the "
    "header line) and scikit-learn's StratifiedKFold of 2020 (one shuffled KFold per class)",
    "stratified": "all 60,000 images and today's StratifiedKFold(shuffle=True)",
}


def folds(labels: np.ndarray, scheme: str = "report", n_folds: int = 5, seed: int = 42):
    """Held-out training-set indices of each fold of a cross-validation scheme.

    ``"report"`` reproduces the report's folds exactly: its first training image was
    lost, and scikit-learn before 0.22 split each class with its own shuffled ``KFold``
    drawing from one ``RandomState(seed)``, class after class (the first
    ``count % n_folds`` folds of a class get one image more).
    """
    if scheme == "stratified":
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return [test for _, test in splitter.split(np.zeros(len(labels)), labels)]
    rows = np.arange(1, len(labels))
    y = labels[rows]
    rng = np.random.RandomState(seed)  # the legacy generator: same draws as in 2020
    assignment = np.empty(len(y), np.int64)
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        order = np.arange(max(len(members), n_folds))
        rng.shuffle(order)
        sizes = np.full(n_folds, len(order) // n_folds)
        sizes[: len(order) % n_folds] += 1
        fold_of = np.empty(len(order), np.int64)
        fold_of[order] = np.repeat(np.arange(n_folds), sizes)
        assignment[members] = fold_of[: len(members)]
    return [rows[assignment == f] for f in range(n_folds)]


def cv_rows(n_train: int, scheme: str) -> np.ndarray:
    """The training-set indices a cross-validation scheme uses."""
    return np.arange(1 if scheme == "report" else 0, n_train)


@functools.lru_cache(maxsize=2)
def _prepared(deskewed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    (xtr, ytr), (xte, yte) = load_mnist("train"), load_mnist("test")
    if deskewed:
        xtr, xte = augment.deskew(xtr), augment.deskew(xte)
    return xtr, ytr, xte, yte


@functools.lru_cache(maxsize=16)
def _fold_rows(scheme: str, n_folds: int, seed: int, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held) training-set rows of one fold: computed once per fold, not per vote."""
    ytr = load_mnist("train")[1]
    held = folds(ytr, scheme, n_folds, seed)[fold]
    return np.setdiff1d(cv_rows(len(ytr), scheme), held), held


def _split(config: NeighbourConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, query images, query labels) before augmentation."""
    xtr, ytr, xte, yte = _prepared(VARIANTS[config.variant].deskew)
    if config.fold is None:
        return xtr, ytr, xte, yte
    kept, held = _fold_rows(config.cv_scheme, config.n_folds, config.cv_seed, config.fold)
    return xtr[kept], ytr[kept], xtr[held], ytr[held]


def _labels(config: NeighbourConfig) -> tuple[np.ndarray, np.ndarray]:
    """(training labels, query labels) without touching the images."""
    ytr, yte = load_mnist("train")[1], load_mnist("test")[1]
    if config.fold is None:
        return ytr, yte
    kept, held = _fold_rows(config.cv_scheme, config.n_folds, config.cv_seed, config.fold)
    return ytr[kept], ytr[held]


def query_labels(config: NeighbourConfig) -> np.ndarray:
    """Labels of the queries of ``config`` (test labels, or the held-out fold's)."""
    return _labels(config)[1]


def training_labels(config: NeighbourConfig) -> np.ndarray:
    """Labels of the (possibly augmented) training set the neighbour indices point into."""
    n_copies = 1 + sum(len(augment.GROUPS[g]) for g in VARIANTS[config.variant].groups)
    return np.tile(_labels(config)[0], n_copies)


def neighbours(config: NeighbourConfig, progress: Progress | None = None) -> Result:
    """The cached neighbour list of ``config``, computed and cached if missing.

    Arrays: ``indices`` (n_queries, k_max) int32 into the training variant, ``sqdist``
    (n_queries, k_max) int64. Meta: timings and the sizes involved.
    """

    def compute():
        start = time.perf_counter()
        xtr, ytr, xq, _ = _split(config)
        variant = VARIANTS[config.variant]
        pca = fit_pca(xtr, variant.pca) if variant.pca else None  # on the originals
        if variant.groups:
            xtr, ytr = augment.augment(xtr, ytr, variant.groups, clip=variant.deskew)
        if pca is not None:
            xtr, xq = pca.project(xtr), pca.project(xq)
        prepared = time.perf_counter() - start
        nb = nearest_neighbours(xtr, xq, config.k_max, progress=progress)
        meta = {
            "n_train": len(xtr),
            "n_queries": len(xq),
            "seconds_prepare": round(prepared, 3),
            "seconds_search": round(time.perf_counter() - start - prepared, 3),
            "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "cpu": torch.backends.cpu.get_cpu_capability(),
            "products": nb.products,
            "products_reason": nb.products_reason,
        }
        return {"indices": nb.indices, "sqdist": nb.sqdist}, meta

    return STORE.get_or_compute(config, compute)


def cached_neighbours(config: NeighbourConfig) -> Result | None:
    """The neighbour list of ``config`` if it is cached, without computing anything."""
    return STORE.load(config)


def predict(
    result: Result, config: NeighbourConfig, k: int, weights: str
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and class scores of a K-vote over a cached neighbour list."""
    labels = training_labels(config)[result.arrays["indices"]]
    return vote(labels, result.arrays["sqdist"], k, weights)


def accuracy_table(result: Result, config: NeighbourConfig, ks=K_RANGE) -> pd.DataFrame:
    """Accuracy for every K (rows) and weighting (columns) from one neighbour list."""
    y = query_labels(config)
    table = {
        w: [evaluate.accuracy(y, predict(result, config, k, w)[0]) for k in ks] for w in WEIGHTS
    }
    return pd.DataFrame(table, index=pd.Index(ks, name="K"))


def grid_search(
    variant: str = "raw", ks=K_RANGE, progress: Progress | None = None, **cv
) -> pd.DataFrame:
    """Cross-validated accuracy of every (K, weighting): one neighbour pass per fold.

    Returns one row per configuration with the accuracy of each fold, their mean and
    standard deviation, and the rank of the mean (1 = best).
    """
    base = NeighbourConfig(variant=variant, **cv)
    per_fold = []
    for fold in range(base.n_folds):
        config = replace(base, fold=fold)
        result = neighbours(config, _fold_progress(progress, fold, base.n_folds))
        per_fold.append(accuracy_table(result, config, ks).stack())
    table = pd.concat(per_fold, axis=1, keys=[f"fold{i + 1}" for i in range(base.n_folds)])
    table.index.names = ["K", "weights"]
    table["mean"] = table.mean(axis=1)
    table["std"] = table.iloc[:, : base.n_folds].std(axis=1, ddof=0)
    table["rank"] = table["mean"].rank(ascending=False, method="min").astype(int)
    return table


def _fold_progress(progress: Progress | None, fold: int, n_folds: int) -> Progress | None:
    if progress is None:
        return None
    return lambda done, total: progress(fold * total + done, n_folds * total)


def training_images(config: NeighbourConfig, indices: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The training images ``indices`` of a neighbour list point to, and how each was made.

    Indices past the originals point into the augmented copies (ordered as
    :func:`core.augment.augment` builds them); those images are rebuilt on the fly.
    Returns ``(images (len(indices), 28, 28) uint8, descriptions)``.
    """
    xtr, _, _, _ = _split(config)
    variant = VARIANTS[config.variant]
    names = [t for g in augment.GROUPS if g in variant.groups for t in augment.GROUPS[g]]
    copy, original = np.divmod(np.asarray(indices, np.int64), len(xtr))
    out, about = np.empty((len(copy), 28, 28), np.uint8), []
    for i, (c, j) in enumerate(zip(copy, original, strict=True)):
        image = xtr[j : j + 1]
        if c:
            image = np.clip(augment.apply_transform(image, names[c - 1]), 0, 255)
        out[i] = image[0]
        about.append(f"#{j}" + (f" {names[c - 1]}" if c else ""))
    return out, about
