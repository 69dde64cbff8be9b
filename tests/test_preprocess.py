"""Drawn and uploaded pictures → MNIST-like digits, or a clear refusal; never a traceback."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from scipy import ndimage

from core.preprocess import MAX_BYTES, ImageError, image_to_mnist, pixels_to_grey, to_mnist


def _png(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _check_digit(d: np.ndarray) -> None:
    assert d.shape == (28, 28) and d.dtype == np.uint8
    rows, cols = np.nonzero(d)
    assert rows.max() - rows.min() < 24 and cols.max() - cols.min() < 24  # inside the 20-px box
    cy, cx = ndimage.center_of_mass(d.astype(float))
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1


def _dark_stroke(size=(200, 120), mode="L") -> Image.Image:
    a = np.full(size, 255, np.uint8)
    a[30:170, 50:70] = 0  # a black "1" on white paper
    return Image.fromarray(a).convert(mode)


def test_a_mnist_digit_keeps_its_shape(mnist_test):
    image = mnist_test[0][0]
    d = to_mnist(image)
    _check_digit(d)
    assert np.corrcoef(d.ravel(), image.ravel())[0, 1] > 0.9


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA", "CMYK", "I;16", "1"])
def test_every_colour_mode_gives_the_same_digit(mode):
    reference = image_to_mnist(_png(_dark_stroke()))
    img = _dark_stroke(mode="RGB" if mode in ("CMYK",) else "L")
    if mode == "I;16":
        img = Image.fromarray(np.asarray(img, np.uint16) * 257)
    else:
        img = img.convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I;16") else "PNG"
    d = image_to_mnist(_png(img, fmt))
    _check_digit(d)
    assert np.abs(d.astype(int) - reference).mean() < 8


def test_transparent_background_counts_as_paper():
    a = np.zeros((100, 100, 4), np.uint8)  # fully transparent…
    a[20:80, 45:55] = (0, 0, 0, 255)  # …but for an opaque black bar
    d = image_to_mnist(_png(Image.fromarray(a, "RGBA")))
    _check_digit(d)
    assert d[:, :10].max() == 0 and d.max() == 255


def test_light_ink_on_dark_paper_is_recognised():
    a = np.zeros((60, 60), np.uint8)
    a[10:50, 25:35] = 255
    assert image_to_mnist(_png(Image.fromarray(a))).max() == 255


def test_animated_gif_uses_its_first_frame():
    frames = [_dark_stroke(), Image.new("L", (120, 200), 255)]
    data = _png(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    _check_digit(image_to_mnist(data))


@pytest.mark.parametrize("value", [0, 255])
def test_one_pixel_images_are_paper_only(value):
    # A single pixel is its own border: read as paper, so no ink is found.
    with pytest.raises(ImageError, match="no ink"):
        image_to_mnist(_png(Image.new("L", (1, 1), value)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "found 0 bytes"),
        (b"%PDF-1.7 not an image", "could not decode"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "could not decode"),  # a PNG signature, no image
        (b"x" * (MAX_BYTES + 1), "at most 5 MB"),
    ],
)
def test_non_images_are_refused_with_a_message(data, message):
    with pytest.raises(ImageError, match=message):
        image_to_mnist(data)


def test_huge_picture_is_refused_before_decoding():
    data = _png(Image.new("1", (10_000, 10_000), 1))  # 100 megapixels, a few kB compressed
    assert len(data) < MAX_BYTES
    with pytest.raises(ImageError, match="at most 50,000,000 pixels"):
        image_to_mnist(data)


def test_blank_canvas_is_refused():
    with pytest.raises(ImageError, match="no ink"):
        to_mnist(pixels_to_grey(np.full((280, 280, 4), 255, np.uint8)))


def test_canvas_rgba_pixels(mnist_test):
    canvas = np.full((280, 280, 4), 255, np.uint8)
    canvas[40:240, 130:150, :3] = 0
    _check_digit(to_mnist(pixels_to_grey(canvas)))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_give_a_digit_or_the_project_error(data):
    try:
        d = image_to_mnist(data)
    except ImageError:
        return
    assert d.shape == (28, 28) and d.dtype == np.uint8


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 64), st.integers(1, 64)),
        elements=st.floats(allow_nan=True, allow_infinity=True),
    )
)
def test_arbitrary_grey_arrays_give_a_digit_or_the_project_error(a):
    try:
        d = to_mnist(a)
    except ImageError:
        return
    assert d.shape == (28, 28) and d.dtype == np.uint8 and d.max() > 0


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["PNG", "GIF", "BMP", "TIFF", "WEBP", "JPEG"]),
    st.integers(1, 80),
    st.integers(1, 80),
    st.integers(0, 2**32 - 1),
)
def test_random_valid_pictures_in_every_format(fmt, w, h, seed):
    a = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    try:
        d = image_to_mnist(_png(Image.fromarray(a), fmt))
    except ImageError as exc:
        assert "no ink" in str(exc)
        return
    assert d.shape == (28, 28)
