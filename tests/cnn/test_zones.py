"""The zone-pattern network with overlapping bands: one pattern per zone, the digit read
from the patterns alone."""

from __future__ import annotations

import pytest
import torch

from core.cnn.zones import ZoneNet


def _net(**kwargs) -> ZoneNet:
    torch.manual_seed(0)
    net = ZoneNet(patterns=4, **kwargs)
    with torch.no_grad():  # a table that is not all zeros, so that it matters
        if net.readout == "table":
            net.table.normal_()
    return net.eval()


@pytest.mark.parametrize("readout", ["linear", "table"])
def test_each_zone_fires_one_pattern_and_the_digit_is_read_from_them(readout):
    net = _net(readout=readout)
    x = torch.rand(64, 1, 28, 28)
    log_probs, activations, fired = net(x)
    assert log_probs.shape == (64, 10) and len(fired) == len(activations) == 3
    for one_hot in fired:
        # Exactly one pattern per image (up to the straight-through term's rounding).
        assert one_hot.shape == (64, 4)
        assert torch.equal((one_hot > 0.5).sum(1), torch.ones(64, dtype=torch.int64))
        assert torch.allclose(one_hot, one_hot.round(), atol=1e-6)
    # Two images firing the same patterns get the same answer: the table says it.
    codes = net.codes(x)
    table = net.readout_table()
    assert table.shape == (4, 4, 4, 10)
    expected = torch.log_softmax(table[codes[:, 0], codes[:, 1], codes[:, 2]], dim=1)
    assert torch.allclose(log_probs, expected, atol=1e-5)


def test_the_patterns_learn_through_the_hard_choice():
    net = _net(readout="table").train()
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    loss = torch.nn.functional.nll_loss(net(x)[0], y) + 0.3 * net.usage_penalty()
    loss.backward()
    for zone in net.zones:  # every band's network gets a gradient through its one-hot
        assert zone[0].weight.grad is not None and zone[0].weight.grad.abs().sum() > 0


def test_the_bands_of_the_report_fit_the_padded_image_and_others_are_refused():
    net = _net(starts=(0, 10, 20), rows=10, pad=1, readout="linear")
    assert net(torch.rand(2, 1, 28, 28))[0].shape == (2, 10)
    with pytest.raises(ValueError, match="inside the 28 padded rows"):
        ZoneNet(starts=(0, 7, 16), rows=14)
    with pytest.raises(ValueError, match="readout"):
        ZoneNet(readout="mlp")
