"""Where tensors are computed: CUDA when there is one, and in true float32 there."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def default_device() -> torch.device:
    """CUDA when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def full_float32() -> Iterator[None]:
    """No TF32 inside (CUDA would otherwise round float32 products to 10-bit mantissas,
    and results would drift from the CPU's); the previous settings come back after."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
