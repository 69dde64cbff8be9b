"""Principal components as integer features, so the exact KNN engine can use them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ExplorerError

SCALE = 4.0  # step 1/4 pixel unit; |coordinate| ≤ ‖x − mean‖ ≤ 784^½·255 fits int16


@dataclass(frozen=True)
class Pca:
    """mean : (d,) float64; basis : (d, n_components) float64, orthonormal columns."""

    mean: np.ndarray
    basis: np.ndarray

    def project(self, x: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """Coordinates × SCALE, rounded to int16: shape (N, n_components)."""
        x = np.asarray(x).reshape(len(x), -1)
        out = np.empty((len(x), self.basis.shape[1]), np.int16)
        for s in range(0, len(x), chunk):
            z = (x[s : s + chunk].astype(np.float64) - self.mean) @ self.basis
            out[s : s + chunk] = np.clip(np.rint(z * SCALE), -32767, 32767)
        return out


def fit_pca(x: np.ndarray, n_components: int) -> Pca:
    """The leading principal components of ``x`` (N, ...) from its covariance matrix."""
    x = np.asarray(x).reshape(len(x), -1).astype(np.float64)
    if not 1 <= n_components <= x.shape[1]:
        raise ExplorerError(f"n_components: expected 1..{x.shape[1]}, found {n_components}")
    mean = x.mean(axis=0)
    centred = x - mean
    values, vectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(values)[::-1][:n_components]
    return Pca(mean, vectors[:, order])
