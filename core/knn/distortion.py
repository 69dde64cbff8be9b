"""The image distortion model's distance (Keysers et al., PAMI 2007), exactly.

Every query pixel finds its best match within ``±window`` pixels of its place in the
reference, each pixel on its own, compared on its *local context*: the ``(2c+1)²`` patch
of both Sobel gradient images around it, so that a matched pixel must also look alike
around itself (which keeps the free displacements from tearing strokes apart).

    IDM(q, t) = Σ_(i,j) min_(|di|,|dj| ≤ w) ‖ctx_q(i, j) − ctx_t(i + di, j + dj)‖²

Gradients of integer pixels are integers: every distance is exact integer arithmetic in
one compiled loop, the same on every CPU and thread count. A candidate stops being summed
once it is already worse than the ``keep``-th best of its query (early abandoning), which
never changes the ``keep`` best. :mod:`.idm` uses it to re-rank Euclidean candidates.
"""

from __future__ import annotations

import numba
import numpy as np

from core.errors import ExplorerError

SIDE = 28
INF = np.iinfo(np.int64).max  # the distance of a candidate abandoned or skipped
_SOBEL = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.int32)
# Rows summed from the centre out: digits' ink is there, so a far candidate's partial sum
# passes the bound within a few rows (blank top rows would add nothing first).
_ROWS = np.argsort(np.abs(np.arange(SIDE) - (SIDE - 1) / 2), kind="stable")


def gradients(images: np.ndarray, pad: int) -> np.ndarray:
    """Integer Sobel gradients (edge pixels repeated), zero-padded by ``pad`` on each side.

    images : integer ndarray of shape (N, 28, 28)
    Returns int16 (N, 28 + 2 pad, 28 + 2 pad, 2): d/dcolumn then d/drow, within ±1020
    for 0..255 pixels (±4 × the largest pixel in general).
    """
    x = np.asarray(images)
    if x.ndim != 3 or x.shape[1:] != (SIDE, SIDE) or not np.issubdtype(x.dtype, np.integer):
        raise ExplorerError(
            f"images: expected integers of shape (n, 28, 28), found {x.dtype} {x.shape}"
        )
    x = np.pad(x.astype(np.int32), ((0, 0), (1, 1), (1, 1)), mode="edge")
    out = np.zeros((len(x), SIDE + 2 * pad, SIDE + 2 * pad, 2), np.int16)
    inner = out[:, pad : pad + SIDE, pad : pad + SIDE]
    for g, kernel in enumerate((_SOBEL, _SOBEL.T)):
        acc = np.zeros((len(x), SIDE, SIDE), np.int32)
        for a in range(3):
            for b in range(3):
                if kernel[a, b]:
                    acc += kernel[a, b] * x[:, a : a + SIDE, b : b + SIDE]
        inner[..., g] = acc
    return out


@numba.njit(parallel=True, cache=True)
def _idm_kernel(q, pool, rows, w, c, keep):  # noqa: PLR0912  (compiled: one flat loop nest)
    # q (B, 2, 28+2c, 28+2c) int16; pool (M, 2, 28+2(w+c), 28+2(w+c)) int16, gradient
    # planes first; rows (B, K) int64 into pool, -1 to skip. A row of the image at a time,
    # per displacement: the squared differences of the 2c+1 rows of context (both planes
    # summed), then their (2c+1)² box sums along the row, the best displacement kept per
    # pixel. Per pixel at most 25 × 2 × 2040² < 2³¹ for c ≤ 2: int32 lanes (AVX2 has no
    # 64-bit multiply); row totals in int64.
    n_q, n_c = rows.shape
    out = np.full((n_q, n_c), INF, np.int64)
    side = 28
    span = 2 * c + 1
    wide = side + 2 * c
    for b in numba.prange(n_q):
        top = np.full(keep, INF, np.int64)
        diff = np.empty((span, wide), np.int32)  # context rows' squared differences
        box = np.empty(side, np.int32)
        best = np.empty(side, np.int32)
        for k in range(n_c):
            m = rows[b, k]
            if m < 0:
                continue
            bound = top[keep - 1]
            total = 0
            for r in range(side):
                i = _ROWS[r]
                best[:] = np.iinfo(np.int32).max
                for di in range(2 * w + 1):
                    for dj in range(2 * w + 1):
                        for u in range(span):
                            for jj in range(wide):
                                t0 = np.int32(q[b, 0, i + u, jj]) - np.int32(
                                    pool[m, 0, i + di + u, jj + dj]
                                )
                                t1 = np.int32(q[b, 1, i + u, jj]) - np.int32(
                                    pool[m, 1, i + di + u, jj + dj]
                                )
                                diff[u, jj] = t0 * t0 + t1 * t1
                        box[:] = 0
                        for u in range(span):
                            for v in range(span):
                                for j in range(side):
                                    box[j] += diff[u, j + v]
                        for j in range(side):
                            best[j] = min(best[j], box[j])
                for j in range(side):
                    total += best[j]
                if total > bound:  # already worse than the keep-th best: abandon
                    break
            if total <= bound:
                out[b, k] = total
                keep_best(top, total)
    return out


