"""The command line: ``mnist-explorer …``, also ``python -m core …``.

Subcommands: ``dashboard`` (serve the app), ``fetch`` and ``info`` (the data and the
cache), ``methods`` (every registered method and its status), ``compute`` (methods, or
everything the pages use, in this process with a progress bar; a dashboard shows them
as running), ``report`` (every cached figure), ``cache`` (list, clear), ``marks`` (a
person's verdicts on labels: :mod:`core.cli_marks`), ``compare``, ``calibration`` and
``duplicates`` (:mod:`core.cli_analysis`), and the chapter commands ``knn``, ``splines``, ``cnn``
(:mod:`core.cli_chapters`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from core import cache, cli_analysis, cli_chapters, cli_marks, untrusted
from core.cache import CACHE_ENV, cache_root, list_entries
from core.data import (
    DATA_DIR_ENV,
    check_folder,
    fetch_mnist,
    load_mnist,
    locate_mnist,
    mnist_raw_dir,
)
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
    import torch

    from core.knn.products import product_plan
    from core.knn.search import PRUNE_MIN_PAIRS

    plan = product_plan()
    print(f"KNN products: {plan.path}  (CPU capability {plan.cpu}; {plan.reason})")
    print(
        f"KNN search:  pruned by certified lower bounds from {PRUNE_MIN_PAIRS[plan.path]:,} "
        "query × training pairs on, these products below"
    )
    if torch.cuda.is_available():
        print(f"CUDA:        {torch.cuda.get_device_name()} (KNN products, every training)")
    entries = list_entries()
    print("cached:" + ("" if entries else "      nothing yet"))
    for e in entries:
        print(f"  {e.name:<12} {e.n_files:>6} files {e.n_bytes / 2**20:>9.1f} MiB  {e.path}")
    return 0


def _report(args: argparse.Namespace) -> int:

    from core.report import all_figures

    figures = all_figures()
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        for variant, f in figures["knn"]["test"].items():
            print(f"KNN {variant:>20}: {100 * f['accuracy_K4_distance']:.2f}% (K=4, distance)")
    return 0


def _cache_ls(args) -> int:
    import core.methods  # noqa: F401 (every store known, so stale entries can be told)

    rows = cache.describe(args.store)
    print(f"cache: {cache_root()}")
    if not rows:
        print("no cached results")
    for r in rows:
        config = "unreadable manifest" if r["config"] is None else json.dumps(r["config"])
        stale = " stale" if r["stale"] else ""
        print(
            f"{r['store']:<22} {r['key']}  {r['created']:<24} {r['bytes'] / 2**20:8.1f} MB"
            f"{stale}  {config}"
        )
    total = sum(r["bytes"] for r in rows)
    n_stale = sum(r["stale"] for r in rows)
    print(
        f"{len(rows)} entries, {total / 2**20:.1f} MB; {n_stale} stale "
        "(`cache clear --stale` removes them)"
    )
    return 0


def _cache_clear(args) -> int:
    import core.methods  # noqa: F401 (every store known, so stale entries can be told)

    n = cache.clear(args.store, stale_only=args.stale)
    what = "stale " if args.stale else ""
    print(
        f"removed {n} {what}cached result(s) of {args.store or 'every store'} from {cache_root()}"
    )
    return 0


def _methods(args: argparse.Namespace) -> int:
    from core import marks
    from core.methods import all_methods

    corrected = marks.corrected_labels("test")
    rows = [m.describe(corrected) for m in all_methods()]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'id':<40} {'status':<8} {'test accuracy':>13}  name")
    for r in rows:
        acc = "" if r["test_accuracy"] is None else f"{100 * r['test_accuracy']:.2f}%"
        status = r["status"] + (f" ({r['reason']})" if r["reason"] else "")
        print(f"{r['id']:<40} {status:<8} {acc:>13}  {r['name']}")
    return 0


def _compute(args: argparse.Namespace) -> int:
    from core import jobs, tasks
    from core.methods import get

    jobs.yield_to_people()  # a dashboard on this machine stays responsive meanwhile
    if args.all:
        todo = [task for task, _ in tasks.everything()]
        if not todo:
            print("everything the pages use is cached (or being computed)")
    elif args.ids:
        todo = [get(i).task() for i in args.ids]
    else:
        raise ExplorerError("compute: expected method ids (see `methods`) or --all, found none")
    failed = []
    for task in todo:
        with tqdm_progress(task.title, unit="steps") as progress:
            state = tasks.run_here(task, progress)
        took = (state.finished or 0) - (state.started or state.created)
        print(
            f"{state.state:>6}  {task.title}  ({took:.1f} s)"
            + (f": {state.error}" if state.error else "")
        )
        if state.state != jobs.DONE:
            failed.append(task.title)
    if failed:
        raise ExplorerError(f"{len(failed)} computation(s) failed: {'; '.join(failed)}")
    return 0


def _suspicious(args: argparse.Namespace) -> int:
    from core import marks, suspicious

    with tqdm_progress("out-of-fold neighbours", unit="pairs") as progress:
        if args.compute and args.split == "train":
            suspicious.train_evidence(compute=True, progress=progress)
    ranked = suspicious.suspicious(args.split, args.top, with_imported=args.with_imported)
    verdicts = marks.verdicts(args.split)
    rows = [
        {
            "index": int(r.index),
            "given": int(r.given),
            "suggested": int(r.suggested),
            "score": round(float(r.score), 6),
            "flagged": int(r.flagged),
            "agree": int(r.agree),
            "mark": verdicts.get(int(r.index)),
        }
        for r in ranked.itertuples()
    ]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'rank':>4} {'index':>6} {'given':>5} {'suggested':>9} {'score':>7}  flagged  mark")
    for rank, r in enumerate(rows, 1):
        print(
            f"{rank:>4} {r['index']:>6} {r['given']:>5} {r['suggested']:>9} {r['score']:>7.4f}  "
            f"{r['flagged']:<7}  {r['mark'] or ''}"
        )
    return 0


def _import(args: argparse.Namespace) -> int:
    from core import imported

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExplorerError(f"{path}: expected a readable file, found {exc.strerror}") from None
    result = imported.import_file(
        data,
        path.name,
        args.name,
        pixels=args.pixels,
        outputs=args.outputs,
        normalise=args.normalise,
        limits=untrusted.limits_from_env(args.time_limit, args.memory_limit),
    )
    y = load_mnist("test")[1]
    acc = float((result.arrays["test_pred"] == y).mean())
    print(f"imported {path.name} as {result.meta['id']} ({args.name}): test accuracy {acc:.2%}")
    return 0


def _imported(args: argparse.Namespace) -> int:
    from core import imported

    if args.action in ("rename", "delete") and not args.id:
        raise ExplorerError(f"imported {args.action}: expected a method id, found none")
    if args.action == "rename" and not args.name:
        raise ExplorerError("imported rename: expected the new name, found none")
    if args.action == "rename":
        result = imported.rename(args.id, args.name)
        print(f"renamed {args.id} to {result.meta['id']} ({args.name})")
    elif args.action == "delete":
        imported.delete(args.id)
        print(f"deleted {args.id}")
    else:
        for r in imported.imports():
            c = r.manifest["config"]
            print(
                f"{r.meta['id']:<30} {c['kind']:<5} {r.meta.get('file', '?'):<30} "
                f"sha256 {c['sha256'][:12]}  {r.meta.get('imported', '?')}"
            )
    return 0


MAX_UPLOAD_MB = 50  # imported models; pictures of digits are capped at 5 MB by core


def _dashboard(args: argparse.Namespace) -> int:
    """Serve the app on localhost (the settings of .streamlit/config.toml, wherever run)."""
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    settings = [
        "--server.address",
        "localhost",
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(MAX_UPLOAD_MB),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]
    command = [sys.executable, "-m", "streamlit", "run", str(app), *settings, *args.streamlit]
    os.execv(sys.executable, command)  # replaces this process: Ctrl-C reaches Streamlit
    return 0  # not reached


def _data_commands(sub) -> None:
    data_help = f"folder holding the four files (default: ${DATA_DIR_ENV}, else the cache)"
    fetch = sub.add_parser("fetch", help="get MNIST and verify its four files")
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
    dash = sub.add_parser("dashboard", help="serve the dashboard at http://localhost:8501")
    dash.add_argument(
        "streamlit", nargs=argparse.REMAINDER, help="Streamlit options, e.g. --server.port 8600"
    )
    dash.set_defaults(run=_dashboard)


def _result_commands(sub) -> None:
    meth = sub.add_parser("methods", help="every method: id, status, test accuracy when cached")
    meth.add_argument("--json", action="store_true", help="as JSON")
    meth.set_defaults(run=_methods)
    comp = sub.add_parser("compute", help="compute methods (or everything) into the cache")
    comp.add_argument("ids", nargs="*", help="method ids (see `methods`)")
    comp.add_argument(
        "--all",
        action="store_true",
        help="everything the pages use that is not cached: methods, folds, tables, maps",
    )
    comp.set_defaults(run=_compute)
    susp = sub.add_parser(
        "suspicious", help="images whose label looks wrong, most suspicious first"
    )
    susp.add_argument("--split", choices=["test", "train"], default="test")
    susp.add_argument("--top", type=int, default=50, help="how many (default 50)")
    susp.add_argument("--json", action="store_true", help="as JSON")
    susp.add_argument(
        "--compute", action="store_true", help="compute the training set's fold votes if missing"
    )
    susp.add_argument(
        "--with-imported",
        action="store_true",
        help="count your imported methods as evidence too (test set)",
    )
    susp.set_defaults(run=_suspicious)
    imp = sub.add_parser("import", help="import your model's test predictions as a method")
    imp.add_argument("file", help="a .csv (index,label or index,p0..p9), .npy or .onnx file")
    imp.add_argument("--name", required=True, help="the method's name")
    imp.add_argument(
        "--pixels",
        choices=["0..1", "0..255"],
        default="0..1",
        help="ONNX: the pixel scale the model expects",
    )
    imp.add_argument(
        "--outputs",
        choices=["probabilities", "logits"],
        default="probabilities",
        help="ONNX: what the model's 10 outputs are",
    )
    imp.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"ONNX: wall-clock limit of the model's run on the test set "
        f"(default ${untrusted.SECONDS_ENV} or {untrusted.Limits().seconds:g})",
    )
    imp.add_argument(
        "--memory-limit",
        type=int,
        default=None,
        metavar="MB",
        help=f"ONNX: memory the model's run may use "
        f"(default ${untrusted.MEMORY_ENV} or {untrusted.Limits().memory_mb})",
    )
    imp.add_argument(
        "--normalise",
        action="store_true",
        help="rescale scores that do not sum to 1 (refused otherwise)",
    )
    imp.set_defaults(run=_import)
    imps = sub.add_parser("imported", help="list, rename or delete imported methods")
    imps.add_argument("action", nargs="?", choices=["ls", "rename", "delete"], default="ls")
    imps.add_argument("id", nargs="?", help="the imported method's id")
    imps.add_argument("name", nargs="?", help="rename: the new name")
    imps.set_defaults(run=_imported)
    report = sub.add_parser("report", help="every cached figure")
    report.add_argument("--json", action="store_true", help="as JSON")
    report.set_defaults(run=_report)
    cache = sub.add_parser("cache", help="list or clear cached results")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    ls = cache_sub.add_parser("ls", help="every cached result: store, key, date, size, config")
    ls.add_argument("store", nargs="?", help="only this store (see `cache ls`)")
    ls.set_defaults(run=_cache_ls)
    clr = cache_sub.add_parser("clear", help="remove cached results (the MNIST files stay)")
    clr.add_argument("store", nargs="?", help="only this store (see `cache ls`)")
    clr.add_argument(
        "--stale",
        action="store_true",
        help="only entries the current code no longer reads (older definitions or versions)",
    )
    clr.set_defaults(run=_cache_clear)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mnist-explorer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)
    _data_commands(sub)
    _result_commands(sub)
    cli_chapters.add_commands(sub)
    cli_marks.add_commands(sub)
    cli_analysis.add_commands(sub)
    # Streamlit's own options (--server.port …) go through `dashboard` untouched.
    args, extra = parser.parse_known_args(argv)
    if args.command == "dashboard":
        args.streamlit = [*extra, *args.streamlit]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
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
