"""KNN (chapter 1): any K, weighting and training variant, re-voted from cached neighbours."""

import numpy as np
import pandas as pd
import streamlit as st

from core import evaluate, knn_runs
from core.knn_runs import VARIANTS, NeighbourConfig
from dashboard import figures, knn_state
from dashboard.state import mnist, table, to_url, url_state
from dashboard.widgets import confusion_drilldown

st.title("K nearest neighbours")
st.caption(
    "Each test image takes the majority label of its K nearest training images (Euclidean "
    "distance on the 784 pixels). The report chose K = 4 with distance weighting: 97.14 %; "
    "with its augmented training set (shifts, rotations, zooms): 98.02 %. The neighbours are "
    "computed once per training variant; moving K or the weighting only re-votes."
)

url_state("variant", "raw", allowed=list(VARIANTS))
url_state("k", knn_runs.REPORT_K, allowed=list(knn_runs.K_RANGE))
url_state("weights", knn_runs.REPORT_WEIGHTS, allowed=list(knn_state.WEIGHTS))
c1, c2, c3 = st.columns([3, 3, 2])
variant = c1.selectbox("Training set", list(VARIANTS), key="variant")
k = c2.slider("K (neighbours that vote)", 1, 20, key="k")
weights = c3.radio("Weighting", knn_state.WEIGHTS, key="weights", horizontal=True)
to_url("variant", "k", "weights")

result = knn_state.neighbours(variant)
x_test, y_test = mnist("test")
pred, scores = knn_state.votes(variant, None, k, weights)
acc = evaluate.accuracy(y_test, pred)

m1, m2, m3 = st.columns(3)
m1.metric("Test accuracy", f"{acc:.2%}", delta=f"{acc - 0.9714:+.2%} vs the report's 97.14 %")
m2.metric("Errors", f"{int((pred != y_test).sum())} / {len(y_test)}")
m3.metric("Training images", f"{result.meta.get('n_train', 0):,}")

st.subheader("Success per digit")
columns = {f"{variant}, K={k}, {weights}": pred}
if variant != "raw" and knn_state.neighbours("raw", stop=False) is not None:
    columns["the report's: raw, K=4, distance"] = knn_state.votes("raw", None, 4, "distance")[0]
per_digit = evaluate.per_digit(y_test, columns)
table(per_digit.round(2), "knn-per-digit", width="stretch")

st.subheader("Confusion matrix")
config = NeighbourConfig(variant=variant)


def show_neighbours(row: int) -> None:
    idx = result.arrays["indices"][row, :k]
    dist = np.sqrt(result.arrays["sqdist"][row, :k].astype(float))
    labels = knn_runs.training_labels(config)[idx]
    images, about = knn_runs.training_images(config, idx)
    st.markdown(
        f"Test #{row}: votes "
        + ", ".join(f"{d}: {scores[row, d]:.2f}" for d in np.flatnonzero(scores[row]))
    )
    left, right = st.columns([1, 5])
    left.plotly_chart(figures.digit_image(x_test[row], f"test #{row}", height=220), key="knn_query")
    captions = [
        f"train {a}: label {lab}, distance {d:.0f}"
        for a, lab, d in zip(about, labels, dist, strict=True)
    ]
    right.plotly_chart(
        figures.gallery(images, np.arange(len(images)), captions, cols=10),
        key="knn_neighbours",
    )
    right.dataframe(
        pd.DataFrame({"training image": about, "label": labels, "distance": dist}), hide_index=True
    )


confusion_drilldown(y_test, pred, x_test, key="cell", proba=scores, inspect=show_neighbours)