@numba.njit(cache=True)
def keep_best(top, total):
    """Insert ``total`` into ``top``, ascending, its largest value dropped (no larger one)."""
    pos = len(top) - 1
    while pos > 0 and top[pos - 1] > total:
        top[pos] = top[pos - 1]
        pos -= 1
    top[pos] = total


def _planes(g: np.ndarray) -> np.ndarray:
    """Gradients (N, H, W, 2) as contiguous planes (N, 2, H, W), for the kernel's rows."""
    return np.ascontiguousarray(g.transpose(0, 3, 1, 2))


def distances(
    queries: np.ndarray,
    references: np.ndarray,
    rows: np.ndarray,
    window: int,
    context: int = 1,
    keep: int | None = None,
) -> np.ndarray:
    """IDM distances of each query to its candidate references.

    queries : integer ndarray (B, 28, 28)
    references : integer ndarray (M, 28, 28), the candidate images of all queries
    rows : int ndarray (B, K), the rows of ``references`` each query is compared with
        (−1: none)
    keep : only each query's ``keep`` smallest are needed (the others may come back as
        :data:`INF`); None: all exact
    Returns int64 (B, K).
    """
    rows = np.asarray(rows, np.int64)
    if rows.ndim != 2 or len(rows) != len(queries):
        raise ExplorerError(f"rows: expected shape ({len(queries)}, K), found {rows.shape}")
    if rows.size and rows.max() >= len(references):
        raise ExplorerError(f"rows: expected indices below {len(references)}, found {rows.max()}")
    q = _planes(gradients(queries, context))
    pool = _planes(gradients(references, window + context))
    # The kernel sums a pixel's context in int32: 2 (2c+1)² d² must stay below 2³¹ for the
    # largest gradient difference d (0..255 pixels give d ≤ 2040, far inside).
    d = int(np.abs(q).max(initial=0)) + int(np.abs(pool).max(initial=0))
    if 2 * (2 * context + 1) ** 2 * d * d >= 2**31:
        raise ExplorerError(
            f"images: expected pixels whose gradients differ by less than "
            f"{int((2**31 / (2 * (2 * context + 1) ** 2)) ** 0.5)}, found {d}"
        )
    keep = rows.shape[1] if keep is None else keep
    return _idm_kernel(q, pool, rows, window, context, max(1, min(keep, rows.shape[1])))


def displacement(
    query: np.ndarray, reference: np.ndarray, window: int, context: int = 1
) -> dict[str, np.ndarray]:
    """How each pixel of ``query`` is matched in ``reference``: the picture of one distance.

    Returns ``shift`` (28, 28, 2) int (d_row, d_col) chosen per pixel (the first of the
    scan order on a tie, as the distance takes it), ``cost`` (28, 28) int64 per pixel
    (summing to the IDM distance), and ``warped`` (28, 28): the reference pixel each query
    pixel was matched with — the training image bent onto the query.
    """
    w, c = window, context
    q = gradients(np.asarray(query)[None], c)[0].astype(np.int64)
    r = gradients(np.asarray(reference)[None], w + c)[0].astype(np.int64)
    span = 2 * c + 1
    # (28, 28, span, span, 2): each pixel's context patch.
    qc = np.lib.stride_tricks.sliding_window_view(q, (span, span), axis=(0, 1))
    costs = []
    for di in range(2 * w + 1):
        for dj in range(2 * w + 1):
            rc = np.lib.stride_tricks.sliding_window_view(
                r[di : di + SIDE + 2 * c, dj : dj + SIDE + 2 * c], (span, span), axis=(0, 1)
            )
            costs.append(((qc - rc) ** 2).sum(axis=(2, 3, 4)))
    costs = np.stack(costs)  # (displacements, 28, 28)
    best = costs.argmin(axis=0)
    d_row, d_col = np.divmod(best, 2 * w + 1)
    shift = np.stack([d_row - w, d_col - w], axis=-1)
    rows, cols = np.mgrid[:SIDE, :SIDE]
    padded = np.pad(np.asarray(reference), w)
    warped = padded[rows + d_row, cols + d_col]
    return {"shift": shift, "cost": costs.min(axis=0), "warped": warped}


def exhaustive_nearest(
    queries: np.ndarray, references: np.ndarray, window: int, context: int = 1,
    order: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The IDM-nearest reference of each query among *all* references (no candidates):
    the oracle a candidate list's recall is measured against. ``order`` (B, M): the order
    to visit references per query (the Euclidean order makes early abandoning bite).

    Returns ``(rows (B,) into references, distances (B,) int64)``; ties: first visited.
    """
    b, m = len(queries), len(references)
    order = np.tile(np.arange(m), (b, 1)) if order is None else np.asarray(order, np.int64)
    d = distances(queries, references, order, window, context, keep=1)
    first = d.argmin(axis=1)
    return order[np.arange(b), first], d[np.arange(b), first]
