"""The chapter-3 networks: shapes, gradients, determinism, caching, and a short real training."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from core.cnn.models import PATTERNS, ModernCNN, PatternNet
from core.cnn.patterns import (
    fired_patterns,
    pattern_picture,
    pattern_stats,
    pattern_triples,
    zone_crops,
)
from core.cnn.runs import load_model, trained
from core.cnn.train import CnnConfig, evaluate, to_tensor, train
from core.errors import ExplorerError

SMALL = {"epochs": 1, "train_limit": 1536, "val_split": 0.25}


def _batch(mnist_train, n=64):
    x, y = mnist_train
    return to_tensor(x[:n], CnnConfig(), torch.device("cpu")), torch.from_numpy(
        y[:n].astype(np.int64)
    )


@pytest.mark.parametrize("mode", ["faithful", "repaired"])
def test_pattern_net_shapes(mnist_train, mode):
    x, _ = _batch(mnist_train)
    log_probs, acts, fired = PatternNet(mode)(x)
    assert log_probs.shape == (64, 10)
    assert [a.shape[1] for a in acts] == list(PATTERNS) == [f.shape[1] for f in fired]
    assert torch.allclose(log_probs.exp().sum(1), torch.ones(64))
    if mode == "repaired":  # exactly one pattern fires per zone and image
        assert all(torch.allclose(f.sum(1), torch.ones(64)) for f in fired)


def test_modern_cnn_shapes(mnist_train):
    x, _ = _batch(mnist_train, 8)
    assert ModernCNN()(x)[0].shape == (8, 10)


def _zone_grads(model, mnist_train):
    x, y = _batch(mnist_train)
    F.nll_loss(model(x)[0], y).backward()
    zone = [p.grad for p in model.zones.parameters()]
    return zone, model.output.weight.grad


def test_repaired_zone_networks_receive_gradients(mnist_train):
    torch.manual_seed(0)
    zone, out = _zone_grads(PatternNet("repaired"), mnist_train)
    assert all(g is not None and g.abs().sum() > 0 for g in zone)
    assert out.abs().sum() > 0


def test_faithful_zone_networks_receive_none(mnist_train):
    torch.manual_seed(0)
    zone, out = _zone_grads(PatternNet("faithful"), mnist_train)
    assert all(g is None or g.abs().sum() == 0 for g in zone)
    assert out.abs().sum() > 0  # only the final Linear(26, 10) can learn


def test_faithful_one_hot_depends_on_the_rest_of_the_batch(mnist_train):
    torch.manual_seed(0)
    net = PatternNet("faithful").eval()
    x, _ = _batch(mnist_train)
    alone = torch.cat(net(x[:1])[2], 1)
    together = torch.cat(net(x)[2], 1)[:1]
    assert alone.sum() == 26  # alone in its batch, it holds every maximum: all 26 "fire"
    assert not torch.equal(alone, together)


def test_training_is_deterministic_and_learns(mnist_train, mnist_test):
    cfg = CnnConfig(model="pattern-repaired", **SMALL)
    model, history = train(cfg, *mnist_train)
    again, _ = train(cfg, *mnist_train)
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert len(history["train_loss"]) == 1 and len(history["val_accuracy"]) == 1
    assert history["device"] in ("cpu", "cuda")
    quick = CnnConfig(model="pattern-repaired", optimizer="adam", epochs=2, train_limit=3000)
    net, _ = train(quick, *mnist_train)
    x = to_tensor(mnist_test[0][:1000], quick, torch.device("cpu"))
    acc = (evaluate(net, x, 64)["log_probs"].argmax(1).numpy() == mnist_test[1][:1000]).mean()
    assert acc > 0.3  # chance is 0.1; 85 steps on 2,700 images


def test_cached_model_reloads_with_the_same_predictions(tmp_cache, cached_copy, mnist_test):
    cfg = CnnConfig(model="pattern-repaired", **SMALL)
    result = trained(cfg)
    assert result.arrays["activations"].shape == (10000, 26)
    assert {"train_loss", "val_accuracy", "seconds", "device"} <= set(result.meta)
    model = load_model(trained(cfg), cfg)  # the second call reads the cache
    out = evaluate(model, to_tensor(mnist_test[0], cfg, torch.device("cpu")), cfg.batch)
    np.testing.assert_array_equal(out["log_probs"].argmax(1).numpy(), result.arrays["test_pred"])


def test_pattern_explanations():
    rng = np.random.default_rng(0)
    acts = rng.random((200, 26)).astype(np.float32)
    labels = rng.integers(0, 10, 200)
    stats = pattern_stats(acts, labels)
    assert [s["mean"].shape for s in stats] == [(10, 8), (10, 10), (10, 8)]
    np.testing.assert_allclose(
        stats[1]["mean"].loc[3, 2], acts[labels == 3, 8 + 2].mean(), rtol=1e-6
    )
    fired = fired_patterns(acts)
    assert fired.shape == (200, 3) and fired[:, 1].max() < 10
    triples = pattern_triples(acts, labels, 4)
    assert triples["images"].sum() == (labels == 4).sum()
    images = rng.integers(0, 256, (200, 28, 28)).astype(np.uint8)
    mean, top = pattern_picture(images, acts, 2, 5, top=4)
    np.testing.assert_allclose(mean, zone_crops(images, 2)[fired[:, 2] == 5].mean(0))
    assert acts[top[0], 18 + 5] == acts[:, 18 + 5].max()


def test_bad_config():
    with pytest.raises(ExplorerError, match="model: expected one of"):
        CnnConfig(model="resnet")


def test_usage_penalty_is_minimal_for_even_use_and_reaches_the_zones(mnist_train):
    torch.manual_seed(0)
    model = PatternNet("repaired", dropout=0.0)
    x, _ = _batch(mnist_train)
    model(x)
    penalty = model.usage_penalty()
    assert penalty >= -sum(np.log(n) for n in PATTERNS) - 1e-5  # -Σ log n: every pattern as often
    penalty.backward()
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0 for p in model.zones[0][-1].parameters()
    )
    model.zero_grad()
    # A batch where one pattern takes every image scores worse (higher) than even use.
    even = torch.full((64, 8), 1 / 8)
    skewed = F.one_hot(torch.zeros(64, dtype=torch.long), 8).float() * 0.99 + 0.01 / 8
    model._soft = [even]
    low = float(model.usage_penalty())
    model._soft = [skewed]
    assert float(model.usage_penalty()) > low


def test_fields_added_later_keep_the_keys_of_cached_results():
    from core.cache import config_dict

    assert "dropout" not in config_dict(CnnConfig())
    assert config_dict(CnnConfig(dropout=0.0))["dropout"] == 0.0
    assert config_dict(CnnConfig(usage_balance=0.1))["usage_balance"] == 0.1


def test_temperature_changes_the_zone_gradients_not_the_forward_pass(mnist_train):
    x, y = _batch(mnist_train)
    torch.manual_seed(0)
    plain = PatternNet("repaired", dropout=0.0)
    sharp = PatternNet("repaired", dropout=0.0, temperature=0.5)
    sharp.load_state_dict(plain.state_dict())
    outs, grads = [], []
    for net in (plain, sharp):
        log_probs = net(x)[0]
        F.nll_loss(log_probs, y).backward()
        outs.append(log_probs.detach())
        grads.append(torch.cat([p.grad.flatten() for p in net.zones.parameters()]))
    torch.testing.assert_close(outs[0], outs[1])
    assert grads[1].abs().sum() > 0 and not torch.allclose(grads[0], grads[1])
    with pytest.raises(ValueError, match="temperature: expected a positive number"):
        PatternNet(temperature=0.0)


def test_ema_returns_the_running_average_of_the_weights(mnist_train):
    base = CnnConfig(model="modern", optimizer="adam", lr=0.01, normalise=True, **SMALL)
    last, _ = train(base, *mnist_train)
    nearly_last, _ = train(CnnConfig(**{**vars(base), "ema": 1e-9}), *mnist_train)
    averaged, history = train(CnnConfig(**{**vars(base), "ema": 0.9}), *mnist_train)
    for name, value in last.state_dict().items():  # weights and batch-norm statistics
        if value.is_floating_point():
            torch.testing.assert_close(nearly_last.state_dict()[name], value)
    assert not torch.allclose(averaged.head.weight, last.head.weight)
    assert history["val_accuracy"][0] > 0.3  # the averaged model is the one validated
    for bad in ({"ema": 1.0}, {"temperature": 0.0}):
        with pytest.raises(ExplorerError, match="temperature > 0 and ema in"):
            CnnConfig(**bad)


def test_pattern_share_tiles_and_history_for_a_page(mnist_test):
    from core.cnn import history_frame, pattern_share, pattern_tiles

    images, labels = mnist_test
    rng = np.random.default_rng(0)
    activations = rng.random((500, sum(PATTERNS))).astype(np.float32)
    fired = fired_patterns(activations)
    for zone in range(3):
        share = pattern_share(activations, labels[:500], zone)
        assert share.shape == (10, PATTERNS[zone])
        np.testing.assert_allclose(share.sum(axis=1), 1.0)
        own = fired[labels[:500] == 3, zone]
        assert share.loc[3, 0] == pytest.approx(np.mean(own == 0))
    tiles, top, n_fire = pattern_tiles(images[:500], activations, 1, 4, top=5)
    mean, strongest = pattern_picture(images[:500], activations, 1, 4, top=5)
    assert tiles.shape == (6, 10, 28) and n_fire == int((fired[:, 1] == 4).sum())
    np.testing.assert_array_equal(tiles[0], mean.round().astype(np.uint8))
    np.testing.assert_array_equal(top, strongest)
    np.testing.assert_array_equal(tiles[1:], zone_crops(images[:500][strongest], 1))
    frame = history_frame({"train_loss": [1.0, 0.5], "val_accuracy": [0.8, 0.9], "x": [1]})
    assert list(frame.columns) == ["epoch", "train_loss", "val_accuracy"]
    assert frame["epoch"].tolist() == [1, 2]


def test_held_out_outputs_are_those_the_training_validated_on(tmp_cache, cached_copy):
    from core.cnn.runs import held_out

    cfg = CnnConfig(model="pattern-repaired", optimizer="adam", **SMALL)
    history = trained(cfg).meta
    found = held_out(cfg)
    index, log_probs = found.arrays["index"], torch.from_numpy(found.arrays["log_probs"])
    assert len(index) == round(0.25 * 1536) == found.meta["images"]
    assert index.max() < 1536 and len(np.unique(index)) == len(index)
    # The same images in the same order: the training's last validation figures again.
    from core.data import load_mnist

    labels = torch.from_numpy(load_mnist("train")[1][index].astype(np.int64))
    assert float(F.nll_loss(log_probs, labels)) == pytest.approx(history["val_loss"][-1], 1e-5)
    accuracy = float((log_probs.argmax(1) == labels).float().mean())
    assert accuracy == pytest.approx(history["val_accuracy"][-1])
    assert found.meta["nll_tempered"] <= found.meta["nll"] + 1e-9
    assert held_out(cfg).path == found.path  # cached
    with pytest.raises(ExplorerError, match="held out no image"):
        held_out(CnnConfig(model="pattern-repaired", epochs=1, train_limit=256, val_split=0))


def test_the_held_out_task_takes_a_network_only():
    from core import tasks

    tasks.check_task("cnn-held-out", {"id": "cnn-modern"})
    with pytest.raises(ExplorerError, match="expected a network's method id, found 'knn-raw'"):
        tasks.check_task("cnn-held-out", {"id": "knn-raw"})
    assert tasks.held_out_task("cnn-modern").params == {"id": "cnn-modern"}


def test_saliency_sums_to_the_change_in_probability_from_a_blank_image(mnist_test):
    from core.cnn import saliency

    torch.manual_seed(0)
    model, config = ModernCNN().eval(), CnnConfig(model="modern", normalise=True)
    with torch.no_grad():  # an untrained network's outputs, sharpened: far from uniform
        model.head.weight.mul_(100)
    image = mnist_test[0][0]
    attributions = saliency(model, image, [7, 4], config, steps=64)
    assert attributions.shape == (2, 28, 28) and attributions.dtype == np.float32
    with torch.no_grad():
        probs = [
            model(to_tensor(x[None], config, torch.device("cpu")))[0].exp()[0]
            for x in (image, np.zeros((28, 28), np.uint8))
        ]
    change = (probs[0] - probs[1])[[7, 4]].numpy()
    assert np.abs(change).min() > 0.05
    # Integrated gradients' completeness, up to the integration error of 64 steps.
    np.testing.assert_allclose(attributions.sum(axis=(1, 2)), change, rtol=0.05)
