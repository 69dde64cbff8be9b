"""The distortion-tolerant distance (IDM, :mod:`core.knn.distortion`) and its re-ranking
of cached neighbours (:mod:`core.knn.idm`).

Synthetic strokes with known answers (a shift within the window is free, one beyond it
is not), the compiled kernel against a plain numpy reading of the definition, early
abandoning that never changes the kept nearest, and the headline on real MNIST.
"""

from dataclasses import replace

import numba
import numpy as np
import pytest

from core import knn
from core.errors import ExplorerError
from core.knn import distortion, idm


def _stroke(shift=(0, 0)) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    image[8:20, 12:15] = 200  # a vertical bar
    image[18:20, 12:20] = 120  # with a foot
    return np.roll(image, shift, axis=(0, 1))


def _one(query, reference, window, context=1) -> int:
    return int(
        distortion.distances(query[None], reference[None], np.zeros((1, 1)), window, context)[0, 0]
    )


def test_gradients_are_integer_sobel_with_zero_padding():
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, :, 14:] = 100  # a vertical edge
    g = distortion.gradients(image, pad=2)
    assert g.shape == (1, 32, 32, 2) and g.dtype == np.int16
    assert (g[0, :2] == 0).all() and (g[0, :, -2:] == 0).all()
    inner = g[0, 2:30, 2:30]
    assert (inner[:, 13:15, 0] == 400).all()  # (1 + 2 + 1) × 100 across the edge
    assert (inner[:, :12, 0] == 0).all() and (inner[..., 1] == 0).all()


@pytest.mark.parametrize("shift", [(1, 0), (0, -1), (2, 2), (-2, 1)])
def test_a_shift_within_the_window_costs_nothing(shift):
    query, reference = _stroke(shift), _stroke()
    assert _one(query, reference, window=2) == 0
    assert _one(query, reference, window=0) > 0  # the rigid distance sees it


def test_a_shift_beyond_the_window_costs_something():
    query, reference = _stroke((3, 0)), _stroke()
    assert _one(query, reference, window=2) > 0
    assert _one(query, reference, window=3) == 0


def test_identical_images_are_at_distance_zero_and_the_distance_is_not_symmetric():
    a, b = _stroke(), _stroke()
    b[10:14, 15:18] = 255  # b has a blob a lacks
    assert _one(a, a, 1) == 0
    assert _one(a, b, 2) != _one(b, a, 2)  # each query pixel finds its own match


def test_the_kernel_is_the_definition(mnist_test):
    # numpy's reading of the definition, pixel by pixel, against the compiled kernel.
    x = mnist_test[0]
    queries, references = x[:3], x[3:15]
    rows = np.tile(np.arange(12), (3, 1))
    for window, context in ((0, 0), (1, 1), (2, 1), (1, 2)):
        d = distortion.distances(queries, references, rows, window, context)
        for b in range(3):
            for k in (0, 7, 11):
                field = distortion.displacement(queries[b], references[k], window, context)
                assert field["cost"].sum() == d[b, k]
                assert (np.abs(field["shift"]) <= window).all()


def test_the_rigid_case_is_the_squared_distance_of_gradients(mnist_test):
    x = mnist_test[0][:6]
    d = distortion.distances(x[:2], x[2:], np.tile(np.arange(4), (2, 1)), window=0, context=0)
    g = distortion.gradients(x, 0).astype(np.int64)
    expected = ((g[:2, None] - g[None, 2:]) ** 2).sum(axis=(2, 3, 4))
    assert (d == expected).all()


def test_early_abandoning_keeps_the_nearest_exactly(mnist_test):
    x = mnist_test[0]
    queries, references = x[:8], x[8:208]
    rows = np.tile(np.arange(200), (8, 1))
    full = distortion.distances(queries, references, rows, 2)
    cut = distortion.distances(queries, references, rows, 2, keep=5)
    assert (cut >= full).all()  # an abandoned candidate reads INF
    assert (np.sort(cut, axis=1)[:, :5] == np.sort(full, axis=1)[:, :5]).all()
    rows[:, 3] = -1  # a skipped candidate
    assert (distortion.distances(queries, references, rows, 2)[:, 3] == distortion.INF).all()


