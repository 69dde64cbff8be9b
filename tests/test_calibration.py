"""Calibration figures by hand on small known cases, and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, top_k_accuracy_score

from core import calibration


def _scores(top: list[float], pred: list[int]) -> np.ndarray:
    """Scores whose top class is ``pred`` with score ``top``, the rest spread evenly."""
    out = np.tile(((1 - np.array(top)) / 9)[:, None], (1, 10))
    out[np.arange(len(top)), pred] = top
    return out


def test_ece_and_the_reliability_bins_by_hand():
    # Two bins used out of 10: four images at 0.95 (3 right), two at 0.55 (both right).
    scores = _scores([0.95] * 4 + [0.55] * 2, [1, 1, 1, 1, 2, 2])
    labels = np.array([1, 1, 1, 0, 2, 2])
    table = calibration.reliability(scores, labels, bins=10)
    assert table["images"].tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 0, 4]
    assert table.loc[9, "accuracy"] == 0.75 and table.loc[5, "accuracy"] == 1.0
    expected = (4 / 6) * abs(0.75 - 0.95) + (2 / 6) * abs(1.0 - 0.55)
    assert calibration.ece(scores, labels, bins=10) == pytest.approx(expected)
    perfect = _scores([1.0, 1.0], [3, 4])
    assert calibration.ece(perfect, np.array([3, 4])) == 0.0
    # A confidence on a bin's upper edge belongs to that bin; 0 to the first one.
    edges = calibration.reliability(_scores([0.5, 1.0], [0, 0]), np.array([0, 0]), bins=2)
    assert edges["images"].tolist() == [1, 1]


def test_brier_nll_and_top2_against_scikit_learn():
    rng = np.random.default_rng(0)
    scores = rng.dirichlet(np.ones(10) * 0.3, size=500)
    labels = rng.integers(0, 10, 500)
    onehot = np.eye(10)[labels]
    assert calibration.brier(scores, labels) == pytest.approx(
        ((scores - onehot) ** 2).sum(1).mean()
    )
    assert calibration.nll(scores, labels) == pytest.approx(
        log_loss(labels, scores, labels=range(10))
    )
    expected = top_k_accuracy_score(labels, scores, k=2, labels=range(10))
    assert calibration.top_k_accuracy(scores, labels, 2) == pytest.approx(expected)
    # A zero vote for the label costs -log(EPS), not infinity.
    assert np.isfinite(calibration.nll(np.eye(10)[[1]], np.array([0])))


def test_the_coverage_curve_by_hand():
    scores = _scores([0.9, 0.9, 0.6, 0.3], [0, 0, 1, 2])
    labels = np.array([0, 5, 1, 5])  # right, wrong, right, wrong
    curve = calibration.coverage(scores, labels)
    assert curve["threshold"].tolist() == pytest.approx([0.3, 0.6, 0.9])
    assert curve["kept"].tolist() == [4, 3, 2]
    assert curve["accuracy"].tolist() == pytest.approx([0.5, 2 / 3, 0.5])


def test_the_summary_per_digit_covers_each_digits_images():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(10), 20)
    scores = rng.dirichlet(np.ones(10), size=200)
    table = calibration.per_digit(scores, labels)
    assert list(table.index) == list(range(10))
    for d in (0, 7):
        mask = labels == d
        assert table.loc[d, "NLL"] == pytest.approx(calibration.nll(scores[mask], labels[mask]))
        assert table.loc[d, "accuracy"] == np.mean(scores[mask].argmax(1) == d)


def test_a_fitted_temperature_undoes_a_known_one_and_keeps_every_prediction():
    # Scores drawn from a calibrated model, then sharpened by 1/3 (over-confident): the
    # fit must find T = 3 back (up to sampling), and no top class may move.
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2.0, (20000, 10))
    calibrated = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = (calibrated.cumsum(1) < rng.random((20000, 1))).sum(1).clip(0, 9)
    sharp = calibration.tempered(calibrated, 1 / 3)
    temperature = calibration.fit_temperature(sharp, labels)
    assert temperature == pytest.approx(3.0, rel=0.05)
    back = calibration.tempered(sharp, temperature)
    np.testing.assert_array_equal(back.argmax(1), sharp.argmax(1))
    np.testing.assert_allclose(back.sum(1), 1.0)
    assert calibration.nll(back, labels) < calibration.nll(sharp, labels)
    assert calibration.ece(back, labels) < calibration.ece(sharp, labels) / 3
    # By hand: T = 2 on scores (0.8, 0.2) gives sqrt(0.8) : sqrt(0.2) = 2 : 1.
    two = calibration.tempered(np.array([[0.8, 0.2]]), 2.0)
    np.testing.assert_allclose(two, [[2 / 3, 1 / 3]])
