"""The pruned search: its bounds are lower bounds, it skips most rows, and its answer is exact."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from core.errors import ExplorerError
from core.knn import pruned
from core.knn import search as knn
from core.knn.search import PRUNE_MIN_PAIRS, nearest_neighbours
from tests.knn.test_products import _brute_force


@pytest.fixture(scope="module")
def pixels(mnist_train, mnist_test):
    (xtr, _), (xte, _) = mnist_train, mnist_test
    rng = np.random.default_rng(5)
    train = xtr[rng.choice(len(xtr), 8000, replace=False)].reshape(-1, 784)
    return train, xte[rng.choice(len(xte), 600, replace=False)].reshape(-1, 784)


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * a).sum(1)[:, None] + (b * b).sum(1) - 2 * a @ b.T


def test_embedded_distances_never_exceed_the_true_ones(pixels):
    train, query = pixels
    centre, basis = pruned.principal_basis(train)
    assert np.allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-12)
    e_t, n_t = pruned.embed(train[:2000], centre, basis)
    e_q, n_q = pruned.embed(query[:300], centre, basis)
    # The embedding keeps each row's distance to the centre, and shrinks every pairwise one.
    z = train[:2000].astype(np.float64) - centre
    np.testing.assert_allclose(n_t, np.einsum("ij,ij->i", z, z), rtol=1e-6)
    bound = _sqdist(e_q.astype(np.float64), e_t.astype(np.float64))
    exact = _sqdist(query[:300].astype(np.float64), train[:2000].astype(np.float64))
    assert (bound <= exact * (1 + 1e-6) + 1).all()
    # ... and the 64 leading directions make it tight: most of each distance is kept.
    assert np.median(bound / exact) > 0.8


def test_pruned_search_equals_brute_force_and_computes_few_distances(pixels):
    train, query = pixels
    indices, sqdist, stats = pruned.pruned_neighbours(train, query, 20)
    want_i, want_d = _brute_force(train, query, 20)
    np.testing.assert_array_equal(indices, want_i)
    np.testing.assert_array_equal(sqdist, want_d)
    assert stats["violations"] == 0
    assert stats["computed"] < 0.1 * len(train)  # the point of it


def test_ties_duplicates_and_every_row(pixels):
    train, query = pixels
    # Repeated training images (exact ties, lower index first), queries that are copies
    # of training images (distance 0), fewer rows than the seeds, and k = every row.
    dup = np.concatenate([train[:300], train[:40], train[:40]])
    queries = np.concatenate([train[:40], query[:60]])
    for data, k in ((dup, 12), (dup[:25], 25), (dup[:15], 7)):
        nb = nearest_neighbours(data, queries, k, products="pruned")
        assert nb.products == "pruned"
        want_i, want_d = _brute_force(data, queries, k)
        np.testing.assert_array_equal(nb.indices, want_i)
        np.testing.assert_array_equal(nb.sqdist, want_d)
    nb = nearest_neighbours(dup, queries, 3, products="pruned")
    assert (nb.sqdist[:40] == 0).all()
    assert (nb.indices[:40] == np.arange(40)[:, None] + [0, 300, 340]).all()


def test_features_beyond_pixels_while_int32_holds(pixels):
    # The report's augmented images run from −84 to 344: still exact in int32.
    train, query = pixels
    wide = train[:3000].astype(np.int16) * 2 - 90  # −90..420
    nb = nearest_neighbours(wide, query[:200], 8, products="pruned")
    want_i, want_d = _brute_force(wide, query[:200], 8)
    np.testing.assert_array_equal(nb.indices, want_i)
    np.testing.assert_array_equal(nb.sqdist, want_d)


def test_auto_prunes_large_searches_where_int32_holds(pixels):
    train, query = pixels
    rows = PRUNE_MIN_PAIRS["int8"] // len(train) + 1
    many = np.resize(query, (rows, 784))
    assert nearest_neighbours(train, many, 3).products == "pruned"
    assert nearest_neighbours(train, many[:100], 3).products != "pruned"
    far = train.astype(np.int16) + 20000  # squared distances beyond int32
    assert nearest_neighbours(far, many, 3).products == "float32"
    with pytest.raises(ExplorerError, match="'pruned' expects squared distances within int32"):
        nearest_neighbours(far, query[:5], 3, products="pruned")


def test_a_product_that_goes_wrong_is_caught_and_the_answer_stays_exact(
    pixels, monkeypatch, caplog
):
    # Bounds inflated past their distances (broken float32 products or embeddings) would
    # skip true neighbours: the check of every computed distance catches it, the search is
    # redone.
    train, query = pixels
    monkeypatch.setattr(knn, "_DISTRUSTED", set())

    embed = pruned.embed

    def inflated(x, centre, basis):  # embeddings 1.2× too long: bounds 1.44× theirs
        e, norms = embed(x, centre, basis)
        return 1.2 * e, 1.44 * norms

    monkeypatch.setattr(pruned, "embed", inflated)
    nb = nearest_neighbours(train, query[:50], 10, products="pruned")
    assert "lower bounds exceeded their exact distance" in caplog.text
    assert nb.products == "float32" and "pruned" in knn._DISTRUSTED
    want_i, want_d = _brute_force(train, query[:50], 10)
    np.testing.assert_array_equal(nb.indices, want_i)
    np.testing.assert_array_equal(nb.sqdist, want_d)
    with pytest.raises(ExplorerError, match="bounds that held in this process"):
        nearest_neighbours(train, query[:50], 10, products="pruned")


def test_progress_reaches_the_total(pixels):
    train, query = pixels
    seen = []
    pruned.pruned_neighbours(train, query, 5, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(train) * len(query), len(train) * len(query))
    assert all(a[0] < b[0] for a, b in zip(seen, seen[1:], strict=False))


@pytest.mark.skipif(
    os.path.exists("/dev/nvidiactl"), reason="a CUDA machine: auto searches there, with torch"
)
def test_a_search_that_prunes_never_imports_torch():
    # torch takes seconds to import: a process that only wants neighbours does not pay it.
    code = (
        "import sys\n"
        "from core import load_mnist\n"
        "from core.knn.search import nearest_neighbours\n"
        "(xtr, _), (xte, _) = load_mnist('train'), load_mnist('test')\n"
        "nb = nearest_neighbours(xtr, xte[:2500], 20)\n"  # 1.5e8 pairs: large, pruned
        "print(nb.products, 'torch' in sys.modules, 'sklearn' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["pruned", "False", "False"]


def test_the_search_and_the_products_name_the_same_paths():
    from core.knn import products, search

    assert search.PATHS == products.PATHS
