"""The one module that reads and writes the cache.

Layout: ``<cache>/<method>/<key>/`` holds ``manifest.json`` (config, data checksum,
code version, creation time, SHA-256 of every file) and ``arrays.npz``. The key is a
hash of the method, its config, the data checksum and the method's code version, so a
result can always be traced to what produced it, and a change to any of them misses.

Writes are atomic: the entry is built in ``<cache>/.tmp`` and renamed into place.
Reads verify the manifest and the checksums, and load with ``allow_pickle=False``;
anything wrong is reported once as a warning and treated as missing. A file lock per
key makes concurrent callers compute a missing entry once.

The cache folder is ``<repo>/cache`` in a checkout, ``~/.cache/mnist-explorer`` (or
under ``$XDG_CACHE_HOME``) for an installed package, unless ``MNIST_EXPLORER_CACHE`` names
another one (as ``SCIKIT_LEARN_DATA`` does for scikit-learn).

One :class:`Store` per kind of result, each its own folder. An entry that no store of the
current code would read (another data checksum, code version or definition, or a folder
no store owns) is *stale*: listed as such, and removed by ``cache clear --stale``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from core.errors import ExplorerError

logger = logging.getLogger(__name__)

CACHE_ENV = "MNIST_EXPLORER_CACHE"
_REPO_ROOT = Path(__file__).resolve().parent.parent
_MANIFEST = "manifest.json"
_ARRAYS = "arrays.npz"
_FORMAT = 1  # layout of an entry; bump to invalidate every entry at once


def _default_root() -> Path:
    if (_REPO_ROOT / "pyproject.toml").exists():  # a checkout: its own cache/ folder
        return _REPO_ROOT / "cache"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mnist-explorer"


def cache_root() -> Path:
    """The cache folder (created if missing)."""
    root = Path(os.environ.get(CACHE_ENV) or _default_root()).expanduser()
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


def config_dict(config: Any) -> dict:
    """A config (frozen dataclass or mapping) as plain JSON-able data.

    A dataclass field added after results were cached carries ``metadata={"added": True}``:
    at its default value it is left out, so the keys of existing results do not change.
    """
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        added = {
            f.name
            for f in dataclasses.fields(config)
            if f.metadata.get("added") and getattr(config, f.name) == f.default
        }
        config = {k: v for k, v in dataclasses.asdict(config).items() if k not in added}
    return json.loads(json.dumps(config, sort_keys=True, default=list))


def entry_key(method: str, config: Any, data_checksum: str, code_version: int) -> str:
    """The folder name of a result: a short hash of everything that determines it."""
    ident = {
        "method": method,
        "config": config_dict(config),
        "data": data_checksum,
        "code": code_version,
        "format": _FORMAT,
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:20]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Result:
    """A cached result: its arrays, the manifest, and where it lives."""

    arrays: dict[str, np.ndarray]
    manifest: dict
    path: Path

    @property
    def meta(self) -> dict:
        return self.manifest.get("meta", {})


_STORES: dict[str, Store] = {}  # every store created in this process, by folder name


class Store:
    """Results of one kind, in one folder, with their data checksum and code version."""

    def __init__(self, method: str, data_checksum: str, code_version: int):
        self.method, self.data_checksum, self.code_version = method, data_checksum, code_version
        _STORES[method] = self

    def reads(self, entry: Path) -> bool:
        """Whether this store (the current code) would read the entry folder ``entry``."""
        try:
            config = json.loads((entry / _MANIFEST).read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return self.path(config) == entry

    def path(self, config: Any) -> Path:
        key = entry_key(self.method, config, self.data_checksum, self.code_version)
        return cache_root() / self.method / key

    def exists(self, config: Any) -> bool:
        """Whether an entry for ``config`` is on disk (cheap: not verified until loaded)."""
        return (self.path(config) / _MANIFEST).exists()

    def load(self, config: Any) -> Result | None:
        """The verified entry for ``config``, or None (a bad entry is reported and removed)."""
        path = self.path(config)
        if not path.exists():
            return None
        try:
            return self._read(path, config)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            logger.warning(
                "cache: discarding unreadable entry %s (%s); it will be recomputed", path, exc
            )
            _remove(path)
            return None

    def _read(self, path: Path, config: Any) -> Result:
        manifest = json.loads((path / _MANIFEST).read_text())
        expected = {
            "method": self.method,
            "config": config_dict(config),
            "data_checksum": self.data_checksum,
            "code_version": self.code_version,
        }
        for field, value in expected.items():
            if manifest.get(field) != value:
                raise ValueError(f"{field} is {manifest.get(field)!r}, expected {value!r}")
        files = manifest["files"]
        if sorted(files) != sorted(p.name for p in path.iterdir() if p.name != _MANIFEST):
            raise ValueError(f"files {sorted(files)} expected")
        for name, digest in files.items():
            if _sha256(path / name) != digest:
                raise ValueError(f"checksum of {name} differs from the manifest")
        with np.load(path / _ARRAYS, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        return Result(arrays, manifest, path)

    def save(
        self, config: Any, arrays: Mapping[str, np.ndarray], meta: dict | None = None
    ) -> Result:
        """Write an entry atomically (build in scratch space, then rename)."""
        path = self.path(config)
        path.parent.mkdir(parents=True, exist_ok=True)
        with scratch_dir(f"{self.method}-") as tmp:
            np.savez(tmp / _ARRAYS, **arrays)
            manifest = {
                "method": self.method,
                "config": config_dict(config),
                "data_checksum": self.data_checksum,
                "code_version": self.code_version,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "meta": meta or {},
                "files": {_ARRAYS: _sha256(tmp / _ARRAYS)},
            }
            with open(tmp / _MANIFEST, "w") as f:
                json.dump(manifest, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            if path.exists():
                _remove(path)
            os.rename(tmp, path)
        return self._read(path, config)

    def remove(self, config: Any) -> None:
        """Remove the entry of ``config`` (if any)."""
        path = self.path(config)
        if path.exists():
            _remove(path)

    def entries(self) -> list[Result]:
        """Every valid entry of this method (any config), oldest first."""
        folder = cache_root() / self.method
        found = []
        for path in sorted(folder.glob("*/manifest.json")) if folder.exists() else []:
            if self.reads(path.parent):  # same data, code version, format and definition
                result = self.load(json.loads(path.read_text())["config"])
                if result is not None:
                    found.append(result)
        return sorted(found, key=lambda r: r.manifest["created"])

    def get_or_compute(
        self,
        config: Any,
        compute: Callable[[], tuple[Mapping[str, np.ndarray], dict]],
    ) -> Result:
        """The cached entry, or ``compute()`` → ``(arrays, meta)`` saved then returned.

        Concurrent callers (threads, sessions, processes) compute a missing entry once:
        the others wait on a file lock, then read what the first one wrote.
        """
        found = self.load(config)
        if found is not None:
            return found
        lock = FileLock(str(self.path(config)) + ".lock")
        try:
            lock.acquire(blocking=False)  # raises Timeout when another process holds it
        except Timeout:
            logger.warning(
                "cache: this %s result is being computed elsewhere; waiting for it", self.method
            )
            lock.acquire()
        try:
            found = self.load(config)
            if found is not None:
                return found
            arrays, meta = compute()
            return self.save(config, arrays, meta)
        finally:
            lock.release()


def _remove(path: Path) -> None:
    # Rename first so a half-removed entry is never read as a whole one.
    doomed = path.with_name(f".removing-{path.name}-{os.getpid()}")
    try:
        os.rename(path, doomed)
    except OSError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


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


def is_stale(entry: Path) -> bool:
    """Whether no store of the current code reads this entry folder (see module doc)."""
    store = _STORES.get(entry.parent.name)
    return store is None or not store.reads(entry)


def describe(store: str | None = None) -> list[dict]:
    """One row per result entry on disk (valid or not), for ``cache ls``."""
    rows = []
    for folder in _method_folders(store):
        for path in sorted(p for p in folder.iterdir() if p.is_dir()):
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            try:
                manifest = json.loads((path / _MANIFEST).read_text())
                config = manifest["config"]
                created, version = manifest.get("created", "?"), manifest.get("code_version")
            except (OSError, ValueError, KeyError, TypeError):
                config, created, version = None, "?", None
            rows.append(
                {
                    "store": folder.name,
                    "key": path.name,
                    "created": created,
                    "code_version": version,
                    "bytes": size,
                    "config": config,
                    "stale": is_stale(path),
                }
            )
    return rows


def clear(store: str | None = None, stale_only: bool = False) -> int:
    """Remove the cached results of ``store`` (default: every store; never the data).

    With ``stale_only``, only the entries the current code no longer reads. Returns the
    number of entries removed. An entry being written meanwhile is unaffected: it is
    renamed into place afterwards.
    """
    removed = 0
    for folder in _method_folders(store):
        entries = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if stale_only and folder.name not in _STORES:  # a store of older code: all of it
            removed += len(entries)
            _remove(folder)
            continue
        for path in entries:
            if not stale_only or is_stale(path):
                _remove(path)
                removed += 1
    return removed


# Folders that hold no computed result: the data, and a person's marks and slices.
_NOT_RESULTS = {"MNIST", "marks", "slices"}


def _method_folders(method: str | None) -> list[Path]:
    # Folders of results: everything but the data and hidden folders (scratch, jobs).
    root = cache_root()
    folders = (
        [
            p
            for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".") and p.name not in _NOT_RESULTS
        ]
        if root.exists()
        else []
    )
    if method is None:
        return folders
    known = [p.name for p in folders]
    if method not in known:
        raise ExplorerError(
            f"cache: expected a store among {known or 'the cached ones (none yet)'}, "
            f"found {method!r}"
        )
    return [root / method]
