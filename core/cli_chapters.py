"""``mnist-explorer knn | splines | cnn``: the chapters' computations from the command line.

``knn [--variant V] [--cv] [--all] [--export DIR]`` computes and scores neighbour lists,
``splines [--learned]`` prints the report's templates' table and learns templates,
``cnn train [--model M]`` trains the networks; each prints what it cached.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import ExplorerError
from core.progress import tqdm_progress


def _knn(args: argparse.Namespace) -> int:
    from core import knn

    variants = args.variant or (list(knn.VARIANTS) if args.all else ["raw"])
    for variant in variants:
        config = knn.NeighbourConfig(variant=variant, k_max=args.k_max)
        with tqdm_progress(f"KNN {variant} → test", unit="pairs") as progress:
            result = knn.neighbours(config, progress)
        table = knn.accuracy_table(result, config)
        acc = table.loc[knn.REPORT_K, knn.REPORT_WEIGHTS]
        print(
            f"{variant:>20}: test accuracy {100 * acc:.2f}% (K=4, distance), "
            f"best {100 * table.max().max():.2f}% "
            f"(K={table.stack().idxmax()[0]}, {table.stack().idxmax()[1]}), "
            f"search {result.meta['seconds_search']:.1f} s"
        )
    if args.cv or args.all:
        with tqdm_progress("KNN 5-fold cross-validation", unit="pairs") as progress:
            grid = knn.grid_search(progress=progress, k_max=args.k_max)
        report = grid.loc[[(k, w) for k in knn.GRID_K for w in knn.WEIGHTS]]
        print(report[["mean", "std"]].mul(100).round(3).to_string())
        best = grid["mean"].idxmax()
        print(f"best over K=1..20: K={best[0]}, {best[1]}: {100 * grid['mean'].max():.3f}%")
    if args.export:
        from core.export import export_knn

        for path in export_knn(Path(args.export)):
            print(f"wrote {path}")
    return 0


def _splines(args: argparse.Namespace) -> int:
    from core import splines
    from core.data import load_mnist
    from core.splines.learned import LearnedConfig

    table = splines.report_spline_table()
    print("| halo width | faithful, the report's 100 images | faithful, test | corrected, test |")
    print("| ---: | ---: | ---: | ---: |")
    for w in splines.WIDTHS:
        f, c = table[("faithful", w)], table[("corrected", w)]
        print(
            f"| {w} | {100 * f['report_sample']:.0f}% | {100 * f['test']:.2f}% "
            f"| {100 * c['test']:.2f}% |"
        )
    if args.learned:
        chosen = {} if args.epochs is None else {"epochs": args.epochs}
        config = LearnedConfig(templates_per_digit=args.templates, width=args.width, **chosen)
        with tqdm_progress("learning spline templates", unit="steps") as progress:
            splines.learned_splines(config, progress)
    y = load_mnist("test")[1]
    # Sets trained on all 60,000 images (those of a train_limit are validation sets).
    entries = splines.LEARNED_STORE.entries()
    learned = [r for r in entries if not r.manifest["config"]["train_limit"]]
    if learned:
        print(
            "\n| learned templates per digit | strokes | halo width | epochs | test accuracy "
            "| training (s) |"
        )
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in sorted(
            learned,
            key=lambda r: (
                r.manifest["config"]["width"],
                r.manifest["config"]["templates_per_digit"],
            ),
        ):
            c = r.manifest["config"]
            acc = (r.arrays["test_pred"] == y).mean()
            print(
                f"| {c['templates_per_digit']} | {c['strokes']} | {c['width']} | {c['epochs']} "
                f"| {100 * acc:.2f}% | {r.meta['seconds']:.0f} |"
            )
    return 0


def _cnn(args: argparse.Namespace) -> int:
    from core import cnn
    from core.data import load_mnist

    y = load_mnist("test")[1]
    for name in args.model or list(cnn.CONFIGS):
        if name not in cnn.CONFIGS:
            raise ExplorerError(f"model: expected one of {list(cnn.CONFIGS)}, found {name!r}")
        config = cnn.CONFIGS[name]
        with tqdm_progress(f"training {name}", unit="epochs") as progress:
            result = cnn.trained(config, progress)
        acc = (result.arrays["test_pred"] == y).mean()
        print(
            f"{name:>17}: test accuracy {100 * acc:.2f}%, trained in "
            f"{result.meta['seconds']:.0f} s on {result.meta['device']}"
        )
    return 0


def add_commands(sub) -> None:
    """The chapter commands' parsers, on the main parser's subcommands ``sub``."""
    knn = sub.add_parser("knn", help="compute and cache KNN neighbours (chapter 1)")
    knn.add_argument("--variant", action="append", help="training-set variant (repeatable)")
    knn.add_argument("--cv", action="store_true", help="the 5-fold cross-validation grid")
    knn.add_argument("--all", action="store_true", help="every variant and the grid")
    knn.add_argument("--k-max", type=int, default=20, help="neighbours kept per query")
    knn.add_argument("--export", metavar="DIR", help="write CSV tables of cached results")
    knn.set_defaults(run=_knn)
    spl = sub.add_parser("splines", help="the report's spline halos, and learned ones")
    spl.add_argument("--learned", action="store_true", help="learn templates (minutes)")
    spl.add_argument("--templates", type=int, default=20, help="templates per digit")
    spl.add_argument("--width", type=int, default=1, help="halo width of learned templates")
    spl.add_argument("--epochs", type=int, help="training passes (default: the chosen 12)")
    spl.set_defaults(run=_splines)
    cnn = sub.add_parser("cnn", help="train and cache the CNNs (chapter 3)")
    cnn_sub = cnn.add_subparsers(dest="cnn_command", required=True)
    cnn_train = cnn_sub.add_parser("train", help="train (or read from the cache)")
    cnn_train.add_argument(
        "--model",
        action="append",
        help="pattern-faithful, pattern-repaired or modern (repeatable; default: all three)",
    )
    cnn_train.set_defaults(run=_cnn)
