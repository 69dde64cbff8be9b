"""Someone else's ONNX model, run so that it can neither hang, exhaust nor read the server.

Two guards, in this order:

1. :func:`check_model` reads the model's graph with the ``onnx`` package (no operator
   runs) and refuses anything that would make onnxruntime reach past the uploaded bytes:
   a tensor stored as external data (whatever its location), an operator outside the
   standard domains (custom ops), a graph that is not one float image in and float scores
   out.
2. :func:`run_model` runs it in a child process of its own (``python -m core.untrusted``),
   in an empty working folder, with an address-space limit (``RLIMIT_AS``), a CPU-time
   backstop, and a wall-clock limit enforced from outside: past either, the child is
   killed and the caller gets an :class:`~core.errors.ExplorerError` naming the limit.
   The child dies with its parent (a cancelled job takes its model with it).

The limits are settings (:class:`Limits`, read from the environment by
:func:`limits_from_env`, and the command line's ``--time-limit`` / ``--memory-limit``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ExplorerError
from core.progress import Progress

SECONDS_ENV = "MNIST_EXPLORER_MODEL_SECONDS"
MEMORY_ENV = "MNIST_EXPLORER_MODEL_MEMORY_MB"
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
SCORE_TYPES = ("FLOAT", "DOUBLE", "FLOAT16")
IMAGE_SHAPES = ((1, 28, 28), (28, 28), (784,))
N_CLASSES = 10
_REPO = Path(__file__).resolve().parent.parent


class ModelRefused(ExplorerError):
    """A model that may not run here, or that ran past a limit: the message says which."""


@dataclass(frozen=True)
class Limits:
    """What one run of an imported model may use."""

    seconds: float = 120.0  # wall clock for all the images given
    memory_mb: int = 2048  # address space beyond the runner's own (about 200 MB)

    def __post_init__(self):
        if not 0 < self.seconds <= 3600:
            raise ExplorerError(f"time limit: expected 0 < seconds ≤ 3600, found {self.seconds}")
        if not 64 <= self.memory_mb <= 2**20:
            raise ExplorerError(f"memory limit: expected 64..1048576 MB, found {self.memory_mb}")


def limits_from_env(seconds: float | None = None, memory_mb: int | None = None) -> Limits:
    """The limits: those given, else ``MNIST_EXPLORER_MODEL_SECONDS`` / ``…_MEMORY_MB``,
    else the defaults."""
    default = Limits()

    def read(given, env, parse, fallback):
        if given is not None:
            return given
        raw = os.environ.get(env)
        if raw is None:
            return fallback
        try:
            return parse(raw)
        except ValueError:
            raise ExplorerError(f"{env}: expected a number, found {raw!r}") from None

    return Limits(
        read(seconds, SECONDS_ENV, float, default.seconds),
        read(memory_mb, MEMORY_ENV, int, default.memory_mb),
    )


# -- what a model may hold -----------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """How a checked model takes images: its fixed batch size (None: any) and one image's
    shape."""

    batch: int | None
    image: tuple[int, ...]


def _contents(root) -> tuple[list, list]:
    """Every tensor (initialisers, constants, attributes) and every node of a graph or a
    function, those of the graphs nested in them (Loop, If, Scan bodies) included."""
    from onnx import AttributeProto

    tensors, nodes, stack = [], [], [root]
    while stack:
        g = stack.pop()
        tensors += list(getattr(g, "initializer", []))
        for sparse in getattr(g, "sparse_initializer", []):
            tensors += [sparse.values, sparse.indices]
        for node in g.node:
            nodes.append(node)
            for attr in node.attribute:
                tensors += [attr.t] if attr.type == AttributeProto.TENSOR else list(attr.tensors)
                for sparse in [attr.sparse_tensor, *attr.sparse_tensors]:
                    tensors += [sparse.values, sparse.indices]
                stack += [attr.g] if attr.type == AttributeProto.GRAPH else list(attr.graphs)
    return tensors, nodes


def _elem_type(value_info) -> str:
    from onnx import TensorProto

    which = value_info.type.WhichOneof("value")
    if which != "tensor_type":
        return which or "no type"
    return TensorProto.DataType.Name(value_info.type.tensor_type.elem_type)


def _dims(value_info) -> list[int | str]:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else "?" for d in shape.dim]


def check_model(data: bytes, source: str) -> Layout:
    """Refuse a model that could read files, run custom code or take other inputs than
    one image batch; return how it takes images."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(data)  # never reads external data
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelRefused(
            f"{source}: expected an ONNX model, found bytes that are not one ({exc})"
        ) from None
    if not model.HasField("graph"):
        raise ModelRefused(f"{source}: expected an ONNX model, found no graph in it")
    _check_contents(model, source)
    return _layout(model, source)


