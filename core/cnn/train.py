"""Training and evaluating the CNNs of chapter 3: the whole data set as one tensor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from core.cnn.models import ModernCNN, PatternNet
from core.devices import default_device as device
from core.errors import ExplorerError
from core.progress import Progress

MODELS = ("pattern-faithful", "pattern-repaired", "modern")
_MEAN, _STD = 0.1307, 0.3081  # pixel statistics of the MNIST training set (0..1 scale)


@dataclass(frozen=True)
class CnnConfig:
    """How a network is trained: its cache key. Defaults are the report's (annex, ch. 3)."""

    model: str = "pattern-repaired"  # a key of MODELS
    epochs: int = 20
    batch: int = 64
    optimizer: str = "sgd"  # "sgd" (momentum) or "adam"
    lr: float = 0.003
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"  # "constant" or "onecycle"
    val_split: float = 0.1  # fraction of the training set held out for validation
    shift: int = 0  # random translations of up to this many pixels (augmentation)
    normalise: bool = False  # the report fed 0..1 pixels; the modern CNN standardises
    widths: tuple[int, int, int] = (16, 32, 64)  # channels of the modern CNN's stages
    label_smoothing: float = 0.0
    # Pattern networks only: dropout before the pattern layer (the annex's 0.5), and the
    # weight of a penalty keeping every pattern in use (0: none, as in the report).
    dropout: float = field(default=0.5, metadata={"added": True})
    usage_balance: float = field(default=0.0, metadata={"added": True})
    # Temperature of the softmax whose gradient the repaired network's one-hot passes on.
    temperature: float = field(default=1.0, metadata={"added": True})
    # Decay of an exponential moving average of the weights (and batch-norm statistics)
    # that becomes the trained model; 0: none, the last weights are kept.
    ema: float = field(default=0.0, metadata={"added": True})
    train_limit: int = 0  # 0: every training image; n: the first n (tests)
    seed: int = 0

    def __post_init__(self):
        if self.model not in MODELS:
            raise ExplorerError(f"model: expected one of {MODELS}, found {self.model!r}")
        if self.optimizer not in ("sgd", "adam") or self.schedule not in ("constant", "onecycle"):
            raise ExplorerError("optimizer: 'sgd' or 'adam'; schedule: 'constant' or 'onecycle'")
        if not 1 <= self.epochs <= 200 or not 1 <= self.batch <= 4096:
            raise ExplorerError(
                f"epochs 1..200 and batch 1..4096, found {self.epochs}, {self.batch}"
            )
        if not self.temperature > 0 or not 0 <= self.ema < 1:
            raise ExplorerError(
                f"temperature > 0 and ema in [0, 1), found {self.temperature}, {self.ema}"
            )


def build(config: CnnConfig) -> torch.nn.Module:
    if config.model == "modern":
        return ModernCNN(config.widths)
    return PatternNet(
        config.model.removeprefix("pattern-"),
        dropout=config.dropout,
        temperature=config.temperature,
    )


def to_tensor(images: np.ndarray, config: CnnConfig, dev: torch.device) -> torch.Tensor:
    """(N, 28, 28) uint8 → (N, 1, 28, 28) float32 on ``dev``, as the model expects."""
    x = torch.from_numpy(np.asarray(images, np.float32) / 255).unsqueeze(1).to(dev)
    return (x - _MEAN) / _STD if config.normalise else x


