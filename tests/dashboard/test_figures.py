import numpy as np

from dashboard.figures import digit_image, mosaic, tile_rows


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


def test_tile_rows_puts_each_row_of_tiles_on_its_own_line():
    a = np.full((3, 10, 28), 10, np.uint8)
    b = np.full((2, 10, 28), 200, np.uint8)
    fig = tile_rows([(a, ["a0", "a1", "a2"]), (b, ["b0", "b1"])], "pattern")
    trace = fig.data[0]
    z, text = np.asarray(trace.z), np.asarray(trace.text)
    assert z.shape == (2 * 12, 3 * 30)  # tiles of 10 × 28 with a gap of 2
    for c in range(3):
        assert (z[0:10, 30 * c : 30 * c + 28] == 10).all()
    assert (z[12:22, 0:28] == 200).all() and (z[12:22, 30:58] == 200).all()
    assert np.isnan(z[12:22, 60:88]).all()  # row 1 has two tiles: its third cell is blank
    assert text[12, 30] == "b1" and text[0, 60] == "a2"
    assert list(fig.layout.yaxis.ticktext) == ["pattern 0", "pattern 1"]
