"""Learned spline templates: the soft rasteriser, gradients, and a short real training."""

import numpy as np
import pytest
import torch

from core.errors import ExplorerError
from core.splines.bezier import rasterize_halo
from core.splines.learned import (
    LearnedConfig,
    _bernstein,
    _LinfDistance,
    hard_templates,
    linf_distance,
    nearest_template,
    predict_learned,
    soft_render,
    train_templates,
)

STROKES = np.array([[[4, 6], [10, 20], [20, 4], [24, 22]], [[6, 14], [14, 14], [14, 14], [22, 14]]])


def test_sharp_soft_render_is_the_hard_halo():
    control = torch.tensor(STROKES, dtype=torch.float64)
    soft = soft_render(control, 1, 50.0, 1000).reshape(28, 28).numpy()
    hard = hard_templates(STROKES[None].astype(float), 1)[0] / 255
    # Equal except where a distance rounds exactly to the edge (x.5 ties).
    assert (np.abs(soft - hard) < 0.05).mean() > 0.99
    for stroke in STROKES:
        assert (hard >= rasterize_halo(stroke, 1, (28, 28), "band") / 255).all()


def test_gradients_reach_every_control_point():
    control = torch.tensor(STROKES, dtype=torch.float32, requires_grad=True)
    target = torch.zeros(784)
    target[300:320] = 1
    ((soft_render(control, 1, 2.0, 16) - target) ** 2).sum().backward()
    assert control.grad is not None and (control.grad.abs().sum(dim=-1) > 0).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_compiled_distances_and_gradient_are_autograds(dtype):
    torch.manual_seed(0)
    control = torch.rand(12, 4, 4, 2, dtype=dtype) * 27
    control[:4] = control[:4].clamp(6, 20).round()  # ties between samples and between axes
    control.requires_grad_()
    weights = torch.randn(12, 4, 28, 28, dtype=dtype)
    found = []
    for distance in (linf_distance, _LinfDistance.apply):
        points = _bernstein(3, 16).to(control) @ control
        dist = distance(points)
        (dist * weights).sum().backward()
        found.append((dist.detach(), control.grad.clone()))
        control.grad = None
    (want, want_grad), (dist, grad) = found
    assert torch.equal(dist, want)  # the same distances, bit for bit
    tolerance = 1e-10 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(grad, want_grad, rtol=tolerance, atol=tolerance)
    assert (want_grad[:4] != 0).any()  # the tied templates do get a gradient


def test_nearest_template_is_the_smallest_squared_distance(mnist_test):
    images = mnist_test[0][:50]
    templates = hard_templates(np.stack([STROKES, STROKES[::-1] + 1.0]).astype(float), 1)
    brute = ((images[:, None].astype(float) / 255 - templates[None] / 255) ** 2).sum((2, 3))
    np.testing.assert_array_equal(nearest_template(images, templates), brute.argmin(1))


def test_short_training_learns_drawable_templates(mnist_train, mnist_test):
    cfg = LearnedConfig(
        templates_per_digit=2, strokes=3, epochs=1, fit_steps=30, samples=12, train_limit=3000
    )
    control, history = train_templates(*mnist_train, cfg)
    assert control.shape == (10, 2, 3, 4, 2)
    assert np.isfinite(control).all() and control.min() >= 0 and control.max() <= 27
    assert history["epoch_train_accuracy"][0] > 0.3
    pred = predict_learned(mnist_test[0][:1000], control, cfg.width)
    assert (pred == mnist_test[1][:1000]).mean() > 0.45  # chance is 0.1
    again, _ = train_templates(*mnist_train, cfg)
    np.testing.assert_array_equal(control, again)  # seeded: the same templates


def test_bad_config():
    with pytest.raises(ExplorerError, match="degree"):
        LearnedConfig(degree=4)
    with pytest.raises(ExplorerError, match="templates_per_digit"):
        LearnedConfig(templates_per_digit=0)
