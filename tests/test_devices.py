"""CUDA where there is one: the same KNN neighbours and the same learned templates as the CPU.

The CUDA tests run only on a machine with a CUDA device (CI has none; a lent GPU machine
runs them with ``pytest tests/test_devices.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.devices import default_device, full_float32
from core.errors import ExplorerError
from core.knn.search import nearest_neighbours
from core.splines.learned import LearnedConfig, predict_learned, train_templates

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def test_full_float32_restores_the_settings_it_found():
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with full_float32():
            assert not torch.backends.cuda.matmul.allow_tf32
            assert not torch.backends.cudnn.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def test_default_device_is_cuda_exactly_when_there_is_one():
    assert default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is here")
def test_asking_for_cuda_without_one_is_a_clear_error():
    pixels = np.zeros((5, 4), np.uint8)
    with pytest.raises(ExplorerError, match="'cuda' expects a CUDA device, found none"):
        nearest_neighbours(pixels, pixels[:2], 2, products="cuda")


@cuda
def test_cuda_search_equals_the_cpus(mnist_train, mnist_test):
    (xtr, _), (xte, _) = mnist_train, mnist_test
    on_gpu = nearest_neighbours(xtr, xte[:3000], 20)
    assert on_gpu.products == "cuda"
    on_cpu = nearest_neighbours(xtr, xte[:3000], 20, products="float32")
    np.testing.assert_array_equal(on_gpu.indices, on_cpu.indices)
    np.testing.assert_array_equal(on_gpu.sqdist, on_cpu.sqdist)


@cuda
def test_cuda_learns_the_cpus_templates(mnist_train, mnist_test):
    (xtr, ytr), (xte, _) = mnist_train, mnist_test
    cfg = LearnedConfig(templates_per_digit=2, fit_steps=30, epochs=1, train_limit=3000)
    cpu, h_cpu = train_templates(xtr, ytr, cfg, device="cpu")
    gpu, h_gpu = train_templates(xtr, ytr, cfg, device="cuda")
    assert h_gpu["device"].startswith("cuda") and h_cpu["device"] == "cpu"
    # Float sums in another order drift a little over the steps, never far.
    assert np.abs(cpu - gpu).mean() < 0.05
    agree = predict_learned(xte[:2000], cpu, 1) == predict_learned(xte[:2000], gpu, 1)
    assert agree.mean() > 0.98
    assert abs(h_cpu["epoch_train_accuracy"][-1] - h_gpu["epoch_train_accuracy"][-1]) < 0.01
