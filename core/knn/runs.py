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

from core import metrics
from core.cache import Result, Store
from core.data import DATA_CHECKSUM, load_mnist
from core.errors import ExplorerError
from core.knn import augment
from core.knn.folds import CV_SCHEMES, fold_rows
from core.knn.pca import Pca, fit_pca
from core.knn.search import WEIGHTS, Neighbours, nearest_neighbours, vote
from core.progress import Progress

# Bump when a change alters cached neighbour lists: 2 = lists an int8 kernel that
# saturates may have got wrong are recomputed; 3 = keyed by the variant's definition.
CODE_VERSION = 3
STORE = Store("knn-neighbours", DATA_CHECKSUM, CODE_VERSION)


@dataclass(frozen=True)
class Variant:
    """How training images (and, for deskewing and PCA, queries) are prepared: the
    definition itself, so that a cache key built from it changes with it."""

    transforms: tuple[str, ...] = ()  # augment.TRANSFORMS, copies stacked in this order
    deskew: bool = False  # straighten every image (training and query) by its moments
    clip: bool = False  # transformed pixels clipped to 0..255 (the report's were not)
    pca: int = 0  # 0: distances on pixels; n: on the n leading principal components

    def __post_init__(self):
        object.__setattr__(self, "transforms", tuple(self.transforms))
        unknown = [t for t in self.transforms if t not in augment.TRANSFORMS]
        if unknown:
            raise ExplorerError(
                f"transforms: expected names among {augment.TRANSFORMS}, found {unknown}"
            )
        if not 0 <= self.pca <= 784:
            raise ExplorerError(f"pca: expected 0..784 components, found {self.pca}")


def _report(*groups: str) -> Variant:
    # The report augmented int64 pixels: values leave 0..255 and stay so (98.02 % needs it).
    return Variant(augment.transforms_of(groups))


def _ours(*groups: str, pca: int = 0) -> Variant:
    return Variant(augment.transforms_of(groups), deskew=True, clip=True, pca=pca)


_BEYOND = (*augment.REPORT_GROUPS, "diagonals")
# The report's variants (its augmentation and ablation), then ours, beyond the report.
VARIANTS: dict[str, Variant] = {
    "raw": Variant(),
    "shifts": _report("shifts"),
    "rotations": _report("rotations"),
    "zooms": _report("zooms"),
    "augmented": _report(*augment.REPORT_GROUPS),
    "deskewed": _ours(),
    "deskewed+augmented": _ours(*augment.REPORT_GROUPS),
    "deskewed+augmented+diagonals": _ours(*_BEYOND),
    "deskewed+augmented+diagonals+pca60": _ours(*_BEYOND, pca=60),
}
REPORT_VARIANTS = ("raw", "shifts", "rotations", "zooms", "augmented")
REPORT_K, REPORT_WEIGHTS = 4, "distance"  # the report's chosen configuration
GRID_K = (3, 4, 5, 6, 8, 10)  # the report's grid
K_RANGE = tuple(range(1, 21))  # our extension


def variant_name(variant: Variant) -> str:
    """The name of a variant in :data:`VARIANTS`, or a description of an unnamed one."""
    name = next((n for n, v in VARIANTS.items() if v == variant), None)
    return (
        name
        or f"custom ({len(variant.transforms)} transforms, deskew {variant.deskew}, "
        f"pca {variant.pca})"
    )


@dataclass(frozen=True)
class NeighbourConfig:
    """What a neighbour list is computed from: its cache key, definitions and all."""

    variant: Variant = Variant()  # the training set (a name of VARIANTS is accepted)
    fold: int | None = None  # None: queries = test set; i: fold i of the training set
    n_folds: int = 5  # stratified folds of the cross-validation
    cv_seed: int = 42  # the report's random_state for StratifiedKFold(shuffle=True)
    cv_scheme: str = "report"  # how folds are drawn, a key of CV_SCHEMES
    k_max: int = 20  # neighbours kept per query

    def __post_init__(self):
        if isinstance(self.variant, str):
            if self.variant not in VARIANTS:
                raise ExplorerError(
                    f"variant: expected one of {list(VARIANTS)}, found {self.variant!r}"
                )
            object.__setattr__(self, "variant", VARIANTS[self.variant])
        if self.cv_scheme not in CV_SCHEMES:
            raise ExplorerError(
                f"cv_scheme: expected one of {list(CV_SCHEMES)}, found {self.cv_scheme!r}"
            )
        if self.fold is not None and not 0 <= self.fold < self.n_folds:
            raise ExplorerError(f"fold: expected 0..{self.n_folds - 1} or None, found {self.fold}")
        if not 1 <= self.k_max <= 100:
            raise ExplorerError(f"k_max: expected 1..100, found {self.k_max}")

    @property
    def name(self) -> str:
        return variant_name(self.variant)


