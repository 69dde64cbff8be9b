"""Galleries of images: ranked by a method's scores, paged, each thumbnail opening its
image page; the image page's previous / next walk the gallery it was opened from."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import numpy as np
import streamlit as st
from PIL import Image

from core import metrics

IMAGE_PAGE = "views/image.py"
PAGE_SIZE = 40
COLUMNS = 8
THUMB = 56  # pixels: twice the digit


def paper(image: np.ndarray) -> np.ndarray:
    """Ink dark on white paper, as the other figures draw digits."""
    return 255 - np.asarray(image, np.uint8)


def data_uri(image: np.ndarray, size: int = THUMB) -> str:
    """A (28, 28) digit as a PNG data URI of ``size`` pixels, ink dark on white."""
    buffer = io.BytesIO()
    Image.fromarray(paper(image)).resize((size, size), Image.NEAREST).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


# A page link's label draws its images at the height of the text: in a container of
# thumbnails (its key starts with "thumbs_"), at thumbnail size above the caption.
_THUMBS_CSS = (
    "<style>[class*='st-key-thumbs_'] [data-testid=stPageLink] img "
    f"{{display: block; height: {THUMB}px; width: {THUMB}px; max-height: none; "
    "image-rendering: pixelated; margin-bottom: 2px}</style>"
)


def thumbnails(
    images: list[np.ndarray], captions: list[str], queries: list[dict], key: str, columns: int
) -> None:
    """Thumbnails in rows of ``columns``, each (picture and caption) one link to its image
    page with its query parameters."""
    st.html(_THUMBS_CSS)
    with st.container(key=f"thumbs_{key}"):
        for start in range(0, len(images), columns):
            row = range(start, min(start + columns, len(images)))
            for col, j in zip(st.columns(columns), row, strict=False):
                col.page_link(
                    IMAGE_PAGE,
                    label=f"![]({data_uri(images[j])})\n{captions[j]}",
                    query_params=queries[j],
                )


def _turn(page_key: str, step: int) -> None:
    st.session_state[page_key] = st.session_state.get(page_key, 1) + step


def remember(title: str, ids: list[int], split: str, key: str) -> None:
    """Make this gallery the one an image page walks with previous / next."""
    st.session_state["gallery"] = {
        "title": title,
        "ids": [int(i) for i in ids],
        "split": split,
        "page": st.session_state.get("current_page"),
        "query": dict(st.query_params),
        "key": key,
    }


def gallery(
    rows: np.ndarray,
    *,
    images: np.ndarray,
    labels: np.ndarray,
    key: str,
    title: str,
    scores: np.ndarray | None = None,
    ids: np.ndarray | None = None,
    split: str = "test",
    caption: Callable[[int], str] | None = None,
    link: dict | None = None,
    keyboard: bool = False,
    ranked: bool = False,
) -> np.ndarray:
    """Thumbnails of ``images[rows]`` in the order a person picks, a page at a time.

    rows : indices into ``images``, ``labels`` (N,) and ``scores`` (N, 10)
    ids : each row's index in ``split`` (default: the row itself), what the image page shows
    caption : a row's caption (default: its index, label and predicted digit)
    link : extra query parameters for the image page (the method it was opened with)
    keyboard : P / N turn the pages (one gallery per page should have it)
    ranked : ``rows`` are already in the order to show (no choice of order)

    Returns the rows in the chosen order.
    """
    ids = np.arange(len(labels)) if ids is None else np.asarray(ids)
    left, right = st.columns([3, 2])
    if ranked:
        how, order = "ranked", np.asarray(rows)
    elif scores is None:
        how, order = "index", np.sort(np.asarray(rows))
        left.caption("by index")
    else:
        how = left.selectbox(
            "Order",
            list(metrics.SORTS),
            format_func=metrics.SORTS.get,
            key=f"{key}_sort",
            label_visibility="collapsed",
        )
        order = metrics.sort_rows(rows, scores, labels, how)
    n_pages = max(1, -(-len(order) // PAGE_SIZE))
    page_key = f"{key}_page"
    if st.session_state.get(f"{key}_of") != (how, len(order), order[:1].tolist()):
        st.session_state[f"{key}_of"] = (how, len(order), order[:1].tolist())
        st.session_state[page_key] = 1  # a new order starts on its first page
    page = min(max(1, st.session_state.get(page_key, 1)), n_pages)
    st.session_state[page_key] = page
    with right:
        a, b, c = st.columns([2, 3, 2], vertical_alignment="center")
        # Callbacks turn the page before the buttons are drawn again, so "next" is
        # disabled as soon as the last page shows.
        a.button(
            "◀",
            key=f"{key}_prev",
            disabled=page == 1,
            help="previous page (P)",
            shortcut="P" if keyboard else None,
            on_click=_turn,
            args=(page_key, -1),
        )
        c.button(
            "▶",
            key=f"{key}_next",
            disabled=page == n_pages,
            help="next page (N)",
            shortcut="N" if keyboard else None,
            on_click=_turn,
            args=(page_key, 1),
        )
        b.markdown(f"page **{page}** of {n_pages}")
    shown = order[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    first = (page - 1) * PAGE_SIZE + 1
    st.caption(
        f"{title}: **{len(order)} images**"
        + (f", {first}–{first + len(shown) - 1} shown" if len(order) else "")
    )
    remember(title, ids[order].tolist(), split, key)
    thumbnails(
        [images[row] for row in shown],
        [caption(row) if caption else f"#{int(ids[row])}: {labels[row]}" for row in shown],
        [{"image": int(ids[row]), "split": split} | (link or {}) for row in shown],
        key=key,
        columns=COLUMNS,
    )
    return order
