"""Exact brute-force k nearest neighbours, and voting from cached neighbour lists.

Neighbours are ranked by exact squared Euclidean distance, ties by lower training
index: the order scikit-learn's brute-force search gives on integer pixels (its float64
arithmetic is exact for them). Two ways to find them, both exact:

- **pruned** (large searches): certified lower bounds in a principal subspace skip all
  but a few hundred exact distances per query (:mod:`.pruned`).
- **products**: candidates from block matrix products of ``‖t‖² − 2 q·t`` (``‖q‖²`` is
  constant per query), kept with ``torch.topk``. The products are int8 (exact) where
  this CPU multiplies int8 exactly and fast, float32 with a certified error bound
  otherwise (:mod:`.products` decides, once per process). The candidates are then
  re-ranked with exact integer distances, their keys are checked against those exact
  values, and a certificate checks, query by query, that no image outside them can be
  among the ``k_max`` nearest: with int8 products the keys are exact, with float32 the
  rounding bound is allowed for. A query that fails is recomputed exactly in float64.
  On a CUDA device ("cuda", chosen by "auto" where there is one) the float32 products and
  their top-k run there, the exact re-ranking and the certificate stay on the CPU: the
  same neighbours as on any CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from core.devices import cuda_available
from core.errors import ExplorerError
from core.knn.pruned import exact_in_int32, pruned_neighbours
from core.progress import Progress

# torch (seconds to import) is imported by the products path only: a process whose
# search prunes, as every large one does, never loads it.

_log = logging.getLogger(__name__)


WEIGHTS = ("uniform", "distance")
_MARGIN = 8  # extra candidates per query, re-ranked exactly
_BLOCK = 8192  # rows of train and query per block: a block product is 256 MiB


@dataclass(frozen=True)
class Neighbours:
    """The ``k_max`` nearest training images of each query, nearest first.

    indices : ndarray of shape (n_queries, k_max), int32 — rows of the training set
    sqdist : ndarray of shape (n_queries, k_max), int64 — exact squared distances
    """

    indices: np.ndarray
    sqdist: np.ndarray
    products: str = ""  # the product path that found them (core.knn_products.PATHS)
    products_reason: str = ""  # why that path

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


def _value_range(*arrays: np.ndarray) -> tuple[int, int]:
    """The smallest and largest value of all the arrays (0..255 for uint8, unread)."""
    if all(x.dtype == np.uint8 or x.size == 0 for x in arrays):
        return 0, 255
    filled = [x for x in arrays if x.size]
    return min(int(x.min()) for x in filled), max(int(x.max()) for x in filled)


PATHS = ("int8", "int8-split", "float32")  # core.knn.products.PATHS (a test checks)
PRODUCTS = ("auto", "pruned", "cuda", *PATHS)
# "auto" prunes from this many query × training pairs on: below, embedding both sets
# costs more than it saves (measured crossover on an AVX-512 VNNI CPU: 60,000 × ~2,000
# against int8 products; float32 products cost ~4× more per pair, so sooner there).
PRUNE_MIN_PAIRS = {"int8": 1 << 27, "int8-split": 1 << 27, "float32": 1 << 25}
_DISTRUSTED: set[str] = set()  # paths whose keys once failed their check


def product_plan():
    """This machine's products (:func:`core.knn.products.product_plan`), torch loaded then."""
    from core.knn.products import product_plan as plan

    return plan()


