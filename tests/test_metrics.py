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
