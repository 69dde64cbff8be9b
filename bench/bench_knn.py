"""KNN engine against its references, measured side by side in one run.

    .venv/bin/python bench/bench_knn.py                 # the full measurements (~30 minutes)
    .venv/bin/python bench/bench_knn.py --quick         # smaller sizes, a smoke run
    .venv/bin/python bench/bench_knn.py --emulate-avx2  # rerun with every library capped
                                                        # to AVX2 kernels (see _AVX2)
    .venv/bin/python bench/bench_knn.py --only search fresh   # some rows only

Prints a markdown table of ratios (shared machines are noisy: compare within a run).
Every reference is run in full, once: faiss-cpu's exact ``IndexFlatL2`` for the search,
scikit-learn's ``GridSearchCV`` and ``kneighbors`` for the grid search, the report's
scipy augmentation loop and scikit-learn's predict for the augmented set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier

from core import load_mnist
from core.knn import GRID_K, cv_rows, folds
from core.knn.augment import GROUPS, REPORT_GROUPS, augment, scipy_transform, transforms_of
from core.knn.products import machine_key, product_plan
from core.knn.search import WEIGHTS, nearest_neighbours, vote

# What an AVX2-only CPU runs: torch's own kernels, oneDNN, MKL and OpenBLAS (faiss's
# BLAS) capped to AVX2, and the compiled loops built for Haswell.
_AVX2 = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "DNNL_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
    "NUMBA_CPU_NAME": "haswell",
}


def timed(fn, *args, repeat: int = 1, **kwargs):
    """(seconds, result) of ``fn``; with ``repeat``, the median of that many calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


BENCHES = ("search", "fresh", "grid", "augmented")


def _grid_votes(labels, nb, truth) -> dict[tuple[int, str], float]:
    """Accuracy of every (K, weighting) of the report's grid from one neighbour list."""
    return {
        (k, w): float(np.mean(vote(labels[nb[0]], nb[1], k, w)[0] == truth))
        for k in GRID_K
        for w in WEIGHTS
    }


def bench_grid(xtr, ytr) -> list[tuple[str, float, float, str]]:
    held = folds(ytr, "report")
    rows = cv_rows(len(ytr), "report")
    splits = [(np.setdiff1d(rows, h), h) for h in held]
    start = time.perf_counter()
    scores = []
    for keep, h in splits:
        nb = nearest_neighbours(xtr[keep], xtr[h], 20)
        scores.append(_grid_votes(ytr[keep], (nb.indices, nb.sqdist), ytr[h]))
    ours = time.perf_counter() - start
    mean = {c: np.mean([f[c] for f in scores]) for c in scores[0]}
    best = max(mean, key=lambda c: (mean[c], -GRID_K.index(c[0])))
    task = f"5-fold grid search, {len(mean)} configurations"
    # scikit-learn's GridSearchCV as the report ran it: int64 pixels, one fit + predict
    # per configuration and fold, the report's folds.
    x64 = xtr.reshape(len(xtr), -1).astype(np.int64)
    grid = GridSearchCV(
        KNeighborsClassifier(), {"n_neighbors": list(GRID_K), "weights": list(WEIGHTS)},
        cv=splits, n_jobs=1,
    )  # fmt: skip
    t_grid, _ = timed(grid.fit, x64, ytr)
    same = (grid.best_params_["n_neighbors"], grid.best_params_["weights"]) == best
    note = (
        f"scikit-learn GridSearchCV (int64 pixels, as the report), run in full: best "
        f"K={grid.best_params_['n_neighbors']}, {grid.best_params_['weights']}, "
        f"{grid.best_score_:.3%} (ours: K={best[0]}, {best[1]}, {mean[best]:.3%}; "
        f"{'same' if same and np.isclose(grid.best_score_, mean[best]) else 'DIFFERENT'})"
    )
    # The fair reference: scikit-learn's kneighbors once per fold (float32, brute force),
    # then the same 12 votes.
    x32 = xtr.reshape(len(xtr), -1).astype(np.float32)
    start = time.perf_counter()
    for keep, h in splits:
        knn = KNeighborsClassifier(n_neighbors=20, algorithm="brute").fit(x32[keep], ytr[keep])
        dist, idx = knn.kneighbors(x32[h])
        _grid_votes(ytr[keep], (idx, dist * dist), ytr[h])
    fair = time.perf_counter() - start
    fair_note = "scikit-learn kneighbors once per fold (k=20, float32, brute), then the same votes"
    return [(task, ours, t_grid, note), (task, ours, fair, fair_note)]


