"""The dashboard's access to core: small keys in, shared results out, and the URL state.

Pages call these helpers; they never hash big arrays (cached functions take strings and
numbers) and never compute a missing result without the user asking.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.cache import Result
from core.data import load_mnist
from core.errors import DataError
from core.progress import Progress


@st.cache_resource(show_spinner="Loading MNIST…")
def _mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    # cache_resource shares one read-only copy between sessions (no pickling).
    return load_mnist(split)


def mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 28, 28), labels (N,))`` of a split; offers to fetch if missing."""
    try:
        return _mnist(split)
    except DataError as exc:
        st.error(f"The MNIST files are not available.\n\n```\n{exc}\n```")
        if st.button("Fetch MNIST now", type="primary"):
            bar = st.progress(0.0, text="Fetching MNIST…")
            try:
                from core.data import fetch_mnist

                fetch_mnist(progress=lambda done, total: bar.progress(done / max(total, 1)))
            except DataError as fetch_exc:
                st.error(str(fetch_exc))
            else:
                st.rerun()
        st.stop()


# -- core's warnings, shown in the page that caused them ---------------------------------


class _PageNotices(logging.Handler):
    """Shows core's warnings in the page whose script run logged them.

    Core logs, and does not know about pages: a damaged cache entry it discarded, a
    result it is waiting for while another session computes it. Streamlit runs every
    session's script in its own thread, so a record from another thread (another
    session) is left to that session's handler.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            st.warning(record.getMessage(), icon=":material/warning:")


@contextmanager
def core_notices() -> Iterator[None]:
    """Within this block, core's warnings appear in the page (see :class:`_PageNotices`)."""
    handler = _PageNotices()
    core_log = logging.getLogger("core")
    core_log.addHandler(handler)
    try:
        yield
    finally:
        core_log.removeHandler(handler)


# -- results that may be missing ---------------------------------------------------------


def require(
    what: str,
    load: Callable[[], Result | None],
    compute: Callable[[Progress], Any],
    cost: str,
    key: str,
    stop: bool = True,
) -> Result | None:
    """The cached result ``load()`` returns; when missing, say so and offer to compute it.

    The computation runs only on the button, through core, with an ``st.progress`` bar;
    then the page reruns. With ``stop`` the rest of the page waits for the result;
    without, the caller gets None and shows what it can.
    """
    result = load()
    if result is not None:
        return result
    box = st.container(border=True)
    box.info(f"**Not computed yet:** {what}. Computing it takes {cost}; other pages stay usable.")
    if box.button(f"Compute {what}", key=f"compute:{key}", type="primary"):
        bar = box.progress(0.0, text=f"Computing {what}…")

        def progress(done: int, total: int) -> None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"Computing {what}: {done}/{total}")

        compute(progress)
        st.cache_resource.clear()  # loaders that saw it missing
        st.cache_data.clear()
        st.rerun()
    if stop:
        st.stop()
    return None


# -- page state in the URL ---------------------------------------------------------------


def url_state(key: str, default: Any, allowed: Sequence | None = None, parse=None) -> None:
    """Initialise widget state ``key`` from the URL query parameter of the same name.

    A value that does not parse or is not allowed falls back to ``default`` with a
    notice. Call before creating the widget (created with ``key=key``), then
    :func:`to_url` after it.
    """
    if key in st.session_state:
        return
    raw = st.query_params.get(key)
    value = default
    if raw is not None:
        try:
            value = (parse or type(default))(raw)
            if allowed is not None and value not in allowed:
                raise ValueError(raw)
        except (TypeError, ValueError):
            value = default
            shown = list(allowed) if allowed is not None and len(allowed) <= 12 else None
            expected = f"one of {shown}" if shown else f"a {type(default).__name__}"
            if allowed is not None and shown is None:
                expected = f"{allowed[0]}…{allowed[-1]}"
            st.toast(f"URL parameter {key}={raw!r} ignored: expected {expected}; using {default}.")
    st.session_state[key] = value


def to_url(*keys: str) -> None:
    """Write the current values of ``keys`` to the URL, so a link reproduces the view."""
    for key in keys:
        value = st.session_state.get(key)
        if value is None:
            st.query_params.pop(key, None)
        else:
            st.query_params[key] = str(value)


def parse_cell(raw: str) -> tuple[int, int]:
    """``"3-5"`` → (3, 5): a confusion-matrix cell (true, predicted)."""
    true, pred = (int(v) for v in raw.split("-"))
    if not (0 <= true <= 9 and 0 <= pred <= 9):
        raise ValueError(raw)
    return true, pred


def cell_text(cell: tuple[int, int] | None) -> str | None:
    return None if cell is None else f"{cell[0]}-{cell[1]}"


# -- shared widgets --------------------------------------------------------------------


def download(frame: pd.DataFrame, name: str, key: str | None = None) -> None:
    """A CSV download button for a table."""
    st.download_button(
        f"Download {name}.csv", frame.to_csv().encode(), f"{name}.csv", "text/csv",
        key=key or f"csv:{name}", icon=":material/download:",
    )  # fmt: skip


def table(frame: pd.DataFrame, name: str, **kwargs) -> None:
    """A table with its CSV download underneath."""
    st.dataframe(frame, **kwargs)
    download(frame, name)
