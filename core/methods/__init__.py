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
is cached, how it becomes scores) in its chapter's module, and one line in
:func:`_builtin`.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from core import imported, published
from core.errors import ExplorerError
from core.methods.base import CHAPTERS, STATES, Method, Status, TestResult
from core.methods.cnn import CnnMethod
from core.methods.knn import IdmMethod, KnnMethod
from core.methods.splines import DeformableSplineMethod, LearnedSplineMethod, ReportSplineMethod
from core.methods.yours import ImportedMethod

__all__ = [
    "CHAPTERS", "STATES", "CnnMethod", "DeformableSplineMethod", "IdmMethod", "ImportedMethod",
    "KnnMethod", "LearnedSplineMethod", "Method", "ReportSplineMethod", "Status", "TestResult",
    "all_methods", "answers", "get", "overview",
]  # fmt: skip


def overview(
    methods: list[Method],
    results: dict[str, TestResult | None],
    labels: np.ndarray,
    corrected: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per method: id, chapter, name, configuration, test accuracy beside the
    report's figure, errors, status (with a running job's progress) and its page.

    ``corrected``: the test labels with a person's corrections; given, a column of the
    accuracy on them follows the accuracy on the original labels (never mixed).
    """
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
                "id": m.id,
                "chapter": CHAPTERS.get(m.chapter, "yours"),
                "method": m.name,
                "about": m.about,
                "accuracy": None if r is None else r.accuracy(labels),
                **(
                    {}
                    if corrected is None
                    else {"on corrected labels": None if r is None else r.accuracy(corrected)}
                ),
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
        KnnMethod("raw", "about 10 to 30 s", 20, reported=published.KNN_RAW),
        KnnMethod("shifts", "about 1 minute", 60),
        KnnMethod("rotations", "about 1 minute", 45),
        KnnMethod("zooms", "about 1 minute", 45),
        KnnMethod("augmented", "about 1 to 2.5 minutes", 150, reported=published.KNN_AUGMENTED),
        KnnMethod("deskewed", "about 15 to 30 s", 25),
        KnnMethod("deskewed+augmented", "about 1 to 2.5 minutes", 150),
        KnnMethod("deskewed+augmented+diagonals", "about 1.5 to 3 minutes", 200),
        KnnMethod("deskewed+augmented+diagonals+pca60", "about 1 to 2 minutes", 120),
        IdmMethod(),
        ReportSplineMethod("faithful", 1),
        ReportSplineMethod("corrected", 1),
        LearnedSplineMethod(),
        DeformableSplineMethod(),
        CnnMethod(
            "pattern-faithful", "about 1 minute of training", 60, reported=published.PATTERN_NETWORK
        ),
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
