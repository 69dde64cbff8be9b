"""Chapter 2's methods: the report's spline templates, learned ones, and learned ones that bend."""

from __future__ import annotations

import numpy as np

from core import splines
from core.cache import Store
from core.errors import ExplorerError
from core.methods.base import Method, TestResult, entry_or_error


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
        entry = entry_or_error(self)
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
        entry_or_error(self)  # deformed once for the test set: its templates are there
        learned = splines.LEARNED_STORE.load(self.config.templates)
        if learned is None:
            raise ExplorerError(f"{self.name}: its learned templates are not cached any more")
        control = learned.arrays["control"]
        found = splines.deform_match(np.asarray(image)[None], control, self.config)
        return splines.class_scores(found["distances"])[0]
