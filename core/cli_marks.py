"""``mnist-explorer marks …``: a person's verdicts on labels from the command line.

``marks ls [--split S] [--json]`` lists them, ``marks set --split S INDEX VERDICT [--label
D]`` records one (``none`` removes it), ``marks export FILE [--split S]`` writes them as
CSV (one row per verdict) or as a split's corrected label array (``.npy``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from core import marks
from core.data import SPLITS
from core.errors import ExplorerError


def _scores() -> dict[str, dict[int, float]]:
    """The suspicion score of each marked image, where its split's evidence is cached."""
    from core import suspicious

    out = {}
    for split in SPLITS:
        marked = marks.marks(split)
        if not marked:
            continue
        try:
            ranked = suspicious.suspicious(split, top=None)
        except ExplorerError:  # no evidence cached for this split: its scores stay blank
            continue
        scores = dict(zip(ranked["index"].tolist(), ranked["score"].tolist(), strict=True))
        out[split] = {i: scores[i] for i in marked if i in scores}
    return out


def _ls(args: argparse.Namespace) -> int:
    splits = [args.split] if args.split else list(SPLITS)
    found = {s: marks.marks(s) for s in splits}
    if args.json:
        listed = [
            {"split": s, "index": i, **asdict(m)} for s in splits for i, m in found[s].items()
        ]
        print(json.dumps(listed, indent=1))
        return 0
    for split in splits:
        print(f"{split}: {len(found[split])} verdict(s)")
        for index, m in sorted(found[split].items()):
            fix = f" → {m.label}" if m.label is not None else ""
            print(f"  #{index:<6} {m.verdict}{fix}  ({m.who}, {m.when})")
    return 0


def _set(args: argparse.Namespace) -> int:
    verdict = None if args.verdict == "none" else args.verdict
    mark = marks.set_mark(args.split, args.index, verdict, args.label)
    said = "no verdict" if mark is None else mark.verdict
    if mark is not None and mark.label is not None:
        said += f", the right label {mark.label}"
    print(f"{args.split} #{args.index}: {said}")
    return 0


def _export(args: argparse.Namespace) -> int:
    scores = _scores() if args.file.endswith(".csv") else None
    path = marks.export(args.file, args.split, scores)
    print(f"wrote {path}")
    return 0


def add_commands(sub) -> None:
    """The ``marks`` subcommand and its own subcommands."""
    cmd = sub.add_parser("marks", help="a person's verdicts on labels: list, set, export")
    verbs = cmd.add_subparsers(dest="marks_command", required=True)
    ls = verbs.add_parser("ls", help="every verdict: split, index, verdict, label, who, when")
    ls.add_argument("--split", choices=list(SPLITS))
    ls.add_argument("--json", action="store_true", help="as JSON")
    ls.set_defaults(run=_ls)
    put = verbs.add_parser("set", help="record a verdict on one image's label")
    put.add_argument("--split", choices=list(SPLITS), default="test")
    put.add_argument("index", type=int, help="the image's index in its split")
    put.add_argument("verdict", choices=[*marks.VERDICTS, "none"], help="none removes it")
    put.add_argument("--label", type=int, help="wrong: the right digit (0-9)")
    put.set_defaults(run=_set)
    out = verbs.add_parser("export", help="write the verdicts as .csv, or corrected labels .npy")
    out.add_argument("file", help="a .csv (every verdict) or .npy (one split's labels) path")
    out.add_argument("--split", choices=list(SPLITS), help="only this split (.npy: required)")
    out.set_defaults(run=_export)
