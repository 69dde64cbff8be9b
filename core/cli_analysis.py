"""``mnist-explorer compare A B``, ``calibration`` and ``duplicates``: error analysis.

``compare A B [--json]`` tests whether two cached methods differ on the test set (exact
McNemar test, bootstrap 95% interval of the accuracy difference); ``calibration [IDS…]
[--json]`` gives each cached method's top-2 accuracy, ECE, Brier score and NLL.
``--corrected`` reads both against the test labels with a person's corrections instead;
``calibration --tempered`` adds each network temperature-scaled (fitted on the training
images its training held out). ``duplicates [--json]`` lists the near-duplicates between
and within the training and test sets, and each method's accuracy on the test images
with a training twin and on the others.
"""

from __future__ import annotations

import argparse
import json

from core import calibration, significance
from core.errors import ExplorerError


def _labels(corrected: bool):
    from core import marks
    from core.data import load_mnist

    return marks.corrected_labels("test") if corrected else load_mnist("test")[1]


def _result(method_id: str):
    from core import methods

    method = methods.get(method_id)
    result = method.result()
    if result is None:
        raise ExplorerError(
            f"{method_id}: expected a computed method, found none cached; "
            f"run `mnist-explorer compute {method_id}` first"
        )
    return method, result


def _compare(args: argparse.Namespace) -> int:
    (a, ra), (b, rb) = _result(args.a), _result(args.b)
    found = significance.paired(a.id, b.id, ra.predictions, rb.predictions, _labels(args.corrected))
    if args.json:
        print(json.dumps(found.as_dict(), indent=1))
        return 0
    print(f"A = {a.name}: {found.a_accuracy:.2%}")
    print(f"B = {b.name}: {found.b_accuracy:.2%}")
    print(f"both right {found.both_right}, both wrong {found.both_wrong}")
    print(found.sentence())
    return 0


def _calibration(args: argparse.Namespace) -> int:
    from core import methods

    chosen = [methods.get(i) for i in args.ids] if args.ids else methods.all_methods()
    labels = _labels(args.corrected)
    rows = []
    for method in chosen:
        if args.ids:
            _, result = _result(method.id)  # asked for by name: it must be there
        elif (result := method.result()) is None:
            continue
        rows.append({"id": method.id, **calibration.summary(result.scores, labels)})
        if args.tempered and isinstance(method, methods.CnnMethod):
            from core import cnn

            t = float(cnn.held_out(method.config).meta["temperature"])
            scaled = calibration.tempered(result.scores, t)
            rows.append(
                {"id": f"{method.id} (T={t:.3f})", "temperature": t}
                | calibration.summary(scaled, labels)
            )
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'id':<40} {'accuracy':>8} {'top-2':>7} {'ECE':>7} {'Brier':>7} {'NLL':>7}")
    for r in rows:
        print(
            f"{r['id']:<40} {r['accuracy']:>8.2%} {r['top-2 accuracy']:>7.2%} "
            f"{r['ECE']:>7.4f} {r['Brier']:>7.4f} {r['NLL']:>7.3f}"
        )
    return 0


def _duplicates(args: argparse.Namespace) -> int:
    from core import duplicates, methods
    from core.progress import tqdm_progress

    wanted = args.kinds or list(duplicates.KINDS)
    for kind in wanted:
        config = duplicates.within(kind)
        if config is not None and duplicates.STORE.load(config) is None:
            with tqdm_progress(f"the {kind} pairs", unit="images") as p:
                duplicates.twins(config, p)
    threshold = {"euclidean": args.threshold, "distortion": args.distortion_threshold}
    limits = {k: threshold["distortion" if "distortion" in k else "euclidean"] for k in wanted}
    kinds, frames = {}, {}
    for kind, limit in limits.items():
        missing = duplicates.what_is_missing(kind)
        if missing is not None:
            kinds[kind] = {"missing": missing}
            continue
        frames[kind] = found = duplicates.pairs(kind, limit)
        kinds[kind] = {"count": len(found), "pairs": found.to_dict(orient="records")}
    accuracy = []
    if "test-train" in frames:
        twin = duplicates.twin_mask(frames["test-train"])
        cached = {m.id: r.predictions for m in methods.all_methods() if (r := m.result())}
        table = duplicates.accuracy_with_and_without(twin, cached, _labels(False))
        accuracy = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    if args.json:
        print(json.dumps({"thresholds": threshold, "kinds": kinds, "accuracy": accuracy}))
        return 0
    for kind, found in kinds.items():
        if "missing" in found:
            print(f"{kind}: not cached yet ({found['missing']})")
            continue
        print(f"{kind}: {found['count']} pairs closer than {limits[kind]:g}")
        for p in found["pairs"][: args.show]:
            a, b = f"{p['a']} ({p['label_a']})", f"{p['b']} ({p['label_b']})"
            print(f"  {a:>10}  {b:>10}  {p['distance']:,.1f}")
    if accuracy:
        print(f"\n{'method':<40} {'with a twin':>11} {'without':>8}")
        for r in accuracy:
            print(f"{r['method']:<40} {r['with a twin']:>11.2%} {r['without']:>8.2%}")
    return 0


def add_commands(sub) -> None:
    """The ``compare``, ``calibration`` and ``duplicates`` subcommands."""
    comp = sub.add_parser("compare", help="whether two methods differ: McNemar, bootstrap")
    comp.add_argument("a", help="a method id (see `methods`)")
    comp.add_argument("b", help="another method id")
    comp.add_argument("--json", action="store_true", help="as JSON")
    comp.add_argument("--corrected", action="store_true", help="on the corrected test labels")
    comp.set_defaults(run=_compare)
    cal = sub.add_parser("calibration", help="how far each method's scores are probabilities")
    cal.add_argument("ids", nargs="*", help="method ids (default: every cached one)")
    cal.add_argument("--json", action="store_true", help="as JSON")
    cal.add_argument("--corrected", action="store_true", help="on the corrected test labels")
    cal.add_argument(
        "--tempered",
        action="store_true",
        help="add each network temperature-scaled on the training images it held out",
    )
    cal.set_defaults(run=_calibration)
    from core import duplicates

    dup = sub.add_parser("duplicates", help="near-duplicates between and within train and test")
    dup.add_argument(
        "--threshold",
        type=float,
        default=duplicates.EUCLIDEAN,
        help=f"Euclidean distance on 0..255 pixels (default {duplicates.EUCLIDEAN:g})",
    )
    dup.add_argument(
        "--distortion-threshold",
        type=float,
        default=duplicates.DISTORTION,
        help=f"distortion (IDM) distance (default {duplicates.DISTORTION:,.0f})",
    )
    dup.add_argument(
        "--kinds",
        nargs="+",
        choices=duplicates.KINDS,
        help="these kinds of pairs only (default: all; the missing within-split searches are run)",
    )
    dup.add_argument("--show", type=int, default=10, help="pairs printed per kind (text only)")
    dup.add_argument("--json", action="store_true", help="as JSON, every pair")
    dup.set_defaults(run=_duplicates)
