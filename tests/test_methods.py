"""The registry: every method behind one interface, each kind of method checked for real.

The chapter's own configurations take minutes to train, so the trained kinds (learned
templates, CNNs) are checked on small configurations of the same classes; every method of
the registry that the cache holds is checked as well.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import cnn, jobs, knn, methods, splines, tasks
from core.errors import ExplorerError
from core.methods import CnnMethod, KnnMethod, LearnedSplineMethod, ReportSplineMethod


def _check_result(method: methods.Method, labels: np.ndarray) -> methods.TestResult:
    result = method.result()
    assert result is not None, method.id
    assert result.predictions.shape == (10000,) and result.predictions.dtype == np.int64
    assert result.scores.shape == (10000, 10)
    assert np.all(result.scores >= 0)
    np.testing.assert_allclose(result.scores.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(result.scores.argmax(axis=1), result.predictions)
    assert (result.seconds > 0 or method.chapter == 0) and result.device  # imports: no time
    assert 0 <= result.accuracy(labels) <= 1
    return result


def _check_one(method: methods.Method, images: np.ndarray, result: methods.TestResult) -> None:
    # One image at a time gives the test-set answer for that image (but for the report's
    # pattern network, whose answer depends on the rest of its batch).
    for i in (0, 1, 2):
        scores = method.predict_one(images[i])
        assert scores.shape == (10,)
        assert scores.sum() == pytest.approx(1.0)
        if not method.batch_dependent:
            assert scores.argmax() == result.predictions[i], (method.id, i)


def test_ids_are_unique_and_url_safe_and_lookup_says_what_exists():
    ids = [m.id for m in methods.all_methods()]
    assert len(ids) == len(set(ids))
    assert all(i.replace("-", "").isalnum() for i in ids)
    with pytest.raises(ExplorerError, match="method: expected one of"):
        methods.get("knn-sheared")
    assert {1, 2, 3} <= {m.chapter for m in methods.all_methods()} <= {0, 1, 2, 3}
    assert methods.get("knn-raw").reported == 0.9714


def test_status_follows_the_cache_and_the_job(tmp_cache, cached_copy):
    method = methods.get("splines-report-corrected-w1")
    assert method.status().state == "missing"
    runner = tasks.runner()
    runner.submit(method.task())
    assert method.status().state in ("queued", "running", "cached")
    assert jobs.wait(method.task().id, timeout=300).state == jobs.DONE
    assert method.status().state == "cached"


def test_knn_and_report_template_methods(tmp_cache, cached_copy, mnist_test):
    images, labels = mnist_test
    for method in (KnnMethod("raw", "seconds", 20), ReportSplineMethod("corrected", 1)):
        assert tasks.run_here(method.task()).state == jobs.DONE
        result = _check_result(method, labels)
        _check_one(method, images, result)
    assert KnnMethod("raw", "", 20).result().accuracy(labels) == 0.9714  # the report's figure


def test_trained_methods_on_small_configurations(tmp_cache, cached_copy, mnist_test):
    images, labels = mnist_test
    learned = LearnedSplineMethod(
        splines.LearnedConfig(templates_per_digit=2, epochs=1, fit_steps=10, train_limit=2000)
    )
    with pytest.raises(ExplorerError, match="not computed yet"):
        learned.predict_one(images[0])  # trained methods answer once trained
    assert not learned.can_predict_one()
    splines.learned_splines(learned.config)
    _check_one(learned, images, _check_result(learned, labels))
    for model in cnn.MODELS:
        config = cnn.CnnConfig(model=model, epochs=1, train_limit=1000, val_split=0.1)
        method = CnnMethod(model, "", 60, config=config)
        cnn.trained(config)
        _check_one(method, images, _check_result(method, labels))


def test_every_cached_method_of_the_registry(mnist_test):
    # Whatever the project cache holds (the suite computes several): the same contract.
    images, labels = mnist_test
    cached = [m for m in methods.all_methods() if m.status().state == "cached"]
    for method in cached:
        result = _check_result(method, labels)
        if not method.one_image_cost and method.can_predict_one():
            _check_one(method, images, result)
    described = {d["id"]: d for d in (m.describe() for m in methods.all_methods())}
    for method in cached:
        assert described[method.id]["test_accuracy"] is not None


def test_knn_scores_are_the_normalised_vote(tmp_cache, cached_copy):
    method = KnnMethod("raw", "", 20)
    tasks.run_here(method.task())
    entry = method.cached()
    _, votes = knn.predict(entry, method.config, 4, "distance")
    np.testing.assert_allclose(method.result().scores, votes)
