"""Compare: every method side by side, and the images one gets right and another wrong."""

import numpy as np
import pandas as pd
import streamlit as st

from core import methods, metrics
from dashboard import cached, figures, url
from dashboard.data import mnist
from dashboard.gallery import gallery
from dashboard.widgets import ERRORS_PAGE, table

st.title("All methods side by side")
x_test, y_test = mnist("test")

results = {m: cached.result(m) for m in methods.all_methods()}
available = {m.name: r.predictions for m, r in results.items() if r is not None}
scores_of = {m.name: r.scores for m, r in results.items() if r is not None}
missing = [m for m, r in results.items() if r is None]

if missing:
    with st.expander(f"{len(missing)} method(s) not computed yet", expanded=not available):
        for method in missing:
            cached.require_result(method, stop=False)
if not available:
    st.stop()

st.subheader("Overall test accuracy")
chapters = {m.name: methods.CHAPTERS[m.chapter] for m in results}
overall = metrics.summary(y_test, available)
overall.insert(0, "chapter", [chapters[n] for n in overall.index])
table(
    overall,
    "compare-overall",
    width="stretch",
    column_config={"accuracy": st.column_config.NumberColumn(format="percent")},
)

st.subheader("Success per digit (%)")
per_digit = metrics.per_digit(y_test, available)
st.plotly_chart(
    figures.matrix(
        per_digit.drop(columns="support").T.rename_axis(index="method", columns="digit"),
        "Success per digit (%)",
        "RdYlGn",
        ".2f",
    ),
    width="stretch",
    key="compare_heat",
)
table(per_digit.round(2), "compare-per-digit", width="stretch")

st.subheader("Where two methods differ")
names = list(available)
a, b = st.columns(2)
first = a.selectbox("Method A", names, index=len(names) - 1, **url.bound("a", names[-1], names))
second = b.selectbox("Method B", names, index=0, **url.bound("b", names[0], names))
SETS = ["A right, B wrong", "A wrong, B right", "both wrong"]
which = st.segmented_control(
    "Images", SETS, default=SETS[0], required=True, **url.bound("set", SETS[0], SETS)
)
pred_a, pred_b = available[first], available[second]
right_a, right_b = pred_a == y_test, pred_b == y_test
chosen = {
    SETS[0]: right_a & ~right_b,
    SETS[1]: ~right_a & right_b,
    SETS[2]: ~right_a & ~right_b,
}
st.caption(
    " · ".join(f"{name}: {int(mask.sum())} images" for name, mask in chosen.items())
    + f" (A: {first}; B: {second})"
)
ids = np.flatnonzero(chosen[which])
# Ranked by the scores of a method that is wrong on them: its most confident mistakes first.
ranking = scores_of[second] if which == SETS[0] else scores_of[first]
if len(ids):
    gallery(
        ids,
        images=x_test,
        labels=y_test,
        scores=ranking,
        key="compare_gallery",
        title=which,
        keyboard=True,
        caption=lambda i: f"#{i}: {y_test[i]}, A {pred_a[i]}, B {pred_b[i]}",
    )
    listing = pd.DataFrame(
        {
            "test index": ids,
            "label": y_test[ids],
            "A: " + first: pred_a[ids],
            "B: " + second: pred_b[ids],
        }
    )
    table(listing, "compare-two-methods", hide_index=True, width="stretch", height=200)
else:
    st.caption("No test image in this set.")

st.page_link(
    ERRORS_PAGE,
    label="The errors of one method: every misclassified image, and its confusion matrix",
    icon=":material/error:",
)
