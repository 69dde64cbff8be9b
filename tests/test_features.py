"""Image features on drawn shapes with known answers, bins of equal counts, and the search
for the worst slices on a planted one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import features


def _bar(width: int = 3, height: int = 14) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    image[7 : 7 + height, 12 : 12 + width] = 255
    return image


def _line(lean: float) -> np.ndarray:
    """A one-pixel line 20 pixels tall whose top is ``lean`` × its height to the right."""
    image = np.zeros((28, 28), np.uint8)
    for y in range(4, 24):
        image[y, int(round(14 + lean * (14 - y)))] = 255
    return image


def test_pixel_features_of_a_bar_and_of_leaning_lines():
    got = features.pixel_features(np.stack([_bar(), _line(0.5), _line(-0.5), _bar(1, 20)]))
    assert got["ink"][0] == 3 * 14  # 42 pixels of 255
    assert got["aspect"][0] == pytest.approx(14 / 3)
    # 42 pixels of ink, an outline of 2 × (3 + 14) = 34 pixel edges: 84 / 34 for 3 wide.
    assert got["stroke"][0] == pytest.approx(84 / 34)
    assert got["slant"][0] == pytest.approx(0.0, abs=1e-9)
    lean = np.degrees(np.arctan(0.5))
    assert got["slant"][1] == pytest.approx(lean, abs=2.0)  # top to the right: positive
    assert got["slant"][2] == pytest.approx(-lean, abs=2.0)
    assert got["stroke"][3] == pytest.approx(40 / 42)  # a line one pixel wide, 20 tall


def test_bins_have_equal_counts_and_the_last_one_is_closed():
    values = np.arange(100.0)
    edges = features.bin_edges(values, 5)
    which = features.bin_of(values, edges)
    assert np.bincount(which).tolist() == [20] * 5
    assert which[-1] == 4  # the maximum falls in the last bin
    constant = features.bin_edges(np.ones(10), 5)
    assert features.bin_of(np.ones(10), constant).tolist() == [0] * 10


def test_the_worst_slice_found_is_the_one_planted():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.random(5000), "b": rng.random(5000), "c": rng.random(5000)})
    # Wrong on a quarter of the images whose a and b are both in their top fifth.
    planted = (frame["a"] >= frame["a"].quantile(0.8)) & (frame["b"] >= frame["b"].quantile(0.8))
    right = ~(planted.to_numpy() & (rng.random(5000) < 0.25)) & (rng.random(5000) < 0.98)
    worst = features.worst_slices(frame, right, bins=5, min_images=100, top=3)
    first = worst.iloc[0]
    assert set(first["rule"]) == {"a", "b"}
    mask = features.in_rule(frame, first["rule"])
    assert mask.sum() == first["images"] and (mask == planted.to_numpy()).mean() > 0.99
    assert first["accuracy"] == pytest.approx(right[mask].mean())
    assert first["slice"].startswith("0.") and " and " in first["slice"]
    assert (worst["images"] >= 100).all() and worst["accuracy"].is_monotonic_increasing
    table = features.accuracy_by_bin(frame, "a", {"m": np.where(right, 1, 0)}, np.ones(5000, int))
    assert table["images"].sum() == 5000 and len(table) == 5
    assert table["m"].iloc[-1] < table["m"].iloc[0]  # the planted errors in a's top bin
    with pytest.raises(Exception, match="rule: expected features among"):
        features.in_rule(frame, {"nope": (0, 1, True)})


def test_the_test_sets_features_are_cached_and_read_from_other_results(cached_copy, mnist_test):
    frame = features.test_features()  # nothing else cached: the pixel features only
    assert list(frame.columns) == list(features.PIXEL_FEATURES) and len(frame) == 10_000
    direct = features.pixel_features(mnist_test[0][:50])
    np.testing.assert_allclose(frame["stroke"].to_numpy()[:50], direct["stroke"])
    assert features.STORE.exists(features.FeatureConfig("test"))
