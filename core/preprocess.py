"""A drawn or uploaded picture turned into an MNIST-like digit.

MNIST's own preparation (LeCun et al.): the digit's bounding box is scaled, keeping its
aspect ratio, to fit a 20 × 20 box with anti-aliasing, then placed in 28 × 28 so that
its centre of mass sits at the centre. Ink is high (255), paper is 0.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from scipy import ndimage

from core.errors import ExplorerError

SIDE, BOX = 28, 20
CENTRE = 14.0  # where MNIST's centres of mass sit (row and column means over the training set)
MAX_PIXELS = 50_000_000  # refuse larger pictures before decoding them (decompression bombs)
MAX_BYTES = 5 * 1024 * 1024  # the upload cap of .streamlit/config.toml (server.maxUploadSize)
_INK = 0.1  # ink threshold on the 0..1 scale, after polarity is settled


class ImageError(ExplorerError):
    """A picture that cannot be read as a digit."""


def decode_image(data: bytes) -> np.ndarray:
    """Decode image bytes into grey levels in 0..1 (H, W) float64; paper or ink may be either.

    Transparency counts as paper (composited over white); 16-bit and palette pictures are
    brought to grey; of an animation, the first frame is used.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageError("upload: expected an image file (PNG, JPEG, GIF, BMP…), found 0 bytes")
    if len(data) > MAX_BYTES:
        raise ImageError(
            f"upload: expected at most {MAX_BYTES >> 20} MB, found {len(data):,} bytes"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise ImageError(
                        f"upload: expected at most {MAX_PIXELS:,} pixels, found {w}×{h}"
                    )
                img.seek(0)
                return _grey(img)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"upload: expected at most {MAX_PIXELS:,} pixels, found more ({exc})"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, TypeError) as exc:
        raise ImageError(
            f"upload: expected an image file (PNG, JPEG, GIF, BMP…), could not decode it ({exc})"
        ) from exc


def _grey(img) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        return np.clip(a / hi, 0, 1)
    rgba = np.asarray(img.convert("RGBA"), np.float64) / 255  # palette, LA, CMYK… → RGBA
    grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
    alpha = rgba[..., 3]
    return grey * alpha + (1 - alpha)  # transparent pixels are white paper


def to_mnist(image: np.ndarray) -> np.ndarray:
    """An MNIST-like digit, uint8 (28, 28), from grey levels (H, W) in 0..1 or 0..255.

    The polarity is found from the border (its median is the paper); the inked bounding
    box is scaled to fit 20 × 20 and the result shifted so that its centre of mass is at
    the image centre. A picture with no ink is refused.
    """
    a = np.asarray(image)
    if a.ndim != 2 or min(a.shape) < 1:
        raise ImageError(f"image: expected a 2-D grey picture, found shape {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ImageError("image: expected finite grey levels, found NaN or infinity")
    if a.max() > 1:
        a = a / 255.0
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    ink = 1 - a if np.median(border) > 0.5 else a  # dark ink on light paper, or the reverse
    ink = np.clip(ink, 0, 1)
    rows, cols = np.nonzero(ink > _INK)
    if rows.size == 0:
        raise ImageError("image: expected a digit, found no ink (a blank picture)")
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = BOX / max(crop.shape)
    shape = tuple(max(1, round(s * scale)) for s in crop.shape)
    small = _resize(crop, shape)
    out = np.zeros((SIDE, SIDE))
    top, left = (SIDE - shape[0]) // 2, (SIDE - shape[1]) // 2
    out[top : top + shape[0], left : left + shape[1]] = small
    if out.sum() > 0:
        cy, cx = ndimage.center_of_mass(out)
        dy, dx = np.clip(np.round([CENTRE - cy, CENTRE - cx]), -4, 4).astype(int)
        out = np.roll(out, (dy, dx), axis=(0, 1))  # the 20-px box has 4 px of margin
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def _resize(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area-averaging resize (anti-aliased when shrinking), bilinear when enlarging."""
    from PIL import Image

    img = Image.fromarray(np.asarray(a, np.float32), mode="F")
    resample = Image.Resampling.BOX if shape[0] <= a.shape[0] else Image.Resampling.BILINEAR
    return np.asarray(img.resize((shape[1], shape[0]), resample), np.float64)


def pixels_to_grey(pixels: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) uint8 pixels (a canvas's RGBA) → grey (H, W) in 0..1."""
    a = np.asarray(pixels)
    if a.ndim == 2:
        return a.astype(np.float64) / (255.0 if a.max(initial=0) > 1 else 1.0)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ImageError(f"pixels: expected (H, W), (H, W, 3) or (H, W, 4), found {a.shape}")
    rgb = a[..., :3].astype(np.float64) / 255 @ np.array([0.299, 0.587, 0.114])
    alpha = a[..., 3].astype(np.float64) / 255 if a.shape[2] == 4 else 1.0
    return rgb * alpha + (1 - alpha)


def image_to_mnist(data: bytes) -> np.ndarray:
    """Uploaded bytes → uint8 (28, 28) digit, or :class:`ImageError` saying why not."""
    return to_mnist(decode_image(data))
