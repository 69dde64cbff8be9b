"""Chapter 1's published figures, reproduced from cached neighbour lists on real MNIST.

Neighbour lists go to the project's cache (keyed and verified), so the dashboard reuses
what the tests computed and a second run takes seconds.
"""

from dataclasses import replace

import numpy as np
import pytest

from core import metrics
from core.errors import ExplorerError
from core.knn import (
    GRID_K,
    STORE,
    VARIANTS,
    NeighbourConfig,
    Variant,
    accuracy_table,
    folds,
    grid_search,
    neighbours,
    predict,
    query_labels,
)

# Figure 1.7 of the report: success rate (%) per digit, KNN and with augmentation.
FIG_1_7_KNN = [99.285714, 99.735683, 96.414729, 96.435644, 96.741344,
               96.636771, 98.747390, 96.689387, 94.455852, 95.936571]  # fmt: skip
FIG_1_7_AUGMENTED = [99.489796, 99.735683, 97.286822, 97.821782, 97.657841,
                     97.757848, 98.851775, 97.176241, 96.611910, 97.621407]  # fmt: skip
# Figure 1.5: confusion matrix of the first cross-validation fold (K=5, uniform).
FIG_1_5 = [
    [1176, 0, 0, 0, 0, 3, 4, 1, 1, 0],
    [0, 1341, 0, 0, 3, 0, 0, 4, 1, 0],
    [8, 10, 1156, 1, 0, 1, 1, 10, 2, 3],
    [1, 4, 6, 1183, 0, 18, 1, 9, 1, 4],
    [0, 11, 0, 0, 1133, 0, 3, 3, 0, 19],
    [3, 3, 2, 10, 1, 1041, 15, 1, 4, 4],
    [4, 3, 0, 0, 0, 6, 1171, 0, 0, 0],
    [0, 14, 2, 1, 6, 1, 0, 1218, 0, 11],
    [3, 14, 4, 17, 5, 20, 2, 4, 1088, 14],
    [2, 3, 1, 9, 5, 3, 0, 8, 3, 1156],
]
# Figure 1.4: precision and recall per digit of that fold, as printed (3 decimals).
FIG_1_4_PRECISION = [0.982, 0.956, 0.987, 0.969, 0.983, 0.952, 0.978, 0.968, 0.989, 0.955]
FIG_1_4_RECALL = [0.992, 0.994, 0.970, 0.964, 0.969, 0.960, 0.989, 0.972, 0.929, 0.971]


def _test_predictions(variant, k=4, weights="distance"):
    config = NeighbourConfig(variant=variant)
    return query_labels(config), predict(neighbours(config), config, k, weights)[0]


def test_report_test_accuracy_and_per_digit_table(mnist_dir):
    y, pred = _test_predictions("raw")
    assert (pred == y).sum() == 9714  # 97.14 %
    # The report's CSV files lost their first row to the header line: its test set was
    # images 1..9999. On those, the table is the report's to the last printed digit.
    digits = metrics.per_digit(y[1:], {"knn": pred[1:]})["knn"]
    np.testing.assert_allclose(digits, FIG_1_7_KNN, atol=5e-7)
    assert y[0] == pred[0] == 7  # the lost image, classified right: 97.14 % either way


def test_other_k_and_weightings_match_scikit_learn_figures(mnist_dir):
    config = NeighbourConfig()
    table = accuracy_table(neighbours(config), config)
    # Measured with scikit-learn's KNeighborsClassifier on the same data.
    expected = {(1, "uniform"): 0.9691, (3, "uniform"): 0.9705, (3, "distance"): 0.9717,
                (4, "uniform"): 0.9682, (5, "uniform"): 0.9688, (5, "distance"): 0.9691,
                (10, "uniform"): 0.9665, (10, "distance"): 0.9684}  # fmt: skip
    for (k, w), acc in expected.items():
        assert table.loc[k, w] == pytest.approx(acc, abs=1e-9), (k, w)


def test_report_folds_reproduce_figures_1_4_and_1_5(mnist_train):
    _, labels = mnist_train
    held = folds(labels, "report")
    assert len(held[0]) == 12004  # the support of figure 1.4
    assert sorted(np.concatenate(held).tolist()) == list(range(1, 60000))
    config = NeighbourConfig(fold=0)
    y = query_labels(config)
    pred, _ = predict(neighbours(config), config, 5, "uniform")
    assert metrics.confusion(y, pred).tolist() == FIG_1_5
    report = metrics.classification_report(y, pred)
    np.testing.assert_allclose(report["precision"].iloc[:10], FIG_1_4_PRECISION, atol=5e-4)
    np.testing.assert_allclose(report["recall"].iloc[:10], FIG_1_4_RECALL, atol=5e-4)
    assert report.loc["accuracy", "f1-score"] == pytest.approx(0.972, abs=5e-4)
    assert report.loc["accuracy", "support"] == 12004


def test_stratified_scheme_uses_every_image(mnist_train):
    held = folds(mnist_train[1], "stratified")
    assert sorted(np.concatenate(held).tolist()) == list(range(60000))


def test_grid_search_one_neighbour_pass_per_fold_and_the_report_choice(mnist_dir):
    grid = grid_search()
    entries = {p.name for p in (STORE.path(NeighbourConfig()).parent).iterdir() if p.is_dir()}
    fold_keys = {STORE.path(replace(NeighbourConfig(), fold=f)).name for f in range(5)}
    assert fold_keys <= entries
    assert len(grid) == 40  # K = 1..20 × 2 weightings, from those 5 lists only
    report_grid = grid.loc[[(k, w) for k in GRID_K for w in ("uniform", "distance")]]
    assert report_grid["mean"].idxmax() == (4, "distance")  # the report's choice
    assert report_grid["mean"].max() == pytest.approx(0.97, abs=0.005)
    assert (grid["std"] > 0).all() and (grid["std"] < 0.005).all()


