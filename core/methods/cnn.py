"""Chapter 3's methods: the three networks."""

from __future__ import annotations

import functools

import numpy as np
import torch

from core import cnn
from core.cache import Store
from core.methods.base import Method, TestResult, entry_or_error, normalised


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
            normalised(entry.arrays["test_proba"]),
            meta.get("seconds", 0.0),
            str(meta.get("device", "?")),
            meta,
        )

    def predict_one(self, image):
        model = _network(entry_or_error(self).path, self)
        with torch.no_grad():
            x = cnn.to_tensor(np.asarray(image)[None], self.config, next(model.parameters()).device)
            return normalised(model(x)[0].exp().cpu().numpy())[0]


@functools.lru_cache(maxsize=8)
def _network(path, method: CnnMethod):
    """A cached network rebuilt once per process (per cache entry)."""
    return cnn.load_model(method.store.load(method.config), method.config)
