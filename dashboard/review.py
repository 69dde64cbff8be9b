"""The Suspicious labels page's review mode: one image large, its neighbours and the
evidence, verdicts at the keyboard (:mod:`core.review` says what each key means), the
next image already in the browser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from core import marks, review
from dashboard.gallery import paper

BIG = 280  # pixels: ten times the digit
AT = "review_at"  # session state: the image under review


def picture(image: np.ndarray, size: int) -> Image.Image:
    """A digit at ``size`` pixels, ink dark on white, its pixels kept square."""
    return Image.fromarray(paper(image)).resize((size, size), Image.NEAREST)


def _go(split: str, queue: list[int], by: int) -> None:
    st.session_state[AT] = (split, review.step(queue, _current(split), by))


def _current(split: str) -> int | None:
    at = st.session_state.get(AT)
    return at[1] if at and at[0] == split else None


def _give(split: str, queue: list[int], index: int, given: int, key: str, only_new: bool) -> None:
    """A verdict key's callback: the verdict kept, the next image shown."""
    verdict, label = review.verdict_for(key, given)
    marks.set_mark(split, index, verdict, label)
    fix = f", it is a {label}" if label is not None else ""
    st.session_state["review_said"] = f"#{index}: {verdict}{fix}."
    st.session_state[AT] = (split, review.after_verdict(queue, index, only_new))


def _buttons(split: str, queue: list[int], index: int, given: int, only_new: bool) -> None:
    mark = marks.marks(split).get(index)
    digits = st.container(horizontal=True, key="review_digits")
    for d in range(10):
        chosen = mark is not None and (mark.label == d or (d == given and mark.verdict == "right"))
        digits.button(
            str(d),
            key=f"review_digit_{d}",
            type="primary" if chosen else "secondary",
            shortcut=str(d),
            on_click=_give,
            args=(split, queue, index, given, str(d), only_new),
            help=f"{d}: the right label is {d}" + (" (the given one)" if d == given else ""),
        )
    row = st.container(horizontal=True, key="review_verdicts")
    for key, text in (("V", "✓ given label right"), ("U", "? unsure"), ("X", "✗ wrong")):
        verdict = review.LETTERS[key]
        row.button(
            f"{text} ({key})",
            key=f"review_{verdict}",
            type="primary" if mark is not None and mark.verdict == verdict else "secondary",
            shortcut=key,
            on_click=_give,
            args=(split, queue, index, given, key, only_new),
        )
    nav = st.container(horizontal=True, key="review_nav")
    for text, key, by in (("◀ previous", "P", -1), ("next ▶", "N", 1)):
        label = f"{text} ({key})"
        nav.button(label, key=f"review_{key}", shortcut=key, on_click=_go, args=(split, queue, by))
    for text, key, by in (("←", "Left", -1), ("→", "Right", 1)):
        nav.button(text, key=f"review_{key}", shortcut=key, on_click=_go, args=(split, queue, by))


def review_queue(
    rows: np.ndarray,
    split: str,
    images: np.ndarray,
    labels: np.ndarray,
    ranked: pd.DataFrame,
    only_new: bool,
) -> None:
    """Review the images ``rows`` (most suspicious first) one at a time."""
    queue = [int(i) for i in rows]
    verdicts = marks.verdicts(split)
    done, total = review.progress(queue, verdicts)
    st.progress(done / max(total, 1), text=f"{done} of {total} reviewed")
    if not queue:
        st.success("Nothing left to review with these filters.")
        return
    index = review.step(queue, _current(split), 0)
    st.session_state[AT] = (split, index)
    row = ranked.set_index("index").loc[index]
    given, suggested = int(labels[index]), int(row["suggested"])
    left, right = st.columns([3, 5])
    with left:
        position = queue.index(index) + 1
        st.markdown(
            f"**#{index}** ({position} of {total}): labelled **{given}**, the evidence "
            f"suggests **{suggested}** (suspicion {row['score']:.3f})"
        )
        st.image(picture(images[index], BIG), width=BIG)
        _buttons(split, queue, index, given, only_new)
        if "review_said" in st.session_state:
            st.caption("Kept: " + st.session_state.pop("review_said"))
        st.page_link(
            "views/image.py",
            label="the whole story of this image",
            query_params={"image": str(index), "split": split},
        )
    with right:
        scores = [c for c in ranked.columns if c.startswith(("KNN", "CNN"))]
        if scores:
            st.caption("What each source of evidence says (its favourite digit and score)")
            st.dataframe(row[scores].to_frame("says").T, hide_index=True)
        found = review.neighbours(split, index)
        if found is None:
            st.caption("No neighbour list cached for this split yet.")
        else:
            pictures, about = found
            st.caption("Its nearest training images, as the search saw them")
            cols = st.columns(len(pictures))
            for col, image, label in zip(cols, pictures, about["label"], strict=True):
                col.image(picture(image, 84), caption=str(label), width=84)
    # The next image, already loaded by the browser (hidden): it shows at once.
    following = review.step(queue, index, 1)
    with st.container(key="review_next"):
        st.html("<style>.st-key-review_next {display: none}</style>")
        st.image(picture(images[following], BIG), width=BIG)
