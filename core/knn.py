"""Exact brute-force k nearest neighbours, and voting from cached neighbour lists.

Neighbours are ranked by exact squared Euclidean distance, ties by lower training
index: the order scikit-learn's brute-force search gives on integer pixels (its float64
arithmetic is exact for them). Candidates come from block matrix products of
``‖t‖² − 2 q·t`` (``‖q‖²`` is constant per query), kept with ``torch.topk``:

- pixels in 0..255 can be shifted to −128..127 (distances do not change) and multiplied
  as int8 with int32 accumulation: exact, and faster than float32 on CPUs with int8 dot
  product instructions (VNNI), but many times slower on CPUs without them, so it is
  used only where a probe of both, timed once per process, finds it faster;
- otherwise (and for the report's augmentations, which leave 0..255) float32 products.

The candidates are then re-ranked with exact integer distances, and a certificate
checks, query by query, that no image outside them can be among the ``k_max`` nearest:
with int8 products the keys are exact, with float32 a rigorous bound on the rounding
error is allowed for. A query that fails is recomputed exactly in float64.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import ExplorerError
from core.progress import Progress

_log = logging.getLogger(__name__)


WEIGHTS = ("uniform", "distance")
_MARGIN = 8  # extra candidates per query, re-ranked exactly
_BLOCK = 8192  # rows of train and query per block: a block product is 256 MiB
_U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32


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


def _sq_norms(x: np.ndarray, shift: int = 0) -> np.ndarray:
    # Exact in int64, in chunks so the int64 copy stays small.
    out = np.empty(len(x), np.int64)
    for s in range(0, len(x), _BLOCK):
        c = x[s : s + _BLOCK].astype(np.int64) - shift
        out[s : s + _BLOCK] = np.einsum("ij,ij->i", c, c)
    return out


def _fits_uint8(x: np.ndarray) -> bool:
    return x.dtype == np.uint8 or (x.size == 0 or (int(x.min()) >= 0 and int(x.max()) <= 255))


class _Int8Products:
    """Exact keys: (x - 128) as int8, int32 accumulation (|q·t| ≤ 784·128² < 2³¹)."""

    def __init__(self, train: np.ndarray):
        self.tn = torch.from_numpy(_sq_norms(train, 128).astype(np.int32))

    @staticmethod
    def block(x: np.ndarray) -> torch.Tensor:
        # v ^ 0x80 read as int8 is v - 128.
        return torch.from_numpy((x.astype(np.uint8, copy=False) ^ 0x80).view(np.int8))

    def keys(self, q: torch.Tensor, t_T: torch.Tensor, t0: int) -> torch.Tensor:
        key = torch._int_mm(q, t_T)
        return key.mul_(-2).add_(self.tn[t0 : t0 + t_T.shape[1]])

    @staticmethod
    def query_norms(query: np.ndarray) -> np.ndarray:
        return _sq_norms(query, 128)

    @staticmethod
    def error_bound(qn: np.ndarray) -> np.ndarray:
        return np.zeros(len(qn))


class _Float32Products:
    """Approximate keys in float32, with a rigorous bound on their rounding error."""

    def __init__(self, train: np.ndarray):
        self.tn64 = _sq_norms(train)
        self.tn = torch.from_numpy(self.tn64.astype(np.float32))
        self.d = train.shape[1]

    @staticmethod
    def block(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32))

    def keys(self, q: torch.Tensor, t_T: torch.Tensor, t0: int) -> torch.Tensor:
        return torch.addmm(self.tn[t0 : t0 + t_T.shape[1]], q, t_T, beta=1.0, alpha=-2.0)

    @staticmethod
    def query_norms(query: np.ndarray) -> np.ndarray:
        return _sq_norms(query)

    def error_bound(self, qn: np.ndarray) -> np.ndarray:
        # |fl(x·y) - x·y| ≤ γ_d Σ|x_i y_i| ≤ γ_d ‖x‖‖y‖, plus the roundings of ‖t‖² and
        # of the final multiply-add: generously γ_(d+4) (‖t‖² + 2‖q‖‖t‖), doubled.
        gamma = (self.d + 4) * _U32 / (1 - (self.d + 4) * _U32)
        t_max = float(self.tn64.max())
        return 2 * gamma * (t_max + 2 * np.sqrt(qn * t_max)) + 1.0


PRODUCTS = ("auto", "int8", "float32")


@functools.cache
def product_timings() -> tuple[float, float]:
    """Seconds of one (128 × 784) @ (784 × 512) product in int8 and in float32, best of 3.

    Timed once per process. With VNNI instructions ``torch._int_mm`` is about twice as
    fast as float32; without them (AVX2 only) it falls back to code tens of times slower.
    """
    if not hasattr(torch, "_int_mm"):
        return float("inf"), 0.0
    gen = torch.Generator().manual_seed(0)
    q = torch.randint(-128, 128, (128, 784), generator=gen, dtype=torch.int8)
    t = torch.randint(-128, 128, (784, 512), generator=gen, dtype=torch.int8)
    qf, tf = q.float(), t.float()

    def best(fn) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    return best(lambda: torch._int_mm(q, t)), best(lambda: qf @ tf)


def int8_is_faster() -> bool:
    """Whether int8 products beat float32 ones on this machine (:func:`product_timings`)."""
    t_int8, t_float = product_timings()
    _log.debug("knn: int8 product %.2g s, float32 %.2g s", t_int8, t_float)
    return t_int8 < t_float


def nearest_neighbours(
    train: np.ndarray,
    query: np.ndarray,
    k_max: int = 20,
    *,
    products: str = "auto",
    progress: Progress | None = None,
) -> Neighbours:
    """Exact ``k_max`` nearest neighbours of every query row in ``train``.

    Parameters
    ----------
    train : integer ndarray of shape (n_train, 28, 28) or (n_train, n_features)
    query : integer ndarray of shape (n_queries, ...) with the same features
    k_max : number of neighbours kept (any K ≤ k_max can then be voted)
    products : "int8" (pixels in 0..255 only), "float32", or "auto": int8 where the
        pixels allow it and :func:`int8_is_faster`. The neighbours are the same.
    progress : called as ``progress(pairs_done, pairs_total)``

    Peak extra memory is a few blocks of 8192 rows (under 1 GiB), whatever the sizes.
    """
    train, query = _as_rows(train, "train"), _as_rows(query, "query")
    n, m = len(train), len(query)
    if train.shape[1] != query.shape[1]:
        raise ExplorerError(
            f"query: expected {train.shape[1]} features like train, found {query.shape[1]}"
        )
    if not 1 <= k_max <= n:
        raise ExplorerError(f"k_max: expected 1..{n} (the training-set size), found {k_max}")
    if products not in PRODUCTS:
        raise ExplorerError(f"products: expected one of {PRODUCTS}, found {products!r}")
    int8_ok = _fits_uint8(train) and _fits_uint8(query) and hasattr(torch, "_int_mm")
    if products == "int8" and not int8_ok:
        raise ExplorerError("products: 'int8' expects pixels in 0..255 (and torch._int_mm)")
    use_int8 = int8_ok and (products == "int8" or (products == "auto" and int8_is_faster()))
    engine = _Int8Products(train) if use_int8 else _Float32Products(train)
    n_cand = min(n, k_max + _MARGIN)
    # Train blocks outside, so each is converted once; the running best of every query
    # (n_queries × n_cand) is small.
    queries = [engine.block(query[q0 : q0 + _BLOCK]) for q0 in range(0, m, _BLOCK)]
    best_v: list[torch.Tensor | None] = [None] * len(queries)
    best_i: list[torch.Tensor | None] = [None] * len(queries)
    done = 0
    for t0 in range(0, n, _BLOCK):
        t_T = engine.block(train[t0 : t0 + _BLOCK]).T.contiguous()  # (d, block)
        for b, q in enumerate(queries):
            key = engine.keys(q, t_T, t0)
            v, i = torch.topk(key, min(n_cand, key.shape[1]), dim=1, largest=False, sorted=False)
            i += t0
            if best_v[b] is not None:
                v, i = torch.cat([best_v[b], v], 1), torch.cat([best_i[b], i], 1)
                v, sel = torch.topk(v, n_cand, dim=1, largest=False, sorted=False)
                i = torch.gather(i, 1, sel)
            best_v[b], best_i[b] = v, i
            done += len(q) * t_T.shape[1]
            if progress is not None:
                progress(done, m * n)
    cand = torch.cat(best_i).numpy()
    worst = torch.cat(best_v).max(dim=1).values.double().numpy()  # largest candidate key
    tn, qn = _sq_norms(train), _sq_norms(query)
    indices, sqdist = _rerank_exact(train, query, tn, qn, cand, k_max)
    # Certificate: a row outside the candidates has a key ≥ worst, so an exact key
    # ≥ worst - err; if that exceeds the k-th exact key, it cannot be among the k_max
    # nearest, not even by a tie on the index.
    qn_keys = engine.query_norms(query)
    kth_key = sqdist[:, -1] - qn_keys
    unsure = np.flatnonzero(worst - engine.error_bound(qn_keys) <= kth_key) if n_cand < n else []
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
