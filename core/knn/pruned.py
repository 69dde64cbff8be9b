"""Exact nearest neighbours that skip most distances: certified lower bounds.

For an orthonormal basis ``V`` (d, p) and any centre ``c``, write ``z = x − c``,
``a = Vᵀz`` and ``r = ‖z − Va‖`` (the part of ``z`` outside the subspace). Then

    ‖q − t‖² = ‖a_q − a_t‖² + ‖(z_q − Va_q) − (z_t − Va_t)‖² ≥ ‖a_q − a_t‖² + (r_q − r_t)²

(Pythagoras, then the reverse triangle inequality): the squared distance of the
``p + 1``-dimensional embeddings ``e = (a, r)`` never exceeds the true one. With ``V`` the
64 leading principal directions of MNIST, the bound is tight enough that a query
computes, on average, a few hundred exact distances out of 60,000, and its bounds cost a
product 12× thinner than the full one.

Each query keeps its ``k`` best exact distances so far (ties: lower index) and computes
the exact distance of a training image only when that image's bound does not already
exceed the ``k``-th; the bound is evaluated in float32 with a rigorous allowance for its
rounding, so no image that belongs among the ``k`` nearest is ever skipped. The first
``k + 8`` images by bound in the first 4,096 rows seed each query's list, so the cut-off
is tight from the start. Exact distances are int32 sums of squared differences: any
integer features for which they cannot overflow (:func:`exact_in_int32`), such as 0..255
pixels or the report's augmented images (−84..344).

Every computed distance also checks its bound: a bound above the exact distance means
the float32 products misbehaved, and :func:`pruned_neighbours` reports it (the caller
then searches another way).
"""

from __future__ import annotations

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from core.progress import Progress

COMPONENTS = 64  # dimensions of the bound (plus the residual's length)
_QB, _TB = 1024, 4096  # queries per call; training rows per block of keys
_SEED_ROWS, _SEED_EXTRA = _TB, 8  # seeds from the first block's bounds
_BASIS_ROWS = 8192  # rows the principal directions are estimated from
_NONE = np.iinfo(np.int64).max // 4  # the distance of an empty slot
_U32 = 2.0**-24


@numba.njit(inline="always")
def _sqdist(q, t):
    """Exact ‖q − t‖² in int32 (one plain loop: it vectorises; early exits did not pay)."""
    s = np.int32(0)
    for f in range(q.shape[0]):
        diff = np.int32(q[f]) - np.int32(t[f])
        s += diff * diff
    return s


@numba.njit(inline="always")
def _offer(best_d, best_i, row, d, idx):
    """Insert (d, idx) into the sorted k best of ``row`` if it belongs there and is new."""
    k = best_d.shape[1]
    if d > best_d[row, k - 1] or (d == best_d[row, k - 1] and idx >= best_i[row, k - 1]):
        return False
    for a in range(k):
        if best_i[row, a] == idx:
            return False
    p = k - 1
    while p > 0 and (
        best_d[row, p - 1] > d or (best_d[row, p - 1] == d and best_i[row, p - 1] > idx)
    ):
        best_d[row, p] = best_d[row, p - 1]
        best_i[row, p] = best_i[row, p - 1]
        p -= 1
    best_d[row, p] = d
    best_i[row, p] = idx
    return True


@numba.njit(inline="always")
def _cutoff(kth, slack_sqrt, slack_add):
    # Largest float32 key that may still hide a distance ≤ kth: see pruned_neighbours.
    return (np.sqrt(np.float64(kth)) + slack_sqrt) ** 2 + slack_add


@numba.njit(parallel=True, cache=True)
def _seed(rows, queries, train, best_d, best_i):
    for b in numba.prange(rows.shape[0]):
        for a in range(rows.shape[1]):
            idx = rows[b, a]
            _offer(best_d, best_i, b, np.int64(_sqdist(queries[b], train[idx])), idx)


@numba.njit(parallel=True, cache=True)
def _scan(q_op, t_blocks, queries, train, best_d, best_i, slack, computed, violations, parts):
    # Each of ``parts`` slices of the queries multiplies its own keys, block after block of
    # training rows (BLAS on one thread inside each: no second pool of threads to fight
    # over the cores), and scans them. keys[b, j]: bound − ‖e_q‖² of query b, row t0 + j.
    m, k, n = q_op.shape[0], best_d.shape[1], train.shape[0]
    width = t_blocks.shape[2]
    for part in numba.prange(parts):
        lo, hi = part * m // parts, (part + 1) * m // parts
        qs = np.ascontiguousarray(q_op[lo:hi])
        for block in range(t_blocks.shape[0]):
            keys = np.dot(qs, t_blocks[block])
            t0 = block * width
            for b in range(lo, hi):
                cut = _cutoff(best_d[b, k - 1], slack[b, 0], slack[b, 1])
                for j in range(min(width, n - t0)):
                    if keys[b - lo, j] <= cut:
                        idx = t0 + j
                        d = _sqdist(queries[b], train[idx])
                        computed[b] += 1
                        if keys[b - lo, j] > _cutoff(d, slack[b, 0], slack[b, 1]):
                            violations[b] += 1  # a bound above its exact distance
                        if _offer(best_d, best_i, b, np.int64(d), idx):
                            cut = _cutoff(best_d[b, k - 1], slack[b, 0], slack[b, 1])


