"""How far a method's scores can be read as probabilities: reliability, ECE, Brier, NLL.

A method's confidence on an image is its top class score. Calibrated, the images it
gives confidence 0.9 are right 9 times in 10. KNN votes (the share of the K neighbours
with each label) and template softmaxes are scores, not probabilities; these figures
say how far from probabilities they are. Temperature scaling (Guo et al. 2017) divides
the log-scores by one number fitted to minimise the log-likelihood on images the method
was not fitted to; it changes no prediction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BINS = 15  # equal-width confidence bins of the reliability diagram and the ECE
EPS = 1e-12  # the probability floor of the log-likelihood: a vote of 0 for the label
TEMPERATURES = (0.05, 20.0)  # the range a fitted temperature is searched in


def _top(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n,) predictions and their confidences, from (n, 10) class scores."""
    scores = np.asarray(scores, np.float64)
    pred = scores.argmax(axis=1)
    return pred, scores[np.arange(len(scores)), pred]


def reliability(scores: np.ndarray, labels: np.ndarray, bins: int = BINS) -> pd.DataFrame:
    """One row per confidence bin: its edges, how many images, their mean confidence and
    their accuracy (NaN for an empty bin). Bins are (lo, hi], the first one [0, hi]."""
    pred, confidence = _top(scores)
    right = pred == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, confidence, minlength=bins) / count
        acc = np.bincount(which, right, minlength=bins) / count
    return pd.DataFrame(
        {"lo": edges[:-1], "hi": edges[1:], "images": count, "confidence": conf, "accuracy": acc}
    )


def ece(scores: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: the bins' |accuracy − confidence|, weighted by size."""
    table = reliability(scores, labels, bins)
    full = table[table["images"] > 0]
    gap = (full["accuracy"] - full["confidence"]).abs()
    return float((gap * full["images"]).sum() / full["images"].sum())


def brier(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over images of the squared distance between the scores and the one-hot label."""
    scores = np.asarray(scores, np.float64)
    onehot = np.eye(scores.shape[1])[np.asarray(labels)]
    return float(((scores - onehot) ** 2).sum(axis=1).mean())


def nll(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log of the label's score (floored at ``EPS``: a zero vote is finite)."""
    scores = np.asarray(scores, np.float64)
    p = scores[np.arange(len(scores)), np.asarray(labels)]
    return float(-np.log(np.maximum(p, EPS)).mean())


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 2) -> float:
    """Share of images whose label is among the ``k`` highest scores (ties: lower digit)."""
    order = np.argsort(-np.asarray(scores), axis=1, kind="stable")[:, :k]
    return float((order == np.asarray(labels)[:, None]).any(axis=1).mean())


def coverage(scores: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Keeping only the images whose confidence is ≥ t: how many are kept, how accurate.

    One row per distinct confidence, from the lowest (every image kept) up.
    """
    pred, confidence = _top(scores)
    right = pred == np.asarray(labels)
    order = np.argsort(-confidence, kind="stable")
    conf, hits = confidence[order], np.cumsum(right[order])
    kept = np.arange(1, len(conf) + 1)
    last = np.r_[conf[1:] != conf[:-1], True]  # the last image of each distinct confidence
    return (
        pd.DataFrame(
            {
                "threshold": conf[last],
                "kept": kept[last],
                "coverage": kept[last] / len(conf),
                "accuracy": hits[last] / kept[last],
            }
        )
        .iloc[::-1, :]
        .reset_index(drop=True)
    )


def summary(scores: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict[str, float]:
    """Accuracy, top-2 accuracy, ECE, Brier score and NLL of one method's scores."""
    pred, _ = _top(scores)
    return {
        "accuracy": float(np.mean(pred == np.asarray(labels))),
        "top-2 accuracy": top_k_accuracy(scores, labels, 2),
        "ECE": ece(scores, labels, bins),
        "Brier": brier(scores, labels),
        "NLL": nll(scores, labels),
    }


def per_digit(scores: np.ndarray, labels: np.ndarray, bins: int = BINS) -> pd.DataFrame:
    """:func:`summary` over the images of each true digit (one row per digit)."""
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    rows = {d: summary(scores[labels == d], labels[labels == d], bins) for d in range(10)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("digit")


def tempered(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Scores divided in log space by ``temperature`` and renormalised: softmax(log p / T).

    For a network's softmax this is the softmax of its logits over T. Above 1 the scores
    soften, below 1 they sharpen; the top class stays the top class.
    """
    z = np.log(np.maximum(np.asarray(scores, np.float64), EPS)) / temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the log-likelihood of ``labels`` under
    :func:`tempered` ``scores`` (searched in log T over :data:`TEMPERATURES`)."""
    from scipy.optimize import minimize_scalar

    lo, hi = np.log(TEMPERATURES)
    found = minimize_scalar(
        lambda log_t: nll(tempered(scores, float(np.exp(log_t))), labels),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(np.exp(found.x))
