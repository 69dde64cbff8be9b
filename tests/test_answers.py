"""One image's answers computed in the background and kept: keyed by method, definition
and image, refused when the image is not one."""

from __future__ import annotations

import numpy as np
import pytest

from core import answers, jobs, methods, tasks
from core.errors import ExplorerError


def test_an_answer_is_computed_by_its_task_and_read_back(cached_copy, mnist_test):
    images, _ = mnist_test
    method = methods.get("knn-raw")
    assert answers.cached(method, images[0]) is None
    task = tasks.one_image_task([method.id], images[0])
    assert tasks.run_here(task).state == jobs.DONE
    got = answers.cached(method, images[0])
    np.testing.assert_allclose(got, method.predict_one(images[0]))
    assert answers.cached(method, images[1]) is None  # another image: another key
    other = methods.get("knn-deskewed")
    assert answers.config(other, images[0]) != answers.config(method, images[0])


@pytest.mark.parametrize(
    "pixels, found",
    [(list(range(10)), "found 10 from 0 to 9"), ([300] * 784, "found 784 from 300 to 300")],
)
def test_a_task_with_something_else_than_an_image_is_refused(pixels, found):
    with pytest.raises(ExplorerError, match=f"expected 784 pixels of 0..255, {found}"):
        tasks.check_task("one-image", {"ids": ["knn-raw"], "image": pixels})
    with pytest.raises(ExplorerError, match="method: expected one of"):
        tasks.check_task("one-image", {"ids": ["nope"], "image": [0] * 784})