def _choose_path(
    products: str, values: tuple[int, int], pairs: int, n_features: int
) -> tuple[str, str]:
    """The search path and why: ``products`` checked, or chosen for "auto"."""
    if products not in PRODUCTS:
        raise ExplorerError(f"products: expected one of {PRODUCTS}, found {products!r}")
    pixels = values[0] >= 0 and values[1] <= 255
    prunable = exact_in_int32(*values, n_features) and "pruned" not in _DISTRUSTED
    if products == "auto":
        if cuda_available() and "cuda" not in _DISTRUSTED:
            import torch

            return "cuda", f"float32 products on {torch.cuda.get_device_name()}, certified"
        return _auto_path(pixels, prunable, pairs)
    if products == "cuda" and not cuda_available():
        raise ExplorerError("products: 'cuda' expects a CUDA device, found none")
    if products == "pruned" and not prunable:
        raise ExplorerError(
            f"products: 'pruned' expects squared distances within int32 and bounds that "
            f"held in this process, found {n_features:,} features in {values[0]}..{values[1]}"
        )
    if products in PATHS[:2]:  # the int8 paths
        if not pixels:
            raise ExplorerError(f"products: {products!r} expects pixels in 0..255")
        plan = product_plan()
        if not plan.exact.get(products) or products in _DISTRUSTED:
            raise ExplorerError(
                f"products: {products!r} products are not exact on this CPU ({plan.reason}); "
                "use 'auto'"
            )
    return products, "requested"


