"""The registry: every method that labels the test set, behind one interface.

A :class:`Method` has a stable ``id``, a display ``name``, its ``chapter`` and ``config``
(the cache key of its result), and:

- ``status()`` — cached, missing, queued, running or failed (with the reason), from the
  cache and the job runner's state files; cheap, verifies nothing;
- ``result()`` — its :class:`TestResult` on the 10,000 test images if cached (never
  computes): predictions, class scores whose rows sum to 1 and whose argmax is the
  prediction, the seconds it took and where it ran;
- ``task()`` — the :class:`~core.jobs.Task` that computes it, for the job runner or
  :func:`core.tasks.run_here`;
- ``predict_one(image)`` — 10 class scores for one 28 × 28 image (0..255).

Adding a method: a subclass of :class:`Method` in its chapter's terms (where its result
is cached, how it becomes scores), and one line in :func:`_builtin`.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import torch

from core import cnn, imported, jobs, knn, splines
from core.cache import Result, Store
from core.data import load_mnist
from core.errors import ExplorerError
from core.progress import Progress

CHAPTERS = {0: "Yours (imported)", 1: "KNN", 2: "Spline halos", 3: "CNNs"}
STATES = ("cached", "missing", "queued", "running", "failed")


@dataclass(frozen=True)
class TestResult:
    """A method's answers on the 10,000 test images."""

    predictions: np.ndarray  # (10000,) int64
    scores: np.ndarray  # (10000, 10) float64, rows sum to 1, argmax = predictions
    seconds: float  # computing it, as recorded (training and predicting)
    device: str  # where it ran
    meta: dict  # everything the cache entry recorded

    def accuracy(self, labels: np.ndarray) -> float:
        return float(np.mean(self.predictions == np.asarray(labels)))


@dataclass(frozen=True)
class Status:
    state: str  # one of STATES
    reason: str = ""  # why it failed; what is queued before it…
    job: jobs.JobState | None = None  # the job computing it, if any


def _normalised(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, np.float64)
    return scores / scores.sum(axis=1, keepdims=True)


class Method(ABC):
    """One way of labelling digits; see the module docstring for the interface."""

    id: str
    name: str
    chapter: int
    config: Any
    cost: str  # what computing it takes, said before anyone asks for it
    seconds: float = 60.0  # about how long computing it takes on 2 cores (for estimates)
    reported: float | None = None  # the report's published test accuracy, if any
    # What the first predict_one costs when it is more than a moment (None: a moment).
    one_image_cost: str | None = None
    trained = True  # predict_one needs its cached result (False: it works from the data)
    # Its answer for an image depends on the other images of a batch (the report's pattern
    # network takes a maximum over the batch): one image alone gets another answer.
    batch_dependent = False

    @property
    @abstractmethod
    def store(self) -> Store:
        """Where its result is cached."""

    @abstractmethod
    def _compute(self, progress: Progress | None) -> Result:
        """Compute (or read) the cached result, in this process."""

    @abstractmethod
    def _test_result(self, entry: Result) -> TestResult:
        """The cached entry as test-set predictions and scores."""

    @abstractmethod
    def predict_one(self, image: np.ndarray) -> np.ndarray:
        """Class scores (10,) summing to 1 for one (28, 28) image of 0..255 pixels.
        Needs the cached result where the method is ``trained``."""

    def can_predict_one(self) -> bool:
        """Whether :meth:`predict_one` can answer now (a trained method: once cached)."""
        return not self.trained or self.status().state == "cached"

    @property
    def about(self) -> str:
        """Its configuration in a few words."""
        return ""

    @property
    def page(self) -> str:
        """The dashboard page that shows it (a URL path with its parameters)."""
        return {1: "knn", 2: "splines", 3: "cnn"}.get(self.chapter, "compare")

    def task(self) -> jobs.Task:
        return jobs.Task("method", {"id": self.id}, title=self.name)

    def status(self) -> Status:
        if self.store.exists(self.config):
            return Status("cached")
        job = jobs.read(self.task().id)
        if job is None or job.state == jobs.DONE:  # done, but its entry was removed since
            return Status("missing")
        return Status(job.state, job.error, job)

    def cached(self) -> Result | None:
        """The verified cache entry, or None; never computes."""
        return self.store.load(self.config)

    def result(self) -> TestResult | None:
        entry = self.cached()
        return None if entry is None else self._test_result(entry)

    def describe(self) -> dict:
        """Plain data for ``methods --json``: id, name, chapter, status, accuracy if cached."""
        status = self.status()
        out = {
            "id": self.id,
            "about": self.about,
            "name": self.name,
            "chapter": self.chapter,
            "chapter_name": CHAPTERS.get(self.chapter, "yours"),
            "status": status.state,
            "reason": status.reason,
            "reported_accuracy": self.reported,
            "test_accuracy": None,
        }
        if status.state == "cached":
            result = self.result()
            if result is not None:
                out |= {
                    "test_accuracy": round(result.accuracy(load_mnist("test")[1]), 6),
                    "seconds": round(result.seconds, 3),
                    "device": result.device,
                }
        return out


