"""Reading the IDX format of the MNIST files (raw or gzip-compressed).

An IDX file is a 4-byte magic number ``0x00 0x00 <type code> <ndim>``, then ``ndim``
big-endian int32 sizes, then the values in C order, big-endian.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from core.errors import DataError

# Type code in the magic number -> numpy dtype (big-endian as the format says).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | Path) -> bytes:
    """Return the content of ``path``, decompressed if it is gzip data.

    Compression is recognised by the file's first bytes, not its name.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path}: expected valid gzip data, found a corrupt or truncated archive ({exc})"
        ) from None


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX ``data`` into an array of the shape and dtype its header gives.

    Raises :class:`~core.errors.DataError` naming ``name`` for a wrong magic number,
    an unknown type code, a truncated header or body, or trailing bytes.
    """
    if len(data) < 4:
        raise DataError(
            f"{name}: expected an IDX header of at least 4 bytes, found {len(data)} bytes"
        )
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or code not in IDX_DTYPES:
        raise DataError(
            f"{name}: not an IDX file: expected a magic number 0x0000TTNN with a type "
            f"code TT in {sorted(hex(c) for c in IDX_DTYPES)}, found 0x{data[:4].hex()}"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(
            f"{name}: truncated header: {ndim} dimensions need {header_len} bytes, "
            f"found {len(data)}"
        )
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_len
    if found != expected:
        what = "truncated body" if found < expected else "trailing bytes after the body"
        raise DataError(
            f"{name}: {what}: shape {shape} of {dtype.name} needs {expected} bytes "
            f"after the header, found {found}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    # Native byte order, owned and writable: callers should not see the file's layout.
    return values.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path) -> np.ndarray:
    """Read the IDX file at ``path`` (raw or gzip) into a numpy array."""
    path = Path(path)
    return parse_idx(read_bytes(path), name=str(path))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (used by tests and for exporting subsets)."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(
            f"IDX can store dtypes {sorted(str(d) for d in codes)}, found {array.dtype}"
        )
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    body = array.astype(IDX_DTYPES[code], copy=False).tobytes()
    Path(path).write_bytes(header + body)
