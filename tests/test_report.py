"""The JSON report and the CSV exports, from what the cache holds."""

import json
import subprocess
import sys

import pandas as pd

from core.export import export_knn
from core.knn.runs import NeighbourConfig, neighbours
from tests.conftest import REPO


def test_report_json_lists_cached_figures(mnist_dir):
    neighbours(NeighbourConfig())  # cached by the chapter-1 tests, or computed here
    out = subprocess.run(
        [sys.executable, "-m", "core", "-q", "report", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    figures = json.loads(out.stdout)
    raw = figures["knn"]["test"]["raw"]
    assert raw["accuracy_K4_distance"] == 0.9714
    assert raw["accuracy"]["distance"]["3"] == 0.9717
    assert len(raw["per_digit_success_K4_distance"]) == 10
    assert raw["meta"]["n_train"] == 60000 and raw["meta"]["seconds_search"] > 0
    faithful = figures["splines"]["report_templates"]["faithful_width1"]
    assert faithful["report_sample"] == 0.14


def test_csv_exports(tmp_path, mnist_dir, mnist_test):
    neighbours(NeighbourConfig())
    paths = {p.name: p for p in export_knn(tmp_path)}
    per_image = pd.read_csv(paths["knn_test_predictions_K4_distance.csv"], index_col=0)
    assert len(per_image) == 10000 and (per_image["label"] == mnist_test[1]).all()
    assert (per_image["raw"] == per_image["label"]).sum() == 9714
    wrong = pd.read_csv(paths["knn_misclassified_K4_distance.csv"])
    assert (wrong["variant"] == "raw").sum() == 286
    digits = pd.read_csv(paths["knn_per_digit_success_K4_distance.csv"], index_col=0)
    assert digits["support"].sum() == 10000
