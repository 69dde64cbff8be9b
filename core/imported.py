"""Your own model's answers on the test set, imported as a method like ours.

Three kinds of file, each checked before anything is written:

- a CSV with a header: ``index,label`` (a digit per test image) or ``index,p0,…,p9``
  (10 class scores per image);
- an ``.npy`` array: labels (10000,) or scores (10000, 10), loaded without pickle;
- an ONNX model, run here on the 10,000 test images with ``onnxruntime``: its input is
  one image as (1, 28, 28), (28, 28) or (784,) per row, pixels in 0..1 or 0..255 as you
  say; its output 10 scores per image (probabilities, or logits if you say so). It is
  checked first (no external data, no custom ops) and run in a child process with a time
  and a memory limit (:mod:`core.untrusted`).

Anything else is refused with one message saying what was expected and what was found;
the cache is touched only once a file has passed. An import is stored in its own store
(``imported``) with the file's SHA-256, when and what was imported; an ONNX model's bytes
are kept too (as data), so it can also score a drawn digit.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core import untrusted
from core.cache import Result, Store, cache_root
from core.data import DATA_CHECKSUM, load_mnist
from core.errors import ExplorerError
from core.progress import Progress

STORE = Store("imported", DATA_CHECKSUM, 1)
N_TEST, N_CLASSES = 10000, 10
MAX_BYTES = 50 * 2**20  # an import larger than this is refused (the upload cap too)
KINDS = ("csv", "npy", "onnx")
SUM_TOLERANCE = 1e-3  # rows of scores must sum to 1 within this, unless normalised


class ImportFileError(ExplorerError):
    """A file that cannot become a method: the message says what was expected."""


@dataclass(frozen=True)
class ImportConfig:
    """What an import is: its cache key."""

    name: str  # the method's name, as the person gave it
    sha256: str  # of the imported file
    kind: str  # one of KINDS
    pixels: str = "0..1"  # ONNX only: the scale the model expects, "0..1" or "0..255"
    outputs: str = "probabilities"  # ONNX only: "probabilities" or "logits"
    normalise: bool = False  # scores rescaled to sum to 1 (only when asked)


def slug(name: str) -> str:
    """The method id of an imported name: ``yours-<lowercase-words>``."""
    words = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not words:
        raise ImportFileError(f"name: expected letters or digits, found {name!r}")
    return f"yours-{words}"


# -- reading a file -----------------------------------------------------------------------


def _fail(what: str) -> None:
    raise ImportFileError(what)


def _check_size(data: bytes, source: str) -> None:
    if not data:
        _fail(f"{source}: expected a file, found an empty one")
    if len(data) > MAX_BYTES:
        _fail(
            f"{source}: expected at most {MAX_BYTES // 2**20} MB, found {len(data) / 2**20:.1f} MB"
        )


def kind_of(filename: str) -> str:
    """The kind a file name says it is."""
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix not in KINDS:
        _fail(
            f"{filename}: expected a .csv, .npy or .onnx file, found {suffix or 'no extension'!r}"
        )
    return suffix


def _labels_or_scores(
    values: np.ndarray, source: str, normalise: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(predictions (N,), scores (N, 10)) from labels (N,) or scores (N, 10), checked."""
    if values.ndim == 1:
        if not np.issubdtype(values.dtype, np.number) or not np.all(np.isfinite(values)):
            _fail(f"{source}: expected digits 0..9, found non-numbers")
        if np.any(values != np.round(values)):
            row = int(np.flatnonzero(values != np.round(values))[0])
            _fail(f"{source}: expected whole digits 0..9, found {values[row]} for image {row}")
        bad = np.flatnonzero((values < 0) | (values > 9))
        if len(bad):
            _fail(
                f"{source}: expected labels 0..9, found {values[bad[0]]} for image {bad[0]}"
                f" ({len(bad)} out of range)"
            )
        predictions = values.astype(np.int64)
        return predictions, np.eye(N_CLASSES)[predictions]
    if values.ndim != 2 or values.shape[1] != N_CLASSES:
        _fail(f"{source}: expected {N_CLASSES} scores per image, found shape {values.shape}")
    scores = values.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        row = int(np.flatnonzero(~np.isfinite(scores).all(axis=1))[0])
        _fail(f"{source}: expected finite scores, found {scores[row].tolist()} for image {row}")
    if np.any(scores < 0):
        row = int(np.flatnonzero((scores < 0).any(axis=1))[0])
        _fail(f"{source}: expected scores ≥ 0, found a negative one for image {row}")
    sums = scores.sum(axis=1)
    if normalise:
        if np.any(sums <= 0):
            _fail(
                f"{source}: cannot normalise image {int(np.flatnonzero(sums <= 0)[0])}: "
                "all its scores are 0"
            )
        scores = scores / sums[:, None]
    elif np.any(np.abs(sums - 1) > SUM_TOLERANCE):
        off = np.flatnonzero(np.abs(sums - 1) > SUM_TOLERANCE)
        _fail(
            f"{source}: expected each image's 10 scores to sum to 1, found {sums[off[0]]:.4g} "
            f"for image {off[0]} ({len(off)} such rows); import with normalise to rescale them"
        )
    return scores.argmax(axis=1), scores


