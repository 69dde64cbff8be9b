import numpy as np

from dashboard.figures import digit_image, gallery, mosaic, tile_rows


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
    pixels, points = fig.data
    z = np.asarray(pixels.z)
    assert z.shape == (2 * 12, 3 * 30)  # tiles of 10 × 28 with a gap of 2
    for c in range(3):
        assert (z[0:10, 30 * c : 30 * c + 28] == 10).all()
    assert (z[12:22, 0:28] == 200).all() and (z[12:22, 30:58] == 200).all()
    assert (z[12:22, 60:88] == 0).all()  # row 1 has two tiles: its third cell is blank
    assert pixels.hoverinfo == "skip"
    # One caption per tile, at the tile's centre, not one per pixel.
    assert list(points.text) == ["a0", "a1", "a2", "b0", "b1"]
    assert list(points.x) == [13.5, 43.5, 73.5, 13.5, 43.5]
    assert list(points.y) == [4.5, 4.5, 4.5, 16.5, 16.5]
    assert list(fig.layout.yaxis.ticktext) == ["pattern 0", "pattern 1"]


def test_a_captioned_gallery_stays_small_for_the_browser():
    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    captions = [f"#{i}: 3→5 0.93" for i in range(40)]
    fig = gallery(images, np.arange(40), captions)
    assert list(fig.data[1].customdata) == list(range(40))
    assert len(fig.to_json()) < 100_000  # 1.1 MB with a caption per pixel