# -- chapter 1 ----------------------------------------------------------------------------


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
            _normalised(scores),
            meta.get("seconds_prepare", 0) + meta.get("seconds_search", 0),
            _knn_device(meta),
            meta,
        )

    def predict_one(self, image):
        return _normalised(knn.predict_images(self.config.variant, np.asarray(image)[None])[1])[0]


def _knn_device(meta: dict) -> str:
    path = meta.get("products", "?")
    if path == "cuda":
        return "cuda (float32 products, certified)"
    how = "pruned search" if path == "pruned" else f"{path} products"
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
            _normalised(scores),
            meta.get("seconds_candidates", 0) + meta.get("seconds_rerank", 0),
            f"cpu ({meta.get('cpu', '?')}, {meta.get('threads', '?')} threads)",
            meta,
        )

    def predict_one(self, image):
        found = knn.idm_image(self.config, np.asarray(image), self.k, self.weights)
        return _normalised(found["scores"][None])[0]


# -- chapter 2 ----------------------------------------------------------------------------


class ReportSplineMethod(Method):
    """The report's hand-made templates at one halo width, read faithfully or corrected."""

    chapter = 2
    cost = "a few seconds"
    seconds = 5.0
    trained = False

    def __init__(self, mode: str, width: int):
        self.config = splines.ReportSplineConfig(mode, width)
        self.id = f"splines-report-{mode}-w{width}"
        self.name = f"splines: report templates, {mode} (width {width})"

    @property
    def store(self) -> Store:
        return splines.REPORT_STORE

    @property
    def about(self) -> str:
        return f"the report's templates, {self.config.mode} reading, halo width {self.config.width}"

    def _compute(self, progress):
        return splines.report_splines(self.config)

    def _test_result(self, entry):
        # Σ|t − x| on 0..255 pixels: exact integers in float32, so no tie is lost.
        scores = splines.class_scores(entry.arrays["test_scores"] / 255.0)
        return TestResult(
            entry.arrays["test_pred"].astype(np.int64),
            scores,
            entry.meta.get("seconds", 0.0),
            "cpu",
            entry.meta,
        )

    def predict_one(self, image):
        distances = splines.scores(np.asarray(image)[None], self.config.width, self.config.mode)
        return splines.class_scores(distances / 255.0)[0]


class LearnedSplineMethod(Method):
    """Spline templates whose control points were learned from the training set."""

    chapter = 2
    cost = "about 3 to 10 minutes of training"
    seconds = 300.0

    def __init__(self, config: splines.LearnedConfig | None = None):
        self.config = config or splines.LearnedConfig()
        self.id = "splines-learned"
        c = self.config
        self.name = (
            f"splines: learned templates ({c.templates_per_digit} per digit, width {c.width})"
        )

    @property
    def store(self) -> Store:
        return splines.LEARNED_STORE

    @property
    def about(self) -> str:
        c = self.config
        return (
            f"{c.templates_per_digit} templates per digit, {c.strokes} strokes, "
            f"width {c.width}, {c.epochs} epochs"
        )

    def _compute(self, progress):
        return splines.learned_splines(self.config, progress)

    def _test_result(self, entry):
        scores = splines.class_scores(entry.arrays["test_distances"])
        seconds = entry.meta.get("seconds", 0.0) + entry.meta.get("seconds_predict", 0.0)
        return TestResult(
            entry.arrays["test_pred"].astype(np.int64), scores, seconds, "cpu", entry.meta
        )

    def predict_one(self, image):
        entry = _entry_or_error(self)
        d = splines.digit_distances(
            np.asarray(image)[None], entry.arrays["control"], self.config.width
        )
        return splines.class_scores(d)[0]


