"""Chapter 1's methods: a KNN training variant, and the distortion (IDM) re-ranking."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np

from core import knn
from core.cache import Store
from core.methods.base import Method, TestResult, normalised


class KnnMethod(Method):
    """A training variant of chapter 1, voted with the report's K = 4, distance-weighted."""

    chapter = 1
    trained = False

    def __init__(self, variant: str, cost: str, seconds: float, reported: float | None = None):
        self.variant = variant
        self.id = "knn-" + variant.replace("+", "-")
        self.name = f"KNN: {variant} (K={knn.REPORT_K}, {knn.REPORT_WEIGHTS})"
        self.config = knn.NeighbourConfig(variant=variant)
        self.cost, self.seconds, self.reported = cost, seconds, reported
        if self.config.variant.transforms:
            self.one_image_cost = "building its augmented training set: 5 to 30 s, up to 0.9 GB"

    @property
    def store(self) -> Store:
        return knn.STORE

    @property
    def page(self) -> str:
        return f"knn?variant={quote(self.variant)}"

    @property
    def about(self) -> str:
        v = self.config.variant
        parts = [
            f"K={knn.REPORT_K} {knn.REPORT_WEIGHTS} vote",
            f"{60000 * (1 + len(v.transforms)):,} training images",
        ]
        if v.deskew:
            parts.append("deskewed")
        if v.pca:
            parts.append(f"{v.pca} principal components")
        return ", ".join(parts)

    def _compute(self, progress):
        return knn.neighbours(self.config, progress)

    def _test_result(self, entry):
        pred, scores = knn.predict(entry, self.config, knn.REPORT_K, knn.REPORT_WEIGHTS)
        meta = entry.meta
        return TestResult(
            pred.astype(np.int64),
            normalised(scores),
            meta.get("seconds_prepare", 0) + meta.get("seconds_search", 0),
            _knn_device(meta),
            meta,
        )

    def predict_one(self, image):
        return normalised(knn.predict_images(self.config.variant, np.asarray(image)[None])[1])[0]


def _knn_device(meta: dict) -> str:
    path = meta.get("products", "?")
    if path == "cuda":
        return "cuda (float32 products, certified)"
    how = {"pruned": "pruned search", "merged": "merged neighbour lists"}.get(
        path, f"{path} products"
    )
    return f"cpu ({meta.get('cpu', '?')}, {how})"


class IdmMethod(Method):
    """Chapter 1's neighbours re-ranked by a distance that lets pixels move
    (:mod:`core.knn.idm`): the Euclidean candidates of its sources, IDM-nearest first."""

    chapter = 1
    trained = False
    cost = "about 2 to 3 minutes (its candidates' searches included)"
    seconds = 180.0
    one_image_cost = "building the augmented candidate set: 5 to 30 s, up to 0.9 GB"

    def __init__(self, config: knn.IdmConfig | None = None, k: int = 0, weights: str = ""):
        self.config = config or knn.IdmConfig()
        self.k, self.weights = k or knn.IDM_K, weights or knn.IDM_WEIGHTS
        self.id = "knn-idm"
        self.name = f"KNN: distortion (IDM, ±{self.config.window} px, K={self.k}, {self.weights})"

    @property
    def store(self) -> Store:
        return knn.IDM_STORE

    @property
    def page(self) -> str:
        return "knn?distance=distortion"

    @property
    def about(self) -> str:
        c = self.config
        sources = " + ".join(f"{n} nearest ({knn.variant_name(v)})" for v, n in c.sources)
        return (
            f"pixels move ±{c.window}, {2 * c.context + 1}×{2 * c.context + 1} gradient "
            f"context; re-ranks {sources}; K={self.k} {self.weights} vote"
        )

    def _compute(self, progress):
        return knn.idm_neighbours(self.config, progress)

    def _test_result(self, entry):
        pred, scores = knn.idm_predict(entry, self.k, self.weights)
        meta = entry.meta
        return TestResult(
            pred.astype(np.int64),
            normalised(scores),
            meta.get("seconds_candidates", 0) + meta.get("seconds_rerank", 0),
            f"cpu ({meta.get('cpu', '?')}, {meta.get('threads', '?')} threads)",
            meta,
        )

    def predict_one(self, image):
        found = knn.idm_image(self.config, np.asarray(image), self.k, self.weights)
        return normalised(found["scores"][None])[0]
