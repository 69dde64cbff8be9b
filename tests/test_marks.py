"""A person's verdicts on labels: kept across processes, checked, never cleared as results."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core import cache, marks
from core.errors import ExplorerError
from tests.conftest import REPO


def test_marks_persist_change_and_clear(cached_copy):
    assert marks.marks("test") == {}
    marks.set_mark("test", 1901, "wrong")
    marks.set_mark("test", 582, "unsure")
    marks.set_mark("test", 582, "right")  # a change of mind
    marks.set_mark("train", 7, "wrong")
    assert marks.marks("test") == {1901: "wrong", 582: "right"}
    marks.set_mark("test", 1901, None)
    assert marks.marks("test") == {582: "right"} and marks.marks("train") == {7: "wrong"}
    # Another process (another session of the server) reads the same verdicts.
    read = subprocess.run(
        [sys.executable, "-c", "from core import marks; print(marks.marks('test'))"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert read.stdout.strip() == "{582: 'right'}"
    cache.clear()  # clearing results leaves a person's work alone
    cache.clear(stale_only=True)
    assert marks.marks("test") == {582: "right"}


@pytest.mark.parametrize(
    ("split", "index", "verdict", "message"),
    [
        ("test", 10000, "wrong", r"index: expected 0\.\.9999"),
        ("test", -1, "wrong", r"index: expected 0\.\.9999"),
        ("test", 3, "maybe", "verdict: expected one of"),
        ("validation", 3, "wrong", "split: expected one of"),
    ],
)
def test_bad_marks_are_refused(cached_copy, split, index, verdict, message):
    with pytest.raises(ExplorerError, match=message):
        marks.set_mark(split, index, verdict)
    assert marks.marks("test") == {}


def test_a_damaged_marks_file_is_a_clear_error(cached_copy):
    marks.set_mark("test", 3, "wrong")
    (cached_copy.parent.parent / "marks" / "labels-test.json").write_text("{not json")
    with pytest.raises(ExplorerError, match="expected the JSON of label marks"):
        marks.marks("test")