class DeformableSplineMethod(Method):
    """The learned templates, deformed onto each image before they are compared."""

    chapter = 2
    cost = "about 2 to 4 minutes (the learned templates' training first, if missing)"
    seconds = 150.0

    def __init__(self, config: splines.DeformConfig | None = None):
        self.config = config or splines.DeformConfig()
        self.id = "splines-deformable"
        self.name = f"splines: learned templates, deformed (±{self.config.bound:g} px)"

    @property
    def store(self) -> Store:
        return splines.DEFORM_STORE

    @property
    def about(self) -> str:
        c = self.config
        return (
            f"control points move ≤ {c.bound:g} px at {c.penalty} per px², {c.steps} steps; "
            f"the {c.digits} best digits × {c.per_digit} templates deformed"
        )

    def _compute(self, progress):
        return splines.deformable_splines(self.config, progress)

    def _test_result(self, entry):
        meta = entry.meta
        return TestResult(
            entry.arrays["test_pred"].astype(np.int64),
            splines.class_scores(entry.arrays["distances"]),
            meta.get("seconds", 0.0),
            f"cpu ({meta.get('cpu', '?')}, {meta.get('threads', '?')} threads)",
            meta,
        )

    def predict_one(self, image):
        _entry_or_error(self)  # deformed once for the test set: its templates are there
        learned = splines.LEARNED_STORE.load(self.config.templates)
        if learned is None:
            raise ExplorerError(f"{self.name}: its learned templates are not cached any more")
        control = learned.arrays["control"]
        found = splines.deform_match(np.asarray(image)[None], control, self.config)
        return splines.class_scores(found["distances"])[0]


# -- chapter 3 ----------------------------------------------------------------------------


class CnnMethod(Method):
    """One of chapter 3's networks, as the chapter configures it."""

    chapter = 3

    def __init__(
        self,
        model: str,
        cost: str,
        seconds: float,
        reported: float | None = None,
        config: cnn.CnnConfig | None = None,
    ):
        self.model = model
        self.config = config or cnn.CONFIGS[model]
        self.batch_dependent = model == "pattern-faithful"
        self.id, self.name = f"cnn-{model}", f"CNN: {model}"
        self.cost, self.seconds, self.reported = cost, seconds, reported

    @property
    def store(self) -> Store:
        return cnn.STORES[self.model]

    @property
    def page(self) -> str:
        return f"cnn?cnn_model={self.model}"

    @property
    def about(self) -> str:
        c = self.config
        return f"{c.epochs} epochs of {c.batch}, {c.optimizer} {c.schedule}, seed {c.seed}"

    def _compute(self, progress):
        return cnn.trained(self.config, progress)

    def _test_result(self, entry):
        meta = entry.meta
        return TestResult(
            entry.arrays["test_pred"].astype(np.int64),
            _normalised(entry.arrays["test_proba"]),
            meta.get("seconds", 0.0),
            str(meta.get("device", "?")),
            meta,
        )

    def predict_one(self, image):
        model = _network(_entry_or_error(self).path, self)
        with torch.no_grad():
            x = cnn.to_tensor(np.asarray(image)[None], self.config, next(model.parameters()).device)
            return _normalised(model(x)[0].exp().cpu().numpy())[0]


@functools.lru_cache(maxsize=8)
def _network(path, method: CnnMethod):
    """A cached network rebuilt once per process (per cache entry)."""
    return cnn.load_model(method.store.load(method.config), method.config)


def _entry_or_error(method: Method) -> Result:
    entry = method.cached()
    if entry is None:
        raise ExplorerError(f"{method.name}: not computed yet ({method.cost}); compute it first")
    return entry


# -- yours: imported predictions -----------------------------------------------------------


