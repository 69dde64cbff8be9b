"""Core's warnings, shown in the page whose script run caused them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st


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
