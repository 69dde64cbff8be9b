"""Slices: indices pasted as text, saved and replaced by name, damaged files and entries,
two writers at once, accuracy intervals against the Wilson formula, kept by cache clear."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core import cache, slices
from core.errors import ExplorerError


def test_pasted_indices_and_what_is_refused():
    assert slices.parse_indices("3, 17 40-42\n5;3") == (3, 5, 17, 40, 41, 42)
    for text, said in [
        ("3 four", "found 'four'"),
        ("9-5", "expected a range low-high, found '9-5'"),
        ("9999 10000", "in 0..9999, found 10000"),
        ("  ", "at least one test image"),
    ]:
        with pytest.raises(ExplorerError, match=said):
            slices.parse_indices(text)


def test_saved_replaced_listed_deleted_and_kept_by_cache_clear(tmp_cache):
    with pytest.raises(ExplorerError, match=r"expected one of the saved ones \(none yet\)"):
        slices.get("nope")
    first = slices.save("fours read as nines", [40, 3, 3], source="confusion cell 4-9")
    assert first.indices == (3, 40) and first.who and first.when
    slices.save("thin", range(10), rule={"stroke": (0.5, 1.2, False)})
    slices.save("fours read as nines", [7])  # replaced
    assert list(slices.slices()) == ["fours read as nines", "thin"]
    assert slices.get("fours read as nines").indices == (7,)
    assert slices.get("thin").rule == {"stroke": [0.5, 1.2, False]}
    cache.clear()
    assert "thin" in slices.slices()  # a person's work, not a computed result
    slices.delete("thin")
    assert list(slices.slices()) == ["fours read as nines"]
    for bad in ("", "a/b", "x" * 81, "two\nlines"):
        with pytest.raises(ExplorerError, match="slice name: expected 1 to 80 characters"):
            slices.save(bad, [1])


def test_a_damaged_file_is_a_clear_error_and_a_damaged_entry_is_skipped(tmp_cache):
    slices.save("good", [1, 2])
    path = tmp_cache / "slices" / "slices.json"
    text = path.read_text()
    path.write_text(text[:-3])
    with pytest.raises(ExplorerError, match="expected the JSON of saved slices"):
        slices.slices()
    path.write_text(text.replace("{", '{"bad": {"indices": [99999]},', 1))
    assert list(slices.slices()) == ["good"]


def test_two_writers_at_once_lose_nothing(tmp_cache):
    def write(prefix):
        for i in range(15):
            slices.save(f"{prefix}{i}", [i])

    threads = [threading.Thread(target=write, args=(p,)) for p in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(slices.slices()) == 30


def test_accuracy_intervals_are_wilsons_and_the_csv_has_every_answer():
    labels = np.arange(10_000) % 10
    pred = labels.copy()
    pred[:30] = (pred[:30] + 1) % 10  # wrong on the first 30
    table = slices.accuracy(range(100), {"m": pred}, labels).iloc[0]
    k, n, z = 70, 100, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (table["right"], table["images"]) == (70, 100)
    assert table["from"] == pytest.approx(centre - half, abs=1e-9)
    assert table["to"] == pytest.approx(centre + half, abs=1e-9)
    made = slices.Slice("s", (0, 5, 31))
    lines = slices.to_csv(made, labels, {"m": pred}).splitlines()
    assert lines == ["test index,label,m", "0,0,1", "5,5,6", "31,1,1"]
