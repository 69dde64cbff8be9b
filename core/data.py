"""MNIST as numpy arrays: the four original IDX files, located, verified and loaded.

Where the files come from, in this order (each step is logged):

1. the folder given as ``data_dir`` or by the ``MNIST_DIR`` environment variable
   (used as is: a wrong file there is an error, never silently replaced);
2. the project's cache, laid out as torchvision expects (``<cache>/MNIST/raw``), so
   ``torchvision.datasets.MNIST(root=<cache>, download=False)`` reads it too;
3. the remote sources of :mod:`core.sources` (torchvision's download, then npm),
   fetched into a scratch folder, verified, then renamed into the cache.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.cache import cache_root, scratch_dir
from core.errors import DataError, ExplorerError
from core.idx import parse_idx, read_bytes
from core.progress import Progress
from core.sources import Source, pick_sources

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "MNIST_DIR"
_announced: set[str] = set()  # where the data was found, said once per process


def _announce(message: str) -> None:
    if message not in _announced:
        _announced.add(message)
        logger.info(message)


@dataclass(frozen=True)
class MnistFile:
    """One of the four original files: its name, content shape and MD5."""

    name: str  # without ".gz"; a gzip copy of the same content is accepted too
    shape: tuple[int, ...]
    md5: str  # of the uncompressed content

    @property
    def magic(self) -> int:
        """IDX magic number: unsigned bytes (0x08), then the number of dimensions."""
        return 0x0800 | len(self.shape)


FILES: dict[str, MnistFile] = {
    f.name: f
    for f in (
        MnistFile("train-images-idx3-ubyte", (60000, 28, 28), "6bbc9ace898e44ae57da46a324031adb"),
        MnistFile("train-labels-idx1-ubyte", (60000,), "a25bea736e30d166cdddb491f175f624"),
        MnistFile("t10k-images-idx3-ubyte", (10000, 28, 28), "2646ac647ad5339dbf082846283269ea"),
        MnistFile("t10k-labels-idx1-ubyte", (10000,), "27ae3e4e09519cfbb04c329615203637"),
    )
}
SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Identifies the data set in cache keys: results computed on other files never match.
DATA_CHECKSUM = hashlib.md5("".join(f.md5 for f in FILES.values()).encode()).hexdigest()


def mnist_raw_dir() -> Path:
    """The cache folder of the verified files (``<cache>/MNIST/raw``)."""
    return cache_root() / "MNIST" / "raw"


def find_file(folder: Path, spec: MnistFile) -> Path | None:
    """The file of ``spec`` in ``folder``, uncompressed or ``.gz``, or None."""
    for candidate in (folder / spec.name, folder / f"{spec.name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_mnist_file(path: str | Path, spec: MnistFile) -> np.ndarray:
    """Read ``path`` and check it is exactly the original file ``spec``.

    Returns a read-only uint8 array of shape ``spec.shape``. Raises DataError naming
    the file, what was expected and what was found.
    """
    path = Path(path)
    return _read_verified(str(path), spec, *_stamp(path))


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        raise DataError(f"{path}: file not found (expected {spec_text(path.name)})") from None
    return st.st_mtime_ns, st.st_size


def spec_text(name: str) -> str:
    spec = FILES.get(name.removesuffix(".gz"))
    if spec is None:
        return f"one of {list(FILES)}"
    return f"the MNIST file {spec.name}, magic 0x{spec.magic:08x}, shape {spec.shape}"


@functools.lru_cache(maxsize=8)
def _read_verified(path: str, spec: MnistFile, mtime_ns: int, size: int) -> np.ndarray:
    # Keyed by modification time and size, so a replaced file is read again.
    data = read_bytes(path)
    array = parse_idx(data, name=path)
    if array.dtype != np.uint8 or array.shape != spec.shape:
        found = f"magic 0x{int.from_bytes(data[:4], 'big'):08x}, shape {array.shape}"
        twins = [f.name for f in FILES.values() if f.shape == array.shape and f != spec]
        hint = f" (the shape of {twins[0]}: were files swapped or renamed?)" if twins else ""
        raise DataError(
            f"{path}: expected magic 0x{spec.magic:08x} and shape {spec.shape} for "
            f"{spec.name}, found {found}{hint}"
        )
    digest = hashlib.md5(data).hexdigest()
    if digest != spec.md5:
        raise DataError(
            f"{path}: expected the original {spec.name} (MD5 {spec.md5}), found "
            f"MD5 {digest}: the content differs from the published MNIST file"
        )
    array.flags.writeable = False  # shared by every caller through the memo
    return array


def check_folder(folder: Path) -> dict[str, str]:
    """Verify the four files in ``folder``; return ``{file name: problem}``, empty if all good."""
    problems = {}
    for spec in FILES.values():
        path = find_file(folder, spec)
        if path is None:
            problems[spec.name] = (
                f"{folder / spec.name}: missing (expected {spec.name} or {spec.name}.gz)"
            )
            continue
        try:
            read_mnist_file(path, spec)
        except DataError as exc:
            problems[spec.name] = str(exc)
    return problems


def fetch_mnist(sources: Sequence[Source] | None = None, progress: Progress | None = None) -> Path:
    """Fetch the four files from the first source that works into the cache.

    Each source writes into a scratch folder; only files whose shape and MD5 are
    verified are renamed into ``mnist_raw_dir()``, so the data folder never holds a
    partial or wrong file. Raises DataError listing every attempt if all fail.
    """
    raw = mnist_raw_dir()
    raw.mkdir(parents=True, exist_ok=True)
    attempts = []
    for source in pick_sources() if sources is None else sources:
        logger.info("MNIST: trying %s", source.description)
        try:
            with scratch_dir("fetch-") as tmp:
                source.fetch(tmp, list(FILES), progress)
                for spec in FILES.values():
                    read_mnist_file(tmp / spec.name, spec)
                for spec in FILES.values():
                    os.replace(tmp / spec.name, raw / spec.name)
                    (raw / f"{spec.name}.gz").unlink(missing_ok=True)  # a stale copy
        except Exception as exc:  # any failure of a source means: try the next one
            reason = str(exc) if isinstance(exc, ExplorerError) else repr(exc)
            logger.warning("MNIST: %s failed: %s", source.description, reason)
            attempts.append(f"- {source.description}: {reason}")
            continue
        logger.info("MNIST: fetched with %s, MD5 verified, in %s", source.description, raw)
        return raw
    raise DataError(
        "could not obtain the MNIST files. Tried:\n"
        + "\n".join(attempts or ["- no source was given"])
        + f"\nTo supply them by hand, put the four files {list(FILES)} (raw or .gz) in a "
        f"folder and set {DATA_DIR_ENV}=<folder> (or pass --data-dir), or copy them into "
        f"{raw}."
    )


def locate_mnist(
    data_dir: str | Path | None = None,
    *,
    sources: Sequence[Source] | None = None,
    progress: Progress | None = None,
) -> Path:
    """The folder holding the four verified files, fetching them into the cache if needed."""
    chosen, origin = data_dir, "data_dir"
    if chosen is None and os.environ.get(DATA_DIR_ENV):
        chosen, origin = os.environ[DATA_DIR_ENV], DATA_DIR_ENV
    if chosen is not None:
        folder = Path(chosen).expanduser()
        problems = check_folder(folder)
        if problems:
            raise DataError(
                f"{origin}={folder} does not hold the MNIST files:\n- "
                + "\n- ".join(problems.values())
                + f"\nFix or replace these files, or unset {DATA_DIR_ENV} to let the "
                "project fetch its own verified copy."
            )
        _announce(f"MNIST: using {folder} ({origin})")
        return folder
    raw = mnist_raw_dir()
    problems = check_folder(raw)
    if not problems:
        _announce(f"MNIST: using the cached copy in {raw}")
        return raw
    for name, problem in problems.items():
        if find_file(raw, FILES[name]) is not None:  # present but wrong: say so
            logger.warning("MNIST: cached file rejected, fetching again: %s", problem)
    return fetch_mnist(sources, progress)


def load_mnist(
    split: str, data_dir: str | Path | None = None, *, progress: Progress | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of MNIST.

    Parameters
    ----------
    split : {"train", "test"}
    data_dir : folder holding the four files; default ``MNIST_DIR``, else the cache.

    Returns
    -------
    images : read-only ndarray of shape (N, 28, 28), uint8 — N = 60000 or 10000
    labels : read-only ndarray of shape (N,), uint8
    """
    if split not in SPLITS:
        raise ExplorerError(f"split: expected one of {list(SPLITS)}, found {split!r}")
    folder = locate_mnist(data_dir, progress=progress)
    images, labels = (
        read_mnist_file(find_file(folder, FILES[n]) or folder / n, FILES[n]) for n in SPLITS[split]
    )
    return images, labels


def samples_per_digit(labels: np.ndarray, n: int, seed: int | None = None) -> np.ndarray:
    """Indices of ``n`` images of each digit: the first ones, or a random draw for ``seed``.

    Returns an int ndarray of shape (10, n), -1 where a digit has fewer than ``n`` images.
    """
    rng = None if seed is None else np.random.default_rng(seed)
    out = np.full((10, n), -1, dtype=np.int64)
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)
        if rng is not None:
            idx = rng.permutation(idx)
        out[digit, : min(n, idx.size)] = idx[:n]
    return out
