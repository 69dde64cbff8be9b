"""Calibration of every cached method, and whether the gaps between neighbours are real.

    .venv/bin/python bench/bench_analysis.py [--pairs A:B ...]

Two markdown tables on a computed cache (``mnist-explorer compute --all`` first):

- each method's accuracy, top-2 accuracy, ECE, Brier score and NLL on the 10,000 test
  images, best calibrated (lowest ECE) first, with each network again at the temperature
  fitted on the training images its training held out (computed here if missing);
- for each pair of methods adjacent in accuracy, A the better (and each ``--pairs A:B``),
  the exact McNemar test and the bootstrap 95% interval of the accuracy difference, as
  ``mnist-explorer compare A B`` prints them;
- the near-duplicates of each kind at the default thresholds, and each method's accuracy
  on the test images with a training twin and on the others (``mnist-explorer duplicates``);
- the five slices (bins and pairs of bins of the image features) where the most accurate
  method does worst, as the Slices page finds them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from core import calibration, cnn, duplicates, features, methods, significance
from core.data import load_mnist
from core.knn.products import machine_key


def _calibration_rows(results, labels) -> list[dict]:
    rows = []
    for method, result in results.items():
        rows.append({"method": method.name, **calibration.summary(result.scores, labels)})
        if isinstance(method, methods.CnnMethod):
            fitted = cnn.held_out(method.config)
            t = float(fitted.meta["temperature"])
            scaled = calibration.tempered(result.scores, t)
            name = f"{method.name}, T = {t:.3f} ({fitted.meta['images']:,} held-out images)"
            rows.append({"method": name, **calibration.summary(scaled, labels)})
    return sorted(rows, key=lambda r: r["ECE"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="*", default=[], help="extra pairs, as A:B method ids")
    args = parser.parse_args()
    labels = load_mnist("test")[1]
    results = {m: r for m in methods.all_methods() if (r := m.result()) is not None}
    start = time.perf_counter()
    rows = _calibration_rows(results, labels)
    seconds = time.perf_counter() - start
    key = machine_key()
    print(
        f"{key['cpu_model']}, CPU capability {torch.backends.cpu.get_cpu_capability()}; "
        f"{len(results)} cached methods ({seconds:.1f} s, held-out temperatures included)\n"
    )
    print("| method | accuracy | top-2 | ECE | Brier | NLL |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['method']} | {r['accuracy']:.2%} | {r['top-2 accuracy']:.2%} | "
            f"{r['ECE']:.4f} | {r['Brier']:.4f} | {r['NLL']:.3f} |"
        )
    ranked = sorted(results.items(), key=lambda mr: -mr[1].accuracy(labels))  # A the better
    pairs = [(a, b) for (a, _), (b, _) in zip(ranked, ranked[1:], strict=False)]
    pairs += [tuple(methods.get(i) for i in p.split(":")) for p in args.pairs]
    print("\n| A | B | A right, B wrong | A wrong, B right | McNemar p | A − B (95% interval) |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for a, b in pairs:
        found = significance.paired(
            a.name, b.name, results[a].predictions, results[b].predictions, labels
        )
        lo, hi = found.difference_ci95
        print(
            f"| {a.name} | {b.name} | {found.a_only} | {found.b_only} | {found.mcnemar_p:.3g} | "
            f"{found.a_accuracy - found.b_accuracy:+.2%} ({lo:+.2%} to {hi:+.2%}) |"
        )
    _duplicates(results, labels)
    _worst(results, labels)


def _duplicates(results, labels) -> None:
    print("\n| pairs | closer than | pairs | twins with different labels |")
    print("| --- | ---: | ---: | ---: |")
    for kind in duplicates.KINDS:
        config = duplicates.within(kind)
        if config is not None and duplicates.STORE.load(config) is None:
            duplicates.twins(config)
        limit = duplicates.DISTORTION if "distortion" in kind else duplicates.EUCLIDEAN
        if duplicates.what_is_missing(kind):
            print(f"| {kind} | {limit:,.0f} | not cached | |")
            continue
        found = duplicates.pairs(kind, limit)
        differ = int((found["label_a"] != found["label_b"]).sum())
        print(f"| {kind} | {limit:,.0f} | {len(found)} | {differ} |")
    if duplicates.what_is_missing("test-train"):
        return
    twin = duplicates.with_twin("test-train", duplicates.EUCLIDEAN)
    digits = np.bincount(labels[twin], minlength=10)
    print(f"\n{int(twin.sum())} test images with a training twin; their digits: {digits.tolist()}")
    table = duplicates.accuracy_with_and_without(
        twin, {m.name: r.predictions for m, r in results.items()}, labels
    )
    print("\n| method | with a twin | without |")
    print("| --- | ---: | ---: |")
    for r in table.to_dict(orient="records"):
        print(f"| {r['method']} | {r['with a twin']:.2%} | {r['without']:.2%} |")


def _worst(results, labels) -> None:
    best, result = max(results.items(), key=lambda mr: mr[1].accuracy(labels))
    frame = features.test_features()
    worst = features.worst_slices(frame, result.predictions == labels, top=5)
    print(f"\nWhere {best.name} does worst ({result.accuracy(labels):.2%} overall):\n")
    print("| slice | images | accuracy |")
    print("| --- | ---: | ---: |")
    for r in worst.itertuples():
        print(f"| {r.slice} | {r.images} | {r.accuracy:.2%} |")


if __name__ == "__main__":
    main()
