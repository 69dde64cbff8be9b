"""Augmentations against scipy.ndimage (the report's own calls), and deskewing."""

import numpy as np
import pytest

from core.errors import ExplorerError
from core.knn.augment import (
    GROUPS,
    TRANSFORMS,
    apply_transform,
    augment,
    deskew,
    scipy_transform,
    transforms_of,
)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_vectorised_transform_equals_scipy_on_int64_images(mnist_train, name):
    images = mnist_train[0][:150]
    expected = np.stack([scipy_transform(im.astype(np.int64), name) for im in images])
    np.testing.assert_array_equal(apply_transform(images, name), expected)


def test_report_pipeline_leaves_0_255_and_clip_keeps_it(mnist_train):
    images = mnist_train[0][:200]
    raw = apply_transform(images, "rot+10")
    assert raw.dtype == np.int16 and raw.min() < 0 and raw.max() > 255
    clipped = apply_transform(images, "rot+10", clip=True)
    assert clipped.dtype == np.uint8
    np.testing.assert_array_equal(clipped, np.clip(raw, 0, 255))


def test_integer_shifts_move_pixels_exactly():
    image = np.arange(28 * 28, dtype=np.uint8).reshape(1, 28, 28) % 200
    down = apply_transform(image, "down")[0]
    np.testing.assert_array_equal(down[1:], image[0, :-1])
    assert (down[0] == 0).all()
    up_right = apply_transform(image, "up-right")[0]
    np.testing.assert_array_equal(up_right[:-1, 1:], image[0, 1:, :-1])


def test_augment_order_and_labels(mnist_train):
    images, labels = mnist_train[0][:10], mnist_train[1][:10]
    x, y = augment(images, labels, transforms_of(("rotations", "shifts")))
    assert x.shape == (10 * 7, 28, 28) and x.dtype == np.int16
    np.testing.assert_array_equal(x[:10], images)
    # Groups come in GROUPS order whatever the order asked: shifts first.
    np.testing.assert_array_equal(x[10:20], apply_transform(images, GROUPS["shifts"][0]))
    np.testing.assert_array_equal(x[50:60], apply_transform(images, "rot+10"))
    np.testing.assert_array_equal(y, np.tile(labels, 7))
    with pytest.raises(ExplorerError, match="expected groups among"):
        transforms_of(("shear",))
    with pytest.raises(ExplorerError, match="expected transforms among"):
        augment(images, labels, ("shear",))


def _slanted_bar(slope: float) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    for r in range(4, 24):
        c = int(round(14 + slope * (r - 14)))
        image[r, c - 1 : c + 2] = 255
    return image


def test_deskew_straightens_a_slanted_stroke_and_centres_it():
    images = np.stack([_slanted_bar(0.5), _slanted_bar(-0.4), _slanted_bar(0.0)])
    out = deskew(images)
    assert out.dtype == np.uint8 and out.shape == images.shape
    rows, cols = np.mgrid[:28, :28]
    for before, after in zip(images, out, strict=True):
        ink = after.astype(float)
        col_mean = (ink * cols).sum() / ink.sum()
        row_mean = (ink * rows).sum() / ink.sum()
        assert abs(col_mean - 14) < 0.6 and abs(row_mean - 14) < 0.6
        cov = (ink * (rows - row_mean) * (cols - col_mean)).sum() / ink.sum()
        assert abs(cov) < 0.05 * (ink * (rows - row_mean) ** 2).sum() / ink.sum()
        assert abs(int(after.sum()) - int(before.sum())) < 0.05 * before.sum()


def test_deskew_keeps_blank_images_blank(mnist_test):
    out = deskew(np.concatenate([np.zeros((1, 28, 28), np.uint8), mnist_test[0][:3]]))
    assert out[0].max() == 0 and out[1:].max() > 0


def test_transformations_of_one_image_for_a_page(mnist_train):
    from core.knn import transformations

    image = mnist_train[0][3]
    tiles, captions = transformations(image)
    assert tiles.shape == (1 + len(TRANSFORMS), 28, 28) and tiles.dtype == np.uint8
    np.testing.assert_array_equal(tiles[0], image)
    i = 1 + TRANSFORMS.index("rot+10")
    np.testing.assert_array_equal(
        tiles[i], np.clip(apply_transform(image[None], "rot+10")[0], 0, 255)
    )
    assert captions[i] == "rot+10 (rotations)"
