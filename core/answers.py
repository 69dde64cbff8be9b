"""One image's answer from a method whose first answer takes a while (the augmented KNN
variants build their training sets): computed by the job runner, cached like any result.

An answer is keyed by the method, the full definition of its result (its config) and a
digest of the image, so a drawing asked again is read back, and a method whose meaning
changed never serves an old answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from core.cache import Result, Store, config_dict
from core.data import DATA_CHECKSUM
from core.errors import ExplorerError
from core.progress import Progress

STORE = Store("one-image-answers", DATA_CHECKSUM, 1)


@dataclass(frozen=True)
class AnswerConfig:
    method: str  # the method's id
    definition: dict  # the method's config, as cached (its full definition)
    image: str  # SHA-256 of the (28, 28) uint8 image


def as_image(pixels) -> np.ndarray:
    """A (28, 28) uint8 image from 784 values (a task's JSON list) or an array."""
    image = np.asarray(pixels)
    low, high = (image.min(), image.max()) if image.size else (0, 0)
    if image.size != 784 or low < 0 or high > 255:
        raise ExplorerError(
            f"image: expected 784 pixels of 0..255, found {image.size} from {low} to {high}"
        )
    return image.reshape(28, 28).astype(np.uint8)


def config(method, image: np.ndarray) -> AnswerConfig:
    digest = hashlib.sha256(as_image(image).tobytes()).hexdigest()
    return AnswerConfig(method.id, config_dict(method.config), digest)


def cached(method, image: np.ndarray) -> np.ndarray | None:
    """The method's cached scores (10,) for ``image``, or None."""
    found: Result | None = STORE.load(config(method, image))
    return None if found is None else found.arrays["scores"]


def compute(methods: list, image: np.ndarray, progress: Progress | None = None) -> None:
    """Each method's scores for ``image``, cached one by one as they come."""
    image = as_image(image)
    for i, method in enumerate(methods):
        STORE.get_or_compute(
            config(method, image),
            lambda m=method: ({"scores": np.asarray(m.predict_one(image), np.float64)}, {}),
        )
        if progress:
            progress(i + 1, len(methods))
