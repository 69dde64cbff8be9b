import numpy as np
import pytest
from sklearn.decomposition import PCA

from core.errors import ExplorerError
from core.knn.pca import SCALE, fit_pca


def test_components_match_scikit_learn_up_to_sign(mnist_train):
    x = mnist_train[0][:3000].reshape(3000, -1).astype(np.float64)
    ours = fit_pca(x, 20)
    ref = PCA(20, svd_solver="full").fit(x)
    np.testing.assert_allclose(np.abs(ours.basis.T @ ref.components_.T), np.eye(20), atol=1e-6)
    np.testing.assert_allclose(ours.mean, ref.mean_)


def test_projected_distances_never_exceed_pixel_distances(mnist_train):
    x = mnist_train[0][:2000]
    pca = fit_pca(x, 60)
    z = pca.project(x).astype(np.float64) / SCALE
    flat = x.reshape(2000, -1).astype(np.float64)
    d_pix = ((flat[:200, None] - flat[None, :200]) ** 2).sum(-1)
    d_pca = ((z[:200, None] - z[None, :200]) ** 2).sum(-1)
    # A projection never lengthens a difference; rounding each of the 60 coordinates
    # to 1/SCALE moves a difference by at most √60 / SCALE.
    assert (np.sqrt(d_pca) <= np.sqrt(d_pix) + np.sqrt(60) / SCALE).all()
    assert (np.sqrt(d_pca) < np.sqrt(d_pix) - 1).any()  # and it does shorten some
    assert np.abs(pca.project(x)).max() < 32767


def test_bad_component_count():
    with pytest.raises(ExplorerError, match=r"n_components: expected 1\.\.4"):
        fit_pca(np.zeros((5, 4)), 5)
