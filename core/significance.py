"""Whether two methods really differ: the exact McNemar test and a bootstrap interval.

Both read only which test images each method gets right. McNemar's exact test asks whether
the images only A gets right and those only B gets right could come from a fair coin
(the images both get right or both get wrong say nothing about the difference). The
bootstrap resamples the test images with replacement and reads the accuracy difference
of each resample; its 2.5 and 97.5 percentiles make the 95% interval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

RESAMPLES = 10_000  # bootstrap resamples of the test set
SEED = 0  # the bootstrap's seed: the same interval on every run


@dataclass(frozen=True)
class Paired:
    """Two methods on the same images: how their right answers overlap, and the tests."""

    a: str
    b: str
    a_accuracy: float
    b_accuracy: float
    both_right: int
    a_only: int  # images A gets right and B wrong
    b_only: int
    both_wrong: int
    mcnemar_p: float  # two-sided, exact
    difference_ci95: tuple[float, float]  # accuracy of A minus that of B

    def as_dict(self) -> dict:
        return {**asdict(self), "difference_ci95": list(self.difference_ci95)}

    def sentence(self) -> str:
        """The comparison in words, for a page or the command line."""
        lo, hi = self.difference_ci95
        real = "a real difference" if self.mcnemar_p < 0.05 else "not a significant difference"
        return (
            f"{self.a_only} images only A gets right, {self.b_only} only B: McNemar's exact "
            f"p = {self.mcnemar_p:.3g} ({real} at 5%); A − B = "
            f"{100 * (self.a_accuracy - self.b_accuracy):+.2f} points, 95% interval "
            f"[{100 * lo:+.2f}, {100 * hi:+.2f}]."
        )


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value: the disagreements against Binomial(n, 1/2).

    Twice the probability of a split at least as uneven as the one seen, capped at 1
    (``scipy.stats.binomtest``'s two-sided p-value for p = 1/2, in one call).
    """
    from scipy.stats import binom  # imported here: scipy.stats adds ~0.8 s to a command

    n = a_only + b_only
    if n == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(a_only, b_only), n, 0.5)))


def bootstrap_difference(
    right_a: np.ndarray,
    right_b: np.ndarray,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of accuracy(A) − accuracy(B) on the same images.

    ``right_a``, ``right_b``: (n_images,) bool. Per image the difference is +1 (only A
    right), −1 (only B) or 0, so a resample of n images with replacement is described by
    how many of each it draws: a multinomial draw over the three, which is the same
    distribution as drawing n indices, at the cost of three numbers per resample.
    """
    right_a, right_b = np.asarray(right_a, bool), np.asarray(right_b, bool)
    n = len(right_a)
    counts = [np.sum(right_a & ~right_b), np.sum(~right_a & right_b)]
    p = np.array([*counts, n - sum(counts)], np.float64) / n
    draws = np.random.default_rng(seed).multinomial(n, p, size=resamples)  # (resamples, 3)
    differences = (draws[:, 0] - draws[:, 1]) / n
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(differences, [tail, 100 - tail])
    return float(lo), float(hi)


def paired(
    a: str, b: str, pred_a: np.ndarray, pred_b: np.ndarray, labels: np.ndarray, **bootstrap
) -> Paired:
    """Compare two methods' predictions (n_images,) on the same labelled images."""
    labels = np.asarray(labels)
    right_a, right_b = np.asarray(pred_a) == labels, np.asarray(pred_b) == labels
    a_only, b_only = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    return Paired(
        a=a,
        b=b,
        a_accuracy=float(right_a.mean()),
        b_accuracy=float(right_b.mean()),
        both_right=int(np.sum(right_a & right_b)),
        a_only=a_only,
        b_only=b_only,
        both_wrong=int(np.sum(~right_a & ~right_b)),
        mcnemar_p=mcnemar_exact(a_only, b_only),
        difference_ci95=bootstrap_difference(right_a, right_b, **bootstrap),
    )


def agreement(predictions: dict[str, np.ndarray]) -> np.ndarray:
    """(n_methods, n_methods) share of images on which two methods give the same answer."""
    stacked = np.stack([np.asarray(p) for p in predictions.values()])  # (m, n_images)
    return (stacked[:, None, :] == stacked[None, :, :]).mean(axis=2)
