"""Spline templates that bend: settings chosen on held-out training images, tested once.

    .venv/bin/python bench/bench_deform.py
    .venv/bin/python bench/bench_deform.py --only validation
    .venv/bin/python bench/bench_deform.py --only epochs

1. Validation: a template set learned from the first 50,000 training images only
   (``LearnedConfig(train_limit=50000)``, cached), matched against 2,000 of the 10,000
   training images it never saw (drawn at random, seeded). Stage 1: the deformation budget
   (bound on each control point's movement × penalty per squared pixel); stage 2, around
   the best of stage 1, one change at a time: the halo's softness while deforming, steps,
   templates per candidate digit, candidate digits. The best accuracy wins (ties: the
   cheaper); it must be :class:`core.splines.DeformConfig`'s default. Bound 0 is the rigid
   matching, for reference.
   Epochs (``--only epochs``): the learned set's training epochs, each set trained on the
   same 50,000 images and matched with the default deformation against the same 2,000;
   the best deformed accuracy wins (ties: fewer epochs); it must be
   :class:`core.splines.LearnedConfig`'s default.
2. Test: the chosen settings with the full learned set (60,000 training images) on the
   10,000 test images, once: accuracy, and seconds beside the rigid prediction of the same
   set (the reference); then the halo width re-scored (the dashboard's slider).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numba
import numpy as np
import torch

from core import splines
from core.data import load_mnist
from core.knn.products import machine_key
from core.splines import deform

BOUNDS = (0.0, 1.0, 2.0, 3.0, 5.0)
PENALTIES = (0.1, 0.5, 2.0)
# Stage 2: how soft the halo is while deforming (first, last sharpness; the cost is read at
# the last), steps, templates per digit, candidate digits.
STAGE2 = (
    dict(sharpness=(2.0, 8.0), final=30.0),
    dict(sharpness=(1.0, 2.0), final=2.0),
    dict(sharpness=(1.0, 3.0), final=3.0),
    dict(sharpness=(1.0, 8.0), final=8.0),
    dict(steps=8),
    dict(steps=30),
    dict(per_digit=2),
    dict(per_digit=5),
    dict(digits=2),
    dict(digits=4),
)


EPOCHS = (8, 12, 16)


def _run(config: deform.DeformConfig, x, y, control) -> tuple[float, float]:
    start = time.perf_counter()
    found = deform.match(x, control, config)
    return float(np.mean(found["distances"].argmin(axis=1) == y)), time.perf_counter() - start


def _cost(c: deform.DeformConfig) -> tuple:
    return (c.digits * c.per_digit * c.steps, c.bound)


def _held() -> tuple[np.ndarray, np.ndarray]:
    """2,000 of the 10,000 training images a ``train_limit=50000`` set never saw (seeded)."""
    xtr, ytr = load_mnist("train")
    held = 50_000 + np.sort(np.random.default_rng(0).choice(10_000, 2_000, replace=False))
    return xtr[held], ytr[held]


def epochs() -> int:
    x, y = _held()
    base = splines.LearnedConfig(train_limit=50_000)
    print(f"## The learned set's epochs ({len(y):,} training images it never saw)\n")
    print("| epochs | training (s) | rigid | deformed (default deformation) |")
    print("|---:|---:|---:|---:|")
    found = {}
    for n in EPOCHS:
        templates = replace(base, epochs=n)
        result = splines.learned_splines(templates)
        control = result.arrays["control"]
        rigid = np.mean(splines.predict_learned(x, control, templates.width) == y)
        found[n] = _run(replace(deform.DeformConfig(), templates=templates), x, y, control)[0]
        print(f"| {n} | {result.meta['seconds']:.0f} | {rigid:.2%} | {found[n]:.2%} |", flush=True)
    chosen = min(found, key=lambda n: (-found[n], n))
    same = chosen == splines.LearnedConfig().epochs
    print(
        f"\nChosen: {chosen} epochs; LearnedConfig's default is "
        f"{'the chosen one' if same else 'NOT the chosen one'}\n"
    )
    return chosen


def validation() -> deform.DeformConfig:
    base = replace(deform.DeformConfig(), templates=splines.LearnedConfig(train_limit=50_000))
    control = splines.learned_splines(base.templates).arrays["control"]
    x, y = _held()
    n = len(y)
    print(f"## Validation ({n:,} training images the templates never saw)\n")
    rigid = np.mean(splines.predict_learned(x, control, base.templates.width) == y)
    print(f"rigid matching of the same templates: {rigid:.2%}\n")
    print(
        f"Stage 1: the deformation budget ({base.digits} digits × {base.per_digit} templates, "
        f"{base.steps} steps, sharpness {base.sharpness} read at {base.final})\n"
    )
    print("| bound (px) | " + " | ".join(f"penalty {p}" for p in PENALTIES) + " |")
    print("|---|" + "---|" * len(PENALTIES))
    tried = {}
    for bound in BOUNDS:
        row = []
        for penalty in PENALTIES:
            config = replace(base, bound=bound, penalty=penalty)
            tried[config] = _run(config, x, y, control)
            row.append(f"{tried[config][0]:.2%}")
            if bound == 0:
                break  # rigid: the penalty changes nothing
        print(f"| {bound:g} | " + " | ".join(row) + " |", flush=True)
    best = min(tried, key=lambda c: (-tried[c][0], _cost(c)))
    print(f"\nStage 2: around the best budget (bound {best.bound:g}, penalty {best.penalty})\n")
    print("| change | accuracy | seconds |")
    print("|---|---|---|")
    for change in STAGE2:
        config = replace(best, **change)
        tried[config] = _run(config, x, y, control)
        what = ", ".join(f"{k} {v}" for k, v in change.items())
        print(f"| {what} | {tried[config][0]:.2%} | {tried[config][1]:.0f} |", flush=True)
    best = min(tried, key=lambda c: (-tried[c][0], _cost(c)))
    chosen = replace(best, templates=splines.LearnedConfig())
    print(
        f"\nChosen: bound {chosen.bound:g} px, penalty {chosen.penalty}, {chosen.steps} steps, "
        f"{chosen.digits} digits × {chosen.per_digit} templates ({tried[best][0]:.2%})"
    )
    same = chosen == deform.DeformConfig()
    print(f"DeformConfig's default is {'the chosen one' if same else 'NOT the chosen one'}\n")
    return chosen


def test(config: deform.DeformConfig) -> None:
    print("## Test (10,000 test images)\n")
    (xte, yte) = load_mnist("test")
    control = splines.learned_splines(config.templates).arrays["control"]
    start = time.perf_counter()
    rigid = splines.predict_learned(xte, control, config.halo)
    rigid_s = time.perf_counter() - start
    result = splines.deformable_splines(config)
    pred = result.arrays["test_pred"]
    seconds = result.meta["seconds"]
    print(f"rigid (reference): {np.mean(rigid == yte):.2%} in {rigid_s:.1f} s")
    print(
        f"deformable: **{np.mean(pred == yte):.2%}** in {seconds:.0f} s "
        f"({seconds / rigid_s:.0f}× the rigid prediction; {result.meta['threads']} threads)\n"
    )
    found = {k: result.arrays[k] for k in ("digits", "deformed", "deformation")}
    found["distances"] = result.arrays["distances"]
    print("| halo width (re-scored) | " + " | ".join(str(w) for w in splines.WIDTHS) + " |")
    print("|---|" + "---|" * len(splines.WIDTHS))
    accs = [
        np.mean(deform.rescore(xte, found, control, w, config).argmin(axis=1) == yte)
        for w in splines.WIDTHS
    ]
    print("| deformable | " + " | ".join(f"{a:.2%}" for a in accs) + " |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("validation", "epochs", "test"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(
        f"{machine_key()['cpu_model']}, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, {numba.get_num_threads()} threads\n"
    )
    chosen = deform.DeformConfig()
    if args.only in (None, "validation"):
        chosen = validation()
    if args.only in (None, "epochs"):
        epochs()
    if args.only in (None, "test"):
        test(chosen)


if __name__ == "__main__":
    main()
