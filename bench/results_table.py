"""The README's table of chapter-1 results, printed from the cache.

    .venv/bin/python -m core knn --all        # compute (minutes the first time)
    .venv/bin/python bench/results_table.py   # print the table

Every figure comes from the cached neighbour lists; nothing is typed in by hand except
the report's own published figures, shown beside ours for comparison.
"""

from __future__ import annotations

from core.knn import NeighbourConfig, accuracy_table, cached_neighbours, predict, query_labels
from core.report import knn_cv_figures

# Published in the report (section 1.4, 1.5): accuracy %, or error % for the ablation.
REPORT = {
    "raw": "97.14",
    "augmented": "98.02",
    "rotations": "error 2.23",
    "zooms": "error 2.88",
}


def main() -> None:
    print(
        "| training set | test accuracy, K=4 distance | errors on the report's 9,999 "
        "test images | best K (accuracy) | the report |"
    )
    print("| --- | ---: | ---: | --- | ---: |")
    for variant in (
        "raw", "shifts", "rotations", "zooms", "augmented", "deskewed", "deskewed+augmented",
        "deskewed+augmented+diagonals", "deskewed+augmented+diagonals+pca60",
    ):  # fmt: skip
        config = NeighbourConfig(variant=variant)
        result = cached_neighbours(config)
        if result is None:
            print(f"| {variant} | not computed | | | {REPORT.get(variant, '')} |")
            continue
        table = accuracy_table(result, config).stack()
        y = query_labels(config)
        pred, _ = predict(result, config, 4, "distance")
        (k, w), best = table.idxmax(), table.max()
        errors = int((pred[1:] != y[1:]).sum())
        print(
            f"| {variant} | {100 * table[(4, 'distance')]:.2f}% | {errors} "
            f"({errors / 100:.2f}%) | K={k}, {w} ({100 * best:.2f}%) | "
            f"{REPORT.get(variant, '—')} |"
        )
    for variant, cv in knn_cv_figures().items():
        print(
            f"\nCross-validation ({variant}, the report's folds): best "
            f"K={cv['best']['K']}, {cv['best']['weights']}: {100 * cv['best']['mean']:.3f}% "
            f"(the report: K=4, distance, 97%); fold 1 at K=5: "
            f"{100 * cv['folds'][0]['accuracy_K5_uniform']:.2f}% (the report: 97.2%)"
        )


if __name__ == "__main__":
    main()