def _product(q: np.ndarray, t: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``q @ t`` in float32 into ``out``: the seeds' keys (numpy's BLAS, no torch)."""
    return np.matmul(q, t, out=out)


def exact_in_int32(low: int, high: int, n_features: int) -> bool:
    """Whether every squared distance of features in ``low..high`` fits an int32 sum."""
    return (high - low) ** 2 * n_features < 1 << 31


def principal_basis(train: np.ndarray, p: int = COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """An integer centre (d,) and ``p`` orthonormal directions (d, p) float64 of ``train``.

    Estimated from at most 8,192 evenly spaced rows: any orthonormal basis gives a valid
    bound; the principal one makes it tight.
    """
    sample = train[:: max(1, len(train) // _BASIS_ROWS)]
    centre = np.rint(sample.mean(axis=0, dtype=np.float64))
    z = sample.astype(np.float32) - centre.astype(np.float32)
    values, vectors = np.linalg.eigh((z.T @ z).astype(np.float64))
    top = vectors[:, np.argsort(values)[::-1][: min(p, train.shape[1])]]
    basis, _ = np.linalg.qr(top)  # orthonormal to float64 precision
    return centre, basis


def embed(x: np.ndarray, centre: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings ``(a, r)`` as float32 (N, p + 1) and their squared norms (N,) float64.

    Computed in float64 (an error of ~1e-12 of ‖z‖ per row, allowed for by the search),
    then rounded to float32 (allowed for too).
    """
    p = basis.shape[1]
    out = np.empty((len(x), p + 1), np.float32)
    for s in range(0, len(x), 8192):
        z = x[s : s + 8192].astype(np.float64) - centre
        a = z @ basis
        residual = np.einsum("ij,ij->i", z, z) - np.einsum("ij,ij->i", a, a)
        out[s : s + 8192, :p] = a
        out[s : s + 8192, p] = np.sqrt(np.maximum(residual, 0.0))
    e = out.astype(np.float64)
    return out, np.einsum("ij,ij->i", e, e)


def pruned_neighbours(
    train: np.ndarray,
    query: np.ndarray,
    k: int,
    *,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The exact ``k`` nearest rows of ``train`` for every row of ``query``.

    train : integer ndarray of shape (n, d), with :func:`exact_in_int32` for its values
    query : integer ndarray of shape (m, d), values in the same range
    Returns ``(indices (m, k) int64, sqdist (m, k) int64, stats)``, nearest first, ties by
    lower index; ``stats``: ``computed`` (exact distances per query, mean) and
    ``violations`` (bounds found above their exact distance: 0 unless the float32
    products are wrong).
    """
    n, d = train.shape
    m = len(query)
    centre, basis = principal_basis(train)
    p = basis.shape[1]
    e_train, n_train = embed(train, centre, basis)
    e_query, n_query = embed(query, centre, basis)
    # key = [e_q, 1] · [−2 e_t, ‖e_t‖²] = bound − ‖e_q‖²: one product, no broadcast add.
    # The training side in blocks of _TB rows, each contiguous (padding past n unused).
    n_blocks = -(-n // _TB)
    t_op = np.zeros((p + 2, n_blocks * _TB), np.float32)
    t_op[: p + 1, :n] = -2 * e_train.T
    t_op[p + 1, :n] = n_train
    t_blocks = np.ascontiguousarray(t_op.reshape(p + 2, n_blocks, _TB).transpose(1, 0, 2))
    del t_op  # the blocks hold it all: not a second copy through the search
    q_op = np.ones((m, p + 2), np.float32)
    q_op[:, : p + 1] = e_query
    # A row is skipped only if key > cutoff(kth): then its exact distance exceeds kth.
    # Two allowances. The embeddings as multiplied lie within ε‖e‖ of the exact ones
    # (float64 sums: the residual's square root turns ~1e-12 into ~2e-6; float32
    # rounding: 2⁻²⁴), so √bound exceeds ‖q − t‖ by at most ε(‖e_q‖ + ‖e_t‖), ε = 1e-5.
    # The float32 product errs by at most γ_(p+2)·Σ|x_i y_i| ≤ γ(‖e_q‖ + ‖e_t‖)², plus
    # ‖e_t‖²'s own rounding: taken as 2(p+8)·2⁻²⁴·(‖e_q‖ + ‖e_t‖)².
    r_max = float(np.sqrt(n_train.max()))
    r_q = np.sqrt(n_query)
    slack = np.empty((m, 2))
    slack[:, 0] = 1e-5 * (r_q + r_max) + 1e-3
    slack[:, 1] = 2 * (p + 8) * _U32 * (r_q + r_max) ** 2 + 1.0 - n_query
    best_d = np.full((m, k), _NONE, np.int64)
    best_i = np.full((m, k), n, np.int64)
    computed = np.zeros(m, np.int64)
    violations = np.zeros(m, np.int64)
    seed_rows = min(n, _SEED_ROWS)
    seed_k = min(k + _SEED_EXTRA, seed_rows)
    parts = 2 * numba.get_num_threads()
    with threadpool_limits(1, "blas"):  # the threads are numba's (see _scan)
        for q0 in range(0, m, _QB):
            rows = slice(q0, q0 + _QB)
            q = q_op[rows]
            state = (best_d[rows], best_i[rows], slack[rows], computed[rows], violations[rows])
            # Seeds: each query's nearest by bound among the first rows, so the cut-off is
            # tight from the first block on (their keys are multiplied again by the scan:
            # 4,096 of 60,000 rows, a few percent of the search).
            seed_keys = _product(
                q, t_blocks[0, :, :seed_rows], np.empty((len(q), seed_rows), np.float32)
            )
            seeds = np.argpartition(seed_keys, seed_k - 1, axis=1)[:, :seed_k]
            _seed(seeds.astype(np.int64), query[rows], train, state[0], state[1])
            _scan(q, t_blocks, query[rows], train, *state, parts)
            if progress is not None:
                progress(min(q0 + _QB, m) * n, m * n)
    stats = {"computed": float(computed.mean()), "violations": int(violations.sum())}
    return best_i, best_d, stats
