"""Training the chapter-3 networks from scratch, timed side by side in one run.

    .venv/bin/python bench/bench_cnn.py                 # modern CNN and pattern networks
    .venv/bin/python bench/bench_cnn.py --only modern

Nothing is read from the cache: each network is trained anew with the configuration
the project caches (``core.cnn.CONFIGS``), then scored on the 10,000 test images.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from core import load_mnist
from core.cnn.runs import CONFIGS
from core.cnn.train import device, evaluate, to_tensor, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", choices=list(CONFIGS))
    args = parser.parse_args()
    (xtr, ytr), (xte, yte) = load_mnist("train"), load_mnist("test")
    rows = []
    for name in args.only or list(CONFIGS):
        config = CONFIGS[name]
        start = time.perf_counter()
        model, history = train(config, xtr, ytr)
        seconds = time.perf_counter() - start
        out = evaluate(model, to_tensor(xte, config, device()), config.batch)
        acc = float((out["log_probs"].argmax(1).numpy() == yte).mean())
        rows.append((name, config.epochs, seconds, acc))
    print(f"\n{device()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}\n")
    print("| network | epochs | training (s) | s / epoch | test accuracy |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, epochs, seconds, acc in rows:
        print(f"| {name} | {epochs} | {seconds:.0f} | {seconds / epochs:.1f} | {100 * acc:.2f}% |")
    modern = [r for r in rows if r[0] == "modern"]
    if modern:
        verdict = "meets" if modern[0][2] <= 300 and modern[0][3] >= 0.995 else "MISSES"
        print(
            f"\nmodern CNN {verdict} the goal: ≥ 99.5% in ≤ 5 minutes ({np.round(modern[0][2])} s)"
        )


if __name__ == "__main__":
    main()
