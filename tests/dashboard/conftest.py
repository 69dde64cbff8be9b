"""Fixtures of the page tests."""

from __future__ import annotations

import pytest

from core import knn
from core.knn import NeighbourConfig


@pytest.fixture(scope="module")
def raw_neighbours(mnist_dir):
    """The raw neighbours of the test set (the project cache's, computed if missing)."""
    config = NeighbourConfig()
    return knn.neighbours(config), config
