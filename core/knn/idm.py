"""Nearest neighbours that bend: the image distortion model (IDM) re-ranking.

The Euclidean distance compares pixel (i, j) of a query only with pixel (i, j) of a
training image, so a stroke one pixel away from where the training image has it costs as
much as a missing stroke. The IDM distance (:mod:`.distortion`) lets every pixel move a
little. Comparing a query with 60,000 training images that way costs ~25× a Euclidean
pass, so IDM *re-ranks* candidates: the Euclidean nearest of one or more cached neighbour
lists (the candidate sources, e.g. the deskewed set and its augmented copies), an image
found by several compared once. Distances are exact; ties rank by candidate order (source
order, then Euclidean rank).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

import numba
import numpy as np
import torch

from core.cache import Result, Store
from core.data import DATA_CHECKSUM, load_mnist
from core.errors import ExplorerError
from core.knn import augment
from core.knn.distortion import INF, distances
from core.knn.folds import CV_SCHEMES, fold_rows
from core.knn.runs import VARIANTS, NeighbourConfig, Variant, image_neighbours, neighbours
from core.knn.search import vote
from core.progress import Progress

CODE_VERSION = 1
STORE = Store("knn-idm", DATA_CHECKSUM, CODE_VERSION)
SIDE = augment.SIDE
_BATCH = 64  # queries per kernel call: their candidates' gradients stay a few MB
# The vote over the re-ranked neighbours, chosen with IdmConfig's defaults; any K up to
# ``keep`` and either weighting is a vote over the same cached distances.
K, WEIGHTS_CHOSEN = 1, "uniform"


@dataclass(frozen=True)
class IdmConfig:
    """An IDM re-ranking: its candidates, its distance, and its queries (the cache key).

    The defaults are the configuration chosen on held-out training images
    (``bench/bench_idm.py``), not on the test set.
    """

    # (training variant, how many of its Euclidean nearest) per candidate source; every
    # source deskewed alike (the query is prepared once). A name of VARIANTS is accepted.
    sources: tuple = (("deskewed", 50), ("deskewed+augmented+diagonals", 20))
    window: int = 2  # w: each query pixel may match within ±w pixels (0: no bending)
    context: int = 1  # c: pixels compared on (2c+1)² patches of both gradient images
    keep: int = 10  # exact IDM distances kept per query: votes of K up to keep
    fold: int | None = None  # None: the test set; i: fold i of the training set
    n_folds: int = 5
    cv_seed: int = 42
    cv_scheme: str = "report"

    def __post_init__(self):
        sources = tuple(
            (VARIANTS[v] if isinstance(v, str) and v in VARIANTS else v, int(n))
            for v, n in self.sources
        )
        object.__setattr__(self, "sources", sources)
        if not sources:
            raise ExplorerError("sources: expected at least one (variant, n) candidate source")
        for v, n in sources:
            if not isinstance(v, Variant):
                raise ExplorerError(
                    f"sources: expected variants among {list(VARIANTS)}, found {v!r}"
                )
            if not 1 <= n <= 100:
                raise ExplorerError(f"sources: expected 1..100 candidates per source, found {n}")
        if len({(v.deskew, v.clip or not v.transforms) for v, _ in sources}) > 1:
            raise ExplorerError(
                "sources: expected variants all deskewed or all not (and clipped alike), "
                f"found {[(v.deskew, v.clip) for v, _ in sources]}"
            )
        if not 0 <= self.window <= 4:
            raise ExplorerError(f"window: expected 0..4 pixels, found {self.window}")
        if not 0 <= self.context <= 2:
            raise ExplorerError(f"context: expected 0..2 (patches 1×1..5×5), found {self.context}")
        largest = max(n for _, n in sources)
        if not 1 <= self.keep <= min(20, largest):  # one source's candidates are distinct
            raise ExplorerError(
                f"keep: expected 1..{min(20, largest)} (at most the largest source's "
                f"candidates), found {self.keep}"
            )
        if self.cv_scheme not in CV_SCHEMES:
            raise ExplorerError(
                f"cv_scheme: expected one of {list(CV_SCHEMES)}, found {self.cv_scheme!r}"
            )
        if self.fold is not None and not 0 <= self.fold < self.n_folds:
            raise ExplorerError(f"fold: expected 0..{self.n_folds - 1} or None, found {self.fold}")

    @property
    def deskew(self) -> bool:
        return self.sources[0][0].deskew

    @property
    def clip(self) -> bool:
        """Whether the augmented copies were clipped to 0..255 (as their images are rebuilt)."""
        return all(v.clip for v, _ in self.sources if v.transforms)

    @property
    def n_candidates(self) -> int:
        return sum(n for _, n in self.sources)


def source_configs(config: IdmConfig) -> list[NeighbourConfig]:
    """The cached Euclidean neighbour lists the candidates come from (k_max 20 where that
    is enough, so the lists the KNN pages use serve here too)."""
    cv = dict(fold=config.fold, n_folds=config.n_folds, cv_seed=config.cv_seed)
    return [
        NeighbourConfig(variant=v, k_max=max(20, n), cv_scheme=config.cv_scheme, **cv)
        for v, n in config.sources
    ]


# -- re-ranking cached candidates ----------------------------------------------------------


def _split(config: IdmConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(training images before augmentation, their labels, query images, query labels),
    not deskewed yet."""
    (xtr, ytr), (xte, yte) = load_mnist("train"), load_mnist("test")
    if config.fold is not None:
        kept, held = fold_rows(config.cv_scheme, config.n_folds, config.cv_seed, config.fold)
        xtr, ytr, xte, yte = xtr[kept], ytr[kept], xtr[held], ytr[held]
    return xtr, ytr, xte, yte