@pytest.mark.slow
def test_report_augmentation_98_02_and_per_digit_table(mnist_dir):
    y, pred = _test_predictions("augmented")
    assert (pred == y).sum() == 9802
    digits = metrics.per_digit(y[1:], {"aug": pred[1:]})["aug"]
    np.testing.assert_allclose(digits, FIG_1_7_AUGMENTED, atol=5e-7)


@pytest.mark.slow
@pytest.mark.parametrize(("variant", "errors"), [("rotations", 223), ("zooms", 288)])
def test_report_ablation_error_rates(mnist_dir, variant, errors):
    # The report counted the errors on its 9,999 test images and divided by 100.
    y, pred = _test_predictions(variant)
    assert (pred[1:] != y[1:]).sum() == errors


def test_bad_configs_are_clear_errors():
    with pytest.raises(ExplorerError, match="variant: expected one of"):
        NeighbourConfig(variant="sheared")
    with pytest.raises(ExplorerError, match="transforms: expected names among"):
        Variant(transforms=("shear",))
    with pytest.raises(ExplorerError, match=r"fold: expected 0\.\.4"):
        NeighbourConfig(fold=5)
    with pytest.raises(ExplorerError, match="cv_scheme"):
        NeighbourConfig(cv_scheme="loo")


@pytest.mark.slow
def test_beyond_the_report_deskewed_augmented_pca_reaches_98_8(mnist_dir):
    config = NeighbourConfig(variant="deskewed+augmented+diagonals+pca60")
    table = accuracy_table(neighbours(config), config)
    assert table.loc[4, "distance"] >= 0.988


def test_the_cache_key_is_the_definition_not_the_name(monkeypatch, tmp_cache):
    # Every part of a definition changes the key; the display name does not.
    base = NeighbourConfig(variant="augmented")
    key = STORE.path(base)
    edits = [
        replace(VARIANTS["augmented"], transforms=VARIANTS["augmented"].transforms[:-1]),
        replace(VARIANTS["augmented"], transforms=VARIANTS["augmented"].transforms[::-1]),
        replace(VARIANTS["augmented"], clip=True),
        replace(VARIANTS["augmented"], deskew=True),
        replace(VARIANTS["augmented"], pca=30),
    ]
    for variant in edits:
        assert STORE.path(NeighbourConfig(variant=variant)) != key, variant
    for other in (replace(base, k_max=10), replace(base, fold=1), replace(base, cv_seed=1)):
        assert STORE.path(other) != key
    # Someone edits what "augmented" means: the old entry is not served.
    STORE.save(base, {"indices": np.zeros((1, 1), np.int32)}, {})
    assert STORE.load(NeighbourConfig(variant="augmented")) is not None
    monkeypatch.setitem(VARIANTS, "augmented", edits[0])
    assert STORE.load(NeighbourConfig(variant="augmented")) is None
    # …and a new name for the same definition finds the same entry.
    monkeypatch.setitem(VARIANTS, "renamed", base.variant)
    assert STORE.load(NeighbourConfig(variant="renamed")) is not None


def test_query_neighbours_lists_images_labels_and_distances(mnist_dir, mnist_train):
    from core.knn import query_neighbours

    config = NeighbourConfig()
    result = neighbours(config)
    images, table = query_neighbours(result, config, 0, 4)
    np.testing.assert_array_equal(images, mnist_train[0][table["index"]])
    np.testing.assert_array_equal(table["label"], mnist_train[1][table["index"]])
    np.testing.assert_allclose(table["distance"] ** 2, result.arrays["sqdist"][0, :4])
    assert table["training image"].str.startswith("#").all()


def test_merged_lists_equal_one_search_of_the_union_ties_and_repeats_included():
    from core.knn import nearest_neighbours
    from core.knn.runs import merge_nearest

    rng = np.random.default_rng(5)
    train = rng.integers(0, 3, (400, 6)).astype(np.uint8)  # few values: many equal distances
    queries = rng.integers(0, 3, (50, 6)).astype(np.uint8)
    k = 7
    whole = nearest_neighbours(train, queries, k)
    # Three parts in row order, the first rows in two of them (as the originals are in
    # every named variant's set): each searched alone, its rows mapped back.
    groups = [np.arange(0, 150), np.r_[0:40, 150:300], np.arange(300, 400)]
    lists = []
    for rows in groups:
        nb = nearest_neighbours(train[rows], queries, k)
        lists.append((rows[nb.indices], nb.sqdist))
    indices, sqdist = merge_nearest(lists, k)
    np.testing.assert_array_equal(indices, whole.indices)
    np.testing.assert_array_equal(sqdist, whole.sqdist)


def test_an_augmented_set_is_merged_from_the_named_sets_inside_it():
    from core.knn.runs import parts

    found, rest = parts(VARIANTS["augmented"])
    assert found == [VARIANTS["shifts"], VARIANTS["rotations"], VARIANTS["zooms"]]
    assert rest == ()
    found, rest = parts(VARIANTS["deskewed+augmented+diagonals"])
    assert found == [VARIANTS["deskewed+augmented"]] and rest == (
        "down-left",
        "down-right",
        "up-left",
        "up-right",
    )
    assert parts(VARIANTS["shifts"]) == ([VARIANTS["raw"]], VARIANTS["shifts"].transforms)
    for name in ("raw", "deskewed", "deskewed+augmented+diagonals+pca60"):  # searched whole
        assert parts(VARIANTS[name])[0] == []
    reordered = replace(VARIANTS["augmented"], transforms=VARIANTS["augmented"].transforms[::-1])
    assert parts(reordered)[0] == [VARIANTS["raw"]]  # parts stacked in another order: none
