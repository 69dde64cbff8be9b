"""The KNN engine's products: exact on every CPU, whatever its int8 instructions.

CPUs without VNNI multiply int8 through a saturating 16-bit pair sum. We check that (1)
the probe's operands expose such a kernel and the split path survives it (emulated in
numpy, so on any CPU), (2) a kernel that goes wrong anyway is caught by the search's
candidate check, and (3) on real MNIST, with the CPU library capped the way CPUs without
VNNI run it (``DNNL_MAX_CPU_ISA``), the engine still returns exact neighbours and 97.14%.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from core.errors import ExplorerError
from core.knn import products as knn_products
from core.knn import search as knn
from core.knn.augment import deskew
from core.knn.pca import fit_pca
from core.knn.products import Int8Products, int8_error, product_plan, worst_case_operands
from core.knn.search import nearest_neighbours


def _saturating_int_mm(q: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``q @ t`` as int8 kernels without VNNI compute it: q + 128 as unsigned bytes times
    signed t, adjacent pairs summed into a saturating int16, then the 128·Σt taken off."""
    u = q.to(torch.int32) + 128  # (m, d)
    out = torch.empty(q.shape[0], t.shape[1], dtype=torch.int32)
    for c0 in range(0, t.shape[1], 64):
        tc = t[:, c0 : c0 + 64].to(torch.int32)  # (d, c)
        prod = u[:, :, None] * tc[None]  # (m, d, c)
        pairs = (prod[:, 0::2] + prod[:, 1::2]).clamp(-(1 << 15), (1 << 15) - 1)
        out[:, c0 : c0 + 64] = pairs.sum(1) - 128 * tc.sum(0)
    return out


def _emulated_error(split: bool, monkeypatch) -> int:
    monkeypatch.setattr(torch, "_int_mm", _saturating_int_mm)
    return int8_error(split, rows=8, depth=64, cols=8)


def test_worst_case_operands_expose_a_saturating_kernel_and_split_survives_it(monkeypatch):
    # Random operands rarely reach the int16 limit in every pair; the probe's do.
    assert _emulated_error(split=False, monkeypatch=monkeypatch) > 0
    assert _emulated_error(split=True, monkeypatch=monkeypatch) == 0


def test_worst_case_operands_hold_both_extremes_in_every_arrangement():
    ops = worst_case_operands(8, 6, (-128, 127))
    assert ops.dtype == np.int8
    rows = {tuple(r) for r in ops}
    assert rows == {(127,) * 6, (-128,) * 6, (127, -128) * 3, (-128, 127) * 3}


def test_this_cpus_plan_is_exact_where_it_multiplies_int8():
    plan = product_plan()
    assert plan.path in knn_products.PATHS and plan.exact[plan.path]
    assert plan.reason and plan.cpu == torch.backends.cpu.get_cpu_capability()
    for path in ("int8", "int8-split"):
        assert plan.exact[path] == (int8_error(split=path == "int8-split") == 0)


@pytest.fixture
def sample(mnist_train, mnist_test):
    (xtr, _), (xte, _) = mnist_train, mnist_test
    return xtr[:3000], xte[:40]