_PEAK = """
import os, threading, time
from core import load_mnist
from core.knn.search import nearest_neighbours
(xtr, _), (xte, _) = load_mnist("train"), load_mnist("test")
page = os.sysconf("SC_PAGE_SIZE")
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page
before, peak, done = rss(), [0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)
watcher = threading.Thread(target=sample)
watcher.start()
nearest_neighbours(xtr, xte, 20)
done.set()
watcher.join()
print((peak[0] - before) / 2**20)
"""


def _peak_mib() -> float:
    """Peak memory our test-set search adds to a process holding MNIST, in MiB (its
    resident size sampled every 2 ms while it runs)."""
    run = subprocess.run([sys.executable, "-c", _PEAK], capture_output=True, text=True, check=True)
    return float(run.stdout.strip().splitlines()[-1])


def bench_test_set(xtr, xte) -> list[tuple[str, float, float, str]]:
    """Our exact search against faiss-cpu's exact ``IndexFlatL2`` (the peer, same k and
    threads, same run), our products path, and the bare float32 product: each the median
    of 3 calls (one call of a few seconds is at the mercy of a shared machine)."""
    a = torch.from_numpy(xte.reshape(len(xte), -1).astype(np.float32))
    b = torch.from_numpy(xtr.reshape(len(xtr), -1).astype(np.float32))
    floor, _ = timed(torch.mm, a, b.T, repeat=3)
    ours, nb = timed(nearest_neighbours, xtr, xte, 20, repeat=3)
    plan = product_plan()
    t_plan, pl = timed(nearest_neighbours, xtr, xte, 20, products=plan.path, repeat=3)
    assert (pl.indices == nb.indices).all() and (pl.sqdist == nb.sqdist).all()
    task = (
        f"test-set neighbours, k=20 ({len(xtr)}×{len(xte)}), {nb.products} search "
        f"(peak memory +{_peak_mib():.0f} MiB)"
    )
    rows = [
        (task, ours, floor, f"the bare float32 product {len(xte)}×784 @ 784×{len(xtr)}"),
        (task, ours, t_plan, f"our {plan.path} products search (same neighbours)"),
    ]
    try:
        import faiss  # a dev requirement of the bench, never of the package
    except ImportError:
        return [*rows, (task, ours, float("nan"), "faiss-cpu not installed: pip install faiss-cpu")]
    faiss.omp_set_num_threads(torch.get_num_threads())
    index = faiss.IndexFlatL2(784)
    t_add, _ = timed(index.add, b.numpy())
    t_search, (dist, idx) = timed(index.search, a.numpy(), 20, repeat=3)
    # faiss's float32 distances carry rounding: compared to our exact ones within it.
    close = np.isclose(np.sort(dist, axis=1), nb.sqdist, rtol=1e-5, atol=1)
    note = (
        f"faiss-cpu {faiss.__version__} IndexFlatL2 (add {t_add:.1f} s + search), "
        f"{torch.get_num_threads()} threads; the same 20 distances for "
        f"{np.mean(close.all(axis=1)):.2%} of the queries"
    )
    return [*rows, (task, ours, t_add + t_search, note)]


# One exact test-set search in a new Python process, from its first line: imports, the
# data read and verified, then the search (ours) or the index built and searched (faiss).
_FRESH_OURS = """
from core import load_mnist
from core.knn.search import nearest_neighbours
(xtr, _), (xte, _) = load_mnist("train"), load_mnist("test")
nb = nearest_neighbours(xtr, xte, 20)
"""
_FRESH_FAISS = """
import os
import faiss, numpy as np
from core import load_mnist
(xtr, _), (xte, _) = load_mnist("train"), load_mnist("test")
faiss.omp_set_num_threads(os.cpu_count())  # as many threads as ours
index = faiss.IndexFlatL2(784)
index.add(xtr.reshape(len(xtr), -1).astype(np.float32))
dist, idx = index.search(xte.reshape(len(xte), -1).astype(np.float32), 20)
"""


