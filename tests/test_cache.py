"""The cache under faults: corrupt, foreign and planted entries; a writer killed mid-write;
two processes asking for the same missing result; the ls/clear commands."""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core import cache
from core.cache import Store
from core.cli import main
from core.errors import ExplorerError
from tests.conftest import REPO


@dataclass(frozen=True)
class Cfg:
    n: int = 3
    seed: int = 0


STORE = Store("demo", "data-checksum", 1)


def _compute(n=3):
    return {"x": np.arange(n), "y": np.eye(n)}, {"note": "computed"}


def test_roundtrip_and_config_is_the_key(tmp_cache):
    calls = []

    def compute():
        calls.append(1)
        return _compute()

    first = STORE.get_or_compute(Cfg(), compute)
    again = STORE.get_or_compute(Cfg(), compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(again.arrays["y"], np.eye(3))
    manifest = json.loads((first.path / "manifest.json").read_text())
    assert manifest["config"] == {"n": 3, "seed": 0} and manifest["code_version"] == 1
    assert set(manifest) >= {"created", "data_checksum", "files", "meta", "method"}
    assert STORE.path(Cfg(seed=1)) != first.path
    assert Store("demo", "data-checksum", 2).load(Cfg()) is None  # another code version


@pytest.mark.parametrize(
    "damage",
    ["truncate", "flip", "manifest-json", "manifest-foreign", "extra-file", "missing-array"],
)
def test_damaged_entry_is_reported_once_and_recomputed(tmp_cache, caplog, damage):
    path = STORE.get_or_compute(Cfg(), _compute).path
    arrays = path / "arrays.npz"
    if damage == "truncate":
        arrays.write_bytes(arrays.read_bytes()[:100])
    elif damage == "flip":
        data = bytearray(arrays.read_bytes())
        data[len(data) // 2] ^= 0xFF
        arrays.write_bytes(bytes(data))
    elif damage == "manifest-json":
        (path / "manifest.json").write_text("{not json")
    elif damage == "manifest-foreign":  # an entry of another method copied under this key
        manifest = json.loads((path / "manifest.json").read_text())
        manifest["method"] = "other"
        (path / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "extra-file":
        (path / "stray.bin").write_bytes(b"x")
    else:
        arrays.unlink()
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        assert STORE.load(Cfg()) is None
        assert STORE.load(Cfg()) is None  # removed: not reported a second time
    assert len([r for r in caplog.records if "discarding" in r.message]) == 1
    result = STORE.get_or_compute(Cfg(), _compute)
    np.testing.assert_array_equal(result.arrays["x"], np.arange(3))


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_planted_pickle_is_refused_and_never_run(tmp_cache, tmp_path, caplog):
    marker = tmp_path / "payload-ran"
    path = STORE.get_or_compute(Cfg(), _compute).path
    arrays = path / "arrays.npz"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(str(marker))
    np.savez(arrays, x=evil)  # an object array: stored as a pickle inside the .npz
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["arrays.npz"] = cache._sha256(arrays)  # a consistent-looking entry
    (path / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        assert STORE.load(Cfg()) is None
    assert not marker.exists()
    assert "pickle" in caplog.text.lower()
    assert pickle.dumps(evil)  # the payload is a real pickle (the test could fail)


_WORKER = textwrap.dedent(
    """
    import os, sys, time
    from dataclasses import dataclass
    import numpy as np
    from core.cache import Store

    @dataclass(frozen=True)
    class Cfg:
        n: int = 3
        seed: int = 0

    mode, counter = sys.argv[1], sys.argv[2]
    store = Store("demo", "data-checksum", 1)

    def compute():
        with open(counter, "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(1.0)  # long enough for the other process to arrive
        return {"x": np.arange(1_000_000)}, {"pid": os.getpid()}

    if mode == "hang-in-write":
        real = np.savez

        def savez_then_hang(file, **arrays):
            real(file, **arrays)
            with open(file, "r+b") as f:
                f.truncate(os.path.getsize(file) // 2)  # half the bytes are on disk
            open(counter + ".writing", "w").close()
            time.sleep(600)

        np.savez = savez_then_hang
    result = store.get_or_compute(Cfg(), compute)
    print(result.meta["pid"], int(result.arrays["x"].sum()))
    """
)


def _worker(mode: str, counter: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER, mode, str(counter)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_sigkill_in_the_middle_of_writing_leaves_the_cache_consistent(tmp_cache, tmp_path):
    other = STORE.get_or_compute(Cfg(n=5), lambda: _compute(5))  # an entry that must survive
    counter = tmp_path / "calls"
    proc = _worker("hang-in-write", counter)
    deadline = time.monotonic() + 60
    while not Path(str(counter) + ".writing").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the worker never reached the write"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # Half an entry exists only in scratch space: the cache has no entry, the other is intact.
    assert STORE.load(Cfg()) is None
    assert any((tmp_cache / ".tmp").iterdir())
    np.testing.assert_array_equal(STORE.load(Cfg(n=5)).arrays["y"], other.arrays["y"])
    # The lock died with its holder: the next run computes and reads it back.
    proc = _worker("normal", counter)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert int(out.split()[1]) == sum(range(1_000_000))
    assert len(counter.read_text().split()) == 2  # killed once, computed once more


def test_two_processes_compute_a_missing_result_once(tmp_cache, tmp_path):
    counter = tmp_path / "calls"
    procs = [_worker("normal", counter) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(e for _, e in outs)
    computed_by = {o.split()[0] for o, _ in outs}
    assert len(counter.read_text().split()) == 1  # one computation…
    assert len(computed_by) == 1  # …whose result both processes read


def test_cli_cache_ls_and_clear(tmp_cache, capsys):
    STORE.get_or_compute(Cfg(), _compute)
    Store("other", "data-checksum", 1).get_or_compute(Cfg(), _compute)
    (tmp_cache / "MNIST" / "raw").mkdir(parents=True)
    assert main(["cache", "ls"]) == 0
    out = capsys.readouterr().out
    assert "demo" in out and "other" in out and "2 entries" in out and '"seed": 0' in out
    assert main(["cache", "clear", "demo"]) == 0
    assert "removed 1" in capsys.readouterr().out
    assert STORE.load(Cfg()) is None
    assert Store("other", "data-checksum", 1).load(Cfg()) is not None
    assert main(["cache", "clear"]) == 0
    assert (tmp_cache / "MNIST" / "raw").is_dir()  # the data stays
    assert main(["cache", "clear", "nope"]) == 2
    assert "expected a store among" in capsys.readouterr().err
    with pytest.raises(ExplorerError):
        cache.clear("nope")


def test_entries_of_older_code_are_stale_listed_and_cleared(tmp_cache, capsys, monkeypatch):
    # The current entry, one written by an older code version of the same store, and a
    # folder no store owns any more (the layout of an older release).
    current = STORE.get_or_compute(Cfg(), _compute)
    older = Store("demo", "data-checksum", 0).get_or_compute(Cfg(n=4), lambda: _compute(4))
    monkeypatch.setitem(cache._STORES, "demo", STORE)  # the older Store() registered itself
    gone = Store("retired", "data-checksum", 1).get_or_compute(Cfg(), _compute)
    monkeypatch.delitem(cache._STORES, "retired")
    assert [cache.is_stale(p) for p in (current.path, older.path, gone.path)] == [
        False, True, True,
    ]  # fmt: skip
    assert main(["cache", "ls"]) == 0
    assert "3 entries" in capsys.readouterr().out
    assert main(["cache", "clear", "--stale"]) == 0
    assert "removed 2 stale" in capsys.readouterr().out
    assert not older.path.exists() and not gone.path.parent.exists()
    assert STORE.load(Cfg()) is not None  # what the current code reads stays
