"""Compare: every method side by side, and the images one gets right and another wrong."""

import pandas as pd
import streamlit as st

from core import methods, metrics
from dashboard import cached, figures, url
from dashboard.data import mnist
from dashboard.gallery import gallery
from dashboard.widgets import confusion_drilldown, table

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
chapters = {m.name: m.chapter for m in results}
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

st.subheader("Right for one, wrong for the other")
names = list(available)
a, b = st.columns(2)
right = a.selectbox(
    "Right according to", names, index=len(names) - 1, **url.bound("right", names[-1], names)
)
wrong = b.selectbox(
    "…and wrong according to", names, index=0, **url.bound("wrong", names[0], names)
)
ids = metrics.right_wrong(y_test, available[right], available[wrong])
st.markdown(f"**{len(ids)} test images**: {right} gets them right, {wrong} gets them wrong.")
if len(ids):
    gallery(
        ids,
        images=x_test,
        labels=y_test,
        scores=scores_of[wrong],
        key="compare_gallery",
        title=f"right for {right}, wrong for {wrong}",
        keyboard=True,
        caption=lambda i: f"#{i}: {y_test[i]}, said {available[wrong][i]}",
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

st.subheader("The errors of one method")
one = st.selectbox(
    "Method",
    names,
    index=len(names) - 1,
    key="errors_of",
    help="any method, imported ones included: its confusion matrix and the images of a cell",
)
confusion_drilldown(
    y_test, available[one], x_test, key="compare_cell", scores=scores_of[one], keyboard=False
)
