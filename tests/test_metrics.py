"""Scores of predictions: the tables pages show, on small hand-checked cases."""

import numpy as np
import pandas as pd

from core import metrics

Y = np.array([0, 1, 2, 2, 3, 3])
A = np.array([0, 1, 2, 0, 3, 1])  # right on 0, 1, 2, 4
B = np.array([0, 2, 2, 2, 1, 3])  # right on 0, 2, 3, 5


def test_summary_counts_accuracy_and_errors_in_order():
    table = metrics.summary(Y, {"a": A, "b": B})
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "errors"] == 2 and table.loc["a", "accuracy"] == 4 / 6


def test_right_wrong_is_one_way():
    np.testing.assert_array_equal(metrics.right_wrong(Y, A, B), [1, 4])
    np.testing.assert_array_equal(metrics.right_wrong(Y, B, A), [3, 5])
    assert len(metrics.right_wrong(Y, A, A)) == 0


def test_confusion_and_per_digit_agree():
    cm = metrics.confusion(Y, A)
    assert cm.sum() == len(Y) and np.trace(cm) == 4
    per_digit = metrics.per_digit(Y, {"a": A})
    assert isinstance(per_digit, pd.DataFrame)
    np.testing.assert_allclose(per_digit["a"].iloc[:4], [100, 100, 50, 50])


def test_gallery_sorts_follow_the_scores():
    scores = np.array([
        [0.10, 0.90, 0, 0, 0, 0, 0, 0, 0, 0],  # confident 1, margin 0.8
        [0.45, 0.55, 0, 0, 0, 0, 0, 0, 0, 0],  # ambiguous, margin 0.1
        [0.30, 0.70, 0, 0, 0, 0, 0, 0, 0, 0],  # margin 0.4
        [0.05, 0.95, 0, 0, 0, 0, 0, 0, 0, 0],  # most confident
    ])  # fmt: skip
    labels = np.array([0, 0, 1, 0])  # true-label scores: 0.10, 0.45, 0.70, 0.05
    rows = np.array([3, 0, 2, 1])
    np.testing.assert_array_equal(metrics.sort_rows(rows, scores, labels, "index"), [0, 1, 2, 3])
    np.testing.assert_array_equal(
        metrics.sort_rows(rows, scores, labels, "confident"), [3, 0, 2, 1]
    )
    np.testing.assert_array_equal(
        metrics.sort_rows(rows, scores, labels, "ambiguous"), [1, 2, 0, 3]
    )
    np.testing.assert_array_equal(metrics.sort_rows(rows, scores, labels, "true-low"), [3, 0, 1, 2])
    tied = np.tile(scores[:1], (3, 1))
    np.testing.assert_array_equal(metrics.sort_rows([2, 0, 1], tied, np.zeros(3, int)), [0, 1, 2])
