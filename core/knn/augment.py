"""Training-set variants: the report's augmentations (section 1.5) and deskewing.

The report ran ``scipy.ndimage.shift``, ``rotate(reshape=False)`` and a clipped ``zoom``,
all with their default cubic splines, on int64 pixels (its data came through pandas):
outputs are rounded integers that leave 0..255. Each of those operations is linear in
the image, so we apply it to the 784 basis images once to get its 784×784 matrix,
then transform the whole set with one matrix product and round as scipy rounds integer
outputs (half away from zero). Same numbers as scipy's loop, vectorised.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from core.errors import ExplorerError
from core.progress import Progress

SIDE = 28
# The report's eight transformations, grouped as its ablation grouped them, and one
# group beyond the report: the four diagonal one-pixel shifts.
GROUPS: dict[str, tuple[str, ...]] = {
    "shifts": ("down", "up", "left", "right"),
    "rotations": ("rot+10", "rot-10"),
    "zooms": ("zoom1.1", "zoom1.2"),
    "diagonals": ("down-left", "down-right", "up-left", "up-right"),
}
REPORT_GROUPS = ("shifts", "rotations", "zooms")
TRANSFORMS = tuple(t for group in GROUPS.values() for t in group)


def _clipped_zoom(image: np.ndarray, factor: float) -> np.ndarray:
    # Crop the centre to side/factor pixels, then zoom back to (about) the full side.
    h, w = image.shape
    zh, zw = round(h / factor), round(w / factor)
    top, left = (h - zh) // 2, (w - zw) // 2
    return ndimage.zoom(image[top : top + zh, left : left + zw], factor)


_SCIPY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "down": lambda im: ndimage.shift(im, [1, 0]),
    "up": lambda im: ndimage.shift(im, [-1, 0]),
    "left": lambda im: ndimage.shift(im, [0, -1]),
    "right": lambda im: ndimage.shift(im, [0, 1]),
    "down-left": lambda im: ndimage.shift(im, [1, -1]),
    "down-right": lambda im: ndimage.shift(im, [1, 1]),
    "up-left": lambda im: ndimage.shift(im, [-1, -1]),
    "up-right": lambda im: ndimage.shift(im, [-1, 1]),
    "rot+10": lambda im: ndimage.rotate(im, 10, reshape=False),
    "rot-10": lambda im: ndimage.rotate(im, -10, reshape=False),
    "zoom1.1": lambda im: _clipped_zoom(im, 1.1),
    "zoom1.2": lambda im: _clipped_zoom(im, 1.2),
}


def scipy_transform(image: np.ndarray, name: str) -> np.ndarray:
    """The report's transformation ``name`` of one image, computed by scipy itself."""
    return _SCIPY[name](image)


@functools.cache
def transform_matrix(name: str) -> np.ndarray:
    """The (784, 784) float64 ``M`` with ``scipy_transform(x) == M @ x``, before rounding."""
    if name not in _SCIPY:
        raise ExplorerError(f"transform: expected one of {TRANSFORMS}, found {name!r}")
    basis = np.eye(SIDE * SIDE).reshape(-1, SIDE, SIDE)
    columns = [scipy_transform(b, name).reshape(-1) for b in basis]
    out = np.stack(columns, axis=1)
    if out.shape != (SIDE * SIDE, SIDE * SIDE):
        raise ExplorerError(f"transform {name}: output is not {SIDE}×{SIDE}")
    return out


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # scipy.ndimage's cast of a float result to an integer output type.
    return np.trunc(x + np.copysign(0.5, x))


def apply_transform(
    images: np.ndarray, name: str, clip: bool = False, chunk: int = 8192
) -> np.ndarray:
    """The transformation ``name`` of every image, rounded as the report's int64 pipeline.

    images : integer ndarray of shape (N, 28, 28)
    clip : keep pixels in 0..255 and return uint8; otherwise int16, whose values may
        leave 0..255 as the report's did.
    """
    images = np.asarray(images)
    flat = images.reshape(len(images), -1)
    out = np.empty(flat.shape, np.uint8 if clip else np.int16)
    mt = transform_matrix(name).T
    for s in range(0, len(flat), chunk):
        values = _round_half_away(flat[s : s + chunk].astype(np.float64) @ mt)
        out[s : s + chunk] = np.clip(values, 0, 255) if clip else values
    return out.reshape(images.shape)


