"""Your methods: predictions or an ONNX model a person imported."""

from __future__ import annotations

import numpy as np

from core import imported
from core.cache import Result, Store
from core.errors import ExplorerError
from core.methods.base import Method, TestResult, entry_or_error, normalised


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
            normalised(entry.arrays["test_scores"]),
            0.0,
            what,
            entry.meta,
        )

    def can_predict_one(self) -> bool:
        return self.config.kind == "onnx" and self.status().state == "cached"

    def predict_one(self, image):
        if self.config.kind != "onnx":
            raise ExplorerError(f"{self.name}: imported predictions cannot score a new image")
        model = entry_or_error(self).arrays["model"].tobytes()
        c = self.config
        return imported.run_onnx(model, np.asarray(image)[None], c.pixels, c.outputs, self.name)[0]
