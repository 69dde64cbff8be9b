"""Suspicious labels: planted label errors rise to the top of the ranking, with the right
suggestion; the command line prints the ranking; the training set's evidence is out of fold."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from core import knn, methods, suspicious, tasks
from core.errors import ExplorerError
from tests.conftest import REPO


@pytest.fixture(scope="module")
def raw_scores(mnist_dir):
    """The raw KNN's out-of-sample class scores of the test set (K = 10, distance)."""
    method = methods.get("knn-raw")
    entry = knn.neighbours(method.config)  # the project cache: computed once
    return knn.predict(entry, method.config, 10, "distance")[1]


def test_planted_label_errors_rank_first_with_the_true_digit_suggested(raw_scores, mnist_test):
    _, labels = mnist_test
    rng = np.random.default_rng(0)
    sure = np.flatnonzero((raw_scores.max(axis=1) == 1.0) & (raw_scores.argmax(axis=1) == labels))
    planted = rng.choice(sure, 20, replace=False)  # images all 10 neighbours agree on
    given = labels.copy()
    given[planted] = (labels[planted] + rng.integers(1, 10, 20)) % 10  # a wrong label each
    ranked = suspicious.rank(suspicious.Evidence("test", given, {"knn": raw_scores}))
    # They share the top with the images whose 10 neighbours all name another digit than
    # the given one (as suspicious to this evidence), and nothing else comes before them.
    unanimous = int(((raw_scores.max(axis=1) == 1.0) & (raw_scores.argmax(axis=1) != labels)).sum())
    top = ranked.head(20 + unanimous).set_index("index")
    assert set(planted) <= set(top.index)
    assert (top["score"] == 1.0).all()
    np.testing.assert_array_equal(top.loc[planted, "suggested"], labels[planted])
    assert (top.loc[planted, "flagged"] == 1).all()  # cleanlab's confident learning agrees
    assert ranked["score"].is_monotonic_decreasing
    assert sorted(ranked["index"]) == list(range(len(labels)))


def test_the_mean_of_sources_is_the_evidence_and_agreement_is_counted(raw_scores, mnist_test):
    _, labels = mnist_test
    other = np.roll(raw_scores, 1, axis=1)  # a source that always says digit + 1
    ev = suspicious.Evidence("test", labels, {"knn": raw_scores, "shifted": other})
    np.testing.assert_allclose(ev.scores, (raw_scores + other) / 2)
    ranked = suspicious.rank(ev).set_index("index")
    wrong = np.flatnonzero(raw_scores.argmax(axis=1) != labels)
    row = ranked.loc[wrong[0]]
    assert row["knn"] == raw_scores[wrong[0]].argmax() and row["shifted"] == (row["knn"] + 1) % 10


def test_no_evidence_says_what_to_compute(tmp_cache, cached_copy):
    with pytest.raises(ExplorerError, match="expected a KNN or CNN method"):
        suspicious.suspicious("test")
    with pytest.raises(ExplorerError, match="stratified folds"):
        suspicious.suspicious("train")
    with pytest.raises(ExplorerError, match="split: expected"):
        suspicious.suspicious("validation")


def test_training_evidence_is_out_of_fold_for_every_image(tmp_cache, cached_copy, mnist_train):
    _, labels = mnist_train
    e = suspicious.TRAIN_EVIDENCE
    assert tasks.run_here(tasks.folds_task(e["variant"], e["cv_scheme"])).state == "done"
    ev = suspicious.train_evidence()
    assert ev.scores.shape == (60000, 10) and not np.isnan(ev.scores).any()
    np.testing.assert_allclose(ev.scores.sum(axis=1), 1.0)
    assert (ev.scores.argmax(axis=1) == labels).mean() > 0.97  # deskewed KNN, out of fold
    # Out of fold: no image votes for itself (a copy in its own fold would be at distance 0).
    config = knn.fold_configs(e["variant"], cv_scheme=e["cv_scheme"])[0]
    kept, held = knn.fold_rows(config.cv_scheme, config.n_folds, config.cv_seed, 0)
    assert not np.isin(held, kept).any()


def test_cli_prints_the_ranking_as_json(mnist_dir):
    tasks.run_here(methods.get("knn-raw").task())
    out = subprocess.run(
        [sys.executable, "-m", "core", "-q", "suspicious", "--split", "test", "--top", "7",
         "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    rows = json.loads(out.stdout)
    assert len(rows) == 7 and {"index", "given", "suggested", "score"} <= set(rows[0])
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    ranked = suspicious.suspicious("test", 7)
    assert [r["index"] for r in rows] == ranked["index"].tolist()


def test_imported_methods_count_as_evidence_only_when_asked(cached_copy, mnist_test):
    import io

    from core import imported

    _, y = mnist_test
    assert tasks.run_here(methods.get("knn-raw").task()).state == "done"
    without = suspicious.suspicious("test").set_index("index")
    # An imported model sure that image 0 is not what its label says.
    scores = np.eye(10)[y]
    scores[0] = np.eye(10)[(y[0] + 1) % 10]
    buffer = io.BytesIO()
    np.save(buffer, scores)
    imported.import_file(buffer.getvalue(), "sure.npy", "sure")
    same = suspicious.suspicious("test").set_index("index")
    assert same.loc[0, "score"] == without.loc[0, "score"]  # not asked: unchanged
    counted = suspicious.suspicious("test", with_imported=True).set_index("index")
    assert counted.loc[0, "score"] > without.loc[0, "score"]
    assert "yours: sure" in counted.columns