def test_displacement_bends_the_reference_onto_the_query():
    query, reference = _stroke((1, -2)), _stroke()
    field = distortion.displacement(query, reference, 2)
    assert field["cost"].sum() == 0
    ink = query > 0
    assert (field["warped"][ink] == query[ink]).all()
    # A corner has one match (along an edge any place on it would do): where it came from.
    assert tuple(field["shift"][9, 10]) == (-1, 2)  # the bar's top-left corner, (8, 12)


def test_the_same_on_one_thread_and_two(mnist_test):
    x = mnist_test[0]
    rows = np.tile(np.arange(40), (6, 1))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = distortion.distances(x[:6], x[6:46], rows, 2, keep=3)
    finally:
        numba.set_num_threads(before)
    assert (one == distortion.distances(x[:6], x[6:46], rows, 2, keep=3)).all()


def test_candidate_keys_name_an_image_whatever_its_source(mnist_train):
    config = idm.IdmConfig(sources=(("deskewed", 3), ("deskewed+augmented+diagonals", 3)), keep=3)
    n = 1000
    plain = np.array([[5, 7, 9]])
    augmented = np.array([[7, 3 * n + 5, 12 * n + 2]])  # original 7, 3rd copy of 5, 12th of 2
    keys = idm.candidate_keys(config, [plain, augmented], n)
    assert keys[0, 1] == keys[0, 3]  # image 7 from either source: one key
    assert len(np.unique(keys)) == 5
    xtr = knn.deskew(mnist_train[0][:n])
    variant = knn.VARIANTS["deskewed+augmented+diagonals"]
    images = idm.key_images(keys[0, 3:], xtr)
    for image, index in zip(images, augmented[0], strict=True):
        copy, j = divmod(int(index), n)
        expected = xtr[j] if copy == 0 else knn.apply_transform(
            xtr[j : j + 1], variant.transforms[copy - 1], clip=True
        )[0]  # fmt: skip
        assert (image == expected).all()


def test_rerank_compares_a_duplicate_once_and_orders_by_distance(mnist_train):
    xtr = knn.deskew(mnist_train[0][:500])
    config = idm.IdmConfig(sources=(("deskewed", 6),), keep=4)
    keys = np.array([[10, 11, 10, 12, 13, 11], [3, 3, 3, 3, 3, 3]])
    top, dist = idm.rerank(config, xtr[[20, 21]], keys, xtr)
    assert len(set(top[0])) == 4 and (np.diff(dist[0]) >= 0).all()
    assert top[1, 0] == 3 and (top[1, 1:] == -1).all() and (dist[1, 1:] == distortion.INF).all()
    full = distortion.distances(xtr[[20]], xtr[[10, 11, 12, 13]], np.arange(4)[None], 2)[0]
    assert (dist[0] == np.sort(full)).all()


def test_exhaustive_nearest_is_the_argmin_over_everything(mnist_test):
    x = mnist_test[0]
    queries, references = x[:4], x[4:304]
    rows, d = distortion.exhaustive_nearest(queries, references, 1)
    full = distortion.distances(queries, references, np.tile(np.arange(300), (4, 1)), 1)
    assert (rows == full.argmin(axis=1)).all() and (d == full.min(axis=1)).all()
    order = np.argsort(np.random.default_rng(0).random((4, 300)), axis=1)
    assert (distortion.exhaustive_nearest(queries, references, 1, order=order)[1] == d).all()


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(sources=()), "at least one"),
        (dict(sources=(("nope", 3),)), "expected variants"),
        (dict(sources=(("deskewed", 0),)), "1..100"),
        (dict(sources=(("raw", 5), ("deskewed", 5))), "deskewed or all not"),
        (dict(window=9), "window"),
        (dict(context=3), "context"),
        (dict(keep=0), "keep"),
        (dict(sources=(("deskewed", 8),)), "keep: expected 1..8"),
        (dict(fold=7), "fold"),
    ],
)
def test_bad_settings_are_refused(change, words):
    with pytest.raises(ExplorerError, match=words):
        replace(idm.IdmConfig(), **change)