def _check_contents(model, source: str) -> None:
    """Refuse external data anywhere and operators outside the standard domains."""
    from onnx import TensorProto

    functions = {(f.domain, f.name) for f in model.functions}
    tensors, nodes = _contents(model.graph)
    for function in model.functions:
        more_tensors, more_nodes = _contents(function)
        tensors, nodes = tensors + more_tensors, nodes + more_nodes
    for tensor in tensors:
        if tensor.data_location == TensorProto.EXTERNAL or len(tensor.external_data):
            where = {e.key: e.value for e in tensor.external_data}.get("location", "?")
            raise ModelRefused(
                f"{source}: expected every weight inside the uploaded file, found tensor "
                f"{tensor.name or '(unnamed)'!r} stored as external data at {where!r}: refused, "
                "nothing outside the upload is read"
            )
    for opset in model.opset_import:
        if opset.domain not in STANDARD_DOMAINS | {d for d, _ in functions}:
            raise ModelRefused(
                f"{source}: expected standard ONNX operators only, found the custom-op domain "
                f"{opset.domain!r}: refused"
            )
    for node in nodes:
        if node.domain not in STANDARD_DOMAINS and (node.domain, node.op_type) not in functions:
            raise ModelRefused(
                f"{source}: expected standard ONNX operators only, found {node.op_type!r} of "
                f"the custom-op domain {node.domain!r}: refused"
            )


def _layout(model, source: str) -> Layout:
    """One float image batch in, float scores out: how the model takes images."""
    initialised = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initialised]
    if len(inputs) != 1:
        raise ModelRefused(f"{source}: expected a model with one input, found {len(inputs)}")
    if _elem_type(inputs[0]) != "FLOAT":
        raise ModelRefused(
            f"{source}: expected a float32 image input, found {_elem_type(inputs[0]).lower()}"
        )
    shape = _dims(inputs[0])
    if tuple(shape[1:]) not in IMAGE_SHAPES:
        raise ModelRefused(
            f"{source}: expected an input of shape (batch, 1, 28, 28), (batch, 28, 28) or "
            f"(batch, 784), found {tuple(shape)}"
        )
    if not model.graph.output:
        raise ModelRefused(f"{source}: expected an output of 10 scores per image, found none")
    out = model.graph.output[0]
    if _elem_type(out) not in SCORE_TYPES:
        raise ModelRefused(
            f"{source}: expected float scores as the first output, found {_elem_type(out).lower()}"
        )
    dims = _dims(out) if out.type.tensor_type.HasField("shape") else None  # None: at run time
    if dims is not None and (len(dims) != 2 or dims[1] not in (N_CLASSES, "?")):
        raise ModelRefused(
            f"{source}: expected an output of shape (batch, {N_CLASSES}), found {tuple(dims)}"
        )
    batch = shape[0] if shape[0] != "?" and shape[0] > 0 else None
    return Layout(batch, tuple(shape[1:]))


# -- running it in a child process ----------------------------------------------------------

_EXIT_LOAD, _EXIT_RUN, _EXIT_MEMORY, _EXIT_ORPHAN = 3, 4, 5, 6
_MEMORY_WORDS = (
    "bad_alloc",
    "failed to allocate",
    "memoryerror",
    "cannot allocate",
    "out of memory",
)


