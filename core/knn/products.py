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

:func:`product_plan` decides once per machine: an int8 path is eligible only if it is
exact on operands built to overflow 16-bit pair sums, then the fastest eligible path of a
timed probe wins. A path whose product on a 64th of the probe is already clearly slower
than float32's is not timed further (on some CPUs int8 products are exact but ~70× slower
than float32: timing them in full cost 18 s). The decision is remembered in the cache per
machine (CPU model and flags, torch version, threads and the libraries' instruction-set
caps); a process that finds it re-checks only its path's exactness (a few small products).
The search also checks, on every call, that the keys of its candidates equal their exact
values (int8) or lie within the bound (float32).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

_log = logging.getLogger(__name__)

PATHS = ("int8", "int8-split", "float32")
_U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32
_PROBE_SHAPE = (1024, 784, 2048)  # (queries, features, training rows) of the timed probe
_SCOUT = 8  # a path is first timed on the probe's first 1/8 queries and 1/8 rows
CLEARLY_SLOWER = 2.0  # a path whose scout predicts this many times float32's is dropped
# Environment variables that cap the instruction sets of torch and the libraries under it.
CAPS = (
    "ATEN_CPU_CAPABILITY", "DNNL_MAX_CPU_ISA", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
    "MKL_DEBUG_CPU_TYPE", "OPENBLAS_CORETYPE", "NUMBA_CPU_NAME",
)  # fmt: skip


class Int8Products:
    """Exact keys: (x − 128) as int8, int32 sums (|q·t| ≤ 784·128² < 2³¹).

    With ``split`` the training side is multiplied as two 7-bit operands (see the module
    docstring), so CPUs whose int8 kernels saturate 16-bit pair sums stay exact.
    """

    def __init__(self, train: np.ndarray, split: bool = False):
        self.split = split
        self.tn = torch.from_numpy(train_norms(train, 128).astype(np.int32))

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
        self.tn64 = train_norms(train)
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


# Norms of read-only training sets, kept while the set lives: a one-image query against
# the 780,000-image augmented set spent most of its time recomputing them.
_TRAIN_NORMS: dict[tuple, tuple[weakref.ref, np.ndarray]] = {}


def train_norms(train: np.ndarray, shift: int = 0) -> np.ndarray:
    """:func:`sq_norms` of a training set, remembered if the array is read-only (a
    :class:`~core.knn.runs.SearchSpace`'s: it cannot change under the memo), as long as
    the memory it views lives. Views of it (the search reshapes to rows) share the memo."""
    if train.flags.writeable:
        return sq_norms(train, shift)
    owner = train
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    key = (train.__array_interface__["data"][0], train.shape, train.strides, shift)
    found = _TRAIN_NORMS.get(key)
    if found is not None and found[0]() is owner:
        return found[1]
    norms = sq_norms(train, shift)
    norms.flags.writeable = False
    _TRAIN_NORMS[key] = (weakref.ref(owner, lambda _: _TRAIN_NORMS.pop(key, None)), norms)
    return norms


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


