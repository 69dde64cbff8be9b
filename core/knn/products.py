"""The matrix products behind the KNN search, and which of them this machine may use.

Candidates are ranked by ``‖t‖² − 2 q·t``; the product ``q·t`` is the whole cost. Three
ways to compute it, each exact or certified:

- ``int8``: pixels in 0..255 shifted to −128..127 (distances do not change) and
  multiplied by ``torch._int_mm`` with int32 sums. Exact *only where the CPU library
  multiplies int8 with int32 accumulation*. With VNNI instructions it does. Without
  them (AVX2, or AVX-512 before VNNI) it uses ``vpmaddubsw``, which adds two
  unsigned×signed byte products into a *saturating* int16: two products of 255 × 128 do
  not fit, and the sum comes out silently wrong (by millions on worst-case operands).
- ``int8-split``: the training operand split as ``t = 2·h + l`` with ``h`` in −64..63 and
  ``l`` in {0, 1}: two products whose pair sums stay within ±2·255·64 = 32,640, so even
  a saturating int16 step is exact. It costs two int8 products instead of one.
- ``float32``: approximate keys with a rigorous bound on their rounding error (the
  search certifies its answer with it); any integer features, any CPU.

:func:`product_plan` decides once per process: an int8 path is eligible only if it is
exact on operands built to overflow 16-bit pair sums, then the fastest eligible path of a
timed probe wins. The search also checks, on every call, that the keys of its candidates
equal their exact values (int8) or lie within the bound (float32).
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

_log = logging.getLogger(__name__)

PATHS = ("int8", "int8-split", "float32")
_U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32
_PROBE_SHAPE = (1024, 784, 2048)  # (queries, features, training rows) of the timed probe


class Int8Products:
    """Exact keys: (x − 128) as int8, int32 sums (|q·t| ≤ 784·128² < 2³¹).

    With ``split`` the training side is multiplied as two 7-bit operands (see the module
    docstring), so CPUs whose int8 kernels saturate 16-bit pair sums stay exact.
    """

    def __init__(self, train: np.ndarray, split: bool = False):
        self.split = split
        self.tn = torch.from_numpy(sq_norms(train, 128).astype(np.int32))

    @staticmethod
    def query_block(x: np.ndarray) -> torch.Tensor:
        return _shifted_int8(x)

    def train_block(self, x: np.ndarray) -> tuple[torch.Tensor, ...]:
        t = _shifted_int8(x).T.contiguous()  # (d, block)
        if not self.split:
            return (t,)
        high = torch.bitwise_right_shift(t, 1)  # floor(t / 2), in −64..63
        return high, t - 2 * high  # t = 2·high + low, low in {0, 1}

    def keys(self, q: torch.Tensor, t: tuple[torch.Tensor, ...], t0: int) -> torch.Tensor:
        if self.split:
            dots = torch._int_mm(q, t[0]).mul_(2).add_(torch._int_mm(q, t[1]))
        else:
            dots = torch._int_mm(q, t[0])
        return dots.mul_(-2).add_(self.tn[t0 : t0 + t[0].shape[1]])

    @staticmethod
    def query_norms(query: np.ndarray) -> np.ndarray:
        return sq_norms(query, 128)

    @staticmethod
    def error_bound(qn: np.ndarray) -> np.ndarray:
        return np.zeros(len(qn))


class Float32Products:
    """Approximate keys in float32, with a rigorous bound on their rounding error.

    On ``device`` (the CPU, or a CUDA device: blocks go there, candidates come back).
    """

    def __init__(self, train: np.ndarray, device: str = "cpu"):
        self.device = torch.device(device)
        self.tn64 = sq_norms(train)
        self.tn = torch.from_numpy(self.tn64.astype(np.float32)).to(self.device)
        self.d = train.shape[1]

    def query_block(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32)).to(self.device)

    def train_block(self, x: np.ndarray) -> tuple[torch.Tensor, ...]:
        return (torch.from_numpy(x.astype(np.float32)).to(self.device).T.contiguous(),)

    def keys(self, q: torch.Tensor, t: tuple[torch.Tensor, ...], t0: int) -> torch.Tensor:
        return torch.addmm(self.tn[t0 : t0 + t[0].shape[1]], q, t[0], beta=1.0, alpha=-2.0)

    @staticmethod
    def query_norms(query: np.ndarray) -> np.ndarray:
        return sq_norms(query)

    def error_bound(self, qn: np.ndarray) -> np.ndarray:
        # |fl(x·y) - x·y| ≤ γ_d Σ|x_i y_i| ≤ γ_d ‖x‖‖y‖ in any summation order, plus the
        # roundings of ‖t‖² and of the final multiply-add: generously γ_(d+4) (‖t‖² +
        # 2‖q‖‖t‖), doubled. It holds for true float32 arithmetic only; the search checks
        # its candidates against it, which catches a library that computes in less.
        gamma = (self.d + 4) * _U32 / (1 - (self.d + 4) * _U32)
        t_max = float(self.tn64.max())
        return 2 * gamma * (t_max + 2 * np.sqrt(qn * t_max)) + 1.0


def engine(path: str, train: np.ndarray) -> Int8Products | Float32Products:
    """The product engine of one of :data:`PATHS`, or "cuda" (float32 products on the
    CUDA device), for a training set (n, d)."""
    if path in ("float32", "cuda"):
        return Float32Products(train, "cuda" if path == "cuda" else "cpu")
    return Int8Products(train, split=path == "int8-split")


def sq_norms(x: np.ndarray, shift: int = 0, chunk: int = 8192) -> np.ndarray:
    """Exact ‖x − shift‖² of each row, in int64 (in chunks, so the copy stays small)."""
    out = np.empty(len(x), np.int64)
    for s in range(0, len(x), chunk):
        c = x[s : s + chunk].astype(np.int64) - shift
        out[s : s + chunk] = np.einsum("ij,ij->i", c, c)
    return out


def _shifted_int8(x: np.ndarray) -> torch.Tensor:
    # v ^ 0x80 read as int8 is v − 128.
    return torch.from_numpy((x.astype(np.uint8, copy=False) ^ 0x80).view(np.int8))


# -- which path this machine takes --------------------------------------------------------


@dataclass(frozen=True)
class ProductPlan:
    """The product path chosen for 0..255 pixels on this machine, and why."""

    path: str  # one of PATHS
    reason: str  # one sentence, for logs, `python -m core info` and result metadata
    exact: dict[str, bool]  # per path: exact on worst-case operands (float32: certified)
    ms: dict[str, float]  # per path: one probe product (1024×784 @ 784×2048), best of 3
    cpu: str  # torch's CPU capability


def worst_case_operands(
    rows: int, depth: int, values: tuple[int, int]
) -> np.ndarray:  # (rows, depth) int8
    """Rows of the two extreme ``values``: all of one, all of the other, and alternating
    both ways, so every adjacent pair of products reaches the largest magnitude of
    either sign (what a saturating 16-bit pair sum gets wrong)."""
    lo, hi = values
    patterns = np.array(
        [[hi] * depth, [lo] * depth, np.resize([hi, lo], depth), np.resize([lo, hi], depth)],
        np.int8,
    )
    return np.resize(patterns, (rows, depth))


def int8_error(split: bool, rows: int = 64, depth: int = 784, cols: int = 96) -> int:
    """Largest error of an int8 path's products on worst-case and random operands.

    The query side takes −128..127; the training side −128..127, or, split, its 7-bit
    high part (−64..63) and its low bit. Compared with float64, exact for these sums.
    """
    rng = np.random.default_rng(0)
    q = np.concatenate(
        [worst_case_operands(rows, depth, (-128, 127)), rng.integers(-128, 128, (rows, depth))]
    ).astype(np.int8)
    t_values = [(-64, 63), (0, 1)] if split else [(-128, 127)]
    worst = 0
    for values in t_values:
        t = np.concatenate(
            [worst_case_operands(cols, depth, values[::-1]), rng.integers(*values, (cols, depth))]
        ).astype(np.int8)
        for m in (1, len(q)):  # one query (the Draw page) and a block
            got = torch._int_mm(torch.from_numpy(q[:m]), torch.from_numpy(t.T.copy())).numpy()
            exact = q[:m].astype(np.float64) @ t.T.astype(np.float64)
            worst = max(worst, int(np.abs(got - exact).max()))
    return worst


def probe_ms() -> dict[str, float]:
    """Milliseconds of one probe product per path (best of 3, after a warm-up call)."""
    m, d, n = _PROBE_SHAPE
    rng = np.random.default_rng(1)
    q = rng.integers(0, 256, (m, d), dtype=np.uint8)
    t = rng.integers(0, 256, (n, d), dtype=np.uint8)
    out = {}
    for path in PATHS:
        if path != "float32" and not hasattr(torch, "_int_mm"):
            out[path] = float("inf")
            continue
        eng = engine(path, t)
        qb, tb = eng.query_block(q), eng.train_block(t)
        eng.keys(qb, tb, 0)  # warm-up: the first int8 call compiles its kernel
        times = []
        for _ in range(3):
            start = time.perf_counter()
            eng.keys(qb, tb, 0)
            times.append(time.perf_counter() - start)
        out[path] = 1e3 * min(times)
    return out


@functools.cache
def product_plan() -> ProductPlan:
    """Decide, once per process, how 0..255 pixels are multiplied (see the module doc)."""
    cpu = torch.backends.cpu.get_cpu_capability()
    if not hasattr(torch, "_int_mm"):
        plan = ProductPlan("float32", "this torch has no int8 products", {}, {}, cpu)
    else:
        errors = {"int8": int8_error(split=False), "int8-split": int8_error(split=True)}
        exact = {path: err == 0 for path, err in errors.items()} | {"float32": True}
        ms = probe_ms()
        path = min((p for p in PATHS if exact[p]), key=ms.__getitem__)
        plan = ProductPlan(path, _reason(path, errors, ms), exact, ms, cpu)
    _log.info("knn: %s products (%s)", plan.path, plan.reason)
    return plan


def _reason(path: str, errors: dict[str, int], ms: dict[str, float]) -> str:
    def said(name: str, err: int) -> str:
        return f"{name} exact" if not err else f"{name} off by up to {err:,} (saturating)"

    probe = ", ".join(f"{p} {ms[p]:.2f} ms" for p in PATHS)
    return (
        f"{said('int8', errors['int8'])}, {said('int8-split', errors['int8-split'])} on "
        f"worst-case operands; probe {probe}: {path} is the fastest exact path"
    )
