"""Compare: every method side by side, and the images one gets right and another wrong."""

import numpy as np
import pandas as pd
import streamlit as st

from core import evaluate
from core.methods import METHODS, test_predictions
from dashboard import figures
from dashboard.state import mnist, require, table, to_url, url_state

st.title("All methods side by side")
(x_test, y_test) = mnist("test")

available: dict[str, np.ndarray] = {}
missing = []
for name, method in METHODS.items():
    pred = test_predictions(method)
    if pred is None:
        missing.append(method)
    else:
        available[name] = pred

if missing:
    with st.expander(f"{len(missing)} method(s) not computed yet", expanded=not available):
        for method in missing:
            require(method.name, method.load, method.compute, method.cost,
                    key=f"compare:{method.name}", stop=False)  # fmt: skip
if not available:
    st.stop()

overall = pd.DataFrame(
    {
        "chapter": [METHODS[n].chapter for n in available],
        "accuracy": [evaluate.accuracy(y_test, p) for p in available.values()],
        "errors": [int((p != y_test).sum()) for p in available.values()],
    },
    index=pd.Index(list(available), name="method"),
)
st.subheader("Overall test accuracy")
table(
    overall,
    "compare-overall",
    width="stretch",
    column_config={"accuracy": st.column_config.NumberColumn(format="percent")},
)

st.subheader("Success per digit (%)")
per_digit = evaluate.per_digit(y_test, available)
st.plotly_chart(
    figures.matrix(per_digit.drop(columns="support").T.rename_axis(index="method",
                   columns="digit"), "Success per digit (%)", "RdYlGn", ".2f"),
    width="stretch", key="compare_heat",
)  # fmt: skip
table(per_digit.round(2), "compare-per-digit", width="stretch")

st.subheader("Right for one, wrong for the other")
names = list(available)
url_state("right", names[-1], allowed=names)
url_state("wrong", names[0], allowed=names)
a, b = st.columns(2)
right = a.selectbox("Right according to", names, key="right")
wrong = b.selectbox("…and wrong according to", names, key="wrong")
to_url("right", "wrong")
ids = np.flatnonzero((available[right] == y_test) & (available[wrong] != y_test))
st.markdown(f"**{len(ids)} test images**: {right} gets them right, {wrong} gets them wrong.")
if len(ids):
    captions = [f"test #{i}: label {y_test[i]}, {wrong} said {available[wrong][i]}" for i in ids]
    st.plotly_chart(
        figures.gallery(x_test, ids[:100], captions[:100]), width="stretch", key="compare_gallery"
    )
    listing = pd.DataFrame(
        {
            "test index": ids,
            "label": y_test[ids],
            right: available[right][ids],
            wrong: available[wrong][ids],
        }
    )
    table(listing, "compare-right-wrong", hide_index=True, width="stretch", height=200)
