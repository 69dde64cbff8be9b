"""Command line: ``python -m core fetch`` and ``python -m core info``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from core.cache import CACHE_ENV, cache_root, list_entries
from core.data import DATA_DIR_ENV, check_folder, fetch_mnist, locate_mnist, mnist_raw_dir
from core.errors import ExplorerError
from core.progress import tqdm_progress
from core.sources import SOURCES, pick_sources


def _fetch(args: argparse.Namespace) -> int:
    if args.source:
        # Fetch from the named sources even if a valid copy is cached: a way to test them.
        with tqdm_progress("MNIST") as progress:
            folder = fetch_mnist(pick_sources(args.source), progress)
    else:
        with tqdm_progress("MNIST") as progress:
            folder = locate_mnist(args.data_dir, progress=progress)
    print(f"MNIST ready (4 files, MD5 verified) in {folder}")
    return 0


def _info(args: argparse.Namespace) -> int:
    root = cache_root()
    print(f"cache:       {root}" + (f"  (from ${CACHE_ENV})" if os.environ.get(CACHE_ENV) else ""))
    if args.data_dir:
        folder, origin = Path(args.data_dir), "--data-dir"
    elif os.environ.get(DATA_DIR_ENV):
        folder, origin = Path(os.environ[DATA_DIR_ENV]), f"${DATA_DIR_ENV}"
    else:
        folder, origin = mnist_raw_dir(), "the cache"
    problems = check_folder(folder)
    state = f"{len(problems)} of 4 files missing or wrong" if problems else "4 files, MD5 verified"
    print(f"MNIST data:  {folder}  (from {origin}; {state})")
    for problem in problems.values():
        print(f"  - {problem}")
    entries = list_entries()
    print("cached:" + ("" if entries else "      nothing yet"))
    for e in entries:
        print(f"  {e.name:<12} {e.n_files:>6} files {e.n_bytes / 2**20:>9.1f} MiB  {e.path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="get MNIST and verify its four files")
    data_help = f"folder holding the four files (default: ${DATA_DIR_ENV}, else the cache)"
    fetch.add_argument("--data-dir", help=data_help)
    fetch.add_argument(
        "--source",
        action="append",
        choices=list(SOURCES),
        help="fetch from this remote source even if a copy is cached (repeatable)",
    )
    fetch.set_defaults(run=_fetch)
    info = sub.add_parser("info", help="where the data and the cache are, and what is cached")
    info.add_argument("--data-dir", help=data_help)
    info.set_defaults(run=_info)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        return args.run(args)
    except ExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
