"""KNN engine against its references, measured side by side in one run.

    .venv/bin/python bench/bench_knn.py            # the full measurements (~10 minutes)
    .venv/bin/python bench/bench_knn.py --quick    # smaller sizes, a smoke run

Prints a markdown table of ratios (shared machines are noisy: compare within a run).
Where the reference would take too long, one unit of it is timed and multiplied; the
table says so.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier

from core import load_mnist
from core.knn import GRID_K, cv_rows, folds
from core.knn.augment import GROUPS, REPORT_GROUPS, augment, scipy_transform, transforms_of
from core.knn.products import product_plan
from core.knn.search import WEIGHTS, nearest_neighbours, vote


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def bench_grid(xtr, ytr, quick: bool) -> list[tuple[str, float, float, str]]:
    held = folds(ytr, "report")
    n_folds = 2 if quick else len(held)
    ours = 0.0
    for f in range(n_folds):
        keep = np.setdiff1d(cv_rows(len(ytr), "report"), held[f])
        t, nb = timed(nearest_neighbours, xtr[keep], xtr[held[f]], 20)
        t2, _ = timed(
            lambda nb=nb, keep=keep: [
                vote(ytr[keep][nb.indices], nb.sqdist, k, w) for k in GRID_K for w in WEIGHTS
            ]
        )
        ours += t + t2
    ours *= len(held) / n_folds
    # scikit-learn as the report ran it: int64 pixels, one fit+predict per configuration
    # and fold. One fold of one configuration is timed; the grid is 12 × 5 of them.
    keep = np.setdiff1d(cv_rows(len(ytr), "report"), held[0])
    q = held[0][: 2000 if quick else None]
    x64 = xtr.reshape(len(xtr), -1).astype(np.int64)
    clf = KNeighborsClassifier(n_neighbors=5)
    t, _ = timed(lambda: clf.fit(x64[keep], ytr[keep]).predict(x64[q]))
    ref = t * (len(held[0]) / len(q)) * len(GRID_K) * len(WEIGHTS) * len(held)
    note = "GridSearchCV's way: one fold × one configuration timed, × 60 (an estimate)"
    task = "5-fold grid search, 12 configurations"
    # The fair reference: scikit-learn's kneighbors once per fold (float32, brute force),
    # then the same 12 votes; every fold run, nothing scaled.
    fair = 0.0
    x32 = xtr.reshape(len(xtr), -1).astype(np.float32)
    for f in range(n_folds):
        keep = np.setdiff1d(cv_rows(len(ytr), "report"), held[f])
        knn = KNeighborsClassifier(n_neighbors=20, algorithm="brute").fit(x32[keep], ytr[keep])
        t, (dist, idx) = timed(knn.kneighbors, x32[held[f]])
        t2, _ = timed(
            lambda d=dist, i=idx, keep=keep: [
                vote(ytr[keep][i], d * d, k, w) for k in GRID_K for w in WEIGHTS
            ]
        )
        fair += t + t2
    fair *= len(held) / n_folds
    fair_note = f"scikit-learn kneighbors once per fold (k=20, float32, brute), {n_folds} folds run"
    return [(task, ours, ref, note), (task, ours, fair, fair_note)]


def bench_test_set(xtr, xte) -> list[tuple[str, float, float, str]]:
    """Our exact search against faiss-cpu's exact ``IndexFlatL2`` (the peer, same k and
    threads, same run) and the bare float32 product (a floor neither beats by ranking)."""
    a = torch.from_numpy(xte.reshape(len(xte), -1).astype(np.float32))
    b = torch.from_numpy(xtr.reshape(len(xtr), -1).astype(np.float32))
    floor, _ = timed(torch.mm, a, b.T)
    ours, nb = timed(nearest_neighbours, xtr, xte, 20)
    task = f"test-set neighbours, k=20 ({len(xtr)}×{len(xte)})"
    rows = [(task, ours, floor, f"the bare float32 product {len(xte)}×784 @ 784×{len(xtr)}")]
    try:
        import faiss  # a dev requirement of the bench, never of the package
    except ImportError:
        return [*rows, (task, ours, float("nan"), "faiss-cpu not installed: pip install faiss-cpu")]
    faiss.omp_set_num_threads(torch.get_num_threads())
    index = faiss.IndexFlatL2(784)
    t_add, _ = timed(index.add, b.numpy())
    t_search, (dist, idx) = timed(index.search, a.numpy(), 20)
    # faiss's float32 distances carry rounding: compared to our exact ones within it.
    close = np.isclose(np.sort(dist, axis=1), nb.sqdist, rtol=1e-5, atol=1)
    note = (
        f"faiss-cpu {faiss.__version__} IndexFlatL2 (add {t_add:.1f} s + search), "
        f"{torch.get_num_threads()} threads; the same 20 distances for "
        f"{np.mean(close.all(axis=1)):.2%} of the queries"
    )
    return [*rows, (task, ours, t_add + t_search, note)]


def bench_augmented(xtr, ytr, xte, quick: bool) -> tuple[str, float, float, str]:
    groups = REPORT_GROUPS
    t_aug, (xa, _) = timed(augment, xtr, ytr, transforms_of(groups))
    t_nn, _ = timed(nearest_neighbours, xa, xte, 20)
    ours = t_aug + t_nn
    # The report's way: scipy on each int64 image, then scikit-learn's predict.
    sample = xtr[:500].astype(np.int64)
    names = [n for g in groups for n in GROUPS[g]]
    t_scipy, _ = timed(lambda: [scipy_transform(im, n) for im in sample for n in names])
    q = xte[: 200 if quick else 1000].reshape(-1, 784).astype(np.float32)
    clf = KNeighborsClassifier(n_neighbors=4, weights="distance")
    clf.fit(xa.reshape(len(xa), -1).astype(np.float32), np.zeros(len(xa)))
    t_pred, _ = timed(clf.predict, q)
    ref = t_scipy * len(xtr) / len(sample) + t_pred * len(xte) / len(q)
    note = (
        "reference: scipy.ndimage loop (500 images timed) + scikit-learn float32 predict "
        f"({len(q)} queries timed), scaled"
    )
    return f"augmented set ({len(xa)}×{len(xte)}) incl. augmentation", ours, ref, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    xtr, ytr = load_mnist("train")
    xte, _ = load_mnist("test")
    if args.quick:
        xtr, ytr, xte = xtr[:12000], ytr[:12000], xte[:2000]
    rows = [
        *bench_test_set(xtr, xte),
        *bench_grid(xtr, ytr, args.quick),
        bench_augmented(xtr, ytr, xte, args.quick),
    ]
    plan = product_plan()
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}, CPU capability {plan.cpu}; "
        f"products {plan.path} ({plan.reason})\n"
    )
    print("| task | ours (s) | reference (s) | reference / ours | how the reference was measured |")
    print("| --- | ---: | ---: | ---: | --- |")
    for task, ours, ref, note in rows:
        print(f"| {task} | {ours:.1f} | {ref:.1f} | {ref / ours:.2f}× | {note} |")


if __name__ == "__main__":
    main()
