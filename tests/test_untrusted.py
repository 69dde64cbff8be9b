"""Hostile ONNX models, built with the ``onnx`` package: each is refused with what it
did or held, nothing is cached, and no process of it is left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from core import imported, jobs, tasks, untrusted
from core.errors import ExplorerError
from core.untrusted import Limits, ModelRefused
from tests.conftest import REPO

FAST = Limits(seconds=3, memory_mb=256)


def _model(nodes, inits, inputs=None, output_type=TensorProto.FLOAT, opsets=None) -> bytes:
    """A model x (n, 784) → y (n, 10) around ``nodes``, which must produce ``extra`` (a
    float of shape (1,)) added to x·w, so the run cannot skip them."""
    w = numpy_helper.from_array(np.full((784, 10), 0.01, np.float32), "w")
    graph = helper.make_graph(
        [
            *nodes,
            helper.make_node("MatMul", ["x", "w"], ["xw"]),
            helper.make_node("Add", ["xw", "extra"], ["y"]),
        ],
        "hostile",
        inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 784])],
        [helper.make_tensor_value_info("y", output_type, ["n", 10])],
        [w, *inits],
    )
    model = helper.make_model(
        graph, opset_imports=opsets or [helper.make_opsetid("", 17)], ir_version=8
    )
    return model.SerializeToString()


def _loop(trips: int, addend) -> bytes:
    """A model whose ``extra`` is a Loop of ``trips`` iterations adding the tensor
    ``addend`` (held by the body) to a float."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond"], ["cond_out"]),
            helper.make_node("Add", ["v", addend.name], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1]),
        ],
        [addend],
    )
    inits = [
        numpy_helper.from_array(np.array(trips, np.int64), "trips"),
        numpy_helper.from_array(np.array(True), "go"),
        numpy_helper.from_array(np.zeros(1, np.float32), "v0"),
    ]
    return _model([helper.make_node("Loop", ["trips", "go", "v0"], ["extra"], body=body)], inits)


def _endless_loop() -> bytes:
    """A Loop of 2^40 iterations adding 1 to a float."""
    return _loop(2**40, numpy_helper.from_array(np.ones(1, np.float32), "one"))


def _allocation_bomb(copies: int) -> bytes:
    """Each batch tiled ``copies`` times (batch × copies × 784 floats), then averaged."""
    inits = [numpy_helper.from_array(np.array([copies, 1], np.int64), "repeats")]
    nodes = [
        helper.make_node("Tile", ["x", "repeats"], ["tiled"]),
        helper.make_node("ReduceMean", ["tiled"], ["mean"], keepdims=0),
        helper.make_node("Reshape", ["mean", "one_shape"], ["extra"]),
    ]
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "one_shape"))
    return _model(nodes, inits)


def _external(location: str, nested: bool = False) -> bytes:
    """``extra`` read from external data at ``location`` (in a Loop body if ``nested``)."""
    tensor = numpy_helper.from_array(np.zeros(1, np.float32), "weights")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "4")):
        tensor.external_data.add(key=key, value=value)
    if not nested:
        return _model([helper.make_node("Identity", ["weights"], ["extra"])], [tensor])
    return _loop(1, tensor)


def _custom_op(domain: str) -> bytes:
    node = helper.make_node("Evil", ["x"], ["extra"], domain=domain)
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)]
    return _model([node], [], opsets=opsets)


def _string_output() -> bytes:
    inits = [numpy_helper.from_array(np.zeros(1, np.float32), "extra")]
    return _model([], inits, output_type=TensorProto.STRING)


def _two_inputs() -> bytes:
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 784]),
        helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1]),
    ]
    return _model([], [], inputs=inputs)


