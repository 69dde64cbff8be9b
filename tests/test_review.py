"""The review queue's rules: what a key means, which image comes next, progress."""

from __future__ import annotations

import pytest

from core import review
from core.errors import ExplorerError


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("4", 9, ("wrong", 4)),  # the right label is 4
        ("9", 9, ("right", None)),  # the given digit pressed: the label is right
        ("0", 6, ("wrong", 0)),
        ("v", 3, ("right", None)),
        ("U", 3, ("unsure", None)),
        ("x", 3, ("wrong", None)),  # wrong, the digit not named
    ],
)
def test_what_a_key_says(key, given, expected):
    assert review.verdict_for(key, given) == expected


@pytest.mark.parametrize("key", ["r", "12", "", "-"])
def test_other_keys_are_refused(key):
    with pytest.raises(ExplorerError, match="key: expected a digit"):
        review.verdict_for(key, 3)


def test_next_and_previous_stop_at_the_ends():
    queue = [40, 7, 12]
    assert review.step(queue, 7, 1) == 12 and review.step(queue, 12, 1) == 12
    assert review.step(queue, 7, -1) == 40 and review.step(queue, 40, -1) == 40
    assert review.step(queue, 99, 1) == 40  # not in the queue (filtered out): the first
    assert review.step([], 7, 1) is None


def test_after_a_verdict_the_next_image_comes():
    queue = [40, 7, 12]
    assert review.after_verdict(queue, 7, only_unreviewed=False) == 12
    assert review.after_verdict(queue, 12, only_unreviewed=False) == 12  # the last stays
    # Only unreviewed ones listed: the judged image leaves, the rest wraps around.
    assert review.after_verdict(queue, 12, only_unreviewed=True) == 40
    assert review.after_verdict([12], 12, only_unreviewed=True) == 12


def test_progress_counts_the_queue_images_with_a_verdict():
    assert review.progress([40, 7, 12], {7: "wrong", 3: "right"}) == (1, 3)
