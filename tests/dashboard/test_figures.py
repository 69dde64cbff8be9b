import numpy as np

from dashboard.figures import digit_image, mosaic


def test_mosaic_places_each_image_in_its_cell():
    images = np.arange(4 * 3 * 2, dtype=np.uint8).reshape(4, 3, 2) * 5
    indices = np.array([[2, 0], [3, -1]])
    trace = mosaic(images, indices, gap=1).data[0]
    z, ids = np.asarray(trace.z), np.asarray(trace.customdata)
    assert z.shape == (2 * 4, 2 * 3)
    np.testing.assert_array_equal(z[0:3, 0:2], images[2])
    np.testing.assert_array_equal(z[0:3, 3:5], images[0])
    np.testing.assert_array_equal(z[4:7, 0:2], images[3])
    assert np.isnan(z[4:7, 3:5]).all() and np.isnan(z[3]).all()
    assert (ids[4:7, 0:2] == 3).all() and (ids[4:7, 3:5] == -1).all()


def test_digit_image_keeps_pixel_values():
    image = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(digit_image(image).data[0].z), image)
