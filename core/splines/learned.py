"""Spline templates that work: control points learned by gradient descent (beyond the report).

Each digit gets ``templates_per_digit`` templates; a template is ``strokes`` Bézier
curves on the whole 28×28 image, drawn as an L∞ halo of ``width`` pixels: what the
report drew by hand, with control points fitted to the data instead.

Training uses a soft rasteriser in PyTorch: the L∞ distance from each pixel centre to
points sampled on each curve (min over samples, max over the two axes), a sigmoid edge
instead of the hard ``distance ≤ width`` test, and the union of strokes as
``1 - Π(1 - stroke)``. It starts from k-means prototypes of each digit (strokes fitted
to reconstruct them), then learns all templates together: an image's logit for a digit
is the log-sum-exp of minus its squared distances to that digit's templates, trained
with cross-entropy. The sigmoid sharpens epoch by epoch towards the hard halo.

Predictions use the hard halo drawn by :func:`core.bezier.rasterize_halo` from the
learned control points: the nearest template (squared distance) gives the digit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from math import comb

import numba
import numpy as np
import torch

from core.devices import default_device, full_float32
from core.errors import ExplorerError
from core.progress import Progress
from core.splines.bezier import rasterize_halo

SIDE = 28


@dataclass(frozen=True)
class LearnedConfig:
    """Settings of learned spline templates: the cache key of a trained set."""

    templates_per_digit: int = 20  # ≤ 20, as the goal sets
    strokes: int = 4  # Bézier curves per template
    degree: int = 3  # 1 linear, 2 quadratic, 3 cubic
    width: int = 1  # halo width in pixels (L∞), drawn as distance ≤ width
    samples: int = 16  # points per curve in the soft rasteriser
    fit_steps: int = 150  # steps fitting strokes to the k-means prototypes
    epochs: int = 12  # discriminative passes (chosen on held-out images: bench_deform.py)
    batch: int = 500  # images per step
    lr: float = 0.1  # Adam step on control points (pixels)
    temperature: float = 10.0  # logits = -squared distance / temperature
    train_limit: int = 0  # 0: all 60,000 training images; n: the first n (tests)
    seed: int = 0

    def __post_init__(self):
        if not 1 <= self.templates_per_digit <= 50:
            raise ExplorerError(
                f"templates_per_digit: expected 1..50, found {self.templates_per_digit}"
            )
        if self.degree not in (1, 2, 3):
            raise ExplorerError(f"degree: expected 1, 2 or 3, found {self.degree}")
        if not 0 <= self.width <= 4:
            raise ExplorerError(f"width: expected 0..4, found {self.width}")


def _bernstein(degree: int, samples: int) -> torch.Tensor:
    t = torch.linspace(0, 1, samples, dtype=torch.float64)[:, None]
    k = torch.arange(degree + 1, dtype=torch.float64)
    binom = torch.tensor([comb(degree, i) for i in range(degree + 1)], dtype=torch.float64)
    return (binom * t**k * (1 - t) ** (degree - k)).float()  # (samples, degree + 1)


def soft_render(
    control: torch.Tensor, width: float, sharpness: float, samples: int
) -> torch.Tensor:
    """Differentiable halo images of templates.

    control : (..., strokes, degree + 1, 2) control points as (row, col) pixel positions
    Returns (..., 784) intensities in [0, 1].
    """
    basis = _bernstein(control.shape[-2] - 1, samples).to(control)
    points = basis @ control  # (..., S, T, 2)
    if points.device.type == "cpu":
        flat = points.reshape(-1, *points.shape[-3:])
        dist = _LinfDistance.apply(flat).reshape(*points.shape[:-2], SIDE, SIDE)
    else:
        dist = linf_distance(points)
    stroke = torch.sigmoid(sharpness * (width + 0.5 - dist))
    image = 1 - torch.prod(1 - stroke, dim=-3)
    return image.flatten(-2)


def linf_distance(points: torch.Tensor) -> torch.Tensor:
    """L∞ distance (..., S, 28, 28) from each pixel centre to the nearest of each stroke's
    sample points (..., S, T, 2), in tensors of (..., S, T, 28, 28) (and their gradient)."""
    grid = torch.arange(SIDE, dtype=points.dtype, device=points.device)
    dr = (grid - points[..., 0, None]).abs()  # (..., S, T, 28): rows
    dc = (grid - points[..., 1, None]).abs()  # (..., S, T, 28): cols
    return torch.maximum(dr[..., :, None], dc[..., None, :]).amin(dim=-3)


class _LinfDistance(torch.autograd.Function):
    """:func:`linf_distance` of (n, S, T, 2) points as two compiled loops (CPU).

    The same distances, and the gradient autograd gives :func:`linf_distance` (a tie
    between samples shares it evenly, a tie between the two axes halves it), without
    its (n, S, T, 28, 28) tensors: their backward pass was nine tenths of a training
    step on a 2-core CPU.
    """

    @staticmethod
    def forward(ctx, points: torch.Tensor) -> torch.Tensor:
        # Copies kept for the backward pass: autograd's version check does not watch
        # arrays, so an in-place change of the input or the output must not reach them.
        p = np.array(points.detach().numpy(), order="C", copy=True)
        dist = _linf_forward(p)
        ctx.arrays = p, dist.copy()
        return torch.from_numpy(dist)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        p, dist = ctx.arrays
        g = np.ascontiguousarray(grad.detach().numpy(), dtype=p.dtype)
        return torch.from_numpy(_linf_backward(p, dist, g))


@numba.njit(parallel=True, cache=True)
def _linf_forward(points):
    n, n_s, n_t = points.shape[0], points.shape[1], points.shape[2]
    grid = np.arange(SIDE).astype(points.dtype)
    dist = np.empty((n, n_s, SIDE, SIDE), points.dtype)
    for m in numba.prange(n):
        dr = np.empty((n_t, SIDE), points.dtype)
        dc = np.empty((n_t, SIDE), points.dtype)
        for s in range(n_s):
            for t in range(n_t):
                for i in range(SIDE):
                    dr[t, i] = abs(grid[i] - points[m, s, t, 0])
                    dc[t, i] = abs(grid[i] - points[m, s, t, 1])
            for i in range(SIDE):
                for j in range(SIDE):
                    best = max(dr[0, i], dc[0, j])
                    for t in range(1, n_t):
                        best = min(best, max(dr[t, i], dc[t, j]))
                    dist[m, s, i, j] = best
    return dist


@numba.njit(parallel=True, cache=True)
def _linf_backward(points, dist, grad):
    n, n_s, n_t = points.shape[0], points.shape[1], points.shape[2]
    grid = np.arange(SIDE).astype(points.dtype)
    out = np.zeros(points.shape)  # float64 sums, one template per thread: deterministic
    for m in numba.prange(n):
        dr = np.empty((n_t, SIDE), points.dtype)  # signed: pixel − point
        dc = np.empty((n_t, SIDE), points.dtype)
        for s in range(n_s):
            for t in range(n_t):
                for i in range(SIDE):
                    dr[t, i] = grid[i] - points[m, s, t, 0]
                    dc[t, i] = grid[i] - points[m, s, t, 1]
            for i in range(SIDE):
                for j in range(SIDE):
                    g = grad[m, s, i, j]
                    if g == 0:
                        continue
                    best = dist[m, s, i, j]
                    ties = 0
                    for t in range(n_t):
                        if max(abs(dr[t, i]), abs(dc[t, j])) == best:
                            ties += 1
                    share = np.float64(g) / ties
                    for t in range(n_t):
                        a, b = abs(dr[t, i]), abs(dc[t, j])
                        if max(a, b) != best:
                            continue
                        along = share if a > b else (share / 2 if a == b else 0.0)
                        across = share - along if a <= b else 0.0
                        out[m, s, t, 0] -= along * np.sign(dr[t, i])  # d|i − p|/dp = −sign
                        out[m, s, t, 1] -= across * np.sign(dc[t, j])
    return out.astype(points.dtype)


def hard_templates(control: np.ndarray, width: int) -> np.ndarray:
    """Exact halos of learned templates: uint8 (n_templates, 28, 28), 255 on the halo.

    control : (n_templates, strokes, degree + 1, 2)
    """
    out = np.zeros((len(control), SIDE, SIDE), np.uint8)
    for i, template in enumerate(control):
        for stroke in template:
            out[i] = np.maximum(out[i], rasterize_halo(stroke, width, (SIDE, SIDE), "band"))
    return out


def _relative_distances(images: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """‖t‖² − 2 x·t (N, n_templates), float32 on 0..1 pixels: the squared distance less
    ‖x‖², which is the same for every template of an image."""
    x = torch.from_numpy(np.asarray(images, np.float32).reshape(len(images), -1) / 255)
    t = torch.from_numpy(templates.reshape(len(templates), -1).astype(np.float32) / 255)
    return ((t * t).sum(1)[None] - 2 * x @ t.T).numpy()


def nearest_template(images: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Index of the nearest template (squared distance on 0..1 pixels): (N,) for (N, 28, 28)."""
    return _relative_distances(images, templates).argmin(axis=1)


