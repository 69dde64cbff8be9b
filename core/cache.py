"""Where the project keeps what it fetches and computes.

The cache folder is ``<repo>/cache`` unless the ``MNIST_EXPLORER_CACHE`` environment
variable names another one (as ``SCIKIT_LEARN_DATA`` does for scikit-learn).
Temporary files are written under ``<cache>/.tmp`` so that a rename into place is
atomic (same file system) and an interrupted write never leaves a partial file
where a result is expected.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "MNIST_EXPLORER_CACHE"
_REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_root() -> Path:
    """The cache folder (created if missing)."""
    root = Path(os.environ.get(CACHE_ENV) or _REPO_ROOT / "cache").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A private temporary folder inside the cache, removed on exit."""
    tmp_root = cache_root() / ".tmp"
    tmp_root.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=tmp_root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class CacheEntry:
    """One top-level folder of the cache: a method's results, or the data."""

    name: str
    path: Path
    n_files: int
    n_bytes: int


def list_entries() -> list[CacheEntry]:
    """Summarise every top-level folder of the cache (hidden ones excluded)."""
    entries = []
    for path in sorted(cache_root().iterdir()):
        if not path.is_dir() or path.name.startswith("."):
            continue
        files = [f for f in path.rglob("*") if f.is_file()]
        entries.append(
            CacheEntry(path.name, path, len(files), sum(f.stat().st_size for f in files))
        )
    return entries
