"""Widgets shared by the pages: tables with their CSV, the clickable confusion matrix, a
template before and after it bent."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd
import streamlit as st

from core import metrics, splines
from dashboard import figures, overlays
from dashboard.gallery import gallery
from dashboard.slicing import save_as_slice
from dashboard.url import cell_text, parse_cell, to_url, url_state

CELLS = [f"{t}-{p}" for t in range(10) for p in range(10)]
ERRORS = "errors"  # the picker's other choice: every image off the diagonal
PICKS = [ERRORS, *CELLS]


@dataclass(frozen=True)
class Axes:
    """What a drill-down matrix crosses: its rows and columns, and the words for its
    cells on and off the diagonal (a confusion matrix by default; two methods' answers
    on the Compare page)."""

    rows: str = "true"
    columns: str = "predicted"
    every: str = "every error"  # the images of every cell off the diagonal
    off: str = "errors"  # what they are
    same: str = "correct"  # an image of a diagonal cell
    differ: str = "misclassified"  # an image off it

    def pick_label(self, pick: str) -> str:
        """The picker's label of a choice. It must depend on the choice alone: the
        browser sends back the label it was shown, and Streamlit maps it to a choice
        with this run's labels, so a label holding a count that changed since would
        map to nothing."""
        if pick == ERRORS:
            return f"{self.every} (all cells off the diagonal)"
        row, column = parse_cell(pick)
        return f"{self.rows} {row}, {self.columns} {column}"


CONFUSION = Axes()


def download(frame: pd.DataFrame, name: str, key: str | None = None, index: bool = True) -> None:
    """A CSV download button for a table (``index``: with the frame's index as a column)."""
    st.download_button(
        f"Download {name}.csv",
        frame.to_csv(index=index).encode(),
        f"{name}.csv",
        "text/csv",
        key=key or f"csv:{name}",
        icon=":material/download:",
    )


def table(
    frame: pd.DataFrame,
    name: str,
    static: bool = False,
    decimals: int | None = None,
    percent: list[str] | None = None,
    **kwargs,
) -> None:
    """A table with its CSV download underneath; ``static``: plain HTML without its index,
    drawn with the page (an interactive grid repaints its canvas a few hundred ms after a
    rerun), floats shown with ``decimals`` and the ``percent`` columns as percentages."""
    if static:
        styled = frame.style.hide(axis="index")
        if decimals is not None:
            styled = styled.format(precision=decimals, subset=frame.select_dtypes("float").columns)
        if percent:
            styled = styled.format("{:.1%}", subset=percent)
        st.table(styled, hide_index=True)
    else:
        st.dataframe(frame, **kwargs)
    download(frame, name, index=not static)


ERRORS_PAGE = "views/errors.py"


def page_target(path: str) -> tuple[str, dict]:
    """A URL path of the app (``"knn?variant=raw"``) as (page file, query parameters)."""
    name, _, query = path.partition("?")
    return f"views/{name.replace('-', '_')}.py", dict(parse_qsl(query))


def _percent(value) -> str:
    return "" if pd.isna(value) else f"{value:.2%}"


def method_table(frame: pd.DataFrame) -> None:
    """The methods of :func:`core.methods.overview`, a row each: the name opens the page
    that explains the method, the count of errors the gallery of them (both in this tab)."""
    corrected = "on corrected labels" in frame.columns
    titles = ["method", "chapter", "test accuracy", "on corrected labels", "the report"]
    titles = [t for t in titles if corrected or t != "on corrected labels"] + ["errors", "status"]
    widths = [7] + [2] * (len(titles) - 1)
    for col, title in zip(st.columns(widths), titles, strict=True):
        col.markdown(f"**{title}**")
    renamed = frame.rename(columns={"the report": "reported", "on corrected labels": "corrected"})
    with st.container(key="method_table", border=True):
        for row in renamed.itertuples(index=False):
            cells = st.columns(widths, vertical_alignment="center")
            name, chapter, acc = cells[:3]
            reported, errors, status = cells[-3:]
            page, query = page_target(row.page)
            name.page_link(page, label=row.method, query_params=query, help=row.about or None)
            chapter.markdown(row.chapter)
            acc.markdown(_percent(row.accuracy))
            if corrected:
                cells[3].markdown(_percent(row.corrected))
            reported.markdown(_percent(row.reported))
            if pd.isna(row.errors):
                errors.markdown("")
            else:
                errors.page_link(
                    ERRORS_PAGE,
                    label=f"{int(row.errors):,} errors",
                    query_params={"method": row.id},
                    icon=":material/error:",
                )
            status.markdown(row.status)


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
    default: str | None = None,
    axes: Axes = CONFUSION,
    labels: np.ndarray | None = None,
) -> str:
    """A confusion matrix whose chosen cell opens the gallery of exactly those images.

    The cell is chosen by a click on its count in the table, a box drag over its marker
    in the chart, or with the picker; it lives in the URL as ``key=true-predicted``
    (``key=errors``: every misclassified image, the button "All N errors").
    ``images`` are the images of the queries, ``index_base`` their indices in ``split``
    (default 0..N-1), ``scores`` (N, 10) the class scores that rank the gallery, ``link``
    what the image pages it opens should show (the method, its settings); ``keyboard``:
    P / N turn the gallery's pages (one gallery per page should have it); ``default``:
    the pick when the URL has none (else the cell with the most errors). ``axes``: what
    ``y_true`` and ``y_pred`` are when they are not labels and predictions (two methods'
    answers), ``labels`` then the images' labels, for the gallery.

    Returns the pick: ``"true-predicted"`` or ``"errors"``.
    """
    cm = metrics.confusion(y_true, y_pred)
    errors = cm - np.diag(np.diag(cm))
    worst = np.unravel_index(errors.argmax(), cm.shape)
    url_state(key, default or cell_text(worst), allowed=PICKS)
    pick = st.session_state[key]
    cell = None if pick == ERRORS else parse_cell(pick)
    digits = range(10)
    cm_frame = pd.DataFrame(
        cm, pd.Index(digits, name=axes.rows), pd.Index(digits, name=axes.columns)
    )

    left, right = st.columns([5, 6])
    with left:
        st.plotly_chart(
            figures.confusion_matrix(cm, selected=cell, axes=(axes.rows, axes.columns)),
            key=f"{key}_chart",
            on_select=lambda: _from_chart(f"{key}_chart", key),
            selection_mode=("points", "box"),
            config={"displayModeBar": False},
            width="content",
        )
    with right:
        st.caption(
            f"Click a count (rows: {axes.rows}, columns: {axes.columns}) or drag a box "
            "over a cell of the chart to open its images."
        )
        st.dataframe(
            cm_frame.rename(columns=str),
            key=f"{key}_table",
            on_select=lambda: _from_table(f"{key}_table", key),
            selection_mode="single-cell",
            width="content",
        )
        picker, errors_button = st.columns([3, 2], vertical_alignment="bottom")
        picker.selectbox(
            f"Cell ({axes.rows}-{axes.columns})",
            PICKS,
            key=key,
            format_func=axes.pick_label,
            help=f"the counts are in the table and the chart; “{axes.every}” opens them all",
        )
        errors_button.button(
            f"All {int(errors.sum())} {axes.off}",
            key=f"{key}_all",
            icon=":material/error:",
            help=f"every {axes.differ} image in one gallery, ranked by the scores",
            on_click=_pick,
            args=(key, ERRORS),
            disabled=pick == ERRORS,
        )
        to_url(key)
        download(cm_frame, f"confusion-{key}")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = y_true if labels is None else np.asarray(labels)
    pick = st.session_state[key]
    if pick == ERRORS:
        rows = np.flatnonzero(y_true != y_pred)
        title = axes.every
        st.markdown(f"**{title[0].upper()}{title[1:]}: {len(rows)} {axes.differ} {split} images**")
    else:
        true, pred = parse_cell(pick)
        rows = np.flatnonzero((y_true == true) & (y_pred == pred))
        title = axes.pick_label(pick)
        kind = axes.same if true == pred else axes.differ
        st.markdown(f"**{title[0].upper()}{title[1:]}: {len(rows)} {kind} {split} images**")
    if not len(rows):
        st.caption("No image in this cell.")
        return pick
    ids = rows if index_base is None else np.asarray(index_base)[rows]
    gallery(
        rows,
        images=images,
        labels=labels,
        scores=scores,
        ids=None if index_base is None else np.asarray(index_base),
        split=split,
        key=f"{key}_gallery",
        title=title,
        link=link,
        caption=lambda r: (
            error_caption(
                r if index_base is None else int(index_base[r]),
                y_true[r],
                y_pred[r],
                None if scores is None else scores[r, y_pred[r]],
            )
            if axes == CONFUSION
            else f"#{r}: {labels[r]}; {y_true[r]}, {y_pred[r]}"
        ),
        keyboard=keyboard,
    )
    if split == "test":
        save_as_slice(ids, title, f"{title} ({key})", key=f"{key}_slice")
    listing = pd.DataFrame(
        {f"{split} index": ids, axes.rows: y_true[rows], axes.columns: y_pred[rows]}
    )
    if axes != CONFUSION:
        listing.insert(1, "label", labels[rows])
    if scores is not None:
        listing[[f"p({d})" for d in range(10)]] = scores[rows]
    download(listing, f"images-{key}-{pick}", index=False)
    return pick


def error_caption(index: int, label: int, said: int, score: float | None = None) -> str:
    """A thumbnail's caption: its index, its label and what the method said (with the
    score of what it said)."""
    text = f"#{index}: {label}" if label == said else f"#{index}: {label}→{said}"
    return text if score is None else f"{text} {score:.2f}"


def _pick(key: str, value: str) -> None:
    st.session_state[key] = value  # a callback: before the picker is drawn again


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
            overlays.deformation(image, before, after, f"{digit}: before (blue), after (red)"),
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
