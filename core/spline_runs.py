"""Chapter 2 as cached computations: the report's templates and learned ones."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from core import evaluate, splines
from core.cache import Result, Store
from core.data import DATA_CHECKSUM, load_mnist
from core.errors import ExplorerError
from core.progress import Progress
from core.spline_learn import LearnedConfig, predict_learned, train_templates

CODE_VERSION = 1
STORE = Store("splines", DATA_CHECKSUM, CODE_VERSION)
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

    return STORE.get_or_compute(config, compute)


def learned_splines(config: LearnedConfig, progress: Progress | None = None) -> Result:
    """Learned control points, training history and test predictions (trained if missing)."""

    def compute():
        (xtr, ytr), (xte, _) = load_mnist("train"), load_mnist("test")
        control, history = train_templates(xtr, ytr, config, progress)
        start = time.perf_counter()
        pred = predict_learned(xte, control, config.width)
        history["seconds_predict"] = time.perf_counter() - start
        return {"control": control, "test_pred": pred.astype(np.uint8)}, history

    return STORE.get_or_compute(config, compute)


def report_spline_table() -> dict:
    """Accuracy per mode and width: on the report's 100 training images, and on the test set."""
    (_, ytr), (_, yte) = load_mnist("train"), load_mnist("test")
    out = {}
    for mode in splines.MODES:
        for width in WIDTHS:
            r = report_splines(ReportSplineConfig(mode, width)).arrays
            out[(mode, width)] = {
                "report_sample": evaluate.accuracy(ytr[REPORT_SAMPLE], r["report_sample_pred"]),
                "test": evaluate.accuracy(yte, r["test_pred"]),
            }
    return out