@functools.lru_cache(maxsize=2)
def _prepared(deskewed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    (xtr, ytr), (xte, yte) = load_mnist("train"), load_mnist("test")
    if deskewed:
        xtr, xte = augment.deskew(xtr), augment.deskew(xte)
    return xtr, ytr, xte, yte


def _split(config: NeighbourConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, query images, query labels) before augmentation."""
    xtr, ytr, xte, yte = _prepared(config.variant.deskew)
    if config.fold is None:
        return xtr, ytr, xte, yte
    kept, held = fold_rows(config.cv_scheme, config.n_folds, config.cv_seed, config.fold)
    return xtr[kept], ytr[kept], xtr[held], ytr[held]


def _labels(config: NeighbourConfig) -> tuple[np.ndarray, np.ndarray]:
    """(training labels, query labels) without touching the images."""
    ytr, yte = load_mnist("train")[1], load_mnist("test")[1]
    if config.fold is None:
        return ytr, yte
    kept, held = fold_rows(config.cv_scheme, config.n_folds, config.cv_seed, config.fold)
    return ytr[kept], ytr[held]


def query_labels(config: NeighbourConfig) -> np.ndarray:
    """Labels of the queries of ``config`` (test labels, or the held-out fold's)."""
    return _labels(config)[1]


def training_labels(config: NeighbourConfig) -> np.ndarray:
    """Labels of the (possibly augmented) training set the neighbour indices point into."""
    return np.tile(_labels(config)[0], 1 + len(config.variant.transforms))


@dataclass(frozen=True)
class SearchSpace:
    """A variant's training set as the search sees it, and how a query is prepared alike.

    features : integer ndarray (n_train, d) — pixels (augmented copies stacked) or PCA
    labels : ndarray (n_train,)
    """

    variant: Variant
    features: np.ndarray
    labels: np.ndarray
    pca: Pca | None

    def queries(self, images: np.ndarray, deskewed: bool = False) -> np.ndarray:
        """Images (N, 28, 28) as this space's query features (deskewed unless already)."""
        if self.variant.deskew and not deskewed:
            images = augment.deskew(images)
        return self.pca.project(images) if self.pca is not None else images


def _search_space(xtr: np.ndarray, ytr: np.ndarray, variant: Variant) -> SearchSpace:
    pca = fit_pca(xtr, variant.pca) if variant.pca else None  # on the originals
    if variant.transforms:
        xtr, ytr = augment.augment(xtr, ytr, variant.transforms, clip=variant.clip)
    features = pca.project(xtr) if pca is not None else xtr
    for array in (features, ytr):
        array.flags.writeable = False  # shared by every query of the process
    return SearchSpace(variant, features, ytr, pca)


def _built_space(variant: Variant) -> SearchSpace:
    xtr, ytr, _, _ = _prepared(variant.deskew)
    return _search_space(xtr, ytr, variant)


# An augmented set is up to 0.85 GB: one at a time. The sets without augmentation (47 MB
# each) stay, so a method asking two sets in turn (the distortion KNN's candidates come
# from the deskewed set and an augmented one) does not rebuild the augmented one each time.
_augmented_space = functools.lru_cache(maxsize=1)(_built_space)
_plain_space = functools.lru_cache(maxsize=8)(_built_space)


def search_space(variant: Variant) -> SearchSpace:
    """The full training set of a variant, built once per process (one-image queries)."""
    return (_augmented_space if variant.transforms else _plain_space)(variant)


def parts(variant: Variant) -> tuple[list[Variant], tuple[str, ...]]:
    """Named variants whose training sets lie inside ``variant``'s, and the copies none of
    them holds: the neighbours of ``variant`` are the nearest of theirs and of a search of
    those copies alone, so no training image is searched twice.

    Only pixel variants prepared alike (deskewing, clipping), with their copies in the
    same order, are parts; the largest first, each adding copies the others lack. The
    originals alone (raw or deskewed) are the part where no other fits. ``([],
    variant.transforms)``: no part.
    """
    if variant.pca or not variant.transforms:
        return [], variant.transforms
    inside = [
        v
        for v in VARIANTS.values()
        if v != variant and not v.pca and (v.deskew, v.clip) == (variant.deskew, variant.clip)
        and v.transforms and set(v.transforms) <= set(variant.transforms)
        and _in_order(v.transforms, variant.transforms)
    ]  # fmt: skip
    chosen, covered = [], set()
    for v in sorted(inside, key=lambda v: -len(v.transforms)):
        if not set(v.transforms) <= covered:
            chosen.append(v)
            covered |= set(v.transforms)
    plain = replace(variant, transforms=())
    if not chosen and plain in VARIANTS.values():  # the originals alone
        chosen = [plain]
    return chosen, tuple(t for t in variant.transforms if t not in covered)


def _in_order(part: tuple[str, ...], whole: tuple[str, ...]) -> bool:
    """Whether ``part``'s copies are stacked in ``whole``'s order: its rows then rank ties
    (lower row first) as ``whole``'s do, and its list's cut at k_max is the same."""
    places = [whole.index(t) for t in part]
    return places == sorted(places)


def merge_nearest(
    lists: list[tuple[np.ndarray, np.ndarray]], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest of several neighbour lists of the same queries, each (indices,
    sqdist) with indices into one training set: a training image in several lists counts
    once; ties by lower index, as every search ranks them."""
    idx = np.concatenate([np.asarray(i, np.int64) for i, _ in lists], axis=1)
    dist = np.concatenate([np.asarray(d, np.int64) for _, d in lists], axis=1)
    order = np.lexsort((idx, dist), axis=-1)
    idx, dist = np.take_along_axis(idx, order, 1), np.take_along_axis(dist, order, 1)
    again = np.zeros(idx.shape, bool)  # the same image as the one before it: dropped
    again[:, 1:] = idx[:, 1:] == idx[:, :-1]
    dist = np.where(again, np.iinfo(np.int64).max, dist)
    order = np.lexsort((idx, dist), axis=-1)[:, :k]
    return np.take_along_axis(idx, order, 1), np.take_along_axis(dist, order, 1)


def _positions(variant: Variant, transforms: tuple[str, ...], n: int) -> np.ndarray:
    """Where each copy (original first) of a set stacking ``transforms`` sits in
    ``variant``'s stacked set: the offset to add, per copy, to an image's row."""
    place = [0] + [1 + variant.transforms.index(t) for t in transforms]
    return np.asarray(place, np.int64) * n


def _composed(
    config: NeighbourConfig, xtr, ytr, xq, progress: Progress | None
) -> tuple[Neighbours, int] | None:
    """The neighbours of ``config`` from its parts' (cached, or computed now) and a search
    of the copies they lack; with how many images were searched here. None: no part."""
    variant = config.variant
    found, rest = parts(variant)
    if not found:
        return None
    n = len(xtr)
    lists = []
    for part in found:
        nb = neighbours(replace(config, variant=part), progress).arrays
        copy, j = np.divmod(nb["indices"].astype(np.int64), n)
        lists.append((_positions(variant, part.transforms, n)[copy] + j, nb["sqdist"]))
    searched, path = 0, "merged"
    if rest:
        copies = augment.augment(xtr, ytr, rest, clip=variant.clip)[0][n:]
        nb = nearest_neighbours(copies, xq, config.k_max, progress=progress)
        copy, j = np.divmod(nb.indices.astype(np.int64), n)
        lists.append((_positions(variant, rest, n)[copy + 1] + j, nb.sqdist))
        searched, path = len(copies), nb.products
    indices, sqdist = merge_nearest(lists, config.k_max)
    reason = f"merged from {[variant_name(v) for v in found]} and a search of {list(rest)}"
    return Neighbours(indices.astype(np.int32), sqdist, path, reason), searched


def neighbours(config: NeighbourConfig, progress: Progress | None = None) -> Result:
    """The cached neighbour list of ``config``, computed and cached if missing.

    An augmented set's list is merged from the lists of the named variants inside it (see
    :func:`parts`; theirs are computed first if missing) and a search of the copies they
    lack: the same neighbours as one search of the whole set, each image searched once.

    Arrays: ``indices`` (n_queries, k_max) int32 into the training variant, ``sqdist``
    (n_queries, k_max) int64. Meta: timings and the sizes involved.
    """

    def compute():
        start = time.perf_counter()
        xtr, ytr, xq, _ = _split(config)
        n_train = len(xtr) * (1 + len(config.variant.transforms))
        if (composed := _composed(config, xtr, ytr, xq, progress)) is not None:
            nb, searched = composed
            prepared = 0.0
        else:
            space = _search_space(xtr, ytr, config.variant)
            xq = space.queries(xq, deskewed=True)  # _split deskewed them already
            prepared = time.perf_counter() - start
            nb = nearest_neighbours(space.features, xq, config.k_max, progress=progress)
            searched = len(space.features)
        meta = {
            "variant_name": config.name,
            "n_train": n_train,
            "n_searched": searched,
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


def image_neighbours(variant: Variant, image: np.ndarray, k: int) -> Neighbours:
    """The ``k`` nearest training images of a new image (28, 28) in a variant's set."""
    space = search_space(variant)
    return nearest_neighbours(space.features, space.queries(np.asarray(image)[None]), k)


def predict_images(
    variant: Variant, images: np.ndarray, k: int = REPORT_K, weights: str = REPORT_WEIGHTS
) -> tuple[np.ndarray, np.ndarray]:
    """(predictions (N,), class scores (N, 10)) of new images against a variant's
    training set: a search of its own, not the cache (the set is built once per process)."""
    space = search_space(variant)
    nb = nearest_neighbours(space.features, space.queries(np.asarray(images)), k)
    return vote(space.labels[nb.indices], nb.sqdist, k, weights)


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
        w: [metrics.accuracy(y, predict(result, config, k, w)[0]) for k in ks] for w in WEIGHTS
    }
    return pd.DataFrame(table, index=pd.Index(ks, name="K"))


def grid_search(
    variant: str | Variant = "raw", ks=K_RANGE, progress: Progress | None = None, **cv
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


def fold_configs(variant: str | Variant = "raw", **cv) -> list[NeighbourConfig]:
    """The neighbour configs of every fold of a cross-validation (``cv``: its settings)."""
    base = NeighbourConfig(variant=variant, **cv)
    return [replace(base, fold=f) for f in range(base.n_folds)]


def out_of_fold_scores(
    variant: str | Variant = "deskewed",
    k: int = 10,
    weights: str = "distance",
    progress: Progress | None = None,
    compute: bool = True,
    **cv,
) -> np.ndarray | None:
    """Class scores (n_train, 10) of every training image, each voted by the folds that
    hold it out: out-of-sample evidence about its label. Rows of images no fold holds
    (the report's scheme lost image 0) are NaN; use ``cv_scheme="stratified"`` for all.

    Fold lists are computed if missing, unless ``compute`` is False (then None).
    """
    configs = fold_configs(variant, **cv)
    out = np.full((len(load_mnist("train")[1]), 10), np.nan)
    for config in configs:
        if compute:
            result = neighbours(config, _fold_progress(progress, config.fold, len(configs)))
        else:
            result = cached_neighbours(config)
            if result is None:
                return None
        held = fold_rows(config.cv_scheme, config.n_folds, config.cv_seed, config.fold)[1]
        out[held] = predict(result, config, k, weights)[1]
    return out


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
    names = config.variant.transforms
    copy, original = np.divmod(np.asarray(indices, np.int64), len(xtr))
    out, about = np.empty((len(copy), 28, 28), np.uint8), []
    for i, (c, j) in enumerate(zip(copy, original, strict=True)):
        image = xtr[j : j + 1]
        if c:
            image = np.clip(augment.apply_transform(image, names[c - 1]), 0, 255)
        out[i] = image[0]
        about.append(f"#{j}" + (f" {names[c - 1]}" if c else ""))
    return out, about


def query_neighbours(
    result: Result, config: NeighbourConfig, row: int, k: int
) -> tuple[np.ndarray, pd.DataFrame]:
    """The ``k`` nearest training images of query ``row`` of a cached neighbour list.

    Returns ``(images (k, 28, 28) uint8, table)``: per neighbour its index in the
    (augmented) training set, how it was made, its label and its distance.
    """
    idx = result.arrays["indices"][row, :k]
    images, about = training_images(config, idx)
    table = pd.DataFrame(
        {
            "index": idx,
            "training image": about,
            "label": training_labels(config)[idx],
            "distance": np.sqrt(result.arrays["sqdist"][row, :k].astype(np.float64)),
        }
    )
    return images, table