def transforms_of(groups: tuple[str, ...]) -> tuple[str, ...]:
    """The transformations of some groups, in :data:`GROUPS` order whatever the order asked
    (the order the report's ``np.r_[X, X_add]`` stacked them)."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ExplorerError(f"augmentation: expected groups among {list(GROUPS)}, found {unknown}")
    return tuple(t for g in GROUPS if g in groups for t in GROUPS[g])


def transformations(image: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """One image (28, 28) and each of :data:`TRANSFORMS` of it, clipped to 0..255 for
    display: ``(images (1 + 12, 28, 28) uint8, captions)``."""
    image = np.asarray(image)[None]
    out = [image.astype(np.uint8)] + [
        np.clip(apply_transform(image, t), 0, 255).astype(np.uint8) for t in TRANSFORMS
    ]
    group = {t: g for g, ts in GROUPS.items() for t in ts}
    return np.concatenate(out), ["original"] + [f"{t} ({group[t]})" for t in TRANSFORMS]


def augment(
    images: np.ndarray,
    labels: np.ndarray,
    transforms: tuple[str, ...],
    clip: bool = False,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The originals followed by each transformation, in the order given.

    Returns ``(images (N·(1+t), 28, 28), labels (N·(1+t),))``; int16 as the report's
    pipeline, or uint8 in 0..255 with ``clip``.
    """
    unknown = [t for t in transforms if t not in _SCIPY]
    if unknown:
        raise ExplorerError(
            f"augmentation: expected transforms among {TRANSFORMS}, found {unknown}"
        )
    parts = [np.asarray(images, np.uint8 if clip else np.int16)]
    for i, name in enumerate(transforms):
        parts.append(apply_transform(images, name, clip))
        if progress is not None:
            progress(i + 1, len(transforms))
    return np.concatenate(parts), np.tile(labels, len(parts))


def deskew(images: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Straighten each digit by its image moments, and centre it on its centre of mass.

    The shear ``alpha = cov(row, col) / var(row)`` that makes the digit's principal axis
    vertical is undone by sampling ``col + alpha (row - centre)``, bilinearly, with zeros
    outside. Vectorised over the whole set.

    images : ndarray of shape (N, 28, 28); returns uint8 of the same shape.
    """
    images = np.asarray(images)
    out = np.empty(images.shape, np.uint8)
    for s in range(0, len(images), chunk):  # chunks keep the temporaries in cache
        out[s : s + chunk] = _deskew(images[s : s + chunk])
    return out


def _deskew(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float64)
    n, h, w = x.shape
    rows, cols = np.mgrid[:h, :w].astype(np.float64)
    mass = x.sum(axis=(1, 2))
    mass[mass == 0] = 1.0  # a blank image stays blank
    r0 = np.einsum("nij,ij->n", x, rows) / mass
    c0 = np.einsum("nij,ij->n", x, cols) / mass
    dr, dc = rows - r0[:, None, None], cols - c0[:, None, None]
    var_r = np.einsum("nij,nij->n", x, dr * dr) / mass
    cov_rc = np.einsum("nij,nij->n", x, dr * dc) / mass
    alpha = np.divide(cov_rc, var_r, out=np.zeros(n), where=var_r > 0)
    # Output pixel (r, c) samples the input at (r + r0 - h/2, c + alpha (r - h/2) + c0 - w/2).
    src_r = rows[None] + (r0 - h / 2)[:, None, None]
    src_c = cols[None] + alpha[:, None, None] * (rows[None] - h / 2) + (c0 - w / 2)[:, None, None]
    return np.clip(np.rint(_bilinear(x, src_r, src_c)), 0, 255).astype(np.uint8)


def _bilinear(x: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Sample each image of ``x`` (N, h, w) at float coordinates (N, h, w); zero outside."""
    n, h, w = x.shape
    r_lo, c_lo = np.floor(r).astype(np.int64), np.floor(c).astype(np.int64)
    fr, fc = r - r_lo, c - c_lo
    base = (np.arange(n) * (h * w))[:, None, None]
    flat = x.reshape(-1)
    out = np.zeros_like(r)
    for dr_, wr in ((0, 1 - fr), (1, fr)):
        for dc_, wc in ((0, 1 - fc), (1, fc)):
            rr, cc = r_lo + dr_, c_lo + dc_
            inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            values = np.take(flat, base + np.clip(rr, 0, h - 1) * w + np.clip(cc, 0, w - 1))
            out += np.where(inside, values * (wr * wc), 0.0)
    return out