def test_bad_images_are_refused():
    with pytest.raises(ExplorerError, match=r"expected integers of shape \(n, 28, 28\)"):
        distortion.gradients(np.zeros((2, 28, 27), np.uint8), 1)
    bright = np.zeros((1, 28, 28), np.int16)
    bright[0, 10:18, 10:18] = 2000  # gradients too large for the kernel's int32 sums
    with pytest.raises(ExplorerError, match="gradients differ by less than 10922, found"):
        distortion.distances(bright, -bright, np.zeros((1, 1)), window=2, context=1)
    with pytest.raises(ExplorerError, match="expected indices below 3"):
        distortion.distances(np.zeros((1, 28, 28), np.uint8), np.zeros((3, 28, 28), np.uint8),
                      np.array([[0, 5]]), 1)  # fmt: skip


def test_the_key_holds_the_definition():
    a = idm.IdmConfig()
    assert idm.STORE.path(a) == idm.STORE.path(idm.IdmConfig(sources=a.sources))
    for change in (dict(window=1), dict(context=0), dict(sources=a.sources[:1]), dict(fold=0)):
        assert idm.STORE.path(a) != idm.STORE.path(replace(a, **change))


@pytest.mark.slow
def test_the_distortion_knn_reaches_99_4_percent_on_the_test_set(mnist_test):
    config = idm.IdmConfig()
    result = idm.idm_neighbours(config)
    pred, scores = idm.predict(result, idm.K, idm.WEIGHTS_CHOSEN)
    accuracy = np.mean(pred == mnist_test[1])
    assert accuracy >= 0.994, accuracy
    assert np.allclose(scores.sum(axis=1), 1) and (scores.argmax(axis=1) == pred).all()
    # Better than the best Euclidean neighbours it re-ranks, by a clear margin.
    euclid = knn.neighbours(idm.source_configs(config)[0])
    base = knn.predict(euclid, idm.source_configs(config)[0], 1, "uniform")[0]
    assert accuracy - np.mean(base == mnist_test[1]) > 0.005


def test_one_images_pictures_are_those_the_rerank_compared(mnist_train, mnist_test):
    config = idm.IdmConfig(sources=(("deskewed+augmented+diagonals", 5),), keep=5)
    n = len(mnist_train[0])
    keys = np.array([17, 2 * n + 17, 6 * n + 40])  # keys count transforms in TRANSFORMS
    images, about = idm.training_images(config, keys)
    xtr = knn.deskew(mnist_train[0][[17, 40]])
    assert (images[0] == xtr[0]).all() and about == ["#17", "#17 up", "#40 rot-10"]
    expected = knn.apply_transform(xtr[1:], "rot-10", clip=True)[0]
    assert (images[2] == expected).all()
    assert (idm.query_images(config, [3])[0] == knn.deskew(mnist_test[0][3:4])[0]).all()


@pytest.mark.slow
def test_one_new_image_gets_what_the_cached_rerank_gave_it(mnist_test):
    # The one-image path (Draw page, predict_one) prepares only its candidates' images.
    config = idm.IdmConfig()
    arrays = idm.idm_neighbours(config).arrays
    for index in (0, 115):
        found = idm.idm_image(config, mnist_test[0][index], idm.K, idm.WEIGHTS_CHOSEN)
        assert found["keys"].tolist() == arrays["keys"][index].tolist()
        assert found["distances"].tolist() == arrays["distances"][index].tolist()
        assert found["labels"].tolist() == arrays["labels"][index].tolist()
        expected = idm.predict(idm.idm_neighbours(config), idm.K, idm.WEIGHTS_CHOSEN)[0][index]
        assert found["prediction"] == expected
        images, _ = idm.training_images(config, found["keys"])
        assert (found["images"] == images).all()
        assert (found["query"] == idm.query_images(config, [index])[0]).all()
