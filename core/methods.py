"""Every method of the three chapters behind one interface: test predictions and one-image
predictions, from the cache, for side-by-side comparison.

A :class:`Method` names a cached computation (its ``load`` never computes; its
``compute`` does, with progress) and turns its result into test-set predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core import cnn_runs, knn_runs, spline_runs, splines
from core.cache import Result
from core.cnn_train import CnnConfig, to_tensor
from core.knn import nearest_neighbours, vote
from core.knn_runs import NeighbourConfig
from core.progress import Progress
from core.spline_learn import LearnedConfig, predict_learned


@dataclass(frozen=True)
class Method:
    name: str
    chapter: int
    config: object  # the cache key of the result it reads
    load: Callable[[], Result | None]  # the cached result, or None: never computes
    compute: Callable[[Progress | None], Result]
    predictions: Callable[[Result], np.ndarray]  # (10000,) test predictions
    cost: str  # what computing it takes, said before the user asks for it


def _knn(name: str, variant: str, cost: str) -> Method:
    config = NeighbourConfig(variant=variant)
    return Method(
        name, 1, config,
        lambda: knn_runs.cached_neighbours(config),
        lambda progress: knn_runs.neighbours(config, progress),
        lambda r: knn_runs.predict(r, config, knn_runs.REPORT_K, knn_runs.REPORT_WEIGHTS)[0],
        cost,
    )  # fmt: skip


def _report_splines(width: int) -> Method:
    config = spline_runs.ReportSplineConfig("corrected", width)
    return Method(
        f"splines: report templates, corrected (width {width})", 2, config,
        lambda: spline_runs.STORE.load(config),
        lambda progress: spline_runs.report_splines(config),
        lambda r: r.arrays["test_pred"],
        "a few seconds",
    )  # fmt: skip


def _learned_splines() -> Method:
    config = LearnedConfig()
    return Method(
        "splines: learned templates (20 per digit, width 1)", 2, config,
        lambda: spline_runs.STORE.load(config),
        lambda progress: spline_runs.learned_splines(config, progress),
        lambda r: r.arrays["test_pred"],
        "about 10 minutes of training",
    )  # fmt: skip


def _cnn(model: str, cost: str) -> Method:
    config = cnn_runs.CONFIGS[model]
    store = cnn_runs.STORES[model]
    return Method(
        f"CNN: {model}", 3, config,
        lambda: store.load(config),
        lambda progress: cnn_runs.trained(config, progress),
        lambda r: r.arrays["test_pred"],
        cost,
    )  # fmt: skip


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        _knn("KNN: raw pixels (K=4, distance)", "raw", "about 30 s"),
        _knn("KNN: augmented (K=4, distance)", "augmented", "about 1.5 min"),
        _knn(
            "KNN: deskewed + augmented + diagonals + PCA-60 (K=4, distance)",
            "deskewed+augmented+diagonals+pca60",
            "about 2 min",
        ),  # fmt: skip
        _report_splines(1),
        _learned_splines(),
        _cnn("pattern-faithful", "about 1 minute of training"),
        _cnn("pattern-repaired", "about 5 minutes of training"),
        _cnn("modern", "about 4 minutes of training"),
    )
}


def test_predictions(method: Method) -> np.ndarray | None:
    """Test-set predictions of a method if its result is cached, else None."""
    result = method.load()
    return None if result is None else np.asarray(method.predictions(result))


# -- one picture: what every method says about a drawn or uploaded digit ---------------


def knn_neighbours_of(
    image: np.ndarray, train: np.ndarray, k: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (k,) of the nearest raw training images and their squared distances (k,)."""
    nb = nearest_neighbours(train, image[None], k)
    return nb.indices[0], nb.sqdist[0]


def knn_predict_one(
    image: np.ndarray, train: np.ndarray, labels: np.ndarray, k: int = 4,
    weights: str = "distance",
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(prediction, class scores (10,), neighbour indices (k,), squared distances (k,))."""
    idx, sq = knn_neighbours_of(image, train, k)
    pred, scores = vote(labels[idx][None], sq[None], k, weights)
    return int(pred[0]), scores[0], idx, sq


def splines_predict_one(image: np.ndarray, width: int = 1) -> tuple[int, np.ndarray]:
    """The corrected report templates: (prediction, score per digit (10,), lower = closer)."""
    s = splines.scores(image[None], width, "corrected")[0]
    return int(np.argmin(s)), s


def learned_predict_one(image: np.ndarray, result: Result, config: LearnedConfig) -> int:
    return int(predict_learned(image[None], result.arrays["control"], config.width)[0])


def cnn_predict_one(image: np.ndarray, result: Result, config: CnnConfig) -> np.ndarray:
    """Class probabilities (10,) of a cached network for one image."""
    import torch

    model = cnn_runs.load_model(result, config)
    with torch.no_grad():
        x = to_tensor(image[None], config, next(model.parameters()).device)
        return model(x)[0].exp()[0].cpu().numpy()
