"""A person's verdicts on labels: kept across processes with who and when, corrections as
labels, exported, set and listed from the command line, checked, never cleared as
results."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from core import cache, jobs, knn, marks, methods, tasks
from core.data import load_mnist
from core.errors import ExplorerError
from core.knn import NeighbourConfig
from tests.conftest import REPO


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", "-q", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def test_marks_persist_change_and_clear(cached_copy, monkeypatch):
    monkeypatch.setenv(marks.REVIEWER_ENV, "ada")
    assert marks.marks("test") == {}
    marks.set_mark("test", 1901, "wrong")
    marks.set_mark("test", 582, "unsure")
    marks.set_mark("test", 582, "right")  # a change of mind
    marks.set_mark("train", 7, "wrong", who="grace")
    assert marks.verdicts("test") == {1901: "wrong", 582: "right"}
    mark = marks.marks("test")[582]
    assert mark.who == "ada" and mark.when.startswith("20") and mark.label is None
    marks.set_mark("test", 1901, None)
    assert marks.verdicts("test") == {582: "right"} and marks.marks("train")[7].who == "grace"
    # Another process (another session of the server) reads the same verdicts.
    read = subprocess.run(
        [sys.executable, "-c", "from core import marks; print(marks.verdicts('test'))"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert read.stdout.strip() == "{582: 'right'}"
    cache.clear()  # clearing results leaves a person's work alone
    cache.clear(stale_only=True)
    assert marks.verdicts("test") == {582: "right"}


def test_a_correction_makes_the_corrected_labels(cached_copy):
    given = load_mnist("test")[1]
    other = (int(given[1901]) + 1) % 10
    marks.set_mark("test", 1901, "wrong", label=other)
    marks.set_mark("test", 3, "wrong")  # wrong, no right digit named: no correction
    fixed = marks.corrected_labels("test")
    assert marks.corrections("test") == {1901: other}
    assert fixed[1901] == other and (np.delete(fixed, 1901) == np.delete(given, 1901)).all()
    marks.set_mark("test", 1901, "right")  # the correction goes with the verdict
    assert (marks.corrected_labels("test") == given).all()


def test_the_first_format_of_the_file_is_still_read(cached_copy):
    marks.set_mark("test", 0, "right")  # creates the folder
    path = cached_copy.parent.parent / "marks" / "labels-test.json"
    path.write_text(json.dumps({"12": "wrong", "40": "unsure", "41": "nonsense"}))
    assert marks.marks("test") == {12: marks.Mark("wrong"), 40: marks.Mark("unsure")}


@pytest.mark.parametrize(
    ("split", "index", "verdict", "label", "message"),
    [
        ("test", 10000, "wrong", None, r"index: expected 0\.\.9999"),
        ("test", -1, "wrong", None, r"index: expected 0\.\.9999"),
        ("test", 3, "maybe", None, "verdict: expected one of"),
        ("validation", 3, "wrong", None, "split: expected one of"),
        ("test", 3, "wrong", 10, r"label: expected a digit 0\.\.9, found 10"),
        ("test", 3, "right", 5, "label: only a 'wrong' verdict names one"),
        ("test", 0, "wrong", 7, "#0 is labelled 7 already"),  # test image #0 is a 7
    ],
)
def test_bad_marks_are_refused(cached_copy, split, index, verdict, label, message):
    marks.set_mark("test", 5, "unsure")
    with pytest.raises(ExplorerError, match=message):
        marks.set_mark(split, index, verdict, label)
    assert marks.verdicts("test") == {5: "unsure"}  # nothing changed


def test_a_damaged_marks_file_is_a_clear_error(cached_copy):
    marks.set_mark("test", 3, "wrong")
    (cached_copy.parent.parent / "marks" / "labels-test.json").write_text("{not json")
    with pytest.raises(ExplorerError, match="expected the JSON of label marks"):
        marks.marks("test")


def test_the_command_line_sets_lists_and_exports_the_marks(cached_copy, tmp_path):
    given = load_mnist("test")[1]
    label = (int(given[1901]) + 3) % 10
    _cli("marks", "set", "--split", "test", "1901", "wrong", "--label", str(label))
    marks.set_mark("train", 7, "unsure")
    listed = json.loads(_cli("marks", "ls", "--json").stdout)
    assert sorted((m["split"], m["index"], m["verdict"], m["label"]) for m in listed) == [
        ("test", 1901, "wrong", label),
        ("train", 7, "unsure", None),
    ]
    assert all(m["who"] and m["when"] for m in listed)
    # The CSV: one row per verdict; the .npy: one split's corrected labels.
    _cli("marks", "export", str(tmp_path / "marks.csv"))
    with (tmp_path / "marks.csv").open() as f:
        rows = {(r["split"], int(r["index"])): r for r in csv.DictReader(f)}
    assert list(next(iter(rows.values()))) == list(marks.EXPORT_COLUMNS)
    row = rows[("test", 1901)]
    assert (int(row["given"]), row["verdict"], int(row["corrected"])) == (
        given[1901],
        "wrong",
        label,
    )
    assert row["score"] == ""  # no evidence cached in this cache: the score stays blank
    assert rows[("train", 7)]["corrected"] == ""
    saved = np.load(marks.export(tmp_path / "test.npy", "test"), allow_pickle=False)
    assert (saved == marks.corrected_labels("test")).all() and saved[1901] == label


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("set", "--split", "test", "10000", "wrong"), "index: expected 0..9999"),
        (("set", "--split", "test", "3", "wrong", "--label", "12"), "label: expected a digit"),
        (("set", "--split", "test", "3", "maybe"), "invalid choice: 'maybe'"),
        (("export", "out.npy"), "a .npy export holds one split's labels"),
        (("export", "out.json"), "expected a .csv or .npy file name"),
    ],
)
def test_bad_marks_commands_are_refused_and_change_nothing(cached_copy, tmp_path, args, message):
    marks.set_mark("test", 5, "unsure")
    before = (cached_copy.parent.parent / "marks" / "labels-test.json").read_bytes()
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "core", "-q", "marks", *args],
        check=False,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert (cached_copy.parent.parent / "marks" / "labels-test.json").read_bytes() == before
    assert list(work.iterdir()) == []  # no file written


def test_every_method_is_scored_on_the_corrected_labels_too(cached_copy, mnist_dir):
    config = NeighbourConfig()
    source = knn.STORE.path(config)
    if source.exists():  # the project cache's copy (seconds saved); computed otherwise
        shutil.copytree(source, cached_copy.parent.parent / knn.STORE.method / source.name)
    method = methods.get("knn-raw")
    assert tasks.run_here(method.task()).state == jobs.DONE
    pred = knn.predict(knn.cached_neighbours(config), config, 4, "distance")[0]
    given = load_mnist("test")[1]
    wrong = np.flatnonzero(pred != given)[:3]
    for index in wrong:  # a person says the KNN was right on three of its errors
        marks.set_mark("test", int(index), "wrong", label=int(pred[index]))
    row = method.describe()  # what `methods --json` and `report --json` list
    assert row["test_accuracy"] == 0.9714  # the original labels: the report's figure
    assert row["test_accuracy_corrected"] == 0.9717
    assert methods.get("knn-augmented").describe()["test_accuracy_corrected"] is None
    table = methods.overview(
        [method], {method.id: method.result()}, given, marks.corrected_labels("test")
    )
    assert table[["accuracy", "on corrected labels"]].values.tolist() == [[0.9714, 0.9717]]
    assert "on corrected labels" not in methods.overview([method], {}, given).columns
