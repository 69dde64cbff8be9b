"""Where tensors are computed: CUDA when there is one, and in true float32 there.

torch is imported where it is used: asking whether there is a CUDA device costs nothing
on a Linux machine without NVIDIA's device files (importing torch takes seconds).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


def cuda_available() -> bool:
    """Whether torch can use a CUDA device here (torch imported only where one may be)."""
    # On Linux, CUDA needs the driver's device files (native, or WSL's GPU bridge).
    driver = ("/dev/nvidiactl", "/dev/dxg")
    if "torch" not in sys.modules and sys.platform == "linux":
        if not any(os.path.exists(path) for path in driver):
            return False
    import torch

    return torch.cuda.is_available()


def default_device():
    """CUDA when there is one, else the CPU (a ``torch.device``)."""
    import torch

    return torch.device("cuda" if cuda_available() else "cpu")


@contextlib.contextmanager
def full_float32() -> Iterator[None]:
    """No TF32 inside (CUDA would otherwise round float32 products to 10-bit mantissas,
    and results would drift from the CPU's); the previous settings come back after."""
    import torch

    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