def _read_csv(data: bytes, source: str, normalise: bool) -> tuple[np.ndarray, np.ndarray]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        _fail(f"{source}: expected a UTF-8 text CSV, found binary data")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        _fail(f"{source}: expected a CSV with a header line, found {str(exc).strip() or 'no data'}")
    columns = [c.strip() for c in frame.columns]
    wanted = (["index", "label"], ["index", *(f"p{d}" for d in range(N_CLASSES))])
    if columns not in wanted:
        _fail(
            f"{source}: expected the columns 'index,label' or 'index,p0,…,p9', "
            f"found {','.join(columns)!r}"
        )
    if frame.empty:
        _fail(f"{source}: expected {N_TEST} rows, found only the header")
    frame.columns = columns
    numbers = frame.apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna()  # text, or nothing, where a number belongs
    if bad.to_numpy().any():
        row, col = np.argwhere(bad.to_numpy())[0]
        _fail(
            f"{source}: expected a number in column {columns[col]!r} on line {row + 2}, "
            f"found {frame.iat[row, col]!r}"
        )
    index = numbers["index"].to_numpy()
    _check_index(index, source)
    order = np.argsort(index)
    values = numbers.drop(columns="index").to_numpy()[order]
    return _labels_or_scores(values[:, 0] if values.shape[1] == 1 else values, source, normalise)


def _check_index(index: np.ndarray, source: str) -> None:
    if len(index) != N_TEST:
        _fail(f"{source}: expected {N_TEST} rows (one per test image), found {len(index)}")
    if np.any(index != np.round(index)) or np.any((index < 0) | (index >= N_TEST)):
        bad = index[(index != np.round(index)) | (index < 0) | (index >= N_TEST)][0]
        _fail(f"{source}: expected indices 0..{N_TEST - 1}, found {bad:g}")
    counts = np.bincount(index.astype(np.int64), minlength=N_TEST)
    if np.any(counts != 1):
        twice, missing = np.flatnonzero(counts > 1), np.flatnonzero(counts == 0)
        _fail(
            f"{source}: expected each index 0..{N_TEST - 1} once, found {len(twice)} repeated "
            f"(first {twice[0]}) and {len(missing)} missing (first {missing[0]})"
        )


def _read_npy(data: bytes, source: str, normalise: bool) -> tuple[np.ndarray, np.ndarray]:
    refused = "found Python objects (a pickle): refused, never loaded"
    if data[:1] == b"\x80":  # the first byte of every pickle since protocol 2
        _fail(f"{source}: expected a NumPy .npy array, {refused}")
    if not data.startswith(b"\x93NUMPY"):
        _fail(
            f"{source}: expected a NumPy .npy array (it starts with \\x93NUMPY), found other data"
        )
    try:
        values = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            _fail(f"{source}: expected an array of numbers, {refused}")
        _fail(f"{source}: expected a NumPy .npy array, found {exc}")
    except (OSError, EOFError) as exc:
        _fail(f"{source}: expected a NumPy .npy array, found {exc or 'a truncated file'}")
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "biuf":
        _fail(
            f"{source}: expected an array of numbers, "
            f"found {getattr(values, 'dtype', type(values))}"
        )
    if len(values) != N_TEST:
        _fail(f"{source}: expected {N_TEST} rows (one per test image), found shape {values.shape}")
    return _labels_or_scores(values, source, normalise)


def check_options(pixels: str, outputs: str, source: str) -> None:
    """Refuse an ONNX import's pixel scale or output kind that is not one we know."""
    if pixels not in ("0..1", "0..255") or outputs not in ("probabilities", "logits"):
        _fail(
            f"{source}: pixels '0..1' or '0..255', outputs 'probabilities' or 'logits'; "
            f"found {pixels!r}, {outputs!r}"
        )


