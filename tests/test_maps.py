"""The map's neighbour graph: exact, nearest first, itself first, in blocks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from core import maps
from core.errors import ExplorerError


def test_the_graph_is_the_exact_nearest_neighbours_in_any_block_size():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(700, 12)).astype(np.float32)
    want_d, want_i = NearestNeighbors(n_neighbors=9, algorithm="brute").fit(x).kneighbors(x)
    for block in (64, 700, 4096):
        indices, distances = maps.nearest(x, 9, block=block)
        assert indices.dtype == np.int32 and distances.dtype == np.float32
        assert (indices[:, 0] == np.arange(len(x))).all() and (distances[:, 0] == 0).all()
        np.testing.assert_array_equal(indices, want_i)
        np.testing.assert_allclose(distances, want_d, rtol=1e-4, atol=1e-4)


def test_ties_go_to_the_lower_index_and_a_bad_k_is_refused():
    x = np.array([[0.0], [1.0], [-1.0], [2.0], [-2.0]], np.float32)  # 1 and 2 tie for 0
    indices, distances = maps.nearest(x, 3)
    assert indices[0].tolist() == [0, 1, 2] and distances[0].tolist() == [0, 1, 1]
    with pytest.raises(ExplorerError, match=r"k: expected 1\.\.5 neighbours, found 6"):
        maps.nearest(x, 6)