def _auto_path(pixels: bool, prunable: bool, pairs: int) -> tuple[str, str]:
    pruned = (
        "pruned",
        (
            f"{pairs:,} pairs: certified lower bounds in a principal subspace, exact "
            "distances for the rows they cannot rule out"
        ),
    )
    if prunable and pairs >= max(PRUNE_MIN_PAIRS.values()):
        return pruned  # whatever the products: a large search never asks which
    plan = product_plan() if pixels else None
    path = "float32" if plan is None or plan.path in _DISTRUSTED else plan.path
    if prunable and pairs >= PRUNE_MIN_PAIRS[path]:
        return pruned
    if plan is None:
        return "float32", "features outside 0..255: float32 with a certified error bound"
    if path != plan.path:
        return "float32", f"{plan.path} keys failed the candidate check in this process"
    return plan.path, plan.reason


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
    products : the search path: "cuda" (float32 products on the CUDA device, certified
        like the CPU's), "pruned" (where its int32 distances hold), one of
        :data:`core.knn.products.PATHS` (the int8 ones for pixels in 0..255, and only
        where exact on this CPU), or "auto": "cuda" where a CUDA device is, else
        "pruned" from :data:`PRUNE_MIN_PAIRS` on where its int32 distances hold, else
        for pixels the path :func:`~core.knn.products.product_plan` chose, float32
        otherwise. The neighbours are the same whatever the path.
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
    path, why = _choose_path(products, _value_range(train, query), n * m, train.shape[1])
    if path == "pruned":
        return _pruned(train, query, k_max, why, progress)
    return _product_search(train, query, k_max, path, why, progress)


def _product_search(train, query, k_max, path, why, progress) -> Neighbours:
    """Candidates from block products, re-ranked exactly and certified (module doc)."""
    from core.devices import full_float32

    with full_float32():  # TF32 on CUDA would break the rounding bound
        return _candidates_and_certificate(train, query, k_max, path, why, progress)


def _candidates_and_certificate(train, query, k_max, path, why, progress) -> Neighbours:
    import torch

    from core.knn.products import engine, sq_norms, train_norms

    n, m = len(train), len(query)
    eng = engine(path, train)
    n_cand = min(n, k_max + _MARGIN)
    # Train blocks outside, so each is converted once; the running best of every query
    # (n_queries × n_cand) is small.
    queries = [eng.query_block(query[q0 : q0 + _BLOCK]) for q0 in range(0, m, _BLOCK)]
    best_v: list = [None] * len(queries)  # per query block: its best keys so far (tensors)
    best_i: list = [None] * len(queries)
    done = 0
    for t0 in range(0, n, _BLOCK):
        t_block = eng.train_block(train[t0 : t0 + _BLOCK])  # transposed: (d, block)
        block_rows = t_block[0].shape[1]
        for b, q in enumerate(queries):
            key = eng.keys(q, t_block, t0)
            v, i = torch.topk(key, min(n_cand, block_rows), dim=1, largest=False, sorted=False)
            i += t0
            if best_v[b] is not None:
                v, i = torch.cat([best_v[b], v], 1), torch.cat([best_i[b], i], 1)
                v, sel = torch.topk(v, n_cand, dim=1, largest=False, sorted=False)
                i = torch.gather(i, 1, sel)
            best_v[b], best_i[b] = v, i
            done += len(q) * block_rows
            if progress is not None:
                progress(done, m * n)
    cand = torch.cat(best_i).cpu().numpy()
    cand_keys = torch.cat(best_v).double().cpu().numpy()  # (n_queries, n_cand)
    tn, qn = train_norms(train), sq_norms(query)
    cand_sq = _candidate_sqdist(train, query, tn, qn, cand)
    # Check the products on every call: the candidates' keys must be their exact values
    # (int8) or lie within the rounding bound (float32). Worst-case operands decided the
    # path; this catches a kernel that misbehaves on other shapes or data.
    qn_keys = eng.query_norms(query)
    bound = eng.error_bound(qn_keys)[:, None]
    wrong = np.abs(cand_keys - (cand_sq - qn_keys[:, None])) > bound
    if wrong.any():
        _log.warning(
            "knn: %s products gave %d wrong candidate keys in %d queries; %s",
            path, wrong.sum(), wrong.any(axis=1).sum(),
            "recomputing with float32" if path != "float32" else "recomputing exactly",
        )  # fmt: skip
        if path != "float32":
            _DISTRUSTED.add(path)
            return nearest_neighbours(train, query, k_max, products="float32", progress=progress)
    indices, sqdist = _select(cand_sq, cand, k_max, n)
    # Certificate: a row outside the candidates has a key ≥ worst, so an exact key
    # ≥ worst - err; if that exceeds the k-th exact key, it cannot be among the k_max
    # nearest, not even by a tie on the index.
    worst = cand_keys.max(axis=1)
    kth_key = sqdist[:, -1] - qn_keys
    if wrong.any():
        unsure = np.arange(m)
    elif n_cand < n:
        unsure = np.flatnonzero(worst - bound[:, 0] <= kth_key)
    else:
        unsure = np.arange(0)
    _log.debug("knn: %d of %d queries recomputed exactly in float64", len(unsure), m)
    for s in range(0, len(unsure), 256):
        rows = unsure[s : s + 256]
        indices[rows], sqdist[rows] = _exact_rows(train, query[rows], tn, qn[rows], k_max)
    return Neighbours(indices.astype(np.int32), sqdist, path, why)


def _pruned(train, query, k_max, why, progress) -> Neighbours:
    indices, sqdist, stats = pruned_neighbours(train, query, k_max, progress=progress)
    if stats["violations"]:
        _log.warning(
            "knn: %d lower bounds exceeded their exact distance (float32 products wrong); "
            "searching again with certified float32 products", stats["violations"],
        )  # fmt: skip
        _DISTRUSTED.add("pruned")
        return nearest_neighbours(train, query, k_max, products="float32", progress=progress)
    _log.debug("knn: pruned search, %.0f exact distances per query", stats["computed"])
    return Neighbours(indices.astype(np.int32), sqdist, "pruned", why)


def _candidate_sqdist(train, query, tn, qn, cand) -> np.ndarray:
    """Exact squared distances (n_queries, n_cand) int64 of each query's candidates."""
    m, n_cand = cand.shape
    sq = np.empty((m, n_cand), np.int64)
    chunk = max(1, (64 << 20) // (n_cand * train.shape[1] * 8))
    for s in range(0, m, chunk):
        c = cand[s : s + chunk]
        gathered = train[c].astype(np.float64)  # (c, n_cand, d): exact integers
        dots = np.einsum("ckd,cd->ck", gathered, query[s : s + chunk].astype(np.float64))
        sq[s : s + chunk] = qn[s : s + chunk, None] + tn[c] - 2 * np.rint(dots).astype(np.int64)
    return sq


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
