"""Slices: named sets of test images, made from any selection and kept.

A slice comes from a confusion cell, a map selection, a gallery, a pasted list of indices
or a rule on the image features (:mod:`core.features`); it is saved by name in one JSON
file, ``<cache>/slices/slices.json``, written atomically under a file lock (two sessions
saving at once lose nothing). Like a person's label marks it is work, not a computed
result: ``cache clear`` leaves it alone. For a slice, every method's accuracy comes with
its 95% Wilson interval (``scipy.stats.binomtest``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock

from core.cache import cache_root
from core.errors import ExplorerError

FOLDER = "slices"
N_TEST = 10_000
LEVEL = 0.95  # the confidence level of a slice's accuracy intervals
NAME = re.compile(r"[^\x00-\x1f/\\]{1,80}")  # a line of text, no path separators
_TOKEN = re.compile(r"^(\d+)(?:-(\d+))?$")


@dataclass(frozen=True)
class Slice:
    """A named set of test images and how it was made."""

    name: str
    indices: tuple[int, ...]  # sorted, distinct, in 0..9999
    source: str = ""  # "confusion cell 4-9 of knn-raw", "pasted", "rule: …"
    rule: dict | None = None  # a feature rule it was made from ({feature: [lo, hi, closed]})
    who: str = ""
    when: str = ""  # ISO 8601, UTC

    @property
    def size(self) -> int:
        return len(self.indices)


def _path() -> Path:
    folder = cache_root() / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "slices.json"


def checked_name(name: str) -> str:
    name = str(name).strip()
    if not NAME.fullmatch(name):
        raise ExplorerError(
            f"slice name: expected 1 to 80 characters of one line without / or \\, found {name!r}"
        )
    return name


def checked_indices(indices) -> tuple[int, ...]:
    """Distinct sorted test indices, or an error naming the first bad one."""
    values = np.asarray(list(indices))
    if values.size == 0:
        raise ExplorerError("slice: expected at least one test image, found none")
    if values.dtype.kind not in "iu":
        raise ExplorerError(f"slice: expected whole test indices, found {values[:3].tolist()}…")
    bad = values[(values < 0) | (values >= N_TEST)]
    if bad.size:
        raise ExplorerError(f"slice: expected test indices in 0..{N_TEST - 1}, found {int(bad[0])}")
    return tuple(int(i) for i in np.unique(values))


def parse_indices(text: str) -> tuple[int, ...]:
    """Indices pasted as text: numbers and ranges ``a-b`` separated by commas, spaces,
    semicolons or new lines (``"3, 17 40-45"``)."""
    found: list[int] = []
    for token in re.split(r"[\s,;]+", text.strip()):
        if not token:
            continue
        m = _TOKEN.match(token)
        if m is None:
            raise ExplorerError(f"indices: expected numbers or ranges like 40-45, found {token!r}")
        lo, hi = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if hi < lo:
            raise ExplorerError(f"indices: expected a range low-high, found {token!r}")
        if hi - lo >= N_TEST:
            raise ExplorerError(
                f"indices: expected a range within 0..{N_TEST - 1}, found {token!r}"
            )
        found.extend(range(lo, hi + 1))
    return checked_indices(found)


def _read(path: Path) -> dict[str, Slice]:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ExplorerError(f"{path}: expected the JSON of saved slices, found {exc}") from None
    if not isinstance(raw, dict):
        raise ExplorerError(f"{path}: expected the JSON of saved slices, found {type(raw)}")
    out = {}
    for name, body in raw.items():
        try:
            out[name] = Slice(
                name,
                checked_indices(body["indices"]),
                str(body.get("source", "")),
                body.get("rule"),
                str(body.get("who", "")),
                str(body.get("when", "")),
            )
        except (KeyError, TypeError, ExplorerError):
            continue  # one damaged entry does not hide the others
    return out


def slices() -> dict[str, Slice]:
    """Every saved slice, by name, oldest first."""
    return _read(_path())


def get(name: str) -> Slice:
    found = slices()
    if name not in found:
        raise ExplorerError(
            f"slice: expected one of {list(found) or 'the saved ones (none yet)'}, found {name!r}"
        )
    return found[name]


def _write(update) -> None:
    path = _path()
    with FileLock(str(path) + ".lock"):
        current = _read(path)
        update(current)
        body = {
            n: {k: v for k, v in asdict(s).items() if k != "name" and v not in (None, "")}
            for n, s in current.items()
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(body, indent=1))
        os.replace(tmp, path)


def save(name: str, indices, source: str = "", rule: dict | None = None) -> Slice:
    """Save (or replace) the slice ``name``; returns it."""
    from core.marks import reviewer

    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rule = (
        None
        if rule is None
        else {k: [float(a), float(b), bool(c)] for k, (a, b, c) in rule.items()}
    )
    made = Slice(checked_name(name), checked_indices(indices), source, rule, reviewer(), when)
    _write(lambda current: current.__setitem__(made.name, made))
    return made


def delete(name: str) -> None:
    get(name)  # an error if there is no such slice
    _write(lambda current: current.pop(name, None))


def accuracy(indices, predictions: dict[str, np.ndarray], labels) -> pd.DataFrame:
    """Every method's accuracy on the images ``indices``, with its Wilson interval at
    :data:`LEVEL` (95%)."""
    from scipy.stats import binomtest

    rows = np.asarray(indices, np.int64)
    labels = np.asarray(labels)[rows]
    out = []
    for name, pred in predictions.items():
        hits = int((np.asarray(pred)[rows] == labels).sum())
        ci = binomtest(hits, len(rows)).proportion_ci(LEVEL, method="wilson")
        out.append(
            {
                "method": name,
                "right": hits,
                "images": len(rows),
                "accuracy": hits / len(rows),
                "from": float(ci.low),
                "to": float(ci.high),
            }
        )
    return pd.DataFrame(out)


def to_csv(made: Slice, labels, predictions: dict[str, np.ndarray]) -> str:
    """The slice as CSV: one row per image, its label and every method's answer."""
    rows = np.asarray(made.indices, np.int64)
    frame = pd.DataFrame({"test index": rows, "label": np.asarray(labels)[rows]})
    for name, pred in predictions.items():
        frame[name] = np.asarray(pred)[rows]
    return frame.to_csv(index=False)
