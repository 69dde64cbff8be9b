"""Exact brute-force k nearest neighbours, and voting from cached neighbour lists.

Neighbours are ranked by exact squared Euclidean distance, ties by lower training
index: the order scikit-learn's brute-force search gives on integer pixels (its float64
arithmetic is exact for them). Candidates are found with float32 matrix products in
blocks (‖t‖² − 2 q·t; ‖q‖² is constant per query), then re-ranked with exact integer
distances. A rigorous bound on the float32 rounding error certifies, query by query,
that no training image outside the candidates can be among the ``k_max`` nearest;
the rare query that fails the certificate is recomputed exactly in float64.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import ExplorerError

_log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

WEIGHTS = ("uniform", "distance")
_MARGIN = 8  # extra float32 candidates per query, re-ranked exactly
_BLOCK = 8192  # rows of train and query per block: a block product is 256 MiB of float32
_U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff


@dataclass(frozen=True)
class Neighbours:
    """The ``k_max`` nearest training images of each query, nearest first.

    indices : ndarray of shape (n_queries, k_max), int32 — rows of the training set
    sqdist : ndarray of shape (n_queries, k_max), int64 — exact squared distances
    """

    indices: np.ndarray
    sqdist: np.ndarray

    @property
    def k_max(self) -> int:
        return self.indices.shape[1]


def _as_rows(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 3:
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        raise ExplorerError(
            f"{name}: expected integer pixels of shape (n, 28, 28) or (n, features), "
            f"found {x.dtype} of shape {x.shape}"
        )
    if x.size and max(-int(x.min()), int(x.max())) >= 1 << 15:
        raise ExplorerError(f"{name}: expected pixel values within ±32767 for exact distances")
    return x


def _sq_norms(x: np.ndarray) -> np.ndarray:
    # Exact in int64, in chunks so the int64 copy stays small.
    out = np.empty(len(x), np.int64)
    for s in range(0, len(x), _BLOCK):
        c = x[s : s + _BLOCK].astype(np.int64)
        out[s : s + _BLOCK] = np.einsum("ij,ij->i", c, c)
    return out


def nearest_neighbours(
    train: np.ndarray,
    query: np.ndarray,
    k_max: int = 20,
    *,
    progress: Progress | None = None,
) -> Neighbours:
    """Exact ``k_max`` nearest neighbours of every query row in ``train``.

    Parameters
    ----------
    train : integer ndarray of shape (n_train, 28, 28) or (n_train, n_features)
    query : integer ndarray of shape (n_queries, ...) with the same features
    k_max : number of neighbours kept (any K ≤ k_max can then be voted)
    progress : called as ``progress(pairs_done, pairs_total)``

    Peak extra memory is a few blocks of 8192 rows (about 1 GiB), whatever the sizes.
    """
    train, query = _as_rows(train, "train"), _as_rows(query, "query")
    n, m = len(train), len(query)
    if train.shape[1] != query.shape[1]:
        raise ExplorerError(
            f"query: expected {train.shape[1]} features like train, found {query.shape[1]}"
        )
    if not 1 <= k_max <= n:
        raise ExplorerError(f"k_max: expected 1..{n} (the training-set size), found {k_max}")
    n_cand = min(n, k_max + _MARGIN)
    tn = _sq_norms(train)
    qn = _sq_norms(query)
    tn32 = torch.from_numpy(tn.astype(np.float32))
    cand = np.empty((m, n_cand), np.int64)
    worst = np.empty(m, np.float64)  # largest approximate key among a query's candidates
    done = 0
    for q0 in range(0, m, _BLOCK):
        q = torch.from_numpy(query[q0 : q0 + _BLOCK].astype(np.float32))
        best_v = best_i = None
        for t0 in range(0, n, _BLOCK):
            t = torch.from_numpy(train[t0 : t0 + _BLOCK].astype(np.float32))
            key = torch.addmm(tn32[t0 : t0 + len(t)], q, t.T, beta=1.0, alpha=-2.0)
            v, i = torch.topk(key, min(n_cand, len(t)), dim=1, largest=False, sorted=False)
            i += t0
            if best_v is not None:
                v, i = torch.cat([best_v, v], 1), torch.cat([best_i, i], 1)
                v, sel = torch.topk(v, n_cand, dim=1, largest=False, sorted=False)
                i = torch.gather(i, 1, sel)
            best_v, best_i = v, i
            done += len(q) * len(t)
            if progress is not None:
                progress(done, m * n)
        cand[q0 : q0 + len(q)] = best_i.numpy()
        worst[q0 : q0 + len(q)] = best_v.max(dim=1).values.double().numpy()
    indices, sqdist = _rerank_exact(train, query, tn, qn, cand, k_max)
    # Certificate: a training row outside the candidates has an approximate key ≥ worst,
    # so its exact key is ≥ worst - err; if that exceeds the k-th exact key, it cannot
    # belong to the k_max nearest (not even by a tie on the index).
    d = train.shape[1]
    gamma = (d + 4) * _U32 / (1 - (d + 4) * _U32)
    err = 2 * gamma * (tn.max() + 2 * np.sqrt(qn * float(tn.max()))) + 1.0
    unsure = np.flatnonzero(worst - err <= (sqdist[:, -1] - qn)) if n_cand < n else []
    _log.debug("knn: %d of %d queries recomputed exactly in float64", len(unsure), m)
    for s in range(0, len(unsure), 256):
        rows = unsure[s : s + 256]
        indices[rows], sqdist[rows] = _exact_rows(train, query[rows], tn, qn[rows], k_max)
    return Neighbours(indices.astype(np.int32), sqdist)


def _rerank_exact(train, query, tn, qn, cand, k_max):
    """Sort each query's candidates by (exact squared distance, index); keep k_max."""
    m, n_cand = cand.shape
    sq = np.empty((m, n_cand), np.int64)
    chunk = max(1, (64 << 20) // (n_cand * train.shape[1] * 8))
    for s in range(0, m, chunk):
        c = cand[s : s + chunk]
        gathered = train[c].astype(np.float64)  # (c, n_cand, d): exact integers
        dots = np.einsum("ckd,cd->ck", gathered, query[s : s + chunk].astype(np.float64))
        sq[s : s + chunk] = qn[s : s + chunk, None] + tn[c] - 2 * np.rint(dots).astype(np.int64)
    return _select(sq, cand, k_max, len(train))


def _exact_rows(train, query_rows, tn, qn_rows, k_max):
    """Exact neighbours of a few queries against the whole training set (float64)."""
    q = query_rows.astype(np.float64)
    sq = np.empty((len(q), len(train)), np.int64)
    for t0 in range(0, len(train), _BLOCK):
        t = train[t0 : t0 + _BLOCK].astype(np.float64)
        sq[:, t0 : t0 + len(t)] = tn[t0 : t0 + len(t)] - 2 * np.rint(q @ t.T).astype(np.int64)
    sq += qn_rows[:, None]
    idx = np.broadcast_to(np.arange(len(train)), sq.shape)
    return _select(sq, idx, k_max, len(train))


def _select(sq, idx, k_max, n):
    """The k_max smallest (sq, idx) pairs of each row, sorted; returns (idx, sq)."""
    # One int64 key per pair orders by distance, then index (sq < 2^34, n < 2^29).
    composite = sq * n + idx
    if composite.shape[1] > k_max:
        part = np.argpartition(composite, k_max - 1, axis=1)[:, :k_max]
        composite = np.take_along_axis(composite, part, 1)
    composite.sort(axis=1)
    return composite % n, composite // n


def vote(
    neighbour_labels: np.ndarray,
    sqdist: np.ndarray,
    k: int,
    weights: str = "uniform",
    n_classes: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions of a K-nearest-neighbours vote, as scikit-learn's classifier makes them.

    Parameters
    ----------
    neighbour_labels : int ndarray of shape (n_queries, k_max), nearest first
    sqdist : ndarray of shape (n_queries, k_max), squared distances
    k : neighbours that vote (1 ≤ k ≤ k_max)
    weights : "uniform" (one vote each) or "distance" (1/distance; a query at distance
        zero from some neighbours gets exactly their votes, as in scikit-learn)

    Returns
    -------
    predictions : ndarray of shape (n_queries,), the class with most votes (the lowest
        such class on a tie, as ``argmax``/scikit-learn choose)
    scores : ndarray of shape (n_queries, n_classes), votes normalised to sum to 1
    """
    k_max = neighbour_labels.shape[1]
    if not 1 <= k <= k_max:
        raise ExplorerError(f"k: expected 1..{k_max} (the neighbours cached), found {k}")
    if weights not in WEIGHTS:
        raise ExplorerError(f"weights: expected one of {WEIGHTS}, found {weights!r}")
    labels = neighbour_labels[:, :k]
    if weights == "uniform":
        w = np.ones(labels.shape)
    else:
        dist = np.sqrt(sqdist[:, :k].astype(np.float64))
        with np.errstate(divide="ignore"):
            w = 1.0 / dist
        exact = dist == 0
        rows = exact.any(axis=1)
        w[rows] = exact[rows]
    onehot = labels[:, :, None] == np.arange(n_classes)  # (n_queries, k, n_classes)
    scores = np.einsum("qk,qkc->qc", w, onehot)
    predictions = scores.argmax(axis=1)
    return predictions, scores / scores.sum(axis=1, keepdims=True)
