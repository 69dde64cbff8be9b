"""Our exact KNN engine against scikit-learn's KNeighborsClassifier, on real MNIST."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from core.errors import ExplorerError
from core.knn.search import nearest_neighbours, vote


@pytest.fixture(scope="module")
def subset(mnist_train, mnist_test):
    (xtr, ytr), (xte, yte) = mnist_train, mnist_test
    rng = np.random.default_rng(0)
    tr = rng.choice(len(xtr), 6000, replace=False)
    te = rng.choice(len(xte), 1500, replace=False)
    return xtr[tr], ytr[tr], xte[te], yte[te]


def _sklearn(xtr, ytr, xq, k, weights):
    clf = KNeighborsClassifier(n_neighbors=k, weights=weights, algorithm="brute")
    clf.fit(xtr.reshape(len(xtr), -1).astype(np.float64), ytr)
    return clf


def test_neighbours_equal_sklearn_kneighbors(subset):
    xtr, ytr, xq, _ = subset
    nb = nearest_neighbours(xtr, xq, 20)
    dist, ind = _sklearn(xtr, ytr, xq, 20, "uniform").kneighbors(
        xq.reshape(len(xq), -1).astype(np.float64)
    )
    np.testing.assert_array_equal(nb.sqdist, np.rint(dist**2).astype(np.int64))
    np.testing.assert_array_equal(nb.indices, ind)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("k", [1, 3, 4, 5, 10, 20])
def test_votes_equal_sklearn_predictions(subset, k, weights):
    xtr, ytr, xq, _ = subset
    nb = nearest_neighbours(xtr, xq, 20)
    ours, scores = vote(ytr[nb.indices], nb.sqdist, k, weights)
    clf = _sklearn(xtr, ytr, xq, k, weights)
    flat = xq.reshape(len(xq), -1).astype(np.float64)
    np.testing.assert_array_equal(ours, clf.predict(flat))
    np.testing.assert_allclose(scores, clf.predict_proba(flat), atol=1e-12)


def test_duplicates_zero_distances_and_ties(subset):
    # Queries that are copies of training images (distance 0), and a training set with
    # repeated images of different labels (exact ties, broken by the lower index).
    xtr, ytr, _, _ = subset
    train = np.concatenate([xtr[:500], xtr[:50], xtr[:50]])
    labels = np.concatenate([ytr[:500], (ytr[:50] + 1) % 10, (ytr[:50] + 2) % 10])
    query = np.concatenate([xtr[:80], xtr[600:700]])
    nb = nearest_neighbours(train, query, 12)
    assert (nb.sqdist[:50, :3] == 0).all()
    assert (nb.indices[:50, :3] == np.arange(50)[:, None] + [0, 500, 550]).all()
    flat = query.reshape(len(query), -1).astype(np.float64)
    for k in (1, 2, 3, 5, 12):
        for weights in ("uniform", "distance"):
            clf = _sklearn(train, labels, query, k, weights)
            ours, _ = vote(labels[nb.indices], nb.sqdist, k, weights)
            differ = ours != clf.predict(flat)
            # Only where equal distances straddle the K-th place may the votes differ:
            # which of the tied images scikit-learn keeps depends on its chunking (its
            # kneighbors() does not always keep the lower index either); we always do.
            straddle = nb.sqdist[:, k - 1] == nb.sqdist[:, min(k, 11)]
            assert not (differ & ~straddle).any(), f"K={k} {weights}"
            assert (k not in (1, 2)) or straddle[:50].all()


def test_certificate_fallback_keeps_results_exact():
    # Huge norms make float32 candidates unreliable; the exact fallback must fix them.
    rng = np.random.default_rng(3)
    train = rng.integers(-30000, 30000, (300, 64)).astype(np.int16)
    query = np.concatenate(
        [train[:20] + rng.integers(-1, 2, (20, 64)).astype(np.int16), train[20:40]]
    )
    nb = nearest_neighbours(train, query, 5)
    exact = ((query[:, None, :].astype(np.int64) - train[None].astype(np.int64)) ** 2).sum(-1)
    order = np.lexsort((np.broadcast_to(np.arange(300), exact.shape), exact), axis=1)[:, :5]
    np.testing.assert_array_equal(nb.indices, order)
    np.testing.assert_array_equal(nb.sqdist, np.take_along_axis(exact, order, 1))


def test_progress_reaches_the_total(subset):
    xtr, _, xq, _ = subset
    seen = []
    nearest_neighbours(xtr, xq[:10], 3, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (10 * len(xtr), 10 * len(xtr))


@pytest.mark.parametrize(
    ("train", "query", "k_max", "message"),
    [
        (np.zeros((5, 4), np.float32), np.zeros((2, 4), np.uint8), 2, "expected integer pixels"),
        (np.zeros((5, 4), np.uint8), np.zeros((2, 3), np.uint8), 2, "expected 4 features"),
        (np.zeros((5, 4), np.uint8), np.zeros((2, 4), np.uint8), 6, r"k_max: expected 1\.\.5"),
    ],
)
def test_bad_input_is_a_clear_error(train, query, k_max, message):
    with pytest.raises(ExplorerError, match=message):
        nearest_neighbours(train, query, k_max)


def test_vote_rejects_k_beyond_the_cache():
    with pytest.raises(ExplorerError, match=r"k: expected 1\.\.3"):
        vote(np.zeros((2, 3), int), np.ones((2, 3)), 4)
    with pytest.raises(ExplorerError, match="weights"):
        vote(np.zeros((2, 3), int), np.ones((2, 3)), 2, "gaussian")


def test_products_choice_is_checked():
    train, query = np.zeros((5, 4), np.int16) + 300, np.zeros((2, 4), np.int16)
    with pytest.raises(ExplorerError, match="products: expected one of"):
        nearest_neighbours(train, query, 2, products="int4")
    with pytest.raises(ExplorerError, match="'int8' expects pixels in 0..255"):
        nearest_neighbours(train, query, 2, products="int8")
