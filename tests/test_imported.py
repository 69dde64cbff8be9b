"""Your own model, imported: good CSV, NPY and ONNX files become methods whose accuracy is
what their predictions give; every kind of bad file is refused with a message saying what
was expected, by the library and by the command line (exit status 2), and changes nothing
in the cache."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from core import imported, methods
from core.errors import ExplorerError
from tests.conftest import REPO

N = 10000


def _csv(rows: list[str], header: str = "index,label") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def _labels_csv(labels) -> bytes:
    return _csv([f"{i},{v}" for i, v in enumerate(labels)])


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _templates(mnist_train) -> tuple[np.ndarray, np.ndarray]:
    """A linear model: each digit's mean training image as its weights (on 0..1 pixels)."""
    x, y = mnist_train
    flat = x.reshape(len(x), -1).astype(np.float32) / 255
    w = np.stack([flat[y == d].mean(0) for d in range(10)], axis=1)  # (784, 10)
    b = -0.5 * (w * w).sum(0)  # nearest mean, as a linear score
    return w.astype(np.float32), b.astype(np.float32)


def _onnx(w, b, input_shape=("n", 784), output_dim=10, softmax=True) -> bytes:
    """A linear ONNX model: x (input_shape) → reshape (n, len(w)) → x·w + b → (softmax)."""
    nodes = [
        helper.make_node("Reshape", ["x", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["logits" if softmax else "y"]),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["y"], axis=1))
    inits = [
        numpy_helper.from_array(np.array([-1, w.shape[0]], np.int64), "flat_shape"),
        numpy_helper.from_array(w[:, :output_dim], "w"),
        numpy_helper.from_array(b[:output_dim], "b"),
    ]
    graph = helper.make_graph(
        nodes, "templates",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", output_dim])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _expected(mnist_test, w, b, scale=255.0) -> np.ndarray:
    x, _ = mnist_test
    return ((x.reshape(N, -1).astype(np.float32) / scale) @ w + b).argmax(1)


# -- good files become methods ---------------------------------------------------------------


def test_a_csv_of_labels_becomes_a_method(cached_copy, mnist_test):
    _, y = mnist_test
    pred = y.copy()
    pred[:250] = (pred[:250] + 3) % 10
    order = np.random.default_rng(0).permutation(N)  # rows in any order
    data = _csv([f"{i},{pred[i]}" for i in order])
    result = imported.import_file(data, "mine.csv", "My CSV model")
    method = methods.get("yours-my-csv-model")
    assert method.chapter == 0 and method.status().state == "cached"
    assert method.result().accuracy(y) == pytest.approx(0.975)
    np.testing.assert_array_equal(method.result().predictions, pred)
    manifest = result.manifest
    assert manifest["config"]["sha256"] and manifest["meta"]["file"] == "mine.csv"
    assert not method.can_predict_one()


def test_scores_csv_npy_and_normalise_only_when_asked(cached_copy, mnist_test):
    _, y = mnist_test
    scores = np.full((N, 10), 0.02)
    scores[np.arange(N), y] = 0.82
    header = "index," + ",".join(f"p{d}" for d in range(10))
    rows = [f"{i}," + ",".join(f"{v:.4f}" for v in scores[i]) for i in range(N)]
    imported.import_file(_csv(rows, header), "scores.csv", "csv scores")
    assert methods.get("yours-csv-scores").result().accuracy(y) == 1.0
    doubled = _npy(scores * 2)
    with pytest.raises(ExplorerError, match="sum to 1, found 2 for image 0"):
        imported.import_file(doubled, "doubled.npy", "doubled")
    imported.import_file(doubled, "doubled.npy", "doubled", normalise=True)
    np.testing.assert_allclose(methods.get("yours-doubled").result().scores, scores)
    imported.import_file(_npy(y.astype(np.int16)), "labels.npy", "npy labels")
    assert methods.get("yours-npy-labels").result().accuracy(y) == 1.0


@pytest.mark.parametrize(
    ("shape", "pixels", "softmax"),
    [(("n", 784), "0..1", True), (("n", 1, 28, 28), "0..255", False), ((1, 28, 28), "0..1", True)],
)
def test_an_onnx_model_runs_on_the_test_set(cached_copy, mnist_train, mnist_test, shape, pixels,
                                            softmax):  # fmt: skip
    w, b = _templates(mnist_train)
    scale = 255.0 if pixels == "0..1" else 1.0
    if pixels == "0..255":
        w = w / 255.0
    model = _onnx(w, b, shape, softmax=softmax)
    outputs = "probabilities" if softmax else "logits"
    imported.import_file(model, "templates.onnx", "linear", pixels=pixels, outputs=outputs)
    method = methods.get("yours-linear")
    expected = _expected(mnist_test, w, b, scale)
    np.testing.assert_array_equal(method.result().predictions, expected)
    assert 0.7 < method.result().accuracy(mnist_test[1]) < 0.9  # nearest class mean
    assert method.can_predict_one()
    one = method.predict_one(mnist_test[0][7])
    assert one.shape == (10,) and one.argmax() == expected[7] and one.sum() == pytest.approx(1)


def test_rename_and_delete(cached_copy, mnist_test):
    imported.import_file(_labels_csv(mnist_test[1]), "a.csv", "first")
    imported.rename("yours-first", "second name")
    assert [m.id for m in methods.all_methods() if m.chapter == 0] == ["yours-second-name"]
    with pytest.raises(ExplorerError, match="method: expected one of"):
        methods.get("yours-first")
    imported.delete("yours-second-name")
    assert not [m for m in methods.all_methods() if m.chapter == 0]


# -- bad files are refused, and change nothing -----------------------------------------------


def _bad_files(mnist_train, mnist_test):
    _, y = mnist_test
    labels = [f"{i},{v}" for i, v in enumerate(y)]
    w, b = _templates(mnist_train)

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch /tmp/mnist-explorer-pwned",))

    nan, inf = (np.where(np.arange(N)[:, None] == 5, v, np.eye(10)[y]) for v in (np.nan, np.inf))
    return {
        "rows": ("a.csv", _csv(labels[:-1]), "expected 10000 rows"),
        "duplicate index": ("a.csv", _csv([*labels[:-1], "0,7"]), "1 repeated"),
        "out of range": ("a.csv", _csv([*labels[:-1], "10000,7"]), r"0\.\.9999, found 10000"),
        "label range": ("a.csv", _csv([*labels[:-1], "9999,12"]), r"labels 0\.\.9, found 12"),
        "text": ("a.csv", _csv([*labels[:-1], "9999,seven"]), "found 'seven'"),
        "empty": ("a.csv", b"", "found an empty one"),
        "header only": ("a.csv", b"index,label\n", "found only the header"),
        "columns": ("a.csv", _csv(labels, "index,prediction"), "expected the columns"),
        "score columns": ("a.csv", _csv(["0,1,0"], "index,p0,p1"), "expected the columns"),
        "random bytes csv": ("a.csv", np.random.default_rng(0).bytes(5000), "UTF-8"),
        "nan": ("a.npy", _npy(nan), "finite"),
        "inf": ("a.npy", _npy(inf), "finite"),
        "negative": ("a.npy", _npy(np.eye(10)[y] * 1.5 - 0.25), "scores ≥ 0"),
        "not summing": ("a.npy", _npy(np.eye(10)[y] * 0.5), "sum to 1"),
        "npy columns": ("a.npy", _npy(np.zeros((N, 9))), "10 scores per image"),
        "npy rows": ("a.npy", _npy(np.zeros(N - 1, np.int64)), "expected 10000 rows"),
        "npy objects": ("a.npy", _npy(np.array([Payload()] * N, dtype=object)), "a pickle"),
        "pickle as npy": ("a.npy", pickle.dumps(Payload()), "a pickle.*never loaded"),
        "truncated npy": ("a.npy", _npy(np.zeros(N))[:200], "NumPy .npy array"),
        "random bytes npy": ("a.npy", np.random.default_rng(1).bytes(5000), "NumPy .npy"),
        "random bytes onnx": ("a.onnx", np.random.default_rng(2).bytes(5000), "ONNX model"),
        "onnx input": ("a.onnx", _onnx(w[:100], b, ("n", 100)), "expected an input of shape"),
        "onnx output": ("a.onnx", _onnx(w, b, output_dim=9), "expected an output of shape"),
        "too big": ("a.npy", b"\x93NUMPY" + bytes(imported.MAX_BYTES), "at most 50 MB"),
        "extension": ("a.txt", b"0,1", "expected a .csv, .npy or .onnx"),
    }  # fmt: skip


def test_every_bad_file_is_refused_and_the_cache_is_untouched(cached_copy, mnist_train, mnist_test):
    imported.import_file(_labels_csv(mnist_test[1]), "good.csv", "good")  # already there
    before = {p: p.stat().st_mtime_ns for p in (cached_copy.parent.parent / "imported").rglob("*")}
    for case, (filename, data, message) in _bad_files(mnist_train, mnist_test).items():
        with pytest.raises(ExplorerError, match=message):
            imported.import_file(data, filename, "good")  # would replace the good one
        after = {
            p: p.stat().st_mtime_ns for p in (cached_copy.parent.parent / "imported").rglob("*")
        }
        assert after == before, case
    assert not os.path.exists("/tmp/mnist-explorer-pwned")  # no pickle ever ran
    assert methods.get("yours-good").result().accuracy(mnist_test[1]) == 1.0


@pytest.mark.parametrize("case", ["duplicate index", "nan", "onnx output", "npy objects"])
def test_the_command_line_refuses_with_one_line_and_status_2(cached_copy, tmp_path, mnist_train,
                                                              mnist_test, case):  # fmt: skip
    filename, data, message = _bad_files(mnist_train, mnist_test)[case]
    path = tmp_path / filename
    path.write_bytes(data)
    out = subprocess.run(
        [sys.executable, "-m", "core", "-q", "import", str(path), "--name", "x"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "expected" in lines[0]
    assert not (cached_copy.parent.parent / "imported").exists() or not any(
        (cached_copy.parent.parent / "imported").glob("*/manifest.json")
    )
