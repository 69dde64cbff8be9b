"""Everything the pages use, computed from an empty cache by `mnist-explorer compute --all`.

    .venv/bin/python bench/bench_compute.py [--cache DIR]

A fresh cache folder (a temporary one unless ``--cache``) receives a copy of the MNIST
files and nothing else; the command runs there once, as the README's users run it (a
result that needs another, such as the CNN's map, waits for it in the same run), and a
second time to check that nothing was left. Each computation's seconds are read from its output line
and grouped by the budget that covers it: the performance issue's 8 minutes for what
existed when it was filed (KNN variants and folds, report and learned splines, the three
CNNs); the later methods (distortion KNN, deformable splines, maps, out-of-fold votes)
each keep their own issue's budget and are listed apart.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from core.cache import CACHE_ENV
from core.data import FILES, locate_mnist
from core.knn.products import machine_key

BUDGET_S = 8 * 60
# Titles of the computations the 8-minute budget covers (the rest have their own).
_LATER = re.compile(r"distortion|IDM|deformed|map|out-of-fold|suspicious", re.IGNORECASE)
_LINE = re.compile(r"^\s*(\w+)\s+(.+?)\s+\(([\d.]+) s\)")


def _run(env: dict) -> list[tuple[str, str, float]]:
    out = subprocess.run(
        [sys.executable, "-m", "core", "compute", "--all"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode:
        print(out.stdout, out.stderr, file=sys.stderr)
    return [(m[1], m[2], float(m[3])) for m in map(_LINE.match, out.stdout.splitlines()) if m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="the fresh cache folder (kept afterwards)")
    args = parser.parse_args()
    root = args.cache or Path(tempfile.mkdtemp(prefix="mnist-explorer-bench-"))
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"--cache: expected an empty or new folder, found files in {root}")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        shutil.copy(locate_mnist() / name, raw / name)
    env = os.environ | {CACHE_ENV: str(root)}
    start = time.perf_counter()
    rows = _run(env)
    wall = time.perf_counter() - start
    left = _run(env)  # nothing: one run computed everything
    if left:
        print(f"left for a second run: {[title for _, title, _ in left]}", file=sys.stderr)
    print(
        f"\n{machine_key()['cpu_model']}, {os.cpu_count()} CPUs, torch threads "
        f"{torch.get_num_threads()}, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}; cache {root}\n"
    )
    print("| computation | state | seconds | budget |")
    print("| --- | --- | ---: | --- |")
    covered = 0.0
    for state, title, seconds in rows:
        later = bool(_LATER.search(title))
        covered += 0 if later else seconds
        print(f"| {title} | {state} | {seconds:.1f} | {'its own issue' if later else '8 min'} |")
    print(
        f"\nThe 8-minute set: {covered:.0f} s ({covered / BUDGET_S:.2f}× the budget); "
        f"everything, in one run: {wall:.0f} s wall-clock"
        + (f"; {len(left)} left for a second run" if left else "; nothing left for a second")
        + "."
    )
    if not args.cache:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
