"""Saving any selection of test images as a slice, from the page that made it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import slices
from core.errors import ExplorerError

SLICES_PAGE = "views/slices.py"


def _save(key: str, ids: list[int], source: str, rule: dict | None) -> None:
    """Callback of the button: save under the name typed, and say so (or why not)."""
    try:
        made = slices.save(st.session_state[f"{key}_name"], ids, source, rule)
    except ExplorerError as exc:
        st.session_state[f"{key}_said"] = ("error", str(exc))
        return
    st.session_state[f"{key}_said"] = ("saved", made.name)


def save_as_slice(
    ids, name: str, source: str, key: str, rule: dict | None = None, label: str | None = None
) -> None:
    """A “Save as a slice” popover for the test images ``ids``: a name (``name`` at first)
    and a button; then a link to the slice on the Slices page."""
    ids = [int(i) for i in np.asarray(ids).ravel()]
    with st.popover(
        label or f"Save these {len(ids):,} images as a slice", icon=":material/bookmark_add:"
    ):
        # The name follows the selection: a new selection proposes its own name again.
        if st.session_state.get(f"{key}_for") != name:
            st.session_state[f"{key}_for"] = name
            st.session_state[f"{key}_name"] = name[:80]
        st.text_input("Name", key=f"{key}_name", max_chars=80)
        st.button(
            "Save",
            key=f"{key}_save",
            type="primary",
            on_click=_save,
            args=(key, ids, source, rule),
            help="kept in the cache for every session; the same name replaces a slice",
        )
        said = st.session_state.pop(f"{key}_said", None)
        if said is not None and said[0] == "error":
            st.error(said[1])
        elif said is not None:
            st.success(f"Saved “{said[1]}”.")
            st.page_link(SLICES_PAGE, label="Open it", query_params={"slice": said[1]})
