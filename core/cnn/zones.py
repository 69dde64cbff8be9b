"""A zone-pattern network with overlapping zones and a readout of pattern triples.

Chapter 3's idea kept whole: horizontal bands of the image ("zones") each fire exactly
one of ``patterns`` learned patterns (a hard choice, also while training: straight-through
gradients), and the digit is read from the fired patterns alone. What changes, for
issue #27's research (``bench/bench_zones.py`` measures each change on held-out training
images):

- zones may overlap (e.g. three bands of 14 rows starting at rows 0, 7 and 14), so a
  stroke that crosses a border is seen whole by one of them;
- a readout with interactions: per-zone votes plus a learned table with one row of
  digit scores per combination of fired patterns (``readout="table"``), so the digit of
  a combination is a lookup a person can read (:meth:`ZoneNet.readout_table`).

Not in the method registry yet: the CNN page reads the report's 3 × (8, 10, 8) layout.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from core.cnn.models import straight_through, usage_penalty

READOUTS = ("linear", "table")


def _band_net(rows: int, n_patterns: int, channels: tuple[int, int], hidden: int) -> nn.Sequential:
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 5),  # (c1, rows − 4, 24)
        nn.ReLU(),
        nn.Conv2d(c1, c2, 5),  # (c2, rows − 8, 20)
        nn.MaxPool2d(2),  # (c2, (rows − 8) // 2, 10)
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(c2 * ((rows - 8) // 2) * 10, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_patterns),
    )


class ZoneNet(nn.Module):
    """Bands of ``rows`` rows starting at ``starts`` (in the image padded by ``pad`` rows
    above and below), ``patterns`` one-hot patterns each, and a ``readout``.

    ``forward(x)`` with x (B, 1, 28, 28) returns ``(log_probs (B, 10), activations
    [Z × (B, n)], fired [Z × (B, n)])`` as :class:`core.cnn.models.PatternNet` does.
    """

    def __init__(
        self,
        starts: tuple[int, ...] = (0, 7, 14),
        rows: int = 14,
        pad: int = 0,
        patterns: int = 16,
        readout: str = "table",
        channels: tuple[int, int] = (6, 12),
        hidden: int = 64,
        temperature: float = 0.5,
    ):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout: expected one of {READOUTS}, found {readout!r}")
        if rows < 10 or min(starts) < 0 or max(starts) + rows > 28 + 2 * pad:
            raise ValueError(
                f"zones: expected bands of at least 10 rows inside the {28 + 2 * pad} padded "
                f"rows, found starts {starts} of {rows} rows"
            )
        if not temperature > 0:
            raise ValueError(f"temperature: expected a positive number, found {temperature!r}")
        self.starts, self.rows, self.pad = tuple(starts), rows, pad
        self.n_patterns, self.readout, self.temperature = patterns, readout, temperature
        self.zones = nn.ModuleList(_band_net(rows, patterns, channels, hidden) for _ in self.starts)
        self.votes = nn.Linear(patterns * len(self.starts), 10)
        if readout == "table":
            self.table = nn.Parameter(torch.zeros((patterns,) * len(self.starts) + (10,)))
        self._soft: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor):
        x = F.pad(x, (0, 0, self.pad, self.pad))
        activations, fired = [], []
        self._soft = []
        for start, net in zip(self.starts, self.zones, strict=True):
            pre = net(x[:, :, start : start + self.rows])
            activations.append(pre)
            fired.append(self._one_hot(pre))
        return F.log_softmax(self._read(fired), dim=1), activations, fired

    def _one_hot(self, pre: torch.Tensor) -> torch.Tensor:
        one_hot, soft = straight_through(pre, self.temperature)
        self._soft.append(soft)
        return one_hot

    def _read(self, fired: list[torch.Tensor]) -> torch.Tensor:
        """Digit scores from the one-hot patterns only: votes, plus the table's entry."""
        logits = self.votes(torch.cat(fired, dim=1))
        if self.readout == "table":
            entry = torch.einsum("ba,a...->b...", fired[0], self.table)
            for one_hot in fired[1:]:  # one zone at a time: (B, n, …, 10) → (B, …, 10)
                entry = torch.einsum("ba,ba...->b...", one_hot, entry)
            logits = logits + entry
        return logits

    def usage_penalty(self) -> torch.Tensor:
        """Minus the entropy of each zone's pattern use over the last batch, summed."""
        return usage_penalty(self._soft)

    @torch.no_grad()
    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The pattern each zone fires: int64 (B, Z)."""
        return torch.stack([f.argmax(1) for f in self(x)[2]], dim=1)

    @torch.no_grad()
    def readout_table(self) -> torch.Tensor:
        """Digit scores of every combination of patterns: (n,) * Z + (10,)."""
        n, z = self.n_patterns, len(self.starts)
        grid = torch.cartesian_prod(*[torch.arange(n)] * z).reshape(-1, z)
        one_hots = [F.one_hot(grid[:, i], n).float() for i in range(z)]
        return self._read(one_hots).reshape((n,) * z + (10,))
