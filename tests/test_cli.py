"""The command line, run as a user runs it: a separate Python process."""

import json
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
    search = next(x for x in info.stdout.splitlines() if x.startswith("KNN search: "))
    assert "pruned by certified lower bounds" in search


def test_a_wrong_data_dir_is_a_clear_error_and_exit_code_2(tmp_path):
    result = _run("fetch", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: data_dir={tmp_path} does not hold the MNIST files")
    assert "Traceback" not in result.stderr
    info = _run("info", "--data-dir", str(tmp_path))
    assert "4 of 4 files missing or wrong" in info.stdout


def test_methods_json_lists_every_registry_entry(cached_copy):
    from core.methods import all_methods

    env = {"MNIST_EXPLORER_CACHE": str(cached_copy.parent.parent)}
    out = _run("methods", "--json", env=env)
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [m["id"] for m in listed] == [m.id for m in all_methods()]
    assert all(m["status"] == "missing" and m["test_accuracy"] is None for m in listed)
    assert {"id", "name", "chapter", "status", "test_accuracy"} <= set(listed[0])
    computed = _run("compute", "knn-raw", env=env)
    assert computed.returncode == 0, computed.stderr
    listed = json.loads(_run("methods", "--json", env=env).stdout)
    raw = next(m for m in listed if m["id"] == "knn-raw")
    assert raw["status"] == "cached" and raw["test_accuracy"] == 0.9714


def test_compute_names_what_it_cannot_compute():
    out = _run("compute", "knn-sheared")
    assert out.returncode == 2 and "method: expected one of" in out.stderr
    out = _run("compute")
    assert out.returncode == 2 and "expected method ids" in out.stderr


def test_dashboard_passes_streamlit_options_through(monkeypatch):
    from core import cli

    seen = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: seen.append(argv))
    assert cli.main(["dashboard", "--server.port", "8600"]) == 0
    argv = seen[0]
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4].endswith("dashboard/app.py")
    assert argv[-2:] == ["--server.port", "8600"]
    assert argv[argv.index("--server.address") + 1] == "localhost"  # unless overridden


def test_compare_and_calibration_of_two_cached_methods(cached_copy, mnist_test):
    from core import calibration, jobs, methods, significance, tasks

    env = {"MNIST_EXPLORER_CACHE": str(cached_copy.parent.parent)}
    a, b = "splines-report-corrected-w1", "splines-report-faithful-w1"
    missing = _run("compare", a, b, env=env)
    assert missing.returncode == 2 and f"{a}: expected a computed method" in missing.stderr
    for method_id in (a, b):
        assert tasks.run_here(methods.get(method_id).task()).state == jobs.DONE
    out = _run("compare", a, b, "--json", env=env)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    ra, rb = methods.get(a).result(), methods.get(b).result()
    expected = significance.paired(a, b, ra.predictions, rb.predictions, mnist_test[1])
    assert found == json.loads(json.dumps(expected.as_dict()))
    assert found["a_only"] + found["both_right"] == round(found["a_accuracy"] * 10_000)
    text = _run("compare", a, b, env=env).stdout
    assert "McNemar's exact" in text and "95% interval" in text
    rows = json.loads(_run("calibration", "--json", env=env).stdout)
    assert [r["id"] for r in rows] == [m.id for m in methods.all_methods() if m.id in (a, b)]
    summary = calibration.summary(ra.scores, mnist_test[1])
    assert next(r for r in rows if r["id"] == a) == {"id": a, **summary}
    unknown = _run("calibration", "knn-raw", env=env)
    assert unknown.returncode == 2 and "knn-raw: expected a computed method" in unknown.stderr


def test_the_command_line_starts_without_the_libraries_only_some_commands_need():
    # captum, scipy.stats and scikit-learn cost a command ~2 s to import: each is imported
    # in the function that uses it (saliency, McNemar, k-means, the per-digit report).
    run = subprocess.run(
        [sys.executable, "-c", "import sys, core.cli; print(*sys.modules)"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    heavy = ("captum", "scipy.stats", "sklearn", "matplotlib")
    assert [m for m in run.stdout.split() if m.startswith(heavy)] == []
