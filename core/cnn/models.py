"""The report's zone-pattern network (faithful and repaired) and a modern reference CNN.

Pattern network (chapter 3): the image is zero-padded from 28 to 30 rows and cut into
three zones of 10 rows; each zone has its own small CNN ending in ``n`` pattern
activations (8, 10, 8) passed through ``Threshold(0.1)``; each zone's output becomes a
one-hot "which pattern fired", and the 26 values go through ``Linear(26, 10)`` and a
log-softmax.

- ``faithful``: the annex's ``torch.max(zones[i], dim=0)`` takes the maximum over the
  *batch*, so a pattern "fires" for an image when no other image of the batch has a
  larger value for it; and ``torch.where`` with constant tensors passes no gradient, so
  only the final ``Linear(26, 10)`` learns.
- ``repaired``: the maximum over the pattern dimension, and a straight-through
  estimator (hard one-hot forward, softmax gradient backward, optionally at a
  temperature), so every zone learns.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

ZONE_ROWS = 10
PATTERNS = (8, 10, 8)
NET_MODES = ("faithful", "repaired")


def _zone_net(n_patterns: int, dropout: float = 0.5) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),  # (6, 6, 24) from a 10 × 28 zone
        nn.ReLU(),
        nn.Conv2d(6, 12, 5),  # (12, 2, 20)
        nn.MaxPool2d(2),  # (12, 1, 10)
        nn.ReLU(),
        nn.Flatten(),  # 120
        nn.Linear(120, 64),
        nn.ReLU(),
        nn.Dropout(dropout),  # the annex's nn.Dropout(): p = 0.5
        nn.Linear(64, n_patterns),
    )


def straight_through(pre: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The one-hot of each row's largest value, with a softmax's gradient at
    ``temperature``; and the untempered softmax (for :func:`usage_penalty`)."""
    hard = F.one_hot(pre.argmax(dim=1), pre.shape[1]).to(pre.dtype)
    soft = F.softmax(pre, dim=1)
    tempered = soft if temperature == 1.0 else F.softmax(pre / temperature, dim=1)
    return hard + tempered - tempered.detach(), soft


def usage_penalty(softs: list[torch.Tensor]) -> torch.Tensor:
    """Minus the entropy of each zone's mean pattern probabilities over a batch, summed."""
    total = torch.zeros(())
    for soft in softs:
        q = soft.mean(dim=0)
        total = total + (q * q.clamp_min(1e-9).log()).sum()
    return total


class PatternNet(nn.Module):
    """Three zone networks, one-hot patterns, ``Linear(26, 10)``, log-softmax.

    ``forward(x)`` with x of shape (B, 1, 28, 28) returns ``(log_probs (B, 10),
    activations [3 × (B, n_z)], fired [3 × (B, n_z)])``.
    """

    def __init__(
        self,
        mode: str = "repaired",
        patterns=PATTERNS,
        threshold: float = 0.1,
        dropout: float = 0.5,
        temperature: float = 1.0,
    ):
        super().__init__()
        if mode not in NET_MODES:
            raise ValueError(f"mode: expected one of {NET_MODES}, found {mode!r}")
        if not temperature > 0:
            raise ValueError(f"temperature: expected a positive number, found {temperature!r}")
        self.mode = mode
        self.temperature = temperature
        self.pad = nn.ZeroPad2d((0, 0, 1, 1))  # 28 → 30 rows, as the annex's forward()
        self.zones = nn.ModuleList(_zone_net(n, dropout) for n in patterns)
        self.threshold = nn.Threshold(threshold, 0.0)  # the last layer of each zone network
        self.output = nn.Linear(sum(patterns), 10)

    def forward(self, x: torch.Tensor):
        x = self.pad(x)
        activations, fired = [], []
        self._soft = []  # per zone, (B, n_z) pattern probabilities: for usage_penalty()
        for z, net in enumerate(self.zones):
            pre = net(x[:, :, z * ZONE_ROWS : (z + 1) * ZONE_ROWS, :])
            a = self.threshold(pre)
            activations.append(a)
            fired.append(self._one_hot(a, pre))
        return F.log_softmax(self.output(torch.cat(fired, dim=1)), dim=1), activations, fired

    def _one_hot(self, a: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
        if self.mode == "faithful":
            # The annex: max over dim 0 (the batch), constant tensors in torch.where.
            top = torch.max(a, dim=0).values
            return torch.where(a == top, torch.ones_like(a), torch.zeros_like(a)).detach()
        # The pattern with the largest activation fires (before the threshold, which only
        # zeroes values below 0.1, so it picks the same pattern whenever one exceeds it).
        # Straight-through: hard one-hot forward, softmax gradient backward, taken before
        # the threshold so that patterns below it still learn instead of dying. A
        # temperature below 1 sharpens the softmax whose gradient stands in for the
        # one-hot's; the usage penalty keeps the untempered softmax.
        one_hot, soft = straight_through(pre, self.temperature)
        self._soft.append(soft)
        return one_hot

    def usage_penalty(self) -> torch.Tensor:
        """Minus the entropy of each zone's pattern use over the last batch, summed.

        Added to the loss, it keeps all patterns in use: without it the repaired network
        settles on 4-5 of its 8-10 patterns per zone.
        """
        return usage_penalty(getattr(self, "_soft", []))


class ModernCNN(nn.Module):
    """A small batch-normalised CNN: the reference the pattern networks are measured by."""

    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        a, b, c = widths

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        # One convolution at 28 × 28, pooled before its batch norm: the stem costs a
        # quarter of a full block, and the two-core CPU spends its time at 14 × 14.
        self.features = nn.Sequential(
            nn.Conv2d(1, a, 3, padding=1, bias=False), nn.MaxPool2d(2),  # 14 × 14
            nn.BatchNorm2d(a), nn.ReLU(),
            *block(a, b), *block(b, b), nn.MaxPool2d(2),  # 7 × 7
            *block(b, c), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Linear(c, 10)

    def forward(self, x: torch.Tensor):
        return F.log_softmax(self.head(self.features(x)), dim=1), [], []