def run_model(
    data: bytes,
    images: np.ndarray,
    layout: Layout,
    source: str,
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """The first output (N, …) of a checked model on ``images`` (N, …) float32, computed in
    a child process within ``limits``; :class:`ModelRefused` past a limit or on a failure."""
    limits = limits or limits_from_env()
    n = len(images)
    with tempfile.TemporaryDirectory(prefix="mnist-explorer-model-") as tmp:
        given, empty = Path(tmp, "given"), Path(tmp, "cwd")
        given.mkdir()
        empty.mkdir()
        np.save(given / "model.npy", np.frombuffer(data, np.uint8))
        np.save(given / "images.npy", np.ascontiguousarray(images, np.float32))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(_REPO),
            "MALLOC_ARENA_MAX": "2",
            "OMP_NUM_THREADS": "1",
        }
        args = [str(given), str(layout.batch or 0), str(limits.seconds), str(limits.memory_mb)]
        args.append(str(os.getpid()))  # the child ends if this process is gone
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.untrusted", *args],
            cwd=empty,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        tail: deque[str] = deque(maxlen=20)
        reader = threading.Thread(target=_read_lines, args=(proc, tail, progress, n), daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=limits.seconds + 2)  # + the child's start
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise ModelRefused(
                f"{source}: ran past the time limit of {limits.seconds:g} s on {n} images: "
                "stopped, nothing imported"
            ) from None
        finally:
            if proc.poll() is None:  # interrupted: the model must not outlive us
                proc.kill()
                proc.wait()
        reader.join(timeout=5)
        said = " ".join(line for line in tail if not line.startswith("progress ")).strip()
        if code == 0:
            out = np.load(given / "out.npy", allow_pickle=False)
            if out.shape[:1] != (n,):
                raise ModelRefused(
                    f"{source}: expected one output row per image ({n}), found shape {out.shape}"
                )
            return out
        if code in (_EXIT_MEMORY, -signal.SIGKILL) or any(w in said.lower() for w in _MEMORY_WORDS):
            raise ModelRefused(
                f"{source}: exceeded the memory limit of {limits.memory_mb} MB: stopped, "
                "nothing imported"
            )
        if code == -signal.SIGXCPU:  # the CPU-time backstop
            raise ModelRefused(
                f"{source}: ran past the time limit of {limits.seconds:g} s (CPU time): "
                "stopped, nothing imported"
            )
        if code == _EXIT_LOAD:
            raise ModelRefused(
                f"{source}: expected an ONNX model, found one onnxruntime cannot load ({said})"
            )
        if code == _EXIT_RUN:
            raise ModelRefused(f"{source}: the model failed on the test images ({said})")
        raise ModelRefused(f"{source}: the model's process ended with code {code} ({said})")


def _read_lines(proc: subprocess.Popen, tail: deque, progress: Progress | None, n: int) -> None:
    for raw in proc.stderr:
        line = raw.strip()
        tail.append(line)
        if progress is not None and line.startswith("progress "):
            try:
                progress(min(int(line.split()[1]), n), n)
            except ValueError:
                pass


def _limit_self(seconds: float, memory_mb: int, parent: int) -> bool:
    """Die with the parent, cap memory and CPU time; False if the parent is already gone."""
    import ctypes
    import resource

    try:  # Linux: a killed job leaves no model running
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it was gone before the line above
        return False
    with open("/proc/self/status") as status:
        base_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize"))
    room = base_kb * 1024 + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (room, room))
    cpu = int(2 * seconds) + 10  # two threads at most; the wall clock is the parent's
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    return True


class _Failed(Exception):
    def __init__(self, code: int, exc: BaseException):
        super().__init__(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        self.code = _EXIT_MEMORY if isinstance(exc, MemoryError) else code


def _scores(given: str, batch: int) -> np.ndarray:
    """The model's first output on the images, a batch at a time (progress on stderr)."""
    import onnxruntime as ort

    model = np.load(Path(given, "model.npy"), allow_pickle=False).tobytes()
    images = np.load(Path(given, "images.npy"), allow_pickle=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False  # allocations as asked: the memory limit is exact
    try:
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for any bad model
        raise _Failed(_EXIT_LOAD, exc) from None
    name, step, out = session.get_inputs()[0].name, batch or 1000, []
    try:
        for start in range(0, len(images), step):
            out.append(np.asarray(session.run(None, {name: images[start : start + step]})[0]))
            print(f"progress {min(start + step, len(images))}", file=sys.stderr, flush=True)
    except Exception as exc:
        raise _Failed(_EXIT_RUN, exc) from None
    result = np.concatenate(out) if out else np.empty((0, N_CLASSES), np.float32)
    if result.dtype.kind not in "fiu":
        raise _Failed(_EXIT_RUN, TypeError(f"expected numeric scores, found {result.dtype}"))
    return result


def _child(given: str, batch: int, seconds: float, memory_mb: int, parent: int) -> int:
    """The child's body: limits on itself first, then the model on the images."""
    if not _limit_self(seconds, memory_mb, parent):
        return _EXIT_ORPHAN
    try:
        np.save(Path(given, "out.npy"), _scores(given, batch))
    except _Failed as failed:
        print(failed, file=sys.stderr)
        return failed.code
    return 0


if __name__ == "__main__":
    _given, _batch, _seconds, _memory, _parent = sys.argv[1:6]
    sys.exit(_child(_given, int(_batch), float(_seconds), int(_memory), int(_parent)))
