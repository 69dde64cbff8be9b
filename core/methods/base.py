"""The interface every method shares: its status, its cached answers, the task that computes
them, and one image scored (see :mod:`core.methods`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from core import jobs, marks
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


def normalised(scores: np.ndarray) -> np.ndarray:
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

    def describe(self, corrected: np.ndarray | None = None) -> dict:
        """Plain data for ``methods --json``: id, name, chapter, status, accuracy if cached.

        ``corrected``: the test labels with a person's corrections (read from the marks
        when not given; a caller describing every method reads them once).
        """
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
            "test_accuracy_corrected": None,
        }
        if status.state == "cached":
            result = self.result()
            if result is not None:
                if corrected is None:
                    corrected = marks.corrected_labels("test")
                out |= {
                    "test_accuracy": round(result.accuracy(load_mnist("test")[1]), 6),
                    # the same predictions against the labels a person corrected
                    "test_accuracy_corrected": round(result.accuracy(corrected), 6),
                    "seconds": round(result.seconds, 3),
                    "device": result.device,
                }
        return out


def entry_or_error(method: Method) -> Result:
    entry = method.cached()
    if entry is None:
        raise ExplorerError(f"{method.name}: not computed yet ({method.cost}); compute it first")
    return entry
