"""Chapter 2 as cached computations: the report's templates and learned ones."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd
import torch

from core import metrics
from core.cache import Result, Store
from core.data import DATA_CHECKSUM, load_mnist
from core.errors import ExplorerError
from core.progress import Progress
from core.splines import report as splines
from core.splines.deform import DeformConfig, match
from core.splines.learned import LearnedConfig, digit_distances, train_templates

# One store per kind of result. Learned results: 2 = test distances per digit recorded.
REPORT_STORE = Store("splines-report", DATA_CHECKSUM, 1)
LEARNED_STORE = Store("splines-learned", DATA_CHECKSUM, 3)  # 3: compiled L∞ distances
# Deformable results: 2 = non-candidate digits always after the candidates.
DEFORM_STORE = Store("splines-deformable", DATA_CHECKSUM, 3)  # 3: learned set v3
SCORE_TEMPERATURE = 10.0  # class scores: softmax(-distance / T), distance in pixels of ink
WIDTHS = (0, 1, 2, 3, 4)
REPORT_SAMPLE = slice(1, 101)  # the report's "first 100 training images" (its row 0 was lost)


@dataclass(frozen=True)
class ReportSplineConfig:
    """The report's templates, read faithfully or corrected, at one halo width."""

    mode: str = "corrected"  # a key of splines.MODES
    width: int = 1  # halo width in pixels

    def __post_init__(self):
        if self.mode not in splines.MODES:
            raise ExplorerError(f"mode: expected one of {splines.MODES}, found {self.mode!r}")
        if self.width not in WIDTHS:
            raise ExplorerError(f"width: expected one of {WIDTHS}, found {self.width}")


def report_splines(config: ReportSplineConfig) -> Result:
    """Scores and predictions on the test set and on the report's 100 training images."""

    def compute():
        start = time.perf_counter()
        (xtr, _), (xte, _) = load_mnist("train"), load_mnist("test")
        test_scores = splines.scores(xte, config.width, config.mode)
        sample = splines.predict(xtr[REPORT_SAMPLE], config.width, config.mode)
        arrays = {
            "test_scores": test_scores.astype(np.float32),
            "test_pred": test_scores.argmin(axis=1).astype(np.uint8),
            "report_sample_pred": sample.astype(np.uint8),
        }
        return arrays, {"seconds": round(time.perf_counter() - start, 3)}

    return REPORT_STORE.get_or_compute(config, compute)


def learned_splines(config: LearnedConfig, progress: Progress | None = None) -> Result:
    """Learned control points, training history and test predictions (trained if missing)."""

    def compute():
        (xtr, ytr), (xte, _) = load_mnist("train"), load_mnist("test")
        control, history = train_templates(xtr, ytr, config, progress)
        start = time.perf_counter()
        distances = digit_distances(xte, control, config.width)
        history["seconds_predict"] = time.perf_counter() - start
        arrays = {
            "control": control,
            "test_distances": distances,  # float64: exact sums, see digit_distances
            "test_pred": distances.argmin(axis=1).astype(np.uint8),
        }
        return arrays, history

    return LEARNED_STORE.get_or_compute(config, compute)


def deformable_splines(config: DeformConfig, progress: Progress | None = None) -> Result:
    """The learned templates deformed onto every test image (their set trained if missing).

    Arrays: ``distances`` (10000, 10) (deformed cost for the candidate digits, the others
    after them in rigid order), ``test_pred``, and per candidate digit (``digits``) its best
    template before (``rigid``) and after (``deformed``) deformation with its
    ``mismatch`` and ``deformation`` costs: see :func:`core.splines.deform.match`.
    """

    def compute():
        start = time.perf_counter()
        control = learned_splines(config.templates, progress).arrays["control"]  # if missing
        trained = time.perf_counter()
        found = match(load_mnist("test")[0], control, config, progress)
        meta = {
            "seconds": round(time.perf_counter() - trained, 3),
            "seconds_templates": round(trained - start, 3),
            "threads": numba.get_num_threads(),
            "cpu": torch.backends.cpu.get_cpu_capability(),
        }
        arrays = {
            "distances": found["distances"],
            "test_pred": found["distances"].argmin(axis=1).astype(np.uint8),
            "digits": found["digits"].astype(np.uint8),
            **{k: found[k].astype(np.float32) for k in ("deformed", "rigid")},
            **{k: found[k] for k in ("mismatch", "deformation")},
        }
        return arrays, meta

    return DEFORM_STORE.get_or_compute(config, compute)


def class_scores(distances: np.ndarray) -> np.ndarray:
    """Template distances (N, 10), in pixels of full ink, as class scores summing to 1.

    A softmax of ``-distance / SCORE_TEMPERATURE``: the nearest digit scores highest (the
    first of equal ones, as ``argmin`` picks), and a digit 10 pixels farther ``e`` times
    less. The report's Σ|t - x| on 0..255 pixels is divided by 255 first.
    """
    z = -(np.asarray(distances, np.float64) - np.min(distances, axis=1, keepdims=True))
    e = np.exp(z / SCORE_TEMPERATURE)
    return e / e.sum(axis=1, keepdims=True)


def report_spline_table() -> dict:
    """Accuracy per mode and width: on the report's 100 training images, and on the test set."""
    (_, ytr), (_, yte) = load_mnist("train"), load_mnist("test")
    out = {}
    for mode in splines.MODES:
        for width in WIDTHS:
            r = report_splines(ReportSplineConfig(mode, width)).arrays
            out[(mode, width)] = {
                "report_sample": metrics.accuracy(ytr[REPORT_SAMPLE], r["report_sample_pred"]),
                "test": metrics.accuracy(yte, r["test_pred"]),
            }
    return out


def accuracy_frame(learned: list[Result] = ()) -> pd.DataFrame:
    """Test accuracy of every template set against halo width, one row per (set, width):
    the report's templates in both readings (computed if missing: seconds), then the
    learned sets given (``test_pred`` of their cached results)."""
    yte = load_mnist("test")[1]
    rows = [
        {
            "templates": f"report, {mode}",
            "width": width,
            "accuracy": acc["test"],
            "on the report's 100 images": acc["report_sample"],
        }
        for (mode, width), acc in report_spline_table().items()
    ]
    for r in learned:
        c = r.manifest["config"]
        rows.append(
            {
                "templates": f"learned, {c['templates_per_digit']} per digit",
                "width": c["width"],
                "accuracy": metrics.accuracy(yte, r.arrays["test_pred"]),
                "on the report's 100 images": np.nan,
            }
        )
    return pd.DataFrame(rows)
