"""Spline templates that bend: a learned template deformed onto each image it is matched with.

A rigid template loses to a digit whose stroke sits a pixel or two from where the template
draws it. Here the template's Bézier control points may move (Revow, Williams & Hinton,
PAMI 1996; Jain & Zongker, PAMI 1997 for deformable templates): a few Adam steps on

    cost(δ) = ‖halo(c₀ + δ) − x‖²  +  penalty · ‖δ‖²        (|δ| ≤ bound per coordinate)

with the soft halo of :mod:`.learned` (sharpening step by step); the cost is then read at
sharpness ``final`` (by default the halo the deformation ended on: reading it at the hard
halo did worse on held-out images). The digit is the one whose deformed template costs
least, mismatch and deformation together. Rigid distances pick what is worth deforming:
the ``digits`` best digits of each image and their ``per_digit`` nearest templates.

The halo and its gradient are one compiled loop per template (no 28×28×samples tensor in
memory): ``stroke(i, j) = max_t min(a_t(i), b_t(j))`` with ``a_t(i) = σ(s (w + ½ − |i − p_t|))``
along rows and ``b_t`` along columns (the L∞ halo of sample points p_t, as soft as ``s``),
strokes united as ``1 − Π(1 − stroke)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from core.errors import ExplorerError
from core.progress import Progress
from core.splines.learned import (
    LearnedConfig,
    _bernstein,
    _relative_distances,
    digit_distances,
    hard_templates,
)

SIDE = 28


@dataclass(frozen=True)
class DeformConfig:
    """How templates are deformed onto an image; with the learned set, the cache key.

    The defaults are the settings chosen on training images the templates never saw
    (``bench/bench_deform.py``), not on the test set.
    """

    templates: LearnedConfig = field(default_factory=LearnedConfig)  # the learned set used
    digits: int = 3  # candidate digits per image (the best by rigid distance)
    per_digit: int = 5  # their nearest templates, each deformed
    steps: int = 15  # Adam steps per deformation
    lr: float = 0.3  # Adam step (pixels)
    bound: float = 2.0  # a control point moves at most this far along each axis (pixels)
    penalty: float = 0.5  # cost of a squared pixel of control-point movement
    samples: int = 12  # points per curve while deforming
    sharpness: tuple = (1.0, 4.0)  # of the soft halo, first and last step (geometric)
    final: float = 4.0  # sharpness at which the cost is read (30 ≈ the hard halo)
    final_samples: int = 12
    width: int | None = None  # the halo width (None: the one the templates were learned at)

    def __post_init__(self):
        object.__setattr__(self, "sharpness", tuple(float(s) for s in self.sharpness))
        if not 1 <= self.digits <= 10:
            raise ExplorerError(f"digits: expected 1..10, found {self.digits}")
        if not 1 <= self.per_digit <= self.templates.templates_per_digit:
            raise ExplorerError(
                f"per_digit: expected 1..{self.templates.templates_per_digit}, "
                f"found {self.per_digit}"
            )
        if not 0 <= self.steps <= 200:
            raise ExplorerError(f"steps: expected 0..200, found {self.steps}")
        if not 0 <= self.bound <= 10 or self.penalty < 0:
            raise ExplorerError(
                f"bound, penalty: expected 0..10 pixels and ≥ 0, found {self.bound}, {self.penalty}"
            )
        if min(*self.sharpness, self.final) <= 0 or len(self.sharpness) != 2:
            raise ExplorerError(
                f"sharpness, final: expected (first, last) and a final > 0, found "
                f"{self.sharpness}, {self.final}"
            )
        if self.width is not None and not 0 <= self.width <= 4:
            raise ExplorerError(f"width: expected 0..4 or None, found {self.width}")

    @property
    def halo(self) -> int:
        return self.templates.width if self.width is None else self.width


@numba.njit(parallel=True, fastmath=False, cache=True)
def _halo_cost(points, images, image_of, width, sharp, want_grad):  # noqa: PLR0912, PLR0915
    # points (n, S, T, 2) float64 (row, col) samples of each template's strokes;
    # images (N, 28, 28) float64 in 0..1; image_of (n,) the image each template meets.
    # Returns the mismatch Σ (halo − x)² (n,) and its gradient w.r.t. points.
    n, n_s, n_t = points.shape[0], points.shape[1], points.shape[2]
    loss = np.zeros(n)
    grad = np.zeros(points.shape)
    for m in numba.prange(n):
        a = np.empty((n_s, n_t, SIDE))
        b = np.empty((n_s, n_t, SIDE))
        for s in range(n_s):
            for t in range(n_t):
                for i in range(SIDE):
                    a[s, t, i] = 1 / (
                        1 + np.exp(-sharp * (width + 0.5 - abs(i - points[m, s, t, 0])))
                    )
                    b[s, t, i] = 1 / (
                        1 + np.exp(-sharp * (width + 0.5 - abs(i - points[m, s, t, 1])))
                    )
        ga = np.zeros((n_s, n_t, SIDE))
        gb = np.zeros((n_s, n_t, SIDE))
        strokes = np.empty(n_s)
        best_t = np.empty(n_s, np.int64)
        from_a = np.empty(n_s, np.bool_)
        x = images[image_of[m]]
        total = 0.0
        for i in range(SIDE):
            for j in range(SIDE):
                q = 1.0
                for s in range(n_s):
                    top, at, use_a = -1.0, 0, True
                    for t in range(n_t):
                        va, vb = a[s, t, i], b[s, t, j]
                        v = va if va < vb else vb
                        if v > top:
                            top, at, use_a = v, t, va < vb
                    strokes[s], best_t[s], from_a[s] = top, at, use_a
                    q *= 1 - top
                e = (1 - q) - x[i, j]
                total += e * e
                if want_grad:
                    for s in range(n_s):
                        others = 1.0
                        for s2 in range(n_s):
                            if s2 != s:
                                others *= 1 - strokes[s2]
                        g = 2 * e * others
                        if from_a[s]:
                            ga[s, best_t[s], i] += g
                        else:
                            gb[s, best_t[s], j] += g
        loss[m] = total
        if want_grad:
            for s in range(n_s):
                for t in range(n_t):
                    gr, gc = 0.0, 0.0
                    for i in range(SIDE):
                        va, vb = a[s, t, i], b[s, t, i]
                        dr, dc = i - points[m, s, t, 0], i - points[m, s, t, 1]
                        sr = 1.0 if dr > 0 else (-1.0 if dr < 0 else 0.0)
                        sc = 1.0 if dc > 0 else (-1.0 if dc < 0 else 0.0)
                        gr += ga[s, t, i] * va * (1 - va) * sharp * sr
                        gc += gb[s, t, i] * vb * (1 - vb) * sharp * sc
                    grad[m, s, t, 0], grad[m, s, t, 1] = gr, gc
    return loss, grad


def halo_cost(
    control: np.ndarray,
    images: np.ndarray,
    image_of: np.ndarray,
    width: float,
    sharpness: float,
    samples: int,
    grad: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mismatch ``Σ (halo − x)²`` of templates with images, and its gradient.

    control : (n, strokes, degree + 1, 2) control points (row, col) in pixels
    images : (N, 28, 28) pixels 0..1; image_of : (n,) which image each template meets
    Returns ``(cost (n,), d cost / d control (n, strokes, degree + 1, 2) or None)``.
    """
    basis = _bernstein(control.shape[-2] - 1, samples).double().numpy()  # (T, degree + 1)
    points = np.einsum("tk,nskc->nstc", basis, control)
    loss, g = _halo_cost(
        np.ascontiguousarray(points), np.ascontiguousarray(images, np.float64),
        np.asarray(image_of, np.int64), float(width), float(sharpness), grad,
    )  # fmt: skip
    return loss, (np.einsum("tk,nstc->nskc", basis, g) if grad else None)


