"""Scores of a classifier's predictions: accuracy, confusion matrix, per-digit tables."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

N_CLASSES = 10


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of predictions equal to the labels, over all of them."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int = N_CLASSES) -> np.ndarray:
    """(n, n) int64 counts: row = true class, column = predicted class."""
    flat = np.asarray(y_true, np.int64) * n + np.asarray(y_pred, np.int64)
    return np.bincount(flat, minlength=n * n).reshape(n, n)


def per_digit(y_true: np.ndarray, predictions: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Success rate (%) per true digit, one column per method (the report's figure 1.7)."""
    y_true = np.asarray(y_true)
    support = np.bincount(y_true, minlength=N_CLASSES)
    table = {"support": support}
    for name, y_pred in predictions.items():
        hits = np.bincount(y_true[y_true == np.asarray(y_pred)], minlength=N_CLASSES)
        table[name] = 100.0 * hits / np.maximum(support, 1)
    frame = pd.DataFrame(table)
    frame.index.name = "digit"
    return frame


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support per digit, then accuracy and the averages."""
    from sklearn.metrics import precision_recall_fscore_support  # imported here: ~1 s

    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=range(N_CLASSES), zero_division=0
    )
    frame = pd.DataFrame({"precision": p, "recall": r, "f1-score": f, "support": s})
    frame.index = [str(d) for d in range(N_CLASSES)]
    total = int(s.sum())
    acc = accuracy(y_true, y_pred)
    frame.loc["accuracy"] = [np.nan, np.nan, acc, total]
    frame.loc["macro avg"] = [p.mean(), r.mean(), f.mean(), total]
    frame.loc["weighted avg"] = [np.average(v, weights=s) for v in (p, r, f)] + [total]
    frame["support"] = frame["support"].astype(int)
    return frame


def misclassified(y_true: np.ndarray, y_pred: np.ndarray) -> pd.DataFrame:
    """Indices of the wrong predictions with their true and predicted labels."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    wrong = np.flatnonzero(y_true != y_pred)
    return pd.DataFrame({"index": wrong, "label": y_true[wrong], "predicted": y_pred[wrong]})


def summary(y_true: np.ndarray, predictions: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Accuracy and error count of each method (one row each, in the order given)."""
    y_true = np.asarray(y_true)
    return pd.DataFrame(
        {
            "accuracy": [accuracy(y_true, p) for p in predictions.values()],
            "errors": [int((np.asarray(p) != y_true).sum()) for p in predictions.values()],
        },
        index=pd.Index(list(predictions), name="method"),
    )


def right_wrong(y_true: np.ndarray, right: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """Indices of the images ``right`` labels correctly and ``wrong`` does not."""
    y_true = np.asarray(y_true)
    return np.flatnonzero((np.asarray(right) == y_true) & (np.asarray(wrong) != y_true))


# How a gallery of images can be ordered, from a method's class scores.
SORTS = {
    "confident": "most confident first (highest score of the predicted digit)",
    "ambiguous": "most ambiguous first (smallest margin between the two best digits)",
    "true-low": "lowest score for the true label first",
    "index": "by index",
}


def sort_rows(
    rows: np.ndarray, scores: np.ndarray, labels: np.ndarray, how: str = "confident"
) -> np.ndarray:
    """Rows of a gallery in the order ``how`` (a key of :data:`SORTS`); ties by index.

    rows : indices into ``scores`` (N, 10) and ``labels`` (N,)
    """
    if how not in SORTS:
        raise ValueError(f"sort: expected one of {list(SORTS)}, found {how!r}")
    rows = np.sort(np.asarray(rows, np.int64))
    if how == "index" or not len(rows):
        return rows
    s = np.asarray(scores)[rows]
    if how == "confident":
        key = -s.max(axis=1)
    elif how == "ambiguous":
        best_two = np.sort(s, axis=1)[:, -2:]
        key = best_two[:, 1] - best_two[:, 0]
    else:
        key = s[np.arange(len(rows)), np.asarray(labels)[rows]]
    return rows[np.argsort(key, kind="stable")]
