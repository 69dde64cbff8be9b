"""What repairs the pattern network: short trainings side by side, from scratch.

    .venv/bin/python bench/bench_pattern.py [--epochs 5]

Each variant is the repaired network (straight-through estimator) trained with Adam and
a one-cycle schedule on all 60,000 training images for a few epochs, then scored on the
test set; "patterns in use" counts, per zone, the patterns that fire for more than 20
test images. The first row is the reference: the annex's dropout, no usage penalty; each
further row adds one change to the row above.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from core import metrics
from core.cnn.patterns import fired_patterns
from core.cnn.train import CnnConfig, to_tensor, train
from core.cnn.train import evaluate as run_model
from core.data import load_mnist

VARIANTS = {
    "straight-through only (annex dropout 0.5)": {},
    "+ usage penalty 0.1": {"usage_balance": 0.1},
    "+ usage penalty 0.1, no dropout": {"usage_balance": 0.1, "dropout": 0.0},
    "+ shifts of ±1 pixel": {"usage_balance": 0.1, "dropout": 0.0, "shift": 1},
    "+ softmax temperature 0.5": {
        "usage_balance": 0.1, "dropout": 0.0, "shift": 1, "temperature": 0.5,
    },
    "+ usage penalty 0.3 (the cached configuration's changes)": {
        "usage_balance": 0.3, "dropout": 0.0, "shift": 1, "temperature": 0.5,
    },
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    (xtr, ytr), (xte, yte) = load_mnist("train"), load_mnist("test")
    print(f"torch threads {torch.get_num_threads()}, {args.epochs} epochs each")
    print("| variant | test accuracy | patterns in use (of 8, 10, 8) | seconds |")
    print("| --- | ---: | --- | ---: |")
    for name, extra in VARIANTS.items():
        config = CnnConfig(
            model="pattern-repaired", optimizer="adam", schedule="onecycle",
            epochs=args.epochs, val_split=0.0, **extra,
        )  # fmt: skip
        start = time.perf_counter()
        model, _ = train(config, xtr, ytr)
        seconds = time.perf_counter() - start
        out = run_model(model, to_tensor(xte, config, torch.device("cpu")), 256)
        acc = metrics.accuracy(yte, out["log_probs"].argmax(1).numpy())
        fired = fired_patterns(out["activations"].numpy())
        used = [int((np.bincount(fired[:, z]) > 20).sum()) for z in range(3)]
        print(f"| {name} | {acc:.2%} | {', '.join(map(str, used))} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
