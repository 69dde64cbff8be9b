"""A person's verdicts on labels ("the label is wrong / right / unsure"), kept for good.

One small JSON file per split in ``<cache>/marks/``, written atomically under a file lock,
so two sessions marking at once lose nothing. It is a person's work, not a computed
result: ``cache clear`` leaves it alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock

from core.cache import cache_root
from core.data import SPLITS, load_mnist
from core.errors import ExplorerError

VERDICTS = ("wrong", "right", "unsure")  # the label is wrong / right / can't say
FOLDER = "marks"


def _path(split: str) -> Path:
    if split not in SPLITS:
        raise ExplorerError(f"split: expected one of {list(SPLITS)}, found {split!r}")
    folder = cache_root() / FOLDER
    folder.mkdir(exist_ok=True)
    return folder / f"labels-{split}.json"


def marks(split: str) -> dict[int, str]:
    """Every verdict given on the labels of ``split``: {image index: verdict}."""
    path = _path(split)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ExplorerError(f"{path}: expected the JSON of label marks, found {exc}") from None
    return {int(i): v for i, v in raw.items() if v in VERDICTS}


def set_mark(split: str, index: int, verdict: str | None) -> None:
    """Record a verdict on image ``index`` of ``split`` (None removes it)."""
    n = len(load_mnist(split)[1])
    if not 0 <= int(index) < n:
        raise ExplorerError(f"index: expected 0..{n - 1} in the {split} set, found {index}")
    if verdict is not None and verdict not in VERDICTS:
        raise ExplorerError(f"verdict: expected one of {VERDICTS} or none, found {verdict!r}")
    path = _path(split)
    with FileLock(str(path) + ".lock"):
        current = marks(split)
        if verdict is None:
            current.pop(int(index), None)
        else:
            current[int(index)] = verdict
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({str(i): v for i, v in sorted(current.items())}, indent=1))
        os.replace(tmp, path)
