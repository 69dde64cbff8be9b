import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DataError
from core.idx import IDX_DTYPES, parse_idx, read_idx, write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0,), (7,), (3, 4, 5), (2, 28, 28)])
def test_roundtrip_keeps_shape_dtype_and_values(tmp_path, dtype, shape):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    write_idx(tmp_path / "a.idx", array)
    back = read_idx(tmp_path / "a.idx")
    assert back.shape == shape
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, array)


def test_header_is_the_published_layout(tmp_path):
    write_idx(tmp_path / "a", np.arange(6, dtype=np.uint8).reshape(2, 3))
    data = (tmp_path / "a").read_bytes()
    assert data[:4] == bytes([0, 0, 0x08, 2])
    assert data[4:12] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert data[12:] == bytes(range(6))


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "plain", array)
    (tmp_path / "no-suffix").write_bytes(gzip.compress((tmp_path / "plain").read_bytes()))
    np.testing.assert_array_equal(read_idx(tmp_path / "no-suffix"), array)


def _idx(tmp_path, array=None):
    path = tmp_path / "f"
    write_idx(path, np.zeros((4, 28, 28), np.uint8) if array is None else array)
    return path, path.read_bytes()


def test_wrong_magic(tmp_path):
    path, data = _idx(tmp_path)
    path.write_bytes(b"\x12\x34" + data[2:])
    with pytest.raises(DataError, match=r"not an IDX file.*found 0x12340803"):
        read_idx(path)


def test_unknown_type_code(tmp_path):
    path, data = _idx(tmp_path)
    path.write_bytes(b"\x00\x00\x07" + data[3:])
    with pytest.raises(DataError, match="type code"):
        read_idx(path)


def test_truncated_body_names_file_and_sizes(tmp_path):
    path, data = _idx(tmp_path)
    path.write_bytes(data[:-10])
    with pytest.raises(DataError, match=r"f: truncated body.*needs 3136 bytes.*found 3126"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path, data = _idx(tmp_path)
    path.write_bytes(data + b"\x00")
    with pytest.raises(DataError, match="trailing bytes"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path, data = _idx(tmp_path)
    path.write_bytes(data[:9])
    with pytest.raises(DataError, match="truncated header"):
        read_idx(path)


@pytest.mark.parametrize("content", [b"", b"\x00\x00"])
def test_too_short_for_a_header(tmp_path, content):
    (tmp_path / "f").write_bytes(content)
    with pytest.raises(DataError, match="at least 4 bytes"):
        read_idx(tmp_path / "f")


def test_corrupt_gzip(tmp_path):
    path, data = _idx(tmp_path)
    path.write_bytes(gzip.compress(data)[:-20])
    with pytest.raises(DataError, match="gzip"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "absent")


def test_dtype_idx_cannot_store(tmp_path):
    with pytest.raises(DataError, match="found complex128"):
        write_idx(tmp_path / "c", np.zeros(3, complex))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_an_array_or_the_project_error(data):
    try:
        array = parse_idx(data)
    except DataError:
        return
    assert isinstance(array, np.ndarray)


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from(sorted(IDX_DTYPES)),
    shape=st.lists(st.integers(0, 5), max_size=3),
    body=st.binary(max_size=300),
)
def test_plausible_headers_with_arbitrary_bodies(code, shape, body):
    header = bytes([0, 0, code, len(shape)]) + np.asarray(shape, ">u4").tobytes()
    try:
        array = parse_idx(header + body)
    except DataError as exc:
        assert "body" in str(exc)
        return
    assert array.shape == tuple(shape)
    assert array.nbytes == len(body)