def _best_ms(eng, q: np.ndarray, t: np.ndarray, repeats: int) -> float:
    """Milliseconds of the fastest of ``repeats`` products, after a warm-up call (the first
    int8 call compiles its kernel)."""
    qb, tb = eng.query_block(q), eng.train_block(t)
    eng.keys(qb, tb, 0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        eng.keys(qb, tb, 0)
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def probe_ms() -> tuple[dict[str, float], set[str]]:
    """Milliseconds of one probe product per path, best of 3, and the paths whose figure
    is only estimated. Every path is first timed on 1/64 of the probe (1/8 of the queries
    and of the rows); one whose scout takes :data:`CLEARLY_SLOWER` times float32's is not
    timed further (its figure: the scout's, times 64), the others are timed in full (unless
    float32 is left alone: nothing to decide)."""
    m, d, n = _PROBE_SHAPE
    rng = np.random.default_rng(1)
    q = rng.integers(0, 256, (m, d), dtype=np.uint8)
    t = rng.integers(0, 256, (n, d), dtype=np.uint8)
    paths = [p for p in PATHS if p == "float32" or hasattr(torch, "_int_mm")]
    qs, ts = q[: m // _SCOUT], t[: n // _SCOUT]
    scout = {p: _SCOUT * _SCOUT * _best_ms(engine(p, ts), qs, ts, 1) for p in paths}
    out = {p: float("inf") for p in PATHS}
    close = [p for p in paths if scout[p] <= CLEARLY_SLOWER * scout["float32"]]
    for path in paths:  # timed in full only where there is a race to decide
        out[path] = _best_ms(engine(path, t), q, t, 3) if len(close) > 1 else scout[path]
    return out, {p for p in paths if p not in close or len(close) == 1}


def machine_key() -> dict:
    """What a product decision depends on: the CPU (model and flags), torch, its threads
    and the instruction-set caps in the environment."""
    model, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name" and not model:
                model = value.strip()
            elif name.strip() == "flags":
                flags = hashlib.sha256(value.strip().encode()).hexdigest()[:16]
                break
    except OSError:
        pass
    return {
        "cpu_model": model or platform.processor() or platform.machine(),
        "cpu_flags": flags,
        "capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "caps": {name: os.environ[name] for name in CAPS if name in os.environ},
    }


def _remembered_path(key: dict) -> Path:
    from core.cache import cache_root  # the cache is the data layer's; products are not

    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_root() / ".machine" / f"products-{digest}.json"


def _recall(key: dict) -> ProductPlan | None:
    """The decision remembered for this machine, if its path is still exact here."""
    try:
        saved = json.loads(_remembered_path(key).read_text())
        plan = ProductPlan(**saved["plan"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if saved.get("key") != key or plan.path not in PATHS:
        return None
    if plan.path in PATHS[:2] and (
        not hasattr(torch, "_int_mm") or int8_error(split=plan.path == "int8-split")
    ):
        _log.warning("knn: the remembered %s products are not exact any more; deciding again",
                     plan.path)  # fmt: skip
        return None
    return plan


def _remember(key: dict, plan: ProductPlan) -> None:
    path = _remembered_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "plan": asdict(plan)}, indent=1))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache decides again next time, nothing worse
        _log.warning("knn: could not remember the product decision (%s)", exc)


def decide() -> ProductPlan:
    """Check each path's exactness, time the exact ones (see :func:`probe_ms`), take the
    fastest."""
    cpu = torch.backends.cpu.get_cpu_capability()
    if not hasattr(torch, "_int_mm"):
        return ProductPlan("float32", "this torch has no int8 products", {}, {}, cpu)
    errors = {"int8": int8_error(split=False), "int8-split": int8_error(split=True)}
    exact = {path: err == 0 for path, err in errors.items()} | {"float32": True}
    ms, estimated = probe_ms()
    path = min((p for p in PATHS if exact[p]), key=ms.__getitem__)
    return ProductPlan(path, _reason(path, errors, ms, estimated), exact, ms, cpu)


@functools.cache
def product_plan() -> ProductPlan:
    """How 0..255 pixels are multiplied on this machine (see the module docstring):
    remembered per machine, decided (:func:`decide`) where nothing is remembered."""
    key = machine_key()
    plan = _recall(key)
    if plan is None:
        plan = decide()
        _remember(key, plan)
        _log.info("knn: %s products (%s)", plan.path, plan.reason)
    return plan


def _reason(
    path: str, errors: dict[str, int], ms: dict[str, float], estimated: set[str] = frozenset()
) -> str:
    def said(name: str, err: int) -> str:
        return f"{name} exact" if not err else f"{name} off by up to {err:,} (saturating)"

    probe = ", ".join(f"{p} {'~' if p in estimated else ''}{ms[p]:.2f} ms" for p in PATHS)
    note = " (~: estimated from 1/64 of the probe)" if estimated else ""
    return (
        f"{said('int8', errors['int8'])}, {said('int8-split', errors['int8-split'])} on "
        f"worst-case operands; probe {probe}{note}: {path} is the fastest exact path"
    )
