"""Which labels look wrong: confident learning on out-of-sample class scores.

The evidence about an image's label must come from methods that did not learn from it:

- **test images**: every method of the registry was trained on the training set, so its
  test scores are out of sample. The evidence is the mean class scores of independent
  methods (a KNN and the CNNs, whichever are cached; see :data:`TEST_EVIDENCE`).
- **training images**: each one voted by its K nearest neighbours among the images of
  the other folds of a stratified 5-fold split (deskewed pixels, :data:`TRAIN_EVIDENCE`).

``cleanlab`` scores every label's quality on the mean evidence (its normalised margin: how
far the given label's probability falls below the best other digit's), and images are
ranked by suspicion = 1 − quality; the suggested label is the evidence's most probable
one. Each source is also put through cleanlab's confident learning on its own
(``find_label_issues``): how many sources flag an image is shown beside its rank. (On the
mean of well-trained sources the confident joint is empty: their per-class thresholds
are their average confidence, which no disputed image reaches.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

from core import knn, methods
from core.data import load_mnist
from core.errors import ExplorerError

# Independent methods whose test scores are averaged, in order of preference: the first
# cached KNN of the list (its neighbours voted with KNN_VOTE, finer than K = 4) and every
# cached CNN of the list.
TEST_KNN = (
    "knn-deskewed-augmented-diagonals-pca60",
    "knn-deskewed-augmented-diagonals",
    "knn-deskewed-augmented",
    "knn-deskewed",
    "knn-augmented",
    "knn-raw",
)
TEST_CNN = ("cnn-modern", "cnn-pattern-repaired")
KNN_VOTE = {"k": 10, "weights": "distance"}
# The training set's evidence: K-votes of deskewed pixels over stratified folds.
TRAIN_EVIDENCE = {"variant": "deskewed", "k": 10, "weights": "distance", "cv_scheme": "stratified"}


@dataclass(frozen=True)
class Evidence:
    """Out-of-sample class scores of a split, and who gave them."""

    split: str
    labels: np.ndarray  # (N,)
    sources: dict[str, np.ndarray]  # source name → its class scores (N, 10)

    @property
    def scores(self) -> np.ndarray:
        """The mean of the sources' scores (N, 10), rows summing to 1."""
        return np.mean(list(self.sources.values()), axis=0)

    @property
    def predictions(self) -> dict[str, np.ndarray]:
        return {name: s.argmax(axis=1) for name, s in self.sources.items()}


def _cached(method_id: str) -> bool:
    return methods.get(method_id).status().state == "cached"


def knn_vote(method: methods.Method) -> np.ndarray:
    """A cached Euclidean KNN method's test scores (N, 10), its neighbours voted with
    :data:`KNN_VOTE` (finer than its own K = 4)."""
    return knn.predict(method.cached(), method.config, KNN_VOTE["k"], KNN_VOTE["weights"])[1]


def test_evidence(with_imported: bool = False) -> Evidence | None:
    """The test set's evidence from the cached independent methods (None if none is),
    and, ``with_imported``, from the imported ones too."""
    sources: dict[str, np.ndarray] = {}  # name → (N, 10) scores
    knn_id = next((i for i in TEST_KNN if _cached(i)), None)
    if knn_id is not None:
        method = methods.get(knn_id)
        if method.cached() is not None:
            k, w = KNN_VOTE["k"], KNN_VOTE["weights"]
            sources[f"KNN: {method.config.name} (K={k}, {w})"] = knn_vote(method)
    for method_id in TEST_CNN:
        result = methods.get(method_id).result() if _cached(method_id) else None
        if result is not None:
            sources[methods.get(method_id).name] = result.scores
    if with_imported:
        for method in methods.all_methods():
            if method.chapter == 0 and (result := method.result()) is not None:
                sources[method.name] = result.scores
    if not sources:
        return None
    return Evidence("test", load_mnist("test")[1], sources)


def train_evidence(compute: bool = False, progress=None) -> Evidence | None:
    """The training set's out-of-fold evidence (None if its folds are not cached and
    ``compute`` is False)."""
    e = TRAIN_EVIDENCE
    scores = knn.out_of_fold_scores(
        e["variant"],
        e["k"],
        e["weights"],
        progress=progress,
        compute=compute,
        cv_scheme=e["cv_scheme"],
    )
    if scores is None:
        return None
    name = f"KNN: {e['variant']}, {e['k']} nearest of the other folds ({e['weights']})"
    return Evidence("train", load_mnist("train")[1], {name: scores})


def evidence(split: str, compute: bool = False, with_imported: bool = False) -> Evidence:
    """The evidence of ``split``, or an error saying what to compute first."""
    if split == "test":
        found = test_evidence(with_imported)
        need = "a KNN or CNN method (mnist-explorer compute knn-deskewed cnn-modern)"
    elif split == "train":
        found = train_evidence(compute)
        need = "the deskewed neighbours of 5 stratified folds (suspicious --split train --compute)"
    else:
        raise ExplorerError(f"split: expected 'test' or 'train', found {split!r}")
    if found is None:
        raise ExplorerError(
            f"suspicious labels of the {split} set: expected {need}, found none cached"
        )
    return found


def rank(ev: Evidence) -> pd.DataFrame:
    """Every image of the split, most suspicious label first.

    Columns: ``index``, ``given`` (its label), ``suggested`` (the evidence's most
    probable digit), ``score`` (suspicion, 1 − label quality), ``quality`` (cleanlab's
    normalised margin on the mean evidence), ``flagged`` (how many sources' confident
    learning flags the label), ``agree`` (how many sources predict the suggested digit
    when it is not the given one), ``confidence`` (the evidence's probability of the
    suggested digit), then each source's prediction.
    """
    labels, scores = np.asarray(ev.labels, np.int64), ev.scores
    quality = get_label_quality_scores(labels, scores, method="normalized_margin")
    # n_jobs=1: no process pool (a pool forked from a threaded server can hang it).
    flagged = np.sum([find_label_issues(labels, s, n_jobs=1) for s in ev.sources.values()], axis=0)
    suggested = scores.argmax(axis=1)
    votes = np.stack(list(ev.predictions.values()))  # (sources, N)
    agree = ((votes == suggested) & (suggested != labels)).sum(axis=0)
    frame = pd.DataFrame(
        {
            "index": np.arange(len(labels)),
            "given": labels,
            "suggested": suggested,
            "score": 1.0 - quality,
            "quality": quality,
            "flagged": flagged,
            "agree": agree,
            "confidence": scores.max(axis=1),
        }
    )
    for name, pred in ev.predictions.items():
        frame[name] = pred
    # Most suspicious first; among equals, more sources flagging it, then agreeing, then
    # the lower index.
    keys = ["score", "flagged", "agree", "index"]
    return frame.sort_values(
        keys, ascending=[False, False, False, True], kind="stable", ignore_index=True
    )


def suspicious(
    split: str = "test",
    top: int | None = None,
    compute: bool = False,
    with_imported: bool = False,
) -> pd.DataFrame:
    """The ranked list of a split (its ``top`` rows), from what the cache holds."""
    frame = rank(evidence(split, compute, with_imported))
    return frame if top is None else frame.head(top)
