"""Reviewing suspicious labels one image at a time: what a key means, which image comes
next, how far the review has got, and an image's nearest training images.

The keys: a digit ``d`` says "the right label is d" (the verdict "right" when ``d`` is the
given label, else "wrong" with ``d`` as the correction), ``V`` "the given label is
right" (Streamlit keeps ``R`` for rerunning the page), ``U`` "unsure", ``X`` "wrong"
without naming the digit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core import knn
from core.errors import ExplorerError
from core.knn.folds import fold_rows

LETTERS = {"V": "right", "U": "unsure", "X": "wrong"}


def verdict_for(key: str, given: int) -> tuple[str, int | None]:
    """(verdict, corrected label or None) that a key gives an image labelled ``given``."""
    if len(key) == 1 and key.isdigit():
        digit = int(key)
        return ("right", None) if digit == int(given) else ("wrong", digit)
    if key.upper() in LETTERS:
        return LETTERS[key.upper()], None
    raise ExplorerError(f"key: expected a digit or one of {sorted(LETTERS)}, found {key!r}")


def step(queue: Sequence[int], current: int | None, by: int) -> int | None:
    """The image ``by`` places after ``current`` in ``queue`` (clamped to its ends); the
    first one when ``current`` is not in it (it left the queue: reviewed, filtered)."""
    queue = list(queue)
    if not queue:
        return None
    if current not in queue:
        return queue[0]
    return queue[int(np.clip(queue.index(current) + by, 0, len(queue) - 1))]


def after_verdict(queue: Sequence[int], current: int, only_unreviewed: bool) -> int | None:
    """The image shown once ``current`` has its verdict: the next of the queue (when only
    unreviewed images are listed, ``current`` leaves it and the next takes its place)."""
    queue = list(queue)
    if current not in queue:
        return step(queue, current, 0)
    at = queue.index(current)
    rest = queue[at + 1 :] if not only_unreviewed else queue[at + 1 :] + queue[:at]
    return rest[0] if rest else current


def progress(queue: Sequence[int], verdicts: dict[int, str]) -> tuple[int, int]:
    """(how many images of ``queue`` have a verdict, how many it holds)."""
    return sum(int(i) in verdicts for i in queue), len(queue)


def neighbours(split: str, index: int, k: int = 8) -> tuple[np.ndarray, pd.DataFrame] | None:
    """The ``k`` nearest training images of image ``index``, from what the cache holds
    (None when nothing is): for a test image, its deskewed (else raw) neighbours; for a
    training image, the out-of-fold neighbours that voted for it, never itself. Images
    are drawn as the search saw them (deskewed)."""
    from core import suspicious

    if split == "test":
        for config in (knn.NeighbourConfig("deskewed"), knn.NeighbourConfig()):
            entry = knn.cached_neighbours(config)
            if entry is not None:
                return knn.query_neighbours(entry, config, index, k)
        return None
    e = suspicious.TRAIN_EVIDENCE
    for config in knn.fold_configs(e["variant"], cv_scheme=e["cv_scheme"]):
        held = fold_rows(config.cv_scheme, config.n_folds, config.cv_seed, config.fold)[1]
        rows = np.flatnonzero(held == index)
        if len(rows):
            entry = knn.cached_neighbours(config)
            return None if entry is None else knn.query_neighbours(entry, config, int(rows[0]), k)
    return None
