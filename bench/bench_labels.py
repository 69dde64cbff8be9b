"""How many crowd-confirmed test-set label errors each kind of evidence ranks near the top.

    .venv/bin/python bench/bench_labels.py --confirmed FILE [--top 50 100] [--mix 2] [--seeds 1 2 3]

``FILE`` is the crowd's verdicts on MNIST test images, kept outside this repository: the
JSON list of Northcutt, Athalye & Mueller (NeurIPS 2021 datasets track), each entry an
``id`` (test index) and ``mturk`` counts of the five workers' answers (``given``,
``guessed``, ``neither``); a label is a confirmed error when fewer than three workers chose
the given one (15 images). A plain JSON list of indices is read too.

Each row ranks the 10,000 test images as the Suspicious labels page does
(:func:`core.suspicious.rank`: cleanlab's label quality on the mean of the sources, then
how many sources flag the label) on one source of out-of-sample scores or a mix of them,
and counts the confirmed errors among the first N. Sources are the cached methods' test
scores (compute them first: ``mnist-explorer compute --all``); a KNN is voted with K = 10,
distance-weighted, as the suspicious-label evidence does. The row marked "today" is
:func:`core.suspicious.test_evidence`. ``--seeds`` adds the modern CNN trained again with
those seeds (its chapter's configuration otherwise), each one and the mean of them all.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from core import knn, methods, suspicious
from core.data import load_mnist
from core.knn.products import machine_key


def confirmed(path: Path) -> set[int]:
    """Test indices whose label the crowd rejected (fewer than 3 of 5 chose it)."""
    data = json.loads(path.read_text())
    if all(isinstance(d, int) for d in data):
        return set(data)
    return {int(d["id"]) for d in data if d["mturk"]["given"] < 3}


def sources() -> dict[str, np.ndarray]:
    """Each cached method's test scores (N, 10); KNNs re-voted with K = 10, distance."""
    out = {}
    k, w = suspicious.KNN_VOTE["k"], suspicious.KNN_VOTE["weights"]
    for method in methods.all_methods():
        if method.chapter == 0 or method.status().state != "cached":
            continue
        if method.id == "knn-idm":
            out[f"{method.id} (K={k})"] = knn.idm_predict(method.cached(), k, w)[1]
        elif method.id.startswith("knn-"):
            out[f"{method.id} (K={k})"] = suspicious.knn_vote(method)
        else:
            out[method.id] = method.result().scores
    return out


def seed_sources(seeds: list[int]) -> dict[str, np.ndarray]:
    """The modern CNN trained again with other seeds (the chapter's configuration
    otherwise; trained here if not cached, a few minutes each), and the mean of them all
    with the cached one as a single source."""
    from dataclasses import replace

    from core import cnn

    out = {}
    for seed in seeds:
        found = cnn.trained(replace(cnn.CONFIGS["modern"], seed=seed)).arrays["test_proba"]
        out[f"cnn-modern seed {seed}"] = found.astype(np.float64) / found.sum(1, keepdims=True)
    base = methods.get("cnn-modern")
    if out and base.status().state == "cached":
        runs = [base.result().scores, *out.values()]
        out[f"mean of {len(runs)} modern CNNs (seeds 0, {', '.join(map(str, seeds))})"] = np.mean(
            runs, axis=0
        )
    return out


def hits(evidence: suspicious.Evidence, wanted: set[int], tops) -> list[int]:
    """How many of ``wanted`` the Suspicious labels ranking of ``evidence`` puts in each top."""
    order = suspicious.rank(evidence)["index"].to_numpy()
    return [len(wanted & set(order[:t].tolist())) for t in tops]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--confirmed", type=Path, required=True)
    parser.add_argument("--top", type=int, nargs="+", default=[50, 100])
    parser.add_argument("--mix", type=int, default=3, help="mixes of up to this many sources")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=[],
        help="also the modern CNN trained with these seeds, each and their mean",
    )
    args = parser.parse_args()
    wanted = confirmed(args.confirmed)
    labels = load_mnist("test")[1].astype(np.int64)
    found = sources() | seed_sources(args.seeds)
    today = suspicious.test_evidence()
    rows = [("today: " + " + ".join(today.sources), hits(today, wanted, args.top))]
    names = sorted(found)
    for r in range(1, args.mix + 1):
        for combo in itertools.combinations(names, r):
            evidence = suspicious.Evidence("test", labels, {n: found[n] for n in combo})
            rows.append((" + ".join(combo), hits(evidence, wanted, args.top)))
    rows.sort(key=lambda row: row[1], reverse=True)
    print(
        f"\n{machine_key()['cpu_model']}, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}; {len(wanted)} confirmed errors\n"
    )
    print("| evidence (mean of) | " + " | ".join(f"in the top {t}" for t in args.top) + " |")
    print("| --- |" + " ---: |" * len(args.top))
    for name, counts in rows:
        print(f"| {name} | " + " | ".join(str(c) for c in counts) + " |")


if __name__ == "__main__":
    main()