def run_onnx(
    model: bytes,
    images: np.ndarray,
    pixels: str,
    outputs: str,
    source: str = "model",
    *,
    limits: untrusted.Limits | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Class scores (N, 10) of images (N, 28, 28) 0..255 by an ONNX model: checked, then
    run in a child process within ``limits`` (:mod:`core.untrusted`)."""
    layout = untrusted.check_model(model, source)
    x = np.asarray(images, np.float32) / (255.0 if pixels == "0..1" else 1.0)
    raw = untrusted.run_model(
        model, x.reshape(len(x), *layout.image), layout, source, limits, progress
    )
    if raw.ndim != 2 or raw.shape[1] != N_CLASSES:
        _fail(f"{source}: expected an output of shape (batch, {N_CLASSES}), found {raw.shape[1:]}")
    raw = raw.astype(np.float64)
    if outputs == "logits":
        raw = np.exp(raw - raw.max(axis=1, keepdims=True))
        raw = raw / raw.sum(axis=1, keepdims=True)
    return raw


def read(
    data: bytes,
    kind: str,
    source: str,
    *,
    pixels: str = "0..1",
    outputs: str = "probabilities",
    normalise: bool = False,
    limits: untrusted.Limits | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(predictions (10000,), scores (10000, 10)) of a file's bytes, or an ImportFileError
    (an ONNX model past its ``limits``: :class:`core.untrusted.ModelRefused`)."""
    _check_size(data, source)
    if kind == "csv":
        return _read_csv(data, source, normalise)
    if kind == "npy":
        return _read_npy(data, source, normalise)
    if kind != "onnx":
        _fail(f"{source}: expected a kind among {KINDS}, found {kind!r}")
    check_options(pixels, outputs, source)
    scores = run_onnx(
        data, load_mnist("test")[0], pixels, outputs, source, limits=limits, progress=progress
    )
    return _labels_or_scores(scores, source, normalise)


# -- imported methods in the cache ----------------------------------------------------------


def import_file(
    data: bytes,
    filename: str,
    name: str,
    *,
    pixels: str = "0..1",
    outputs: str = "probabilities",
    normalise: bool = False,
    limits: untrusted.Limits | None = None,
    progress: Progress | None = None,
) -> Result:
    """Check a file and store it as the imported method ``name`` (replacing one of that
    name); nothing is written unless every check passes (an ONNX model runs within
    ``limits``, the environment's by default)."""
    kind = kind_of(filename)
    method_id = slug(name)
    predictions, scores = read(
        data,
        kind,
        filename,
        pixels=pixels,
        outputs=outputs,
        normalise=normalise,
        limits=limits,
        progress=progress,
    )
    config = ImportConfig(
        name.strip(), hashlib.sha256(data).hexdigest(), kind, pixels, outputs, normalise
    )
    arrays = {"test_pred": predictions.astype(np.int64), "test_scores": scores}
    if kind == "onnx":
        arrays["model"] = np.frombuffer(data, np.uint8)
    meta = {
        "file": Path(filename).name,
        "bytes": len(data),
        "id": method_id,
        "imported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    others = [r for r in imports() if r.meta.get("id") == method_id]
    result = STORE.save(config, arrays, meta)
    for old in others:
        if old.path != result.path:
            delete(old)
    return result


# -- an upload waiting for its import job ------------------------------------------------------

UPLOADS = ".uploads"  # in the cache: uploaded bytes waiting for (or retrying) their import


def stage(data: bytes, filename: str) -> str:
    """Keep an upload's bytes in the cache for an import job; returns their SHA-256 (the
    job's handle on them). The bytes are data: read by :func:`import_staged`, never run."""
    _check_size(data, filename)
    kind_of(filename)
    digest = hashlib.sha256(data).hexdigest()
    folder = cache_root() / UPLOADS
    folder.mkdir(exist_ok=True)
    path = folder / digest
    if not path.exists():
        tmp = folder / f".{digest}.{os.getpid()}"
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return digest


def staged(sha256: str) -> bytes:
    """The bytes :func:`stage` kept, checked against their SHA-256."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        _fail(f"upload: expected a SHA-256 in hexadecimal, found {sha256!r}")
    path = cache_root() / UPLOADS / sha256
    try:
        data = path.read_bytes()
    except OSError:
        _fail(
            f"upload {sha256[:12]}: expected its bytes in the cache, found none (upload it again)"
        )
    if hashlib.sha256(data).hexdigest() != sha256:
        _fail(f"upload {sha256[:12]}: expected bytes of that SHA-256, found others (upload again)")
    return data


def import_staged(
    sha256: str, filename: str, name: str, progress: Progress | None = None, **options
) -> Result:
    """:func:`import_file` on staged bytes (an import job's body); the bytes are dropped once
    imported, kept for a retry when refused."""
    result = import_file(staged(sha256), filename, name, progress=progress, **options)
    (cache_root() / UPLOADS / sha256).unlink(missing_ok=True)
    return result


def imports() -> list[Result]:
    """Every imported method in the cache, oldest first."""
    return STORE.entries()


def find(method_id: str) -> Result:
    found = [r for r in imports() if r.meta.get("id") == method_id]
    if not found:
        names = [r.meta.get("id") for r in imports()]
        _fail(
            f"imported method: expected one of {names or 'none imported yet'}, found {method_id!r}"
        )
    return found[-1]


def config_of(result: Result) -> ImportConfig:
    return ImportConfig(**result.manifest["config"])


def rename(method_id: str, new_name: str) -> Result:
    """Give an imported method another name (and so another id)."""
    old = find(method_id)
    new_id = slug(new_name)
    if new_id != method_id and any(r.meta.get("id") == new_id for r in imports()):
        _fail(f"name: expected one not in use, found {new_name!r} (already {new_id})")
    config = ImportConfig(**{**old.manifest["config"], "name": new_name.strip()})
    result = STORE.save(config, old.arrays, {**old.meta, "id": new_id})
    if result.path != old.path:
        delete(old)
    return result


def delete(result_or_id: Result | str) -> None:
    """Remove an imported method from the cache."""
    result = find(result_or_id) if isinstance(result_or_id, str) else result_or_id
    STORE.remove(result.manifest["config"])
