"""McNemar's exact test against scipy's binomial test; the bootstrap against resampling
the images themselves; the agreement matrix by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from core import significance


@pytest.mark.parametrize(("a_only", "b_only"), [(0, 0), (3, 3), (1, 9), (40, 17), (250, 0)])
def test_mcnemar_is_scipys_two_sided_binomial_test(a_only, b_only):
    expected = 1.0 if a_only + b_only == 0 else binomtest(a_only, a_only + b_only).pvalue
    assert significance.mcnemar_exact(a_only, b_only) == pytest.approx(expected, rel=1e-9)


def _two_methods(n=2000, seed=1):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    a = np.where(rng.random(n) < 0.95, labels, (labels + 1) % 10)
    b = np.where(rng.random(n) < 0.92, labels, (labels + 2) % 10)
    return a, b, labels


def test_the_paired_counts_and_accuracies():
    a, b, labels = _two_methods()
    found = significance.paired("A", "B", a, b, labels)
    ra, rb = a == labels, b == labels
    assert (found.both_right, found.a_only, found.b_only, found.both_wrong) == (
        np.sum(ra & rb), np.sum(ra & ~rb), np.sum(~ra & rb), np.sum(~ra & ~rb),
    )  # fmt: skip
    assert found.a_accuracy == ra.mean() and found.b_accuracy == rb.mean()
    assert found.mcnemar_p == significance.mcnemar_exact(found.a_only, found.b_only)
    assert found.mcnemar_p < 0.05  # 95% against 92% on 2,000 images: a real difference
    same = significance.paired("A", "A", a, a, labels)
    assert same.mcnemar_p == 1.0 and same.difference_ci95 == (0.0, 0.0)
    assert set(found.as_dict()) == {
        "a", "b", "a_accuracy", "b_accuracy", "both_right", "a_only", "b_only",
        "both_wrong", "mcnemar_p", "difference_ci95",
    }  # fmt: skip


def test_the_bootstrap_is_seeded_and_matches_resampling_the_images():
    a, b, labels = _two_methods()
    ra, rb = a == labels, b == labels
    lo, hi = significance.bootstrap_difference(ra, rb)
    assert (lo, hi) == significance.bootstrap_difference(ra, rb)  # the same seed, the same
    assert (lo, hi) != significance.bootstrap_difference(ra, rb, seed=1)
    # The slow way: 4,000 resamples of the image indices themselves.
    rng = np.random.default_rng(7)
    draws = rng.integers(0, len(ra), size=(4000, len(ra)))
    slow = np.percentile(ra[draws].mean(1) - rb[draws].mean(1), [2.5, 97.5])
    assert lo == pytest.approx(slow[0], abs=0.003) and hi == pytest.approx(slow[1], abs=0.003)
    assert lo < ra.mean() - rb.mean() < hi


def test_the_agreement_matrix():
    preds = {"x": np.array([1, 2, 3, 4]), "y": np.array([1, 2, 0, 0]), "z": np.array([0] * 4)}
    expected = [[1, 0.5, 0], [0.5, 1, 0.5], [0, 0.5, 1]]
    np.testing.assert_allclose(significance.agreement(preds), expected)