def _process_s(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def bench_fresh() -> list[tuple[str, float, float, str]]:
    """A new process that wants the test set's neighbours, median of 3 processes each."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return []
    ours = statistics.median(_process_s(_FRESH_OURS) for _ in range(3))
    ref = statistics.median(_process_s(_FRESH_FAISS) for _ in range(3))
    task = "one exact test-set search in a new process (imports, data, search)"
    return [
        (task, ours, ref, "faiss-cpu IndexFlatL2 in a new process: imports, data, index, search")
    ]


def bench_augmented(xtr, ytr, xte) -> tuple[str, float, float, str]:
    groups = REPORT_GROUPS
    start = time.perf_counter()
    xa, ya = augment(xtr, ytr, transforms_of(groups))
    nb = nearest_neighbours(xa, xte, 20)
    ours_pred, _ = vote(ya[nb.indices], nb.sqdist, 4, "distance")
    ours = time.perf_counter() - start
    # The report's way, in full: scipy on each int64 image, stacked, then scikit-learn's
    # fit and predict (float32, brute force: its fastest exact setting).
    names = [n for g in groups for n in GROUPS[g]]
    start = time.perf_counter()
    x64 = xtr.astype(np.int64)
    extra = np.stack([scipy_transform(im, n) for n in names for im in x64])
    ref_x = np.concatenate([x64, extra]).reshape(-1, 784).astype(np.float32)
    ref_y = np.concatenate([ytr] * (1 + len(names)))
    clf = KNeighborsClassifier(n_neighbors=4, weights="distance", algorithm="brute")
    ref_pred = clf.fit(ref_x, ref_y).predict(xte.reshape(len(xte), -1).astype(np.float32))
    ref = time.perf_counter() - start
    note = (
        f"scipy.ndimage loop over all {len(xtr):,} images × {len(names)} transformations + "
        "scikit-learn fit and predict (K=4, distance, float32 brute), run in full; "
        f"predictions equal ours for {np.mean(ref_pred == ours_pred):.2%} of the test images"
    )
    return f"augmented set ({len(xa):,}×{len(xte):,}) incl. augmentation", ours, ref, note


def _rerun_capped() -> None:
    argv = [a for a in sys.argv if a != "--emulate-avx2"]
    env = os.environ | _AVX2 | {"BENCH_EMULATED": "AVX2"}
    raise SystemExit(subprocess.run([sys.executable, *argv], env=env, check=False).returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--emulate-avx2", action="store_true")
    parser.add_argument("--only", nargs="+", choices=BENCHES, default=BENCHES)
    args = parser.parse_args()
    if args.emulate_avx2:
        _rerun_capped()
    xtr, ytr = load_mnist("train")
    xte, _ = load_mnist("test")
    if args.quick:
        xtr, ytr, xte = xtr[:12000], ytr[:12000], xte[:2000]
    # Warm-up: compiled loops loaded, the product plan probed, outside every timing.
    nearest_neighbours(xtr[:3000], xte[:1000], 20, products="pruned")
    nearest_neighbours(xtr[:3000], xte[:1000], 20)
    rows = []
    if "search" in args.only:
        rows += bench_test_set(xtr, xte)
    if "fresh" in args.only:
        rows += bench_fresh()
    if "grid" in args.only:
        rows += bench_grid(xtr, ytr)
    if "augmented" in args.only:
        rows.append(bench_augmented(xtr, ytr, xte))
    plan = product_plan()
    capped = os.environ.get("BENCH_EMULATED")
    print(
        f"\n{machine_key()['cpu_model']}, {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}, CPU capability {plan.cpu}"
        f"{f' (libraries capped to {capped} kernels: {_AVX2})' if capped else ''}; "
        f"products {plan.path} ({plan.reason})\n"
    )
    print("| task | ours (s) | reference (s) | reference / ours | how the reference was measured |")
    print("| --- | ---: | ---: | ---: | --- |")
    for task, ours, ref, note in rows:
        print(f"| {task} | {ours:.1f} | {ref:.1f} | {ref / ours:.2f}× | {note} |")


if __name__ == "__main__":
    main()
