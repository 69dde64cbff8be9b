"""``pip install .`` gives importable packages, their data, the dependencies and a command.

The wheel is built from this checkout and installed into a folder of its own (without
its dependencies, which this environment already has); the installed command then runs
from another folder, so nothing is imported from the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from email.parser import Parser

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(REPO)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (path,) = out.glob("*.whl")
    return path


def test_the_wheel_holds_every_package_its_data_and_declares_its_needs(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = Parser().parsestr(z.read(next(n for n in names if n.endswith("METADATA"))).decode())
        entry_points = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for module in ("core/jobs.py", "core/knn/search.py", "core/splines/learned.py",
                   "core/cnn/train.py", "dashboard/app.py", "dashboard/views/knn.py",
                   "core/splines/templates/report.json"):  # fmt: skip
        assert module in names, module
    needs = {r.split(">")[0].split("=")[0].strip() for r in meta.get_all("Requires-Dist")}
    assert {"numpy", "torch", "streamlit", "scikit-learn", "plotly", "pandas"} <= needs
    assert "mnist-explorer = core.cli:main" in entry_points


def test_the_installed_command_lists_the_methods(wheel, tmp_path, mnist_dir):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(target), "MNIST_DIR": str(mnist_dir),
                        "MNIST_EXPLORER_CACHE": str(tmp_path / "cache")}  # fmt: skip
    run = subprocess.run(
        [str(target / "bin" / "mnist-explorer"), "methods", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "knn-raw" in {m["id"] for m in json.loads(run.stdout)}
    where = subprocess.run(
        [sys.executable, "-c", "import core; print(core.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(target))  # the installed copy, not the checkout
