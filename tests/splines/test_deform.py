"""Deformable spline templates: the compiled halo and its gradient against PyTorch's
autograd, deformations with known answers, and the headline on real MNIST."""

from dataclasses import replace

import numba
import numpy as np
import pytest
import torch

from core import splines
from core.errors import ExplorerError
from core.splines import deform
from core.splines.learned import hard_templates, soft_render

# Two strokes: a vertical bar and a bowl, (strokes, 4 control points, (row, col)).
TEMPLATE = np.array(
    [
        [[5.0, 14.0], [10.0, 14.0], [16.0, 14.0], [22.0, 14.0]],
        [[8.0, 8.0], [20.0, 6.0], [20.0, 22.0], [8.0, 20.0]],
    ]
)


def _render(control: np.ndarray, width: int = 1) -> np.ndarray:
    return hard_templates(control[None], width)[0]


def test_the_halo_and_its_gradient_are_pytorchs(mnist_test):
    rng = np.random.default_rng(0)
    control = TEMPLATE[None] + rng.normal(0, 1, (3, *TEMPLATE.shape))
    images = mnist_test[0][:2] / 255.0
    image_of = np.array([0, 1, 1])
    for sharpness, samples in ((2.0, 12), (8.0, 16)):
        cost, grad = deform.halo_cost(control, images, image_of, 1, sharpness, samples)
        c = torch.tensor(control, requires_grad=True)
        drawn = soft_render(c, 1, sharpness, samples).double()
        target = torch.tensor(images.reshape(2, -1))[image_of]
        expected = ((drawn - target) ** 2).sum(-1)
        expected.sum().backward()
        np.testing.assert_allclose(cost, expected.detach().numpy(), rtol=1e-5)
        np.testing.assert_allclose(grad, c.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_a_sharp_halo_is_the_hard_one():
    image = _render(TEMPLATE)[None] / 255.0
    cost, _ = deform.halo_cost(TEMPLATE[None], image, [0], 1, 30.0, 64, grad=False)
    assert cost[0] < 0.02 * (image > 0).sum()  # edge pixels of the halo, at most 2 %


def test_a_template_deformed_onto_its_own_rendering_stays():
    config = replace(deform.DeformConfig(), steps=20, penalty=0.1)
    image = _render(TEMPLATE)[None] / 255.0
    deformed, mismatch, cost = deform.deform(TEMPLATE[None], image, np.array([0]), config)
    # Inner control points are loosely tied to the drawing: a little slack, no drift.
    assert np.abs(deformed[0] - TEMPLATE).mean() < 0.25 and np.abs(deformed[0] - TEMPLATE).max() < 1
    rigid, _ = deform.halo_cost(
        TEMPLATE[None], image, [0], 1, config.final, config.final_samples, grad=False
    )
    assert cost[0] < 0.1 and mismatch[0] + cost[0] <= rigid[0] * 1.01


def test_a_shifted_template_finds_its_way_back():
    config = replace(deform.DeformConfig(), steps=30, penalty=0.01, bound=3.0)
    image = _render(TEMPLATE)[None] / 255.0
    moved = TEMPLATE + np.array([1.5, -1.5])  # every control point off by 1.5 px
    before, _ = deform.halo_cost(
        moved[None], image, [0], 1, config.final, config.final_samples, grad=False
    )
    deformed, after, _ = deform.deform(moved[None], image, np.array([0]), config)
    assert after[0] < before[0] / 4
    assert np.abs(deformed[0] - TEMPLATE).mean() < 0.5


def test_the_bound_holds_and_no_steps_is_the_rigid_template(mnist_test):
    x = mnist_test[0][:2] / 255.0
    start = np.repeat(TEMPLATE[None], 2, axis=0)
    bounded = replace(deform.DeformConfig(), bound=0.7, steps=10, penalty=0.0)
    deformed, _, _ = deform.deform(start, x, np.arange(2), bounded)
    assert np.abs(deformed - start).max() <= 0.7 + 1e-12
    still, mismatch, cost = deform.deform(start, x, np.arange(2), replace(bounded, steps=0))
    assert (still == start).all() and (cost == 0).all()
    rigid, _ = deform.halo_cost(
        start, x, np.arange(2), 1, bounded.final, bounded.final_samples, grad=False
    )
    assert (mismatch == rigid).all()


def _small_set(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)  # (10 digits, 2 templates, strokes, 4, 2)
    return TEMPLATE[None, None] + rng.normal(0, 2, (10, 2, *TEMPLATE.shape))


def test_match_deforms_the_rigid_candidates_and_is_deterministic(mnist_test):
    x = mnist_test[0][:6]
    control = _small_set()
    config = deform.DeformConfig(
        templates=splines.LearnedConfig(templates_per_digit=2), digits=2, per_digit=2, steps=5
    )
    found = deform.match(x, control, config, batch=4)
    digits, _, rigid = deform.candidates(x, control, config)
    assert (found["digits"] == digits).all()
    pred = found["distances"].argmin(axis=1)
    assert np.isin(pred, np.arange(10)).all()
    others = np.ones((6, 10), bool)
    np.put_along_axis(others, digits, False, axis=1)
    total = found["mismatch"] + found["deformation"]
    assert (np.take_along_axis(found["distances"], digits, 1) == total).all()
    # Every other digit comes after every candidate, in its rigid order.
    rest = np.where(others, found["distances"], np.inf).min(axis=1)
    assert (rest > total.max(axis=1)).all()
    for row in range(6):
        assert (np.argsort(found["distances"][row][others[row]]) == np.argsort(
            rigid[row][others[row]])).all()  # fmt: skip
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        again = deform.match(x, control, config, batch=6)
    finally:
        numba.set_num_threads(before)
    for key, value in found.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)


def test_rescore_at_the_same_width_gives_the_same_distances(mnist_test):
    x = mnist_test[0][:4]
    control = _small_set(1)
    config = deform.DeformConfig(
        templates=splines.LearnedConfig(templates_per_digit=2), digits=2, per_digit=1, steps=3
    )
    found = deform.match(x, control, config)
    np.testing.assert_allclose(deform.rescore(x, found, control, 1, config), found["distances"])
    wider = deform.rescore(x, found, control, 3, config)
    assert not np.allclose(wider, found["distances"])


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(digits=0), "digits"),
        (dict(per_digit=21), "per_digit: expected 1..20"),
        (dict(steps=-1), "steps"),
        (dict(bound=11), "bound"),
        (dict(penalty=-1), "penalty"),
        (dict(width=5), "width"),
        (dict(sharpness=(0.0, 4.0)), "sharpness"),
    ],
)
def test_bad_settings_are_refused(change, words):
    with pytest.raises(ExplorerError, match=words):
        replace(deform.DeformConfig(), **change)


@pytest.mark.slow
def test_deformable_templates_reach_the_readmes_figure_on_the_test_set(mnist_test):
    config = deform.DeformConfig()
    result = splines.deformable_splines(config)  # the learned set is trained if missing
    _, y = mnist_test
    accuracy = np.mean(result.arrays["test_pred"] == y)
    # The README's 94.69% (AVX2 EPYC); the 97% is not reached.
    assert accuracy >= 0.946, accuracy
    rigid = np.mean(splines.LEARNED_STORE.load(config.templates).arrays["test_pred"] == y)
    assert accuracy > rigid + 0.03  # bending is what gained it
    d = result.arrays["deformed"] - result.arrays["rigid"]
    assert np.abs(d).max() <= config.bound + 1e-5
