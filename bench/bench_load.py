"""Twenty people on the dashboard at once while ``compute --all`` runs: action times.

    .venv/bin/python bench/bench_load.py [--sessions 20] [--seconds 120]

Measured both ways in one run: the app served on localhost from the project's cache
(warm it first: ``mnist-explorer compute --all``) with nothing computing, then from a
copy of it without the CNNs and the maps while ``mnist-explorer compute --all`` trains
them in the background. Each session is a websocket speaking Streamlit's protocol, as a
browser tab does (:mod:`dashboard.load`): page switches, K changes on the KNN page,
gallery pages, image pages. An action's time runs from its request to the end of the
script run it asked for. Reported: each action's count, median and 95th percentile, and
what went wrong (exceptions drawn, actions that never finished, results lost or damaged).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from core.cache import CACHE_ENV, cache_root
from core.knn.products import machine_key
from dashboard.load import LoadReport, computing_everything, damaged, drive, entries, linked_copy
from dashboard.local import serve


def _rows(label: str, report: LoadReport, lost: list[str]) -> list[str]:
    rows = []
    for action, n in sorted(report.counts.items()):
        rows.append(
            f"| {label} | {action} | {n} | {report.percentile(action, 50):.2f} | "
            f"{report.percentile(action, 95):.2f} | {max(report.times[action]):.2f} |"
        )
    rows.append(
        f"| {label} | exceptions / unfinished actions / results lost | "
        f"{len(report.exceptions)} / {len(report.failures)} / {len(lost)} | | | |"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    rows = []
    project = cache_root()
    before = entries(project)
    with serve() as url:
        quiet = drive(url, args.sessions, args.seconds)
    rows += _rows("the project cache, nothing computing", quiet, damaged(project, before))
    with tempfile.TemporaryDirectory() as tmp:
        cache = linked_copy(project, Path(tmp) / "cache")  # without the CNNs and the maps
        env = {CACHE_ENV: str(cache)}
        with serve(env) as url, computing_everything(env):
            busy = drive(url, args.sessions, args.seconds)
        rows += _rows("compute --all training the CNNs", busy, damaged(cache, {}))
    print(
        f"\n{args.sessions} sessions × {args.seconds:.0f} s (Streamlit's websocket protocol), "
        f"{machine_key()['cpu_model']}, CPU capability {torch.backends.cpu.get_cpu_capability()}"
        "\n"
    )
    print("| server | action | count | median (s) | p95 (s) | max (s) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    for what in (*quiet.exceptions, *busy.exceptions, *quiet.failures, *busy.failures):
        print("-", what)


if __name__ == "__main__":
    main()
