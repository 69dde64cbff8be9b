"""MNIST for the pages: one shared read-only copy, and an offer to fetch it if missing."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.data import fetch_mnist, load_mnist
from core.errors import DataError


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
                fetch_mnist(progress=lambda done, total: bar.progress(done / max(total, 1)))
            except DataError as fetch_exc:
                st.error(str(fetch_exc))
            else:
                st.rerun()
        st.stop()
