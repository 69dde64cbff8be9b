"""Images like this one: the CNN's features of every image cached once per network, the
nearest images in that space against a brute-force search, the distortion KNN's read back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from core import cnn, similar
from core.cnn import CnnConfig
from core.errors import ExplorerError

TINY = CnnConfig(model="modern", epochs=1, train_limit=512, widths=(4, 8, 8), normalise=True)


def test_the_cnn_features_of_every_image_and_their_nearest(
    cached_copy, monkeypatch, mnist_train, mnist_test
):
    with pytest.raises(ExplorerError, match="expected the modern CNN trained, found none"):
        similar.feature_config()
    assert similar.cached_cnn_features() is None
    monkeypatch.setitem(cnn.CONFIGS, "modern", TINY)  # a tiny network in the CNN's place
    entry = cnn.trained(TINY)
    found = similar.cnn_features()
    train, test = found.arrays["train"], found.arrays["test"]
    assert train.shape == (60000, 8) and test.shape == (10000, 8)
    model = cnn.load_model(entry, TINY)
    with torch.no_grad():
        direct = model.features(cnn.to_tensor(mnist_test[0][:5], TINY, torch.device("cpu")))
    np.testing.assert_allclose(test[:5], direct.numpy(), rtol=1e-5, atol=1e-5)
    assert similar.cached_cnn_features().path == found.path  # cached, keyed by the network
    # The nearest test and training images of test image 3 in feature space.
    for among, pool in (("test", test), ("train", train)):
        near = similar.by_features(found, "test", 3, among, k=6)
        k = 7 if among == "test" else 6
        idx = NearestNeighbors(n_neighbors=k).fit(pool).kneighbors(test[3:4])[1][0]
        expected = [i for i in idx if not (among == "test" and i == 3)][:6]
        assert near["index"].tolist() == expected
        labels = (mnist_test if among == "test" else mnist_train)[1]
        np.testing.assert_array_equal(near["label"], labels[near["index"]])
        assert near["distance"].is_monotonic_increasing
    with pytest.raises(ExplorerError, match="split: expected one of"):
        similar.by_features(found, "val", 3, "test")
    assert similar.distortion(3) is None  # the distortion KNN is not cached here
