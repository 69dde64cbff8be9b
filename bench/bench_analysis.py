"""Calibration of every cached method, and whether the gaps between neighbours are real.

    .venv/bin/python bench/bench_analysis.py [--pairs A:B ...]

Two markdown tables on a computed cache (``mnist-explorer compute --all`` first):

- each method's accuracy, top-2 accuracy, ECE, Brier score and NLL on the 10,000 test
  images, best calibrated (lowest ECE) first, with each network again at the temperature
  fitted on the training images its training held out (computed here if missing);
- for each pair of methods adjacent in accuracy, A the better (and each ``--pairs A:B``), the exact
  McNemar test and the bootstrap 95% interval of the accuracy difference, as
  ``mnist-explorer compare A B`` prints them.
"""

from __future__ import annotations

import argparse
import time

import torch

from core import calibration, cnn, methods, significance
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


if __name__ == "__main__":
    main()