def _brute_force(train: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact (indices, squared distances), ties by lower index: float64 holds these sums."""
    t = train.reshape(len(train), -1).astype(np.float64)
    q = query.reshape(len(query), -1).astype(np.float64)
    sq = np.rint((q * q).sum(1)[:, None] + (t * t).sum(1) - 2 * q @ t.T).astype(np.int64)
    composite = sq * len(t) + np.arange(len(t))
    part = np.sort(np.partition(composite, k - 1, axis=1)[:, :k], axis=1)
    return part % len(t), part // len(t)


def test_a_kernel_that_goes_wrong_is_caught_and_the_answer_stays_exact(sample, monkeypatch, caplog):
    # The plan trusts plain int8, but the kernel saturates (as it would if the probe's
    # shapes missed a bad code path): the candidate check must catch it.
    train, query = sample
    plan = replace(product_plan(), path="int8", exact={p: True for p in knn_products.PATHS})
    monkeypatch.setattr(knn, "product_plan", lambda: plan)
    monkeypatch.setattr(knn, "_DISTRUSTED", set())
    monkeypatch.setattr(torch, "_int_mm", _saturating_int_mm)
    nb = nearest_neighbours(train, query, 10)
    assert "int8 products gave" in caplog.text
    assert nb.products == "float32" and "int8" in knn._DISTRUSTED
    indices, sqdist = _brute_force(train, query, 10)
    np.testing.assert_array_equal(nb.indices, indices)
    np.testing.assert_array_equal(nb.sqdist, sqdist)
    with pytest.raises(ExplorerError, match="not exact on this CPU"):
        nearest_neighbours(train, query, 10, products="int8")  # now distrusted


def test_every_exact_path_gives_the_same_neighbours(sample):
    train, query = sample
    indices, sqdist = _brute_force(train, query, 15)
    plan = product_plan()
    for path in knn_products.PATHS:
        if not plan.exact[path]:
            with pytest.raises(ExplorerError, match="not exact on this CPU"):
                nearest_neighbours(train, query, 15, products=path)
            continue
        nb = nearest_neighbours(train, query, 15, products=path)
        assert nb.products == path
        np.testing.assert_array_equal(nb.indices, indices)
        np.testing.assert_array_equal(nb.sqdist, sqdist)
    # One more than every pixel leaves distances alone but leaves 0..255: "auto" then
    # multiplies in float32, whatever this machine prefers for pixels.
    shifted = nearest_neighbours(train.astype(np.int16) + 1, query.astype(np.int16) + 1, 15)
    assert shifted.products == "float32"
    np.testing.assert_array_equal(shifted.indices, indices)


def test_split_operands_rebuild_the_training_pixels(sample):
    train, _ = sample
    high, low = Int8Products(train[:50].reshape(50, -1), split=True).train_block(
        train[:50].reshape(50, -1)
    )
    assert int(high.min()) >= -64 and int(high.max()) <= 63
    assert set(np.unique(low.numpy())) <= {0, 1}
    rebuilt = (2 * high.to(torch.int32) + low).T.numpy() + 128
    np.testing.assert_array_equal(rebuilt, train[:50].reshape(50, -1))


# -- on real MNIST, with the CPU library capped as on CPUs without VNNI --------------------

_CAPPED_RUN = """
import json, sys
import numpy as np
from core.knn.augment import deskew
from core.data import load_mnist
from core.errors import ExplorerError
from core.knn.search import nearest_neighbours, vote
from core.knn.products import product_plan
from core.knn.pca import fit_pca

(xtr, ytr), (xte, yte) = load_mnist("train"), load_mnist("test")
nb = nearest_neighbours(xtr, xte, 20)  # the whole test set: the pruned search
pred, _ = vote(ytr[nb.indices], nb.sqdist, 4, "distance")
plan = product_plan()
pl = nearest_neighbours(xtr, xte[:1000], 20, products=plan.path)  # the products path
dtr, dte = deskew(xtr), deskew(xte)
pca = fit_pca(dtr, 60)
ftr, fte = pca.project(dtr), pca.project(dte[:1000])
pnb = nearest_neighbours(ftr, fte, 20)
refused = []
for path in ("int8", "int8-split"):
    if not plan.exact[path]:
        try:
            nearest_neighbours(xtr[:100], xte[:5], 3, products=path)
        except ExplorerError:
            refused.append(path)
np.savez(sys.argv[1], indices=nb.indices[:1000], sqdist=nb.sqdist[:1000],
         plan_indices=pl.indices, plan_sqdist=pl.sqdist,
         pca_indices=pnb.indices, pca_sqdist=pnb.sqdist, pca_features=fte)
print(json.dumps({"correct": int((pred == yte).sum()), "path": plan.path, "used": pl.products,
                  "whole": nb.products,
                  "reason": plan.reason, "exact": plan.exact, "refused": refused,
                  "pca_used": pnb.products}))
"""

# What each cap stands for: AVX-512 before VNNI (Skylake servers), and AVX2 only. BLAS
# libraries are capped alike, so the float32 path and the PCA run on those kernels too.
# The pruned search's compiled loops are built for the same CPUs (NUMBA_CPU_NAME).
_CAPS = {
    "AVX512_CORE": {
        "DNNL_MAX_CPU_ISA": "AVX512_CORE",
        "MKL_ENABLE_INSTRUCTIONS": "AVX512",
        "NUMBA_CPU_NAME": "skylake-avx512",
    },
    "AVX2": {
        "DNNL_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "OPENBLAS_CORETYPE": "Haswell",
        "NUMBA_CPU_NAME": "haswell",
    },
}


@pytest.fixture(scope="module")
def exact_references(mnist_train, mnist_test):
    """Brute-force neighbours of the first 1,000 test images: pixels, and PCA-60 features."""
    (xtr, _), (xte, _) = mnist_train, mnist_test
    dtr, dte = deskew(xtr), deskew(xte[:1000])
    pca = fit_pca(dtr, 60)
    ftr, fte = pca.project(dtr), pca.project(dte)
    return _brute_force(xtr, xte[:1000], 20), _brute_force(ftr, fte, 20), fte


@pytest.mark.slow
@pytest.mark.parametrize("cap", list(_CAPS))
def test_exact_neighbours_and_the_reports_figure_on_cpus_without_vnni(
    cap, exact_references, tmp_path, mnist_dir
):
    out = tmp_path / "run.npz"
    env = os.environ | _CAPS[cap]
    run = subprocess.run(
        [sys.executable, "-c", _CAPPED_RUN, str(out)],
        env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    print(cap, seen)  # which path this CPU, so capped, takes (shown with -s / on failure)
    assert seen["correct"] == 9714  # 97.14%: the report's raw K=4 distance-weighted figure
    assert seen["whole"] == "pruned"
    assert seen["used"] == seen["path"] and seen["exact"][seen["path"]]
    assert sorted(seen["refused"]) == sorted(p for p, ok in seen["exact"].items() if not ok)
    (indices, sqdist), (pca_indices, pca_sqdist), features = exact_references
    got = np.load(out)
    for path in ("", "plan_"):  # pruned, and the products path this CPU's plan takes
        np.testing.assert_array_equal(got[f"{path}indices"], indices)
        np.testing.assert_array_equal(got[f"{path}sqdist"], sqdist)
    # PCA features are integers so that the search on them is exact: the same features
    # on these kernels, and the same neighbours as brute force.
    np.testing.assert_array_equal(got["pca_features"], features)
    assert seen["pca_used"] == "float32"
    np.testing.assert_array_equal(got["pca_indices"], pca_indices)
    np.testing.assert_array_equal(got["pca_sqdist"], pca_sqdist)


# -- the decision: cheap where int8 is slow, remembered per machine ------------------------

_EPYC_PROBE_S = 1.46  # one probe product with int8 on the AVX2-only EPYC: exact, ~70× float32


class _SlowIntMm:
    """``torch._int_mm`` as that CPU runs it: exact, but its time grows with the product's
    size (emulated by sleeping), counting its calls and the seconds it spent."""

    def __init__(self):
        self.real, self.calls, self.seconds = torch._int_mm, 0, 0.0

    def __call__(self, q, t):
        m, d, n = knn_products._PROBE_SHAPE
        pause = _EPYC_PROBE_S * q.shape[0] * t.shape[1] * q.shape[1] / (m * n * d)
        self.calls += 1
        self.seconds += pause
        time.sleep(pause)
        return self.real(q, t)


@pytest.fixture
def slow_int_mm(monkeypatch, tmp_cache):
    slow = _SlowIntMm()
    monkeypatch.setattr(torch, "_int_mm", slow)
    product_plan.cache_clear()
    yield slow
    product_plan.cache_clear()


def test_a_slow_int8_cpu_decides_in_a_few_small_products(slow_int_mm):
    start = time.perf_counter()
    plan = product_plan()
    wall = time.perf_counter() - start
    assert plan.path == "float32" and plan.exact["int8"] and plan.exact["int8-split"]
    assert "~" in plan.reason  # the int8 figures are the scouts' estimates
    # Timing both int8 paths in full cost 18 calls of a full probe each (18 s there).
    assert slow_int_mm.calls <= 12, slow_int_mm.calls
    assert slow_int_mm.seconds < 0.3, slow_int_mm.seconds
    assert wall < 1.5, wall  # the int8 products plus float32's, on a loaded machine too


def test_the_decision_is_remembered_and_rechecked(slow_int_mm, tmp_cache, monkeypatch):
    first = product_plan()
    saved = list((tmp_cache / ".machine").glob("products-*.json"))
    assert len(saved) == 1
    product_plan.cache_clear()  # a new process on the same machine
    calls = slow_int_mm.calls
    assert product_plan() == first and slow_int_mm.calls == calls  # float32: nothing to check
    # A remembered int8 decision is checked for exactness again, with a few small products.
    record = json.loads(saved[0].read_text())
    record["plan"]["path"] = "int8"
    saved[0].write_text(json.dumps(record))
    product_plan.cache_clear()
    assert product_plan().path == "int8" and slow_int_mm.calls - calls == 2
    # On another machine (here: the same one with a library capped) it decides again.
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    assert knn_products._remembered_path(knn_products.machine_key()) != saved[0]


def test_a_remembered_int8_decision_that_is_no_longer_exact_is_decided_again(
    slow_int_mm, tmp_cache, monkeypatch
):
    plan = replace(product_plan(), path="int8")
    path = knn_products._remembered_path(knn_products.machine_key())
    path.write_text(json.dumps({"key": knn_products.machine_key(), "plan": asdict(plan)}))
    product_plan.cache_clear()
    monkeypatch.setattr(torch, "_int_mm", _saturating_int_mm)  # int8 now saturates
    again = product_plan()
    assert again.path != "int8" and not again.exact["int8"]


def test_the_norms_of_a_read_only_training_set_are_computed_once():
    from core.knn import products

    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (500, 28, 28), dtype=np.uint8)
    rows = train.reshape(500, -1)
    assert products.train_norms(rows) is not products.train_norms(rows)  # writeable: never kept
    train.flags.writeable = False
    first = products.train_norms(train.reshape(500, -1))
    np.testing.assert_array_equal(first, products.sq_norms(rows))
    assert products.train_norms(train.reshape(500, -1)) is first  # another view, the same memo
    shifted = products.train_norms(train.reshape(500, -1), 128)
    np.testing.assert_array_equal(shifted, products.sq_norms(rows, 128))
    ours = [k for k in products._TRAIN_NORMS if k[1] == (500, 784)]
    assert {k[3] for k in ours} == {0, 128}  # one memo per shift
    del train, rows
    import gc

    gc.collect()
    assert not any(k in products._TRAIN_NORMS for k in ours)  # gone with the array
