"""CSV exports of cached results, as the report kept its results in CSV files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core import metrics
from core.knn import (
    REPORT_K,
    REPORT_WEIGHTS,
    VARIANTS,
    NeighbourConfig,
    accuracy_table,
    cached_neighbours,
    predict,
    query_labels,
)


def export_knn(folder: Path, k: int = REPORT_K, weights: str = REPORT_WEIGHTS) -> list[Path]:
    """Write per-image predictions, per-digit success and accuracy tables of every cached
    KNN test result into ``folder``; return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    predictions, accuracies = {}, {}
    y = None
    for variant in VARIANTS:
        config = NeighbourConfig(variant=variant)
        result = cached_neighbours(config)
        if result is None:
            continue
        y = query_labels(config)
        predictions[variant] = predict(result, config, k, weights)[0]
        accuracies[variant] = accuracy_table(result, config).stack()
    if y is None:
        return []
    written = []
    per_image = pd.DataFrame({"label": y, **predictions})
    per_image.index.name = "test_index"
    digits = metrics.per_digit(y, predictions)
    accuracy = pd.DataFrame(accuracies)
    accuracy.index.names = ["K", "weights"]
    wrong = pd.concat(
        {v: metrics.misclassified(y, p).set_index("index") for v, p in predictions.items()},
        names=["variant", "test_index"],
    )
    for name, frame in (
        (f"knn_test_predictions_K{k}_{weights}.csv", per_image),
        (f"knn_misclassified_K{k}_{weights}.csv", wrong),
        (f"knn_per_digit_success_K{k}_{weights}.csv", digits),
        ("knn_test_accuracy.csv", accuracy),
    ):
        frame.to_csv(folder / name)
        written.append(folder / name)
    return written