def _prepared(config: IdmConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_split`, deskewed where the sources are."""
    xtr, ytr, xte, yte = _split(config)
    if config.deskew:
        xtr, xte = augment.deskew(xtr), augment.deskew(xte)
    return xtr, ytr, xte, yte


def candidate_keys(config: IdmConfig, lists: list[np.ndarray], n_train: int) -> np.ndarray:
    """Candidates as image identities, the same number for the same image whatever the
    source: ``t · n_train + j`` for transformation t (0: the original, 1 + its place in
    :data:`augment.TRANSFORMS` otherwise) of training image j.

    lists : one (n_queries, ≥ n) index array per source, into that source's variant
    Returns int64 (n_queries, n_candidates).
    """
    out = []
    for (variant, n), idx in zip(config.sources, lists, strict=True):
        copy, j = np.divmod(idx[:, :n].astype(np.int64), n_train)
        ids = np.array([0] + [1 + augment.TRANSFORMS.index(t) for t in variant.transforms])
        out.append(ids[copy] * n_train + j)
    return np.concatenate(out, axis=1)


def key_images(keys: np.ndarray, xtr: np.ndarray, clip: bool = True) -> np.ndarray:
    """The training images of some candidate keys (N,), rebuilt: (N, 28, 28)."""
    t, j = np.divmod(np.asarray(keys, np.int64), len(xtr))
    out = np.empty((len(t), SIDE, SIDE), np.int16 if not clip else np.uint8)
    for tid in np.unique(t):  # one vectorised transformation per kind of copy
        at = np.flatnonzero(t == tid)
        images = xtr[j[at]]
        if tid:
            images = augment.apply_transform(images, augment.TRANSFORMS[tid - 1], clip)
        out[at] = images
    return out


def _first_occurrences(keys: np.ndarray) -> np.ndarray:
    """A mask (B, K) of each row's first occurrence of a key (a duplicate is compared once)."""
    order = np.argsort(keys, axis=1, kind="stable")
    ranked = np.take_along_axis(keys, order, axis=1)
    first = np.ones(keys.shape, bool)
    first[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    out = np.empty(keys.shape, bool)
    np.put_along_axis(out, order, first, axis=1)
    return out


def pool_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct candidate keys of a batch (B, K), and each candidate's row among them
    (B, K), −1 for a key its query already has earlier (compared once) and for a negative
    key (no candidate: the kernel skips it)."""
    pool_keys, rows = np.unique(keys, return_inverse=True)
    skip = ~_first_occurrences(keys) | (keys < 0)
    return pool_keys, np.where(skip, -1, rows.reshape(keys.shape))


def rerank(
    config: IdmConfig,
    queries: np.ndarray,
    keys: np.ndarray,
    xtr: np.ndarray,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``keep`` IDM-nearest of each query among its candidates, nearest first.

    queries : (n, 28, 28) prepared like the training images; keys : (n, K) candidate keys
    Returns ``(keys (n, keep) int64, distances (n, keep) int64)``; a row with fewer than
    ``keep`` distinct candidates ends with key −1 and distance :data:`INF`.
    """
    n, keep = len(queries), config.keep
    out_keys, out_dist = np.full((n, keep), -1, np.int64), np.full((n, keep), INF, np.int64)
    for s in range(0, n, _BATCH):
        kb = keys[s : s + _BATCH]
        pool_keys, rows = pool_rows(kb)
        d = distances(
            queries[s : s + _BATCH], key_images(pool_keys, xtr, config.clip), rows,
            config.window, config.context, keep,
        )  # fmt: skip
        order = np.argsort(d, axis=1, kind="stable")[:, :keep]  # ties: candidate order
        taken = min(keep, kb.shape[1])
        out_dist[s : s + _BATCH, :taken] = np.take_along_axis(d, order, axis=1)
        out_keys[s : s + _BATCH, :taken] = np.take_along_axis(kb, order, axis=1)
        if progress is not None:
            progress(min(s + _BATCH, n), n)
    out_keys[out_dist == INF] = -1
    return out_keys, out_dist


def idm_neighbours(config: IdmConfig, progress: Progress | None = None) -> Result:
    """The cached IDM re-ranking of ``config``, computed (candidates first) if missing.

    Arrays: ``keys`` (n_queries, keep) int64 candidate keys (:func:`candidate_keys`),
    ``labels`` (n_queries, keep) int64, ``distances`` (n_queries, keep) int64, nearest
    first. Meta: timings, and how many distinct candidates a query had on average.
    """

    def compute():
        start = time.perf_counter()
        lists = [neighbours(c).arrays["indices"] for c in source_configs(config)]
        searched = time.perf_counter()
        xtr, ytr, xq, _ = _prepared(config)
        keys = candidate_keys(config, lists, len(xtr))
        top, dist = rerank(config, xq, keys, xtr, progress)
        labels = np.where(top >= 0, ytr[top % len(xtr)], -1).astype(np.int64)
        meta = {
            "n_queries": len(xq),
            "distinct_candidates": round(float(_first_occurrences(keys).sum(1).mean()), 2),
            "seconds_candidates": round(searched - start, 3),
            "seconds_rerank": round(time.perf_counter() - searched, 3),
            "threads": numba.get_num_threads(),
            "cpus": os.cpu_count(),
            "cpu": torch.backends.cpu.get_cpu_capability(),
        }
        return {"keys": top, "labels": labels, "distances": dist}, meta

    return STORE.get_or_compute(config, compute)


def predict(result: Result, k: int, weights: str) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and class scores of a K-vote over a cached IDM re-ranking."""
    dist = result.arrays["distances"].astype(np.float64)
    return vote(np.maximum(result.arrays["labels"], 0), dist, k, weights)


def idm_image(
    config: IdmConfig, image: np.ndarray, k: int = K, weights: str = WEIGHTS_CHOSEN
) -> dict:
    """One new image (28, 28) against the full training set: Euclidean candidates of its
    own from each source, then IDM.

    Returns ``scores`` (10,) of the K-vote, ``prediction``, and its ``keep`` nearest:
    ``keys``, ``labels``, ``distances``, ``images`` (keep, 28, 28) as compared (deskewed
    if the sources are), and ``query``: the image as compared.
    """
    config = replace(config, fold=None)
    image = np.asarray(image)
    xtr, ytr = _split(config)[:2]
    query = augment.deskew(image[None]) if config.deskew else image[None]
    lists = [image_neighbours(v, image, n).indices for v, n in config.sources]
    local, base, originals = _local(config, candidate_keys(config, lists, len(xtr)), xtr)
    top, dist = rerank(config, query, local, base)
    found = top[0] >= 0
    t, at = np.divmod(top[0][found], len(originals))
    labels = ytr[originals[at]].astype(np.int64)
    k = min(k, int(found.sum()))
    pred, scores = vote(labels[None], dist[:, found].astype(np.float64), k, weights)
    return {
        "scores": scores[0],
        "prediction": int(pred[0]),
        "keys": t * len(xtr) + originals[at],
        "labels": labels,
        "distances": dist[0][found],
        "images": key_images(top[0][found], base, config.clip),
        "query": query[0],
    }


def _local(
    config: IdmConfig, keys: np.ndarray, xtr: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few keys against only the training images they need, prepared (deskewed if the
    sources are) instead of the whole set: ``(keys into base, base (m, 28, 28), the
    originals' rows in xtr (m,))``."""
    t, j = np.divmod(np.asarray(keys, np.int64), len(xtr))
    originals, at = np.unique(j, return_inverse=True)
    base = augment.deskew(xtr[originals]) if config.deskew else xtr[originals]
    return t * len(originals) + at.reshape(t.shape), base, originals


def training_images(config: IdmConfig, keys: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The training images of some keys of a re-ranking of ``config``, as compared
    (deskewed if the sources are), and how each was made: ``(images (N, 28, 28), about)``.
    Only those images are prepared (one image's page needs a few, not the whole set)."""
    xtr = _split(config)[0]
    local, base, _ = _local(config, keys, xtr)
    t, j = np.divmod(np.asarray(keys, np.int64), len(xtr))
    names = ("", *(f" {name}" for name in augment.TRANSFORMS))
    about = [f"#{b}{names[a]}" for a, b in zip(t, j, strict=True)]
    return key_images(local, base, config.clip), about


def query_images(config: IdmConfig, rows: np.ndarray) -> np.ndarray:
    """Queries ``rows`` of ``config`` as compared (deskewed if the sources are)."""
    images = _split(config)[2][np.asarray(rows)]
    return augment.deskew(images) if config.deskew else images