def _init_control(prototypes: np.ndarray, cfg: LearnedConfig, rng: np.random.Generator):
    """Random strokes through the ink of each prototype: (n, strokes, degree + 1, 2)."""
    n = len(prototypes)
    rows, cols = np.mgrid[:SIDE, :SIDE]
    out = np.empty((n, cfg.strokes, cfg.degree + 1, 2))
    for i, proto in enumerate(prototypes):
        p = np.clip(proto, 0, None).ravel() ** 2
        pick = rng.choice(SIDE * SIDE, size=(cfg.strokes, cfg.degree + 1), p=p / p.sum())
        out[i, ..., 0], out[i, ..., 1] = rows.ravel()[pick], cols.ravel()[pick]
    return out + rng.normal(0, 0.5, out.shape)


def _prototypes(x: torch.Tensor, y: torch.Tensor, m: int, seed: int) -> np.ndarray:
    """k-means centres of each digit's images (at most 3000 each): (10 m, 784)."""
    from sklearn.cluster import KMeans  # imported here: scikit-learn's clustering ~0.5 s

    centres = []
    for digit in range(10):
        own = x[y == digit].numpy()[:3000]
        centres.append(KMeans(n_clusters=m, n_init=1, random_state=seed).fit(own).cluster_centers_)
    return np.concatenate(centres)


