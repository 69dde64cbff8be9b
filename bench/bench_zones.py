"""The zone-pattern network, change by change, scored on held-out training images.

    .venv/bin/python bench/bench_zones.py [--epochs 12] [--only NAME ...]

Research for issue #27 (:mod:`core.cnn.zones`): every variant is trained from scratch on
50,000 training images (AdamW, one-cycle schedule peaking at lr 0.005, batches of 128,
shifts of ±1 pixel, usage penalty 0.3, straight-through softmax at temperature 0.5) and
scored on the other 10,000 (a fixed split of the training set; the test set is never
read). "val" is the network's own readout; "val, table of counts" reads each image's
combination of patterns from the table of training images that fired it (its most
frequent digit when at least 3 did, else the network's readout): a readout a person can
check by counting. The first row approaches the report's repaired network (three bands
of 10 rows, the image padded to 30); each row after it adds one change, the last rows
take one away from the best.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.nn import functional as F

from core.cnn.train import _shifted
from core.cnn.zones import ZoneNet
from core.data import load_mnist
from core.knn.augment import deskew
from core.knn.products import machine_key

_REPORT = {"starts": (0, 10, 20), "rows": 10, "pad": 1, "patterns": 8, "readout": "linear"}
_OVERLAP = {"starts": (0, 7, 14), "rows": 14, "pad": 0, "patterns": 16, "readout": "table"}
VARIANTS = {
    "3 bands of 10 rows, 8 patterns, votes": (_REPORT, False),
    "+ deskewed digits": (_REPORT, True),
    "+ 16 patterns, table of triples": ({**_REPORT, "patterns": 16, "readout": "table"}, True),
    "+ overlapping bands of 14 rows (0, 7, 14)": (_OVERLAP, True),
    "best without deskewing": (_OVERLAP, False),
    "best with votes only (no table)": ({**_OVERLAP, "readout": "linear"}, True),
}
_HELD_OUT, _SPLIT_SEED = 10_000, 123
_BATCH, _LR, _USAGE = 128, 0.005, 0.3


def _accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred == y).float().mean())


@torch.no_grad()
def _outputs(net: ZoneNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and pattern combinations (as one integer each) of ``x``."""
    net.eval()
    preds, keys = [], []
    for s in range(0, len(x), 2000):
        log_probs, _, fired = net(x[s : s + 2000])
        preds.append(log_probs.argmax(1))
        key = torch.zeros(len(log_probs), dtype=torch.int64)
        for f in fired:
            key = key * net.n_patterns + f.argmax(1)
        keys.append(key)
    return torch.cat(preds), torch.cat(keys)


def run(settings: dict, deskewed: bool, epochs: int, seed: int = 0) -> dict[str, float]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    images, labels = load_mnist("train")
    if deskewed:
        images = deskew(images)
    x = torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(_SPLIT_SEED))
    held, fit = order[:_HELD_OUT], order[_HELD_OUT:]
    net = ZoneNet(**settings)
    steps = epochs * (len(fit) // _BATCH)
    opt = torch.optim.AdamW(net.parameters(), _LR, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, _LR, total_steps=steps)
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        perm = fit[torch.randperm(len(fit), generator=gen)]
        for s in range(0, len(perm) - _BATCH + 1, _BATCH):
            batch = perm[s : s + _BATCH]
            log_probs = net(_shifted(x[batch], 1, gen))[0]
            loss = F.nll_loss(log_probs, y[batch]) + _USAGE * net.usage_penalty()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    seconds = time.perf_counter() - start
    pred_fit, key_fit = _outputs(net, x[fit])
    pred_held, key_held = _outputs(net, x[held])
    counts = torch.zeros(net.n_patterns ** len(net.starts), 10)
    counts.index_put_((key_fit, y[fit]), torch.ones(len(fit)), accumulate=True)
    seen = counts.sum(1)[key_held] >= 3
    by_counts = torch.where(seen, counts[key_held].argmax(1), pred_held)
    return {
        "train": _accuracy(pred_fit, y[fit]),
        "val": _accuracy(pred_held, y[held]),
        "val_counts": _accuracy(by_counts, y[held]),
        "combinations": int((counts.sum(1) > 0).sum()),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), metavar="NAME")
    args = parser.parse_args()
    rows = []
    for name in args.only or VARIANTS:
        settings, deskewed = VARIANTS[name]
        rows.append((name, run(settings, deskewed, args.epochs)))
        print(f"{name}: {rows[-1][1]}", flush=True)
    print(
        f"\n{machine_key()['cpu_model']}, {torch.get_num_threads()} torch threads, CPU "
        f"capability {torch.backends.cpu.get_cpu_capability()}; {args.epochs} epochs, "
        f"{_HELD_OUT:,} held-out training images\n"
    )
    print("| variant | val | val, table of counts | combinations seen | training (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in rows:
        print(
            f"| {name} | {r['val']:.2%} | {r['val_counts']:.2%} | {r['combinations']} "
            f"| {r['seconds']:.0f} |"
        )


if __name__ == "__main__":
    main()
