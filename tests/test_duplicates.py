"""Near-duplicates: each image's twin against a brute-force search, pairs listed once, the
accuracy with and without a twin by hand, the command line, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import cli, duplicates
from core.errors import ExplorerError
from core.knn import augment, distortion


def _brute_nearest_other(images: np.ndarray) -> np.ndarray:
    """Each image's smallest squared distance to another image (float64: exact here)."""
    x = images.reshape(len(images), -1).astype(np.float64)
    norms = (x**2).sum(1)
    best = np.empty(len(x))
    for s in range(0, len(x), 2000):
        d = norms[s : s + 2000, None] + norms[None, :] - 2 * x[s : s + 2000] @ x.T
        d[np.arange(len(d)), np.arange(s, s + len(d))] = np.inf  # not the image itself
        best[s : s + 2000] = d.min(1)
    return np.rint(best).astype(np.int64)


def test_each_test_image_twin_is_its_nearest_other_image_and_pairs_are_listed_once(
    cached_copy, mnist_test, capsys
):
    x, y = mnist_test
    assert duplicates.what_is_missing("test-test") == "the test set's nearest other images"
    with pytest.raises(ExplorerError, match="expected the test set's nearest other images"):
        duplicates.pairs("test-test", 300)
    found = duplicates.twins(duplicates.TwinConfig("test")).arrays
    index, sqdist = found["index"], found["sqdist"]
    assert (index != np.arange(len(x))).all()  # never the image itself
    np.testing.assert_array_equal(sqdist, _brute_nearest_other(x))
    direct = ((x[index].astype(np.int64) - x.astype(np.int64)) ** 2).sum((1, 2))
    np.testing.assert_array_equal(sqdist, direct)  # the distance is the twin's
    for threshold in (300.0, 700.0):
        pairs = duplicates.pairs("test-test", threshold)
        close = np.flatnonzero(np.sqrt(sqdist) < threshold)
        expected = {(min(i, j), max(i, j)) for i, j in zip(close, index[close], strict=True)}
        assert set(zip(pairs["a"], pairs["b"], strict=True)) == expected
        assert len(pairs) == len(expected) and (pairs["a"] < pairs["b"]).all()
        assert pairs["distance"].is_monotonic_increasing
        np.testing.assert_array_equal(pairs["label_a"], y[pairs["a"]])
    assert cli.main(["duplicates", "--kinds", "test-test", "--json", "--threshold", "700"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kinds"]["test-test"]["count"] == len(pairs)
    assert out["kinds"]["test-test"]["pairs"][0] == pairs.iloc[0].to_dict()
    assert cli.main(["duplicates", "--kinds", "test-train", "--json"]) == 0
    missing = json.loads(capsys.readouterr().out)["kinds"]["test-train"]
    assert missing == {"missing": "the raw KNN's neighbours (method knn-raw)"}


def test_distortion_twins_are_the_idm_nearest_of_each_image_euclidean_nearest(
    cached_copy, mnist_test, capsys
):
    x, y = mnist_test
    kind = "test-test (distortion)"
    assert "under the distortion distance" in duplicates.what_is_missing(kind)
    config = duplicates.TwinConfig("test", "distortion", candidates=20)
    assert config == duplicates.within(kind)
    steps = []
    found = duplicates.twins(config, lambda done, total: steps.append((done, total))).arrays
    assert steps[-1] == (2 * len(x), 2 * len(x))
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)  # the bar never goes back
    index, distance = found["index"], found["distance"]
    assert (index != np.arange(len(x))).all()
    # Brute force on a sample: the 20 Euclidean nearest other deskewed images, every IDM
    # distance to them exact, the smallest is the twin's (the first in Euclidean order).
    prepared = augment.deskew(x).astype(np.int64)
    flat = prepared.reshape(len(x), -1)
    sample = np.random.default_rng(3).choice(len(x), 60, replace=False)
    for i in sample:
        d2 = ((flat - flat[i]) ** 2).sum(1)
        d2[i] = np.iinfo(np.int64).max
        near = np.argsort(d2, kind="stable")[:20]
        idm = distortion.distances(prepared[i][None], prepared[near], np.arange(20)[None], 2)[0]
        assert distance[i] == idm.min() and index[i] == near[idm.argmin()], i
    # Listed once, at the smaller of the two directions' distances.
    threshold = float(np.quantile(distance, 0.01))
    pairs = duplicates.pairs(kind, threshold)
    assert (pairs["a"] < pairs["b"]).all() and not pairs.duplicated(["a", "b"]).any()
    assert pairs["distance"].is_monotonic_increasing
    for row in pairs.itertuples():
        ways = [distance[i] for i, j in ((row.a, row.b), (row.b, row.a)) if index[i] == j]
        assert row.distance == min(ways) < threshold
    close = np.flatnonzero(distance < threshold)
    assert {tuple(sorted(p)) for p in zip(close, index[close], strict=True)} == set(
        zip(pairs["a"], pairs["b"], strict=True)
    )
    np.testing.assert_array_equal(pairs["label_b"], y[pairs["b"]])
    args = ["duplicates", "--kinds", kind, "--json", "--distortion-threshold", str(threshold)]
    assert cli.main(args) == 0
    out = json.loads(capsys.readouterr().out)["kinds"][kind]
    assert out["count"] == len(pairs) and out["pairs"][-1] == pairs.iloc[-1].to_dict()


def test_accuracy_with_and_without_a_twin_by_hand():
    labels = np.array([1, 1, 7, 7, 3])
    twin = np.array([True, True, False, False, False])
    table = duplicates.accuracy_with_and_without(
        twin, {"a": np.array([1, 7, 7, 1, 3]), "b": labels}, labels
    ).set_index("method")
    assert table.loc["a", "with a twin"] == 0.5 and table.loc["a", "without"] == 2 / 3
    assert table.loc["a", "errors with a twin"] == 1
    assert table.loc["b", "with a twin"] == 1.0 == table.loc["b", "without"]


def test_bad_kinds_and_splits_are_refused():
    with pytest.raises(ExplorerError, match=r"kind: expected one of .*found 'test-nope'"):
        duplicates.what_is_missing("test-nope")
    with pytest.raises(ExplorerError, match="split: expected 'train' or 'test', found 'val'"):
        duplicates.TwinConfig("val")
    with pytest.raises(ExplorerError, match="expected a test-train kind, found 'test-test'"):
        duplicates.with_twin("test-test", 300)
    with pytest.raises(ExplorerError, match=r"distance: expected one of \['euclidean', 'dist"):
        duplicates.TwinConfig("test", "cosine")
    with pytest.raises(ExplorerError, match="candidates: expected 1..100, found 0"):
        duplicates.TwinConfig("test", "distortion", candidates=0)
