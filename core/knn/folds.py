"""The cross-validation folds of chapter 1: the report's exactly, and today's."""

from __future__ import annotations

import functools

import numpy as np

from core.data import load_mnist

CV_SCHEMES = {
    "report": "as the report ran it: 59,999 images (its CSV lost the first one to the "
    "header line) and scikit-learn's StratifiedKFold of 2020 (one shuffled KFold per class)",
    "stratified": "all 60,000 images and today's StratifiedKFold(shuffle=True)",
}


def folds(labels: np.ndarray, scheme: str = "report", n_folds: int = 5, seed: int = 42):
    """Held-out training-set indices of each fold of a cross-validation scheme.

    ``"report"`` reproduces the report's folds exactly: its first training image was
    lost, and scikit-learn before 0.22 split each class with its own shuffled ``KFold``
    drawing from one ``RandomState(seed)``, class after class (the first
    ``count % n_folds`` folds of a class get one image more).
    """
    if scheme == "stratified":
        from sklearn.model_selection import StratifiedKFold  # seconds to import: when asked

        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return [test for _, test in splitter.split(np.zeros(len(labels)), labels)]
    rows = np.arange(1, len(labels))
    y = labels[rows]
    rng = np.random.RandomState(seed)  # the legacy generator: same draws as in 2020
    assignment = np.empty(len(y), np.int64)
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        order = np.arange(max(len(members), n_folds))
        rng.shuffle(order)
        sizes = np.full(n_folds, len(order) // n_folds)
        sizes[: len(order) % n_folds] += 1
        fold_of = np.empty(len(order), np.int64)
        fold_of[order] = np.repeat(np.arange(n_folds), sizes)
        assignment[members] = fold_of[: len(members)]
    return [rows[assignment == f] for f in range(n_folds)]


def cv_rows(n_train: int, scheme: str) -> np.ndarray:
    """The training-set indices a cross-validation scheme uses."""
    return np.arange(1 if scheme == "report" else 0, n_train)


@functools.lru_cache(maxsize=16)
def fold_rows(scheme: str, n_folds: int, seed: int, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held) training-set rows of one fold: computed once per fold, not per vote."""
    ytr = load_mnist("train")[1]
    held = folds(ytr, scheme, n_folds, seed)[fold]
    return np.setdiff1d(cv_rows(len(ytr), scheme), held), held