class ImportedMethod(Method):
    """Predictions or an ONNX model a person imported (:mod:`core.imported`)."""

    chapter = 0
    cost = "nothing: it is imported"
    seconds = 0.0

    def __init__(self, entry: Result):
        self.config = imported.config_of(entry)
        self.id = entry.meta["id"]
        self.name = f"yours: {self.config.name}"
        self.meta = entry.meta

    @property
    def store(self) -> Store:
        return imported.STORE

    @property
    def about(self) -> str:
        return f"imported {self.config.kind}: {self.meta.get('file', '?')}"

    def _compute(self, progress):
        raise ExplorerError(f"{self.name}: imported, not computed; import its file again")

    def _test_result(self, entry):
        what = f"imported {self.config.kind} ({entry.meta.get('file', '?')})"
        return TestResult(
            entry.arrays["test_pred"].astype(np.int64),
            _normalised(entry.arrays["test_scores"]),
            0.0,
            what,
            entry.meta,
        )

    def can_predict_one(self) -> bool:
        return self.config.kind == "onnx" and self.status().state == "cached"

    def predict_one(self, image):
        if self.config.kind != "onnx":
            raise ExplorerError(f"{self.name}: imported predictions cannot score a new image")
        model = _entry_or_error(self).arrays["model"].tobytes()
        c = self.config
        return imported.run_onnx(model, np.asarray(image)[None], c.pixels, c.outputs, self.name)[0]


def overview(
    methods: list[Method], results: dict[str, TestResult | None], labels: np.ndarray
) -> pd.DataFrame:
    """One row per method: chapter, name, configuration, test accuracy beside the report's
    figure, errors, status (with a running job's progress) and its page."""
    rows = []
    for m in methods:
        status, r = m.status(), results.get(m.id)
        state = status.state
        if state == "running" and status.job is not None:
            state = f"running {100 * status.job.fraction:.0f}%"
        elif state == "failed":
            state = f"failed: {status.reason}"
        rows.append(
            {
                "chapter": CHAPTERS.get(m.chapter, "yours"),
                "method": m.name,
                "about": m.about,
                "accuracy": None if r is None else r.accuracy(labels),
                "the report": m.reported,
                "errors": None if r is None else int((r.predictions != labels).sum()),
                "status": state,
                "page": m.page,
            }
        )
    return pd.DataFrame(rows)


def answers(results: dict[str, TestResult], index: int, label: int) -> pd.DataFrame:
    """What each method said about test image ``index``: one row per method (by name)
    with its prediction, whether it is right, its score for that digit and all 10."""
    rows = [
        {
            "method": name,
            "prediction": int(r.predictions[index]),
            "right": bool(r.predictions[index] == label),
            "score": float(r.scores[index, r.predictions[index]]),
            "scores": [float(v) for v in r.scores[index]],
        }
        for name, r in results.items()
    ]
    return pd.DataFrame(rows, columns=["method", "prediction", "right", "score", "scores"])


# -- the registry -------------------------------------------------------------------------


def _builtin() -> list[Method]:
    # Seconds: measured on 2 cores (AVX2-only and AVX-512 VNNI machines), rounded up.
    return [
        KnnMethod("raw", "about 10 to 30 s", 20, reported=0.9714),
        KnnMethod("shifts", "about 1 minute", 60),
        KnnMethod("rotations", "about 1 minute", 45),
        KnnMethod("zooms", "about 1 minute", 45),
        KnnMethod("augmented", "about 1 to 2.5 minutes", 150, reported=0.9802),
        KnnMethod("deskewed", "about 15 to 30 s", 25),
        KnnMethod("deskewed+augmented", "about 1 to 2.5 minutes", 150),
        KnnMethod("deskewed+augmented+diagonals", "about 1.5 to 3 minutes", 200),
        KnnMethod("deskewed+augmented+diagonals+pca60", "about 1 to 2 minutes", 120),
        IdmMethod(),
        ReportSplineMethod("faithful", 1),
        ReportSplineMethod("corrected", 1),
        LearnedSplineMethod(),
        DeformableSplineMethod(),
        CnnMethod("pattern-faithful", "about 1 minute of training", 60, reported=0.975),
        CnnMethod("pattern-repaired", "about 1.5 to 5 minutes of training", 250),
        CnnMethod("modern", "about 1.5 to 5 minutes of training", 250),
    ]


@functools.cache
def _registry() -> dict[str, Method]:
    return {m.id: m for m in _builtin()}


def all_methods() -> list[Method]:
    """Every method: ours in chapter order, then the imported ones (read afresh)."""
    return [*_registry().values(), *(ImportedMethod(r) for r in imported.imports())]


def get(method_id: str) -> Method:
    """The method of an id, or an error listing the ids there are."""
    if method_id in _registry():
        return _registry()[method_id]
    found = [m for m in all_methods() if m.id == method_id]
    if not found:
        ids = [m.id for m in all_methods()]
        raise ExplorerError(f"method: expected one of {ids}, found {method_id!r}")
    return found[0]