def validation_split(
    config: CnnConfig, n: int, gen: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(held-out, fitted) indices into the ``n`` training images of ``config``'s training:
    the first draw of its seeded generator (``gen``, or a new one seeded the same)."""
    gen = gen if gen is not None else torch.Generator().manual_seed(config.seed)
    order = torch.randperm(n, generator=gen)
    n_val = round(config.val_split * n)
    return order[:n_val], order[n_val:]


def _shifted(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    # Each image moved by its own random (dy, dx) in [-s, s]², zeros brought in.
    n, s = len(x), max_shift
    padded = F.pad(x, (s, s, s, s), value=float(x.min()))
    dy = torch.randint(0, 2 * s + 1, (n,), generator=gen, device=x.device)
    dx = torch.randint(0, 2 * s + 1, (n,), generator=gen, device=x.device)
    rows = (dy[:, None] + torch.arange(28, device=x.device))[:, :, None]  # (n, 28, 1)
    cols = (dx[:, None] + torch.arange(28, device=x.device))[:, None, :]  # (n, 1, 28)
    return padded[torch.arange(n, device=x.device)[:, None, None], 0, rows, cols].unsqueeze(1)


def _optimiser(config: CnnConfig, model: torch.nn.Module, steps_per_epoch: int):
    params = model.parameters()
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(
            params, config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    else:
        opt = torch.optim.AdamW(params, config.lr, weight_decay=config.weight_decay)
    sched = None
    if config.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, config.lr, total_steps=config.epochs * steps_per_epoch
        )
    return opt, sched


def train(
    config: CnnConfig,
    images: np.ndarray,
    labels: np.ndarray,
    progress: Progress | None = None,
) -> tuple[torch.nn.Module, dict]:
    """Train a network; returns it (eval mode) and its per-epoch history."""
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    dev = device()
    if config.train_limit:
        images, labels = images[: config.train_limit], labels[: config.train_limit]
    x, y = to_tensor(images, config, dev), torch.from_numpy(labels.astype(np.int64)).to(dev)
    val, fit = (part.to(dev) for part in validation_split(config, len(x), gen))
    n_val = len(val)
    model = build(config).to(dev)
    if config.model == "modern":  # faster convolutions on the CPU
        model, x = (
            model.to(memory_format=torch.channels_last),
            x.to(memory_format=torch.channels_last),
        )
    opt, sched = _optimiser(config, model, int(np.ceil(len(fit) / config.batch)))
    averaged = (
        torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(config.ema),
            use_buffers=True,
        ) if config.ema else None
    )  # fmt: skip
    trained = model if averaged is None else averaged.module  # validated and returned
    history = {k: [] for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")}
    history["epoch_seconds"] = []
    start = time.perf_counter()
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        model.train()
        perm = fit[torch.randperm(len(fit), generator=gen).to(dev)]
        loss_sum, hits = 0.0, 0
        for s in range(0, len(perm), config.batch):
            idx = perm[s : s + config.batch]
            xb = _shifted(x[idx], config.shift, gen) if config.shift else x[idx]
            log_probs = model(xb)[0]
            # cross_entropy re-normalises log-probabilities to themselves; it adds smoothing.
            ce = F.cross_entropy(log_probs, y[idx], label_smoothing=config.label_smoothing)
            loss = ce + config.usage_balance * model.usage_penalty() if config.usage_balance else ce
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            if averaged is not None:
                averaged.update_parameters(model)
            loss_sum += float(ce.detach()) * len(idx)  # the history logs cross-entropy only
            hits += int((log_probs.argmax(1) == y[idx]).sum())
        history["train_loss"].append(loss_sum / len(fit))
        history["train_accuracy"].append(hits / len(fit))
        if n_val:
            out = evaluate(trained, x[val], config.batch)
            history["val_loss"].append(float(F.nll_loss(out["log_probs"], y[val].cpu())))
            history["val_accuracy"].append(
                float((out["log_probs"].argmax(1) == y[val].cpu()).float().mean())
            )
        history["epoch_seconds"].append(time.perf_counter() - t0)
        if progress is not None:
            progress(epoch + 1, config.epochs)
    history["seconds"] = time.perf_counter() - start
    history["device"] = str(dev)
    history["threads"] = torch.get_num_threads()
    return trained.eval(), history


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, batch: int) -> dict[str, torch.Tensor]:
    """Log-probabilities, zone activations and fired patterns, in batches of ``batch``.

    The faithful pattern network's one-hot depends on the other images of a batch, so
    the batch size (and order) is part of how it is evaluated.
    """
    was_training = model.training
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {"log_probs": [], "activations": [], "fired": []}
    for s in range(0, len(x), batch):
        log_probs, acts, fired = model(x[s : s + batch])
        parts["log_probs"].append(log_probs.cpu())
        if acts:
            parts["activations"].append(torch.cat(acts, 1).cpu())
            parts["fired"].append(torch.cat(fired, 1).cpu())
    model.train(was_training)
    return {k: torch.cat(v) for k, v in parts.items() if v}
