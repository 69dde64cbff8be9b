"""Cross-validation (chapter 1): the report's five stratified folds and its grid search."""

import numpy as np
import streamlit as st

from core import knn, metrics
from dashboard import cached, figures, url
from dashboard.data import mnist
from dashboard.widgets import confusion_drilldown, download, table

WEIGHTS = ("distance", "uniform")
FOLDS = [1, 2, 3, 4, 5]

st.title("Cross-validation and grid search")
st.caption(
    "The report split the training set into 5 stratified folds (random_state 42): each fold "
    "is classified by the other four. Its folds are reproduced exactly, including the training "
    "image its CSV lost to the header line (59,999 images) and scikit-learn's fold scheme of 2020."
)
if not cached.folds_ready("raw"):
    st.stop()

grid = cached.grid_search("raw")
st.subheader("Grid search: mean accuracy over the 5 folds")
flat = grid.reset_index()
best = flat.loc[flat["rank"] == 1].iloc[0]
st.success(
    f"Best: K = {best['K']}, {best['weights']} weighting: {best['mean']:.3%} ± {best['std']:.3%} "
    f"(the report's grid of K = {', '.join(map(str, knn.GRID_K))} chose K = 4, distance)."
)
left, right = st.columns([3, 2])
left.plotly_chart(
    figures.lines(
        flat, "K", "mean", "weights", "Mean accuracy over the folds against K", error="std"
    ),
    width="stretch",
)
shown = flat.assign(
    **{
        "mean ± std": [
            f"{m:.3%} ± {s:.3%}" for m, s in zip(flat["mean"], flat["std"], strict=True)
        ],
        "best": np.where(flat["rank"] == 1, "★", ""),
        "in the report's grid": flat["K"].isin(knn.GRID_K),
    }
).sort_values("rank")
with right:
    st.dataframe(
        shown[["K", "weights", "mean ± std", "rank", "best", "in the report's grid"]],
        hide_index=True,
        height=330,
        width="stretch",
    )
    download(grid, "grid-search")

st.subheader("One fold")
c1, c2, c3 = st.columns([2, 3, 2])
fold = c1.selectbox("Fold", FOLDS, **url.bound("fold", 1, FOLDS))
k = c2.slider("K", 1, 20, 4, **url.bound("cv_k", 4, knn.K_RANGE))
weights = c3.radio(
    "Weighting", WEIGHTS, horizontal=True, **url.bound("cv_weights", "distance", WEIGHTS)
)

cached.neighbours("raw", fold - 1)
y = cached.query_labels("raw", fold - 1)
pred, scores = cached.votes("raw", fold - 1, k, weights)
held = cached.held_out(fold - 1)
x_train, _ = mnist("train")
st.metric(f"Fold {fold} accuracy ({len(y):,} held-out images)", f"{metrics.accuracy(y, pred):.3%}")
report = metrics.classification_report(y, pred)
table(report.round(4), f"fold{fold}-report-k{k}-{weights}", width="stretch")
confusion_drilldown(
    y, pred, x_train[held], key="cv_cell", split="train", scores=scores, index_base=held
)
