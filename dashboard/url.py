"""Page state in the URL, so that a link reproduces a view.

Widgets with a fixed set of values are bound to their query parameter by Streamlit
(``bind="query-params"``): :func:`bound` gives the arguments, and first says so when the
URL holds a value the widget will not take (Streamlit drops it silently). A value set
from code (the confusion cell a chart selection picks) goes through :func:`url_state` and
:func:`to_url` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st


def _parse(raw: str, default: Any, parse: Callable[[str], Any] | None) -> Any:
    return (parse or type(default))(raw)


def _expected(default: Any, allowed: Sequence | None) -> str:
    if allowed is None:
        return f"a {type(default).__name__}"
    shown = list(allowed)
    return f"one of {shown}" if len(shown) <= 12 else f"{shown[0]}…{shown[-1]}"


def _checked(key: str, default: Any, allowed: Sequence | None, parse) -> Any:
    """The URL's value of ``key`` if valid, else ``default`` (with a notice if present)."""
    raw = st.query_params.get(key)
    if raw is None:
        return default
    try:
        value = _parse(raw, default, parse)
        if allowed is not None and value not in allowed:
            raise ValueError(raw)
    except (TypeError, ValueError):
        st.toast(
            f"URL parameter {key}={raw!r} ignored: expected {_expected(default, allowed)}; "
            f"using {default}."
        )
        return default
    return value


def bound(key: str, default: Any, allowed: Sequence | None = None, parse=None) -> dict:
    """Keyword arguments binding a widget to the URL parameter ``key``.

    Call right before the widget, which gets ``key`` and ``bind``; a URL value outside
    ``allowed`` (or that does not parse) is reported with a notice. The widget's own
    default is ``default``.
    """
    if key not in st.session_state:
        _checked(key, default, allowed, parse)
    return {"key": key, "bind": "query-params"}


def url_state(key: str, default: Any, allowed: Sequence | None = None, parse=None) -> None:
    """Initialise session state ``key`` from the URL (for widgets set from code).

    A value that does not parse or is not allowed falls back to ``default`` with a
    notice. Call before creating the widget (created with ``key=key``), then
    :func:`to_url` after it.
    """
    if key not in st.session_state:
        st.session_state[key] = _checked(key, default, allowed, parse)


def to_url(*keys: str) -> None:
    """Write the current values of ``keys`` to the URL."""
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


def sections(draws: dict, key: str, default: str | None = None) -> None:
    """Tabs named by ``draws`` (name → a function drawing that section) of which only the
    open one is drawn (``on_change="rerun"``), the open tab in the URL as ``key``; the
    first tab (or ``default``) opens at first. A page with many charts shows one section
    at a time: drawing them all took the browser seconds on a 2-core CPU."""
    names = list(draws)
    first = default or names[0]
    tabs = st.tabs(names, on_change="rerun", **bound(key, first, names))
    for tab, draw in zip(tabs, draws.values(), strict=True):
        if tab.open:
            with tab:
                draw()