def train_templates(
    images: np.ndarray,
    labels: np.ndarray,
    cfg: LearnedConfig,
    progress: Progress | None = None,
    device: str | None = None,
) -> tuple[np.ndarray, dict]:
    """Learn control points: returns (control (10, M, strokes, degree + 1, 2), history).

    device : where to train ("cpu", "cuda"); None: CUDA where there is one.
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = torch.device(device) if device is not None else default_device()
    if cfg.train_limit:
        images, labels = images[: cfg.train_limit], labels[: cfg.train_limit]
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255)
    y = torch.from_numpy(labels.astype(np.int64))
    start = time.perf_counter()
    protos = _prototypes(x, y, cfg.templates_per_digit, cfg.seed)
    control = torch.tensor(
        _init_control(protos.reshape(-1, SIDE, SIDE), cfg, rng),
        dtype=torch.float32,
        device=dev,
        requires_grad=True,
    )
    steps = cfg.fit_steps + cfg.epochs * int(np.ceil(len(x) / cfg.batch))
    tick = _ticker(progress, steps)
    target = torch.from_numpy(protos.astype(np.float32)).to(dev)
    with full_float32():
        history = {"fit_loss": _fit(control, target, cfg, tick)}
        history |= _discriminate(control, x.to(dev), y.to(dev), cfg, rng, tick)
    history["seconds"] = time.perf_counter() - start
    history["device"] = str(dev)
    shape = (10, cfg.templates_per_digit, cfg.strokes, cfg.degree + 1, 2)
    return control.detach().cpu().numpy().astype(np.float64).reshape(shape), history


def _ticker(progress: Progress | None, total: int) -> Callable[[], None]:
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    return tick


def _fit(control: torch.Tensor, target: torch.Tensor, cfg: LearnedConfig, tick) -> float:
    """Fit the strokes to draw their prototypes (squared error, soft edges)."""
    opt = torch.optim.Adam([control], lr=cfg.lr * 4)
    loss = torch.zeros(())
    for _ in range(cfg.fit_steps):
        opt.zero_grad()
        loss = ((soft_render(control, cfg.width, 2.0, cfg.samples) - target) ** 2).mean()
        loss.backward()
        opt.step()
        tick()
    return float(loss.detach())


def _discriminate(control, x, y, cfg: LearnedConfig, rng: np.random.Generator, tick) -> dict:
    """Cross-entropy over log-sum-exp of each digit's template logits; sharpen per epoch."""
    m = cfg.templates_per_digit
    opt = torch.optim.Adam([control], lr=cfg.lr)
    history = {"epoch_loss": [], "epoch_train_accuracy": [], "sharpness": []}
    for epoch in range(cfg.epochs):
        sharp = 2.0 * 2 ** (epoch * 2 / max(cfg.epochs - 1, 1))  # 2 → 8
        order = torch.from_numpy(rng.permutation(len(x))).to(x.device)
        losses, hits = [], 0
        for s in range(0, len(x), cfg.batch):
            idx = order[s : s + cfg.batch]
            templates = soft_render(control, cfg.width, sharp, cfg.samples)  # (10 m, 784)
            d = (templates * templates).sum(1)[None] - 2 * x[idx] @ templates.T
            logits = torch.logsumexp((-d / cfg.temperature).view(len(idx), 10, m), dim=2)
            loss = torch.nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                control.clamp_(0, SIDE - 1)
            losses.append(float(loss.detach()))
            hits += int((logits.argmax(1) == y[idx]).sum())
            tick()
        history["epoch_loss"].append(float(np.mean(losses)))
        history["epoch_train_accuracy"].append(hits / len(x))
        history["sharpness"].append(sharp)
    return history


