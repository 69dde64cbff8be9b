"""The Data overview page, rendered by Streamlit's AppTest against the real MNIST."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tests.dashboard.plotly_spec import array, traces

APP = str(REPO / "dashboard" / "app.py")


@pytest.fixture
def app(mnist_dir) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()  # the front page first
    at.switch_page("views/data.py").run()
    assert not at.exception, at.exception
    return at


def _charts(at):
    return at.get("plotly_chart")


def test_overview_renders_counts_per_digit(app, mnist_train, mnist_test):
    bars = traces(_charts(app)[0])
    assert [t["name"] for t in bars] == ["train", "test"]
    for trace, (_, labels) in zip(bars, (mnist_train, mnist_test), strict=True):
        assert array(trace["y"]).tolist() == np.bincount(labels).tolist()
    table = app.dataframe[0].value
    assert table["total"].sum() == 70000


def test_mosaic_shows_the_first_images_of_each_digit(app, mnist_train):
    images, labels = mnist_train
    heat = traces(_charts(app)[1])[0]
    ids = array(heat["customdata"])
    shown = sorted(set(ids[ids >= 0].ravel().tolist()))
    assert len(shown) == 10 * 12
    assert sorted(labels[shown].tolist()) == sorted(list(range(10)) * 12)
    first_three = np.flatnonzero(labels == 3)[0]
    assert first_three in shown


def test_index_picker_changes_the_image_shown(app, mnist_train, mnist_test):
    images, labels = mnist_train

    def shown():
        return array(traces(_charts(app)[-1])[0]["z"]), app.metric[0].value

    z, label = shown()
    np.testing.assert_array_equal(z, images[40])
    assert label == str(labels[40])

    app.number_input(key="index").set_value(7).run()
    assert not app.exception
    z, label = shown()
    np.testing.assert_array_equal(z, images[7])
    assert label == str(labels[7])
    assert not np.array_equal(images[7], images[40])

    app.radio(key="split").set_value("test").run()
    z, label = shown()
    np.testing.assert_array_equal(z, mnist_test[0][7])
    assert label == str(mnist_test[1][7])
