"""The command line, run as a user runs it: a separate Python process."""

import os
import subprocess
import sys

from core.data import DATA_DIR_ENV
from tests.conftest import REPO


def _run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_fetch_and_info_on_a_ready_cache(mnist_dir):
    fetch = _run("fetch", env={DATA_DIR_ENV: ""})
    assert fetch.returncode == 0, fetch.stderr
    assert "MNIST ready (4 files, MD5 verified)" in fetch.stdout
    assert "using the cached copy" in fetch.stderr
    info = _run("info", env={DATA_DIR_ENV: ""})
    assert info.returncode == 0
    assert f"MNIST data:  {mnist_dir}  (from the cache; 4 files, MD5 verified)" in info.stdout
    assert "MNIST" in info.stdout.split("cached:")[1]


def test_info_says_which_products_the_knn_search_uses_and_why():
    # Capped as a CPU without VNNI runs int8: where plain int8 saturates, it is not chosen.
    info = _run("info", env={"DNNL_MAX_CPU_ISA": "AVX2"})
    line = next(x for x in info.stdout.splitlines() if x.startswith("KNN products: "))
    path = line.split()[2]
    assert path in ("int8", "int8-split", "float32"), line
    assert "worst-case operands" in line and "fastest exact path" in line
    if "int8 off by" in line:
        assert path != "int8", line


def test_a_wrong_data_dir_is_a_clear_error_and_exit_code_2(tmp_path):
    result = _run("fetch", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: data_dir={tmp_path} does not hold the MNIST files")
    assert "Traceback" not in result.stderr
    info = _run("info", "--data-dir", str(tmp_path))
    assert "4 of 4 files missing or wrong" in info.stdout