def digit_distances(
    images: np.ndarray, control: np.ndarray, width: int, templates: np.ndarray | None = None
) -> np.ndarray:
    """Distance (N, 10) of each image to each digit's nearest hard-halo template.

    control : (10, M, strokes, degree + 1, 2)
    templates : their :func:`hard_templates` at ``width``, if already drawn
    """
    if templates is None:
        templates = hard_templates(control.reshape(-1, *control.shape[2:]), width)
    rel = _relative_distances(images, templates)  # (N, 10 M), digit-major
    nearest = rel.reshape(len(rel), 10, control.shape[1]).min(axis=2).astype(np.float64)
    # ‖x‖² added in float64 is exact for these float32 values: the order stays the one
    # nearest_template gives.
    x = np.asarray(images, np.float64).reshape(len(images), -1) / 255
    return nearest + np.einsum("ij,ij->i", x, x)[:, None]


def predict_learned(images: np.ndarray, control: np.ndarray, width: int) -> np.ndarray:
    """Digits of the nearest hard-halo template: control (10, M, strokes, n, 2)."""
    return digit_distances(images, control, width).argmin(axis=1)


def nearest_per_digit(image: np.ndarray, templates: np.ndarray, per_digit: int) -> np.ndarray:
    """For one image (28, 28), the index (into ``templates``, digit-major with
    ``per_digit`` each) of its nearest template of every digit: (10,)."""
    rel = _relative_distances(np.asarray(image)[None], templates)[0].reshape(10, per_digit)
    return np.arange(10) * per_digit + rel.argmin(axis=1)
