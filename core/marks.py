"""A person's verdicts on labels ("the label is wrong, it is d / right / unsure"), kept.

One small JSON file per split in ``<cache>/marks/``, written atomically under a file lock,
so two sessions marking at once lose nothing. Each verdict records who gave it and when;
a "wrong" verdict may name the right digit, and those corrections make the split's
corrected labels (:func:`corrected_labels`), exported as CSV or as a label array. It is a
person's work, not a computed result: ``cache clear`` leaves it alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from core.cache import cache_root
from core.data import SPLITS, load_mnist
from core.errors import ExplorerError

VERDICTS = ("wrong", "right", "unsure")  # the label is wrong / right / can't say
FOLDER = "marks"
REVIEWER_ENV = "MNIST_EXPLORER_REVIEWER"  # who the verdicts of this process are from
EXPORT_COLUMNS = ("split", "index", "given", "verdict", "corrected", "score", "when", "who")


@dataclass(frozen=True)
class Mark:
    """One verdict on one image's label."""

    verdict: str
    label: int | None = None  # the right digit, for a "wrong" verdict that names it
    who: str = ""
    when: str = ""  # ISO 8601, UTC


def reviewer() -> str:
    """Who this process records verdicts as: :data:`REVIEWER_ENV`, else the login name."""
    try:
        return os.environ.get(REVIEWER_ENV) or getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "unknown"


def _path(split: str) -> Path:
    if split not in SPLITS:
        raise ExplorerError(f"split: expected one of {list(SPLITS)}, found {split!r}")
    folder = cache_root() / FOLDER
    folder.mkdir(exist_ok=True)
    return folder / f"labels-{split}.json"


def _mark(raw) -> Mark | None:
    if isinstance(raw, str):  # the first format: the verdict alone
        raw = {"verdict": raw}
    if not isinstance(raw, dict) or raw.get("verdict") not in VERDICTS:
        return None
    label = raw.get("label")
    label = None if label is None else int(label)
    return Mark(raw["verdict"], label, raw.get("who", ""), raw.get("when", ""))


def marks(split: str) -> dict[int, Mark]:
    """Every verdict given on the labels of ``split``: {image index: its mark}."""
    path = _path(split)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ExplorerError(f"{path}: expected the JSON of label marks, found {exc}") from None
    if not isinstance(raw, dict):
        raise ExplorerError(f"{path}: expected the JSON of label marks, found {type(raw)}")
    found = {int(i): _mark(m) for i, m in raw.items()}
    return {i: m for i, m in found.items() if m is not None}


def verdicts(split: str) -> dict[int, str]:
    """{image index: verdict} of ``split`` (what a list shows beside each image)."""
    return {i: m.verdict for i, m in marks(split).items()}


def set_mark(
    split: str,
    index: int,
    verdict: str | None,
    label: int | None = None,
    who: str | None = None,
) -> Mark | None:
    """Record a verdict on image ``index`` of ``split`` (None removes it); returns it.

    ``label`` names the right digit of a "wrong" verdict (optional); it must differ from
    the given label, and no other verdict takes one.
    """
    given = load_mnist(split)[1]
    n = len(given)
    if not isinstance(index, int | np.integer) or not 0 <= int(index) < n:
        raise ExplorerError(f"index: expected 0..{n - 1} in the {split} set, found {index}")
    index = int(index)
    if verdict is not None and verdict not in VERDICTS:
        raise ExplorerError(f"verdict: expected one of {VERDICTS} or none, found {verdict!r}")
    if label is not None:
        if verdict != "wrong":
            raise ExplorerError(f"label: only a 'wrong' verdict names one, found {verdict!r}")
        if not isinstance(label, int | np.integer) or not 0 <= int(label) <= 9:
            raise ExplorerError(f"label: expected a digit 0..9, found {label!r}")
        if int(label) == int(given[index]):
            raise ExplorerError(
                f"label: #{index} is labelled {label} already; expected another digit "
                "(or the verdict 'right')"
            )
    mark = None
    if verdict is not None:
        when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        mark = Mark(verdict, None if label is None else int(label), who or reviewer(), when)
    path = _path(split)
    with FileLock(str(path) + ".lock"):
        current = marks(split)
        if mark is None:
            current.pop(index, None)
        else:
            current[index] = mark
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        body = {str(i): _stored(m) for i, m in sorted(current.items())}
        tmp.write_text(json.dumps(body, indent=1))
        os.replace(tmp, path)
    return mark


def _stored(mark: Mark) -> dict:
    return {k: v for k, v in asdict(mark).items() if v is not None and v != ""}


def corrected_labels(split: str) -> np.ndarray:
    """The labels of ``split`` with every correction a "wrong" verdict names applied."""
    labels = load_mnist(split)[1].copy()
    for index, mark in marks(split).items():
        if mark.verdict == "wrong" and mark.label is not None:
            labels[index] = mark.label
    return labels


def corrections(split: str) -> dict[int, int]:
    """{image index: the right digit} of every "wrong" verdict that names one."""
    return {
        i: m.label for i, m in marks(split).items() if m.verdict == "wrong" and m.label is not None
    }


def rows(splits=SPLITS, scores: dict[str, dict[int, float]] | None = None) -> list[dict]:
    """The marks as export rows (:data:`EXPORT_COLUMNS`), split by split, by index.

    ``scores``: {split: {index: suspicion}} where the ranking is at hand (else blank).
    """
    out = []
    for split in splits:
        given = load_mnist(split)[1]
        for index, mark in sorted(marks(split).items()):
            score = (scores or {}).get(split, {}).get(index)
            out.append(
                {
                    "split": split,
                    "index": index,
                    "given": int(given[index]),
                    "verdict": mark.verdict,
                    "corrected": "" if mark.label is None else mark.label,
                    "score": "" if score is None else round(float(score), 6),
                    "who": mark.who,
                    "when": mark.when,
                }
            )
    return out


def export(path: Path, split: str | None = None, scores=None) -> Path:
    """Write the marks to ``path``: ``.csv`` (one row per verdict, every split unless
    ``split``) or ``.npy`` (the corrected label array of ``split``, which it needs)."""
    path = Path(path)
    if path.suffix == ".npy":
        if split is None:
            raise ExplorerError(f"{path.name}: a .npy export holds one split's labels; name it")
        np.save(path, corrected_labels(split), allow_pickle=False)
        return path
    if path.suffix != ".csv":
        raise ExplorerError(
            f"{path.name}: expected a .csv or .npy file name, found {path.suffix!r}"
        )
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows([split] if split else SPLITS, scores))
    return path
