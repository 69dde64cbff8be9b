"""Shared fixtures: the real MNIST (fetched once by the test set-up) and a private cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.cache import CACHE_ENV
from core.data import DATA_DIR_ENV, FILES, load_mnist, locate_mnist

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder of the real, verified MNIST files (the project's cache)."""
    return locate_mnist()


@pytest.fixture(scope="session")
def mnist_train(mnist_dir) -> tuple[np.ndarray, np.ndarray]:
    return load_mnist("train")


@pytest.fixture(scope="session")
def mnist_test(mnist_dir) -> tuple[np.ndarray, np.ndarray]:
    return load_mnist("test")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch) -> Path:
    """An empty cache folder of the test's own, with MNIST_DIR unset."""
    root = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(root))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return root


@pytest.fixture
def cached_copy(tmp_cache, mnist_dir) -> Path:
    """A private cache already holding a copy of the real files; returns its raw folder."""
    raw = tmp_cache / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        shutil.copy(mnist_dir / name, raw / name)
    return raw


# Test modules whose tests share an expensive module-scoped fixture: one worker each.
SHARED_FIXTURES = {"test_products.py": "products", "test_install.py": "install"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items) -> None:
    """Groups for pytest-xdist's ``--dist loadgroup`` (the Makefile's test command).

    The browser tests share one worker: two Chromiums beside two Streamlit servers would
    overload two cores. A module whose tests share an expensive fixture keeps to one
    worker too. Everything else goes to whichever worker is free; two workers needing the
    same heavy result compute it once (the cache's file lock), the other waits.
    """
    for item in items:
        name = item.path.name
        group = "browser" if name.startswith("test_e2e") else SHARED_FIXTURES.get(name)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
