"""Widgets shared by the pages: tables with their CSV, the clickable confusion matrix, a
template before and after it bent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core import metrics, splines
from dashboard import figures
from dashboard.gallery import gallery
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


def table(frame: pd.DataFrame, name: str, static: bool = False, **kwargs) -> None:
    """A table with its CSV download underneath; ``static``: plain HTML, drawn with the
    page (an interactive grid repaints its canvas a few hundred ms after a rerun)."""
    if static:
        st.table(frame)
    else:
        st.dataframe(frame, **kwargs)
    download(frame, name)


def _from_chart(chart_key: str, cell_key: str) -> None:
    """Callback of the chart: copy the selected marker's (true, predicted) into the picker."""
    points = st.session_state[chart_key].selection.get("points", [])
    # A marker sits at (x, y) = (predicted, true); the pale diagonal has the same places.
    cells = [(int(p["y"]), int(p["x"])) for p in points if "x" in p and "y" in p]
    if cells:
        st.session_state[cell_key] = cell_text(cells[0])


def _from_table(table_key: str, cell_key: str) -> None:
    """Callback of the table: the clicked count's (true, predicted) into the picker."""
    cells = st.session_state[table_key].selection.get("cells", [])
    if cells:
        row, column = cells[0]
        st.session_state[cell_key] = cell_text((int(row), int(column)))


def confusion_drilldown(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    images: np.ndarray,
    key: str,
    split: str = "test",
    scores: np.ndarray | None = None,
    index_base: np.ndarray | None = None,
    link: dict | None = None,
    keyboard: bool = True,
) -> tuple[int, int]:
    """A confusion matrix whose chosen cell opens the gallery of exactly those images.

    The cell is chosen by a click on its count in the table, a box drag over its marker
    in the chart, or with the picker; it lives in the URL as ``key=true-predicted``.
    ``images`` are the images of the queries, ``index_base`` their indices in ``split``
    (default 0..N-1), ``scores`` (N, 10) the class scores that rank the gallery, ``link``
    what the image pages it opens should show (the method, its settings); ``keyboard``:
    P / N turn the gallery's pages (one gallery per page should have it).
    """
    cm = metrics.confusion(y_true, y_pred)
    errors = cm - np.diag(np.diag(cm))
    worst = np.unravel_index(errors.argmax(), cm.shape)
    url_state(key, cell_text(worst), allowed=CELLS)
    cell = parse_cell(st.session_state[key])
    digits = range(10)
    cm_frame = pd.DataFrame(cm, pd.Index(digits, name="true"), pd.Index(digits, name="predicted"))

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
    with right:
        st.caption(
            "Click a count (rows: true digit, columns: predicted) or drag a box over "
            "a cell of the chart to open its images."
        )
        st.dataframe(
            cm_frame.rename(columns=str),
            key=f"{key}_table",
            on_select=lambda: _from_table(f"{key}_table", key),
            selection_mode="single-cell",
            width="content",
        )
        st.selectbox(
            "Cell (true-predicted)",
            CELLS,
            key=key,
            format_func=lambda c: f"true {c[0]}, predicted {c[2]}: {cm[parse_cell(c)]} images",
        )
        to_url(key)
        download(cm_frame, f"confusion-{key}")
    true, pred = parse_cell(st.session_state[key])
    rows = np.flatnonzero((np.asarray(y_true) == true) & (np.asarray(y_pred) == pred))
    ids = rows if index_base is None else np.asarray(index_base)[rows]
    kind = "correct" if true == pred else "misclassified"
    st.markdown(f"**True {true}, predicted {pred}: {len(rows)} {kind} {split} images**")
    if not len(rows):
        st.caption("No image in this cell.")
        return true, pred
    gallery(
        rows,
        images=images,
        labels=np.asarray(y_true),
        scores=scores,
        ids=None if index_base is None else np.asarray(index_base),
        split=split,
        key=f"{key}_gallery",
        title=f"true {true}, predicted {pred}",
        link=link,
        caption=lambda r: (
            f"#{(r if index_base is None else index_base[r])}"
            + ("" if scores is None else f" · {scores[r, pred]:.2f}")
        ),
        keyboard=keyboard,
    )
    listing = pd.DataFrame({f"{split} index": ids, "true": true, "predicted": pred})
    if scores is not None:
        listing[[f"p({d})" for d in range(10)]] = scores[rows]
    download(listing, f"images-{key}-{true}-{pred}")
    return true, pred


def deformation_story(
    arrays: dict, index: int, image: np.ndarray, label: int, said: int, width: int, key: str
) -> None:
    """Test image ``index`` and the deformable templates (a cached entry's arrays): the
    template of the digit it reads as, and of its label, before and after deformation
    over the image, and the costs that decided."""
    digits = arrays["digits"][index].astype(int).tolist()
    shown = [said] + ([label] if label != said else [])
    for col, digit in zip(st.columns(2), shown, strict=False):
        if digit not in digits:
            col.info(f"{digit} was not among the digits worth deforming (rigidly too far).")
            continue
        at = digits.index(digit)
        before = splines.learned_drawing(arrays["rigid"][index, at], width)
        after = splines.learned_drawing(arrays["deformed"][index, at], width)
        col.plotly_chart(
            figures.deformation(image, before, after, f"{digit}: before (blue), after (red)"),
            width="stretch",
            key=f"{key}_bend_{digit}",
        )
    mismatch, deformation = arrays["mismatch"][index], arrays["deformation"][index]
    st.dataframe(
        pd.DataFrame(
            {
                "digit": digits,
                "mismatch": mismatch,
                "deformation": deformation,
                "cost": mismatch + deformation,
            }
        ),
        hide_index=True,
        key=f"{key}_bend_costs",
    )