def _parents(only: bytes = b"") -> dict[int, int]:
    """Live processes (those whose command line holds ``only``): pid → parent pid."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(") ", 1)[-1].split()
            if only and only not in (proc / "cmdline").read_bytes().split(b"\0"):
                continue
        except OSError:
            continue
        if stat[0] != "Z":
            found[int(proc.name)] = int(stat[1])
    return found


def _models_running() -> dict[int, int]:
    """Live processes of ``core.untrusted`` on this machine: pid → parent pid."""
    return _parents(b"core.untrusted")


def _children_running() -> list[int]:
    """Models run by this test process or what it started (a server, its workers): other
    tests running alongside are not counted."""
    models, parents, me = _models_running(), _parents(), os.getpid()
    mine = []
    for pid in models:
        up = parents.get(pid)
        while up not in (None, 0, 1, me):
            up = parents.get(up)
        if up == me:
            mine.append(pid)
    return sorted(mine)


def _wait(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)


def _import(data: bytes, limits: Limits = FAST):
    return imported.import_file(data, "hostile.onnx", "hostile", outputs="logits", limits=limits)


def test_an_endless_loop_is_stopped_at_the_time_limit(cached_copy):
    start = time.monotonic()
    with pytest.raises(ModelRefused, match=r"hostile.onnx: ran past the time limit of 3 s"):
        _import(_endless_loop())
    assert time.monotonic() - start < FAST.seconds + 10
    assert imported.imports() == [] and _children_running() == []


def test_an_allocation_bomb_is_stopped_at_the_memory_limit(cached_copy):
    # 1,000 images × 400 copies × 784 floats = 1.25 GB, against a 256 MB limit; 20 copies
    # (63 MB) fit, so the refusal is the limit's, not the machine's.
    with pytest.raises(ModelRefused, match=r"exceeded the memory limit of 256 MB"):
        _import(_allocation_bomb(400))
    assert imported.imports() == [] and _children_running() == []
    assert _import(_allocation_bomb(20)).meta["id"] == "yours-hostile"


@pytest.mark.parametrize(
    "model, said",
    [
        (_external("README.md"), "tensor 'weights' stored as external data at 'README.md'"),
        (_external("../../etc/hostname"), "external data at '../../etc/hostname'"),
        (_external("/etc/hostname", nested=True), "external data at '/etc/hostname'"),
        (_custom_op("com.example.evil"), "found the custom-op domain 'com.example.evil'"),
        (_custom_op("com.microsoft"), "found the custom-op domain 'com.microsoft'"),
        (_string_output(), "expected float scores as the first output, found string"),
        (_two_inputs(), "expected a model with one input, found 2"),
        (b"\x08\x07" + b"\xff" * 40, "expected an ONNX model"),
    ],
    ids=[
        "external in cwd",
        "external outside",
        "external nested",
        "custom op",
        "contrib op",
        "string output",
        "two inputs",
        "not onnx",
    ],
)
def test_models_that_reach_past_their_bytes_are_refused_before_running(cached_copy, model, said):
    with pytest.raises(ModelRefused, match=said):
        untrusted.check_model(model, "hostile.onnx")
    with pytest.raises(ExplorerError, match=said):
        _import(model)
    assert imported.imports() == []


def test_the_model_dies_with_the_process_that_runs_it(cached_copy, tmp_path):
    # A process running the endless loop is killed: its model's child must end too.
    model = tmp_path / "loop.onnx"
    model.write_bytes(_endless_loop())
    script = (
        "import sys, numpy as np; from core import untrusted; "
        "data = open(sys.argv[1], 'rb').read(); "
        "layout = untrusted.check_model(data, 'loop'); "
        "untrusted.run_model(data, np.zeros((10, 784), np.float32), layout, 'loop', "
        "untrusted.Limits(seconds=600))"
    )
    runner = subprocess.Popen([sys.executable, "-c", script, str(model)], cwd=REPO)
    _wait(lambda: bool(_children_running()), 30)
    started = _children_running()
    assert started, "the model's child never started"
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    _wait(lambda: not set(started) & set(_models_running()), 10)
    assert not set(started) & set(_models_running())


def test_the_command_line_says_the_limit_in_one_line(cached_copy, tmp_path):
    path = tmp_path / "loop.onnx"
    path.write_bytes(_endless_loop())
    env = {**os.environ, "MNIST_EXPLORER_CACHE": str(cached_copy.parent.parent)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "-q",
            "import",
            str(path),
            "--name",
            "loop",
            "--time-limit",
            "3",
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: loop.onnx: ran past the time limit of 3 s on 10000 images: stopped, nothing "
        "imported"
    ]


def test_the_limits_are_settings(monkeypatch):
    assert untrusted.limits_from_env() == Limits()
    monkeypatch.setenv(untrusted.SECONDS_ENV, "7.5")
    monkeypatch.setenv(untrusted.MEMORY_ENV, "512")
    assert untrusted.limits_from_env() == Limits(7.5, 512)
    assert untrusted.limits_from_env(seconds=2) == Limits(2, 512)
    monkeypatch.setenv(untrusted.MEMORY_ENV, "lots")
    with pytest.raises(ExplorerError, match="MNIST_EXPLORER_MODEL_MEMORY_MB: expected a number"):
        untrusted.limits_from_env()
    with pytest.raises(ExplorerError, match="time limit: expected 0 < seconds"):
        Limits(seconds=0)


def test_an_import_job_stops_at_its_limit_can_be_cancelled_and_reports_progress(
    cached_copy, monkeypatch
):
    runner = tasks.runner()
    try:
        sha = imported.stage(_endless_loop(), "loop.onnx")
        monkeypatch.setenv(untrusted.SECONDS_ENV, "2")  # the worker's setting
        task = tasks.import_task(sha, "loop.onnx", "loop", "0..1", "logits", False)
        runner.submit(task)
        state = jobs.wait(task.id, timeout=120)
        assert state.state == jobs.FAILED
        assert state.error == (
            "loop.onnx: ran past the time limit of 2 s on 10000 images: stopped, nothing imported"
        )
        monkeypatch.setenv(untrusted.SECONDS_ENV, "600")
        task = tasks.import_task(sha, "loop.onnx", "loop again", "0..1", "logits", False)
        runner.submit(task)
        _wait(_children_running)
        assert jobs.read(task.id).state == jobs.RUNNING and _children_running()
        runner.cancel(task.id, "cancelled: nothing imported")
        state = jobs.read(task.id)
        assert state.state == jobs.FAILED and state.error == "cancelled: nothing imported"
        _wait(lambda: not _children_running(), 10)
        assert _children_running() == [] and imported.imports() == []
        assert imported.staged(sha) == _endless_loop()  # kept for a retry
        good = _allocation_bomb(1)
        task = tasks.import_task(
            imported.stage(good, "good.onnx"), "good.onnx", "good", "0..1", "logits", False
        )
        runner.submit(task)
        state = jobs.wait(task.id, timeout=120)
        assert state.state == jobs.DONE and state.total == 10000  # its progress, reported
        assert imported.find("yours-good").meta["file"] == "good.onnx"
        with pytest.raises(ExplorerError, match="found none"):
            imported.staged(task.params["sha256"])  # dropped once imported
    finally:
        runner.close()
