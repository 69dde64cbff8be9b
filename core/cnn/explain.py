"""Why a network says what it says about one image: attributions over its pixels."""

from __future__ import annotations

import numpy as np
import torch

from core.cnn.train import CnnConfig, to_tensor


class _Probabilities(torch.nn.Module):
    """A chapter network as captum expects one: images in, one tensor of outputs out."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[0].exp()  # the networks return (log_probs, activations, fired)


def saliency(
    model: torch.nn.Module,
    image: np.ndarray,
    targets: list[int],
    config: CnnConfig,
    steps: int = 32,
) -> np.ndarray:
    """Integrated gradients of each target digit's probability over the pixels.

    image : (28, 28) 0..255. The baseline is a blank image (no ink); the attributions of a
    target sum (up to the integration error) to its probability on the image minus on
    the blank. Returns float32 (len(targets), 28, 28): positive where ink raises the
    probability of that digit, negative where it lowers it.
    """
    from captum.attr import IntegratedGradients  # imported here: captum takes ~0.7 s

    model = model.eval()
    device = next(model.parameters()).device
    x = to_tensor(np.asarray(image)[None], config, device)
    blank = to_tensor(np.zeros((1, 28, 28), np.uint8), config, device)
    ig = IntegratedGradients(_Probabilities(model))
    out = [
        ig.attribute(x, baselines=blank, target=int(t), n_steps=steps)[0, 0].detach().cpu().numpy()
        for t in targets
    ]
    return np.stack(out).astype(np.float32)
