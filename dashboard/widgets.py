"""Widgets shared by the pages: tables with their CSV, the clickable confusion matrix."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from core import metrics
from dashboard import figures
from dashboard.url import cell_text, parse_cell, to_url, url_state

CELLS = [f"{t}-{p}" for t in range(10) for p in range(10)]


def download(frame: pd.DataFrame, name: str, key: str | None = None) -> None:
    """A CSV download button for a table."""
    st.download_button(
        f"Download {name}.csv",
        frame.to_csv().encode(),
        f"{name}.csv",
        "text/csv",
        key=key or f"csv:{name}",
        icon=":material/download:",
    )


def table(frame: pd.DataFrame, name: str, **kwargs) -> None:
    """A table with its CSV download underneath."""
    st.dataframe(frame, **kwargs)
    download(frame, name)


GALLERY_MAX = 100  # images drawn at once; the CSV lists them all


def _from_chart(chart_key: str, cell_key: str) -> None:
    """Callback of the chart: copy the selected marker's (true, predicted) into the picker."""
    points = st.session_state[chart_key].selection.get("points", [])
    # A marker sits at (x, y) = (predicted, true); the pale diagonal has the same places.
    cells = [(int(p["y"]), int(p["x"])) for p in points if "x" in p and "y" in p]
    if cells:
        st.session_state[cell_key] = cell_text(cells[0])


def confusion_drilldown(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    images: np.ndarray,
    key: str,
    split: str = "test",
    proba: np.ndarray | None = None,
    index_base: np.ndarray | None = None,
    inspect: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """A confusion matrix whose chosen cell opens the gallery of exactly those images.

    The cell is chosen by a box drag over a marker (one or more) or with the picker;
    it lives in the URL as ``key=true-predicted``. ``images`` are the images of the
    queries, ``index_base`` their indices in ``split`` (default 0..N-1); ``inspect``
    draws more about one chosen image (its neighbours, its probabilities).
    """
    cm = metrics.confusion(y_true, y_pred)
    errors = cm - np.diag(np.diag(cm))
    worst = np.unravel_index(errors.argmax(), cm.shape)
    url_state(key, cell_text(worst), allowed=CELLS)
    cell = parse_cell(st.session_state[key])

    left, right = st.columns([5, 6])
    with left:
        st.plotly_chart(
            figures.confusion_matrix(cm, selected=cell),
            key=f"{key}_chart",
            on_select=lambda: _from_chart(f"{key}_chart", key),
            selection_mode=("points", "box"),
            config={"displayModeBar": False},
            width="content",
        )
        st.caption("Drag a box over a cell (or pick it below) to open its images.")
        st.selectbox(
            "Cell (true-predicted)",
            CELLS,
            key=key,
            format_func=lambda c: f"true {c[0]}, predicted {c[2]}: {cm[parse_cell(c)]} images",
        )
        to_url(key)
        digits = range(10)
        cm_frame = pd.DataFrame(
            cm, pd.Index(digits, name="true"), pd.Index(digits, name="predicted")
        )
        download(cm_frame, f"confusion-{key}")
    true, pred = parse_cell(st.session_state[key])
    rows = np.flatnonzero((np.asarray(y_true) == true) & (np.asarray(y_pred) == pred))
    ids = rows if index_base is None else np.asarray(index_base)[rows]
    with right:
        kind = "correct" if true == pred else "misclassified"
        st.markdown(f"**True {true}, predicted {pred}: {len(rows)} {kind} {split} images**")
        if len(rows):
            shown = rows[:GALLERY_MAX]
            captions = [
                f"{split} #{i}" + ("" if proba is None else f", p({pred})={proba[r, pred]:.2f}")
                for r, i in zip(shown, ids[: len(shown)], strict=True)
            ]
            st.plotly_chart(
                figures.gallery(images, shown, captions), key=f"{key}_gallery", width="stretch"
            )
            if len(rows) > GALLERY_MAX:
                st.caption(f"The first {GALLERY_MAX} of {len(rows)}; the CSV lists them all.")
            listing = pd.DataFrame({f"{split} index": ids, "true": true, "predicted": pred})
            if proba is not None:
                listing[[f"p({d})" for d in range(10)]] = proba[rows]
            download(listing, f"images-{key}-{true}-{pred}")
            if inspect is not None:
                chosen = st.selectbox(
                    "Inspect one image",
                    range(len(rows)),
                    key=f"{key}_image",
                    format_func=lambda r: f"{split} #{ids[r]}",
                )
                inspect(int(rows[chosen]))
        else:
            st.caption("No image in this cell.")
    return true, pred
