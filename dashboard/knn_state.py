"""Cached KNN results for the pages: neighbour lists by variant and fold, votes by K."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import knn_runs
from core.cache import Result
from core.data import load_mnist
from core.knn_runs import NeighbourConfig
from dashboard.state import require

WEIGHTS = ("distance", "uniform")


class _Missing(Exception):
    """Raised inside a cached loader so that a missing result is not cached."""


@st.cache_resource(show_spinner=False, max_entries=32)
def _neighbours(variant: str, fold: int | None) -> Result:
    result = knn_runs.cached_neighbours(NeighbourConfig(variant=variant, fold=fold))
    if result is None:
        raise _Missing
    return result


def neighbours(variant: str, fold: int | None = None, stop: bool = True) -> Result | None:
    """The cached neighbour list of (variant, fold); offers to compute it when missing."""
    config = NeighbourConfig(variant=variant, fold=fold)

    def load():
        try:
            return _neighbours(variant, fold)
        except _Missing:
            return None

    where = "the test set" if fold is None else f"fold {fold + 1}"
    return require(
        f"the {variant} neighbours of {where}",
        load,
        lambda progress: knn_runs.neighbours(config, progress),
        "about half a minute (raw) to two minutes (augmented variants)",
        key=f"knn:{variant}:{fold}",
        stop=stop,
    )


@st.cache_resource(show_spinner=False, max_entries=256)
def votes(variant: str, fold: int | None, k: int, weights: str) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, class scores) of a K-vote over the cached neighbours: no distances."""
    config = NeighbourConfig(variant=variant, fold=fold)
    return knn_runs.predict(_neighbours(variant, fold), config, k, weights)


@st.cache_resource(show_spinner=False, max_entries=16)
def query_labels(variant: str, fold: int | None) -> np.ndarray:
    return knn_runs.query_labels(NeighbourConfig(variant=variant, fold=fold))


def folds_ready(variant: str = "raw") -> bool:
    """Every fold of the report's cross-validation cached; else an offer to compute them."""
    n = NeighbourConfig().n_folds
    missing = [
        f for f in range(n) if knn_runs.cached_neighbours(NeighbourConfig(variant, f)) is None
    ]
    if not missing:
        return True
    require(
        f"the neighbours of the {len(missing)} missing cross-validation folds",
        lambda: None,
        lambda progress: knn_runs.grid_search(variant, progress=progress),
        "about 30 seconds per fold",
        key=f"knn-folds:{variant}",
    )
    return False


@st.cache_data(show_spinner="Voting every K and weighting on every fold…", max_entries=4)
def grid_search(variant: str = "raw"):
    """The cross-validated grid (K 1..20 × weighting) from the cached folds."""
    return knn_runs.grid_search(variant)


@st.cache_resource(show_spinner=False, max_entries=2)
def held_out(fold: int) -> np.ndarray:
    """Training-set indices of the images fold ``fold`` holds out (the report's scheme)."""
    c = NeighbourConfig(fold=fold)
    return knn_runs.folds(load_mnist("train")[1], c.cv_scheme, c.n_folds, c.cv_seed)[fold]