def deform(
    control: np.ndarray,
    images: np.ndarray,
    image_of: np.ndarray,
    config: DeformConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deform each template onto its image: Adam on the control points' offsets.

    Returns ``(deformed control (n, …), mismatch (n,), deformation cost (n,))``, the
    mismatch read at sharpness ``config.final``; a template deformed with ``steps = 0`` is
    the rigid one.
    """
    delta = np.zeros_like(control, dtype=np.float64)
    m, v = np.zeros_like(delta), np.zeros_like(delta)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    first, last = config.sharpness
    for step in range(config.steps):
        sharp = first * (last / first) ** (step / max(config.steps - 1, 1))
        _, g = halo_cost(control + delta, images, image_of, config.halo, sharp, config.samples)
        g = g + 2 * config.penalty * delta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** (step + 1)), v / (1 - beta2 ** (step + 1))
        delta = np.clip(
            delta - config.lr * m_hat / (np.sqrt(v_hat) + eps), -config.bound, config.bound
        )
    deformed = control + delta
    mismatch, _ = halo_cost(
        deformed, images, image_of, config.halo, config.final, config.final_samples, grad=False
    )
    return deformed, mismatch, config.penalty * (delta**2).sum(axis=(1, 2, 3))


def candidates(
    images: np.ndarray, control: np.ndarray, config: DeformConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What rigid distances say is worth deforming, per image.

    control : (10, M, strokes, degree + 1, 2), the learned set
    Returns ``(digits (N, D), templates (N, D, P) indices into the digit's M,
    rigid digit distances (N, 10))`` — the best D digits, their P nearest templates.
    """
    m = control.shape[1]
    hard = hard_templates(control.reshape(-1, *control.shape[2:]), config.halo)
    rel = _relative_distances(images, hard).reshape(len(images), 10, m)
    digit_d = rel.min(axis=2)
    digits = np.argsort(digit_d, axis=1, kind="stable")[:, : config.digits]
    own = np.take_along_axis(rel, digits[:, :, None], axis=1)  # (N, D, M)
    nearest = np.argsort(own, axis=2, kind="stable")[:, :, : config.per_digit]
    x = np.asarray(images, np.float64).reshape(len(images), -1) / 255
    return digits, nearest, digit_d + np.einsum("ij,ij->i", x, x)[:, None]


def _combined(rigid: np.ndarray, digits: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Distances (N, 10): the candidates' deformed ``cost`` (N, D), and for every other
    digit more than the worst candidate by its rigid excess over the last candidate — so
    the argmin is always a deformed candidate, and the rest keep their rigid order."""
    last = np.take_along_axis(rigid, digits[:, -1:], axis=1)
    out = cost.max(axis=1, keepdims=True) + (rigid - last) + 1e-6
    np.put_along_axis(out, digits, cost, axis=1)
    return out


def match(
    images: np.ndarray,
    control: np.ndarray,
    config: DeformConfig,
    progress: Progress | None = None,
    batch: int = 500,
) -> dict[str, np.ndarray]:
    """Deformable matching of images (N, 28, 28) 0..255 against a learned set.

    Returns ``distances`` (N, 10): for candidate digits the best deformed template's
    mismatch + deformation cost, for the others more than any candidate (see
    :func:`_combined`; the argmin is the prediction); ``digits`` (N, D) the candidates;
    ``deformed`` (N, D, strokes, degree + 1, 2) the best deformed template of each
    candidate, ``rigid`` (N, D, …) the template it started from; ``mismatch`` and
    ``deformation`` (N, D) its two costs.
    """
    n, d, p = len(images), config.digits, config.per_digit
    flat = control.reshape(-1, *control.shape[2:])
    shape = control.shape[2:]
    out = {
        "distances": np.empty((n, 10)),
        "digits": np.empty((n, d), np.int64),
        "deformed": np.empty((n, d, *shape)),
        "rigid": np.empty((n, d, *shape)),
        "mismatch": np.empty((n, d)),
        "deformation": np.empty((n, d)),
    }
    for s in range(0, n, batch):
        x = np.asarray(images[s : s + batch])
        digits, nearest, rigid = candidates(x, control, config)
        which = (digits[:, :, None] * control.shape[1] + nearest).reshape(-1)  # (b D P)
        image_of = np.repeat(np.arange(len(x)), d * p)
        rigid_templates = flat[which]
        deformed, mismatch, cost = deform(rigid_templates, x / 255.0, image_of, config)
        total = (mismatch + cost).reshape(len(x), d, p)
        best = total.argmin(axis=2)  # (b, D)
        pick = (np.arange(len(x))[:, None] * d + np.arange(d)) * p + best  # flat rows
        cost_of = np.take_along_axis(total, best[:, :, None], 2)[..., 0]  # (b, D)
        out["distances"][s : s + batch] = _combined(rigid, digits, cost_of)
        out["digits"][s : s + batch] = digits
        out["deformed"][s : s + batch] = deformed[pick]
        out["rigid"][s : s + batch] = rigid_templates[pick]
        out["mismatch"][s : s + batch] = mismatch[pick]
        out["deformation"][s : s + batch] = cost[pick]
        if progress is not None:
            progress(min(s + batch, n), n)
    return out


def rescore(
    images: np.ndarray,
    found: dict[str, np.ndarray],
    control: np.ndarray,
    width: int,
    config: DeformConfig,
    rigid: np.ndarray | None = None,
) -> np.ndarray:
    """Distances (N, 10) of a :func:`match` read again at another halo width: the deformed
    control points kept (no optimisation), the other digits' rigid distances redrawn at
    that width (``rigid``: those, if already computed); the width slider's re-scoring."""
    n, d = found["digits"].shape
    flat = found["deformed"].reshape(n * d, *found["deformed"].shape[2:]).astype(np.float64)
    mismatch, _ = halo_cost(
        flat, np.asarray(images) / 255.0, np.repeat(np.arange(n), d), width,
        config.final, config.final_samples, grad=False,
    )  # fmt: skip
    digits = found["digits"].astype(np.int64)
    if rigid is None:
        rigid = digit_distances(images, control, width)
    return _combined(rigid, digits, mismatch.reshape(n, d) + found["deformation"])
