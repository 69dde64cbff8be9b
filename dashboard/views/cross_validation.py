"""Cross-validation (chapter 1): the report's five stratified folds and its grid search."""

import numpy as np
import streamlit as st

from core import evaluate, knn_runs
from dashboard import figures, knn_state
from dashboard.state import download, mnist, table, to_url, url_state
from dashboard.widgets import confusion_drilldown

st.title("Cross-validation and grid search")
st.caption(
    "The report split the training set into 5 stratified folds (random_state 42): each fold "
    "is classified by the other four. Its folds are reproduced exactly, including the training "
    "image its CSV lost to the header line (59,999 images) and scikit-learn's fold scheme of 2020."
)
knn_state.folds_ready("raw")

grid = knn_state.grid_search("raw")
st.subheader("Grid search: mean accuracy over the 5 folds")
flat = grid.reset_index()
best = flat.loc[flat["rank"] == 1].iloc[0]
st.success(
    f"Best: K = {best['K']}, {best['weights']} weighting: {best['mean']:.3%} ± {best['std']:.3%} "
    f"(the report's grid of K = {', '.join(map(str, knn_runs.GRID_K))} chose K = 4, distance)."
)
left, right = st.columns([3, 2])
fig = figures.lines(flat, "K", "mean", "weights", "Mean accuracy over the folds against K")
for trace in fig.data:
    sub = flat[flat["weights"] == trace.name]
    trace.error_y = {"type": "data", "array": sub["std"].to_numpy(), "visible": True}
left.plotly_chart(fig, width="stretch")
shown = flat.assign(
    **{"mean ± std": [f"{m:.3%} ± {s:.3%}" for m, s in zip(flat["mean"], flat["std"], strict=True)],
       "best": np.where(flat["rank"] == 1, "★", ""),
       "in the report's grid": flat["K"].isin(knn_runs.GRID_K)}
).sort_values("rank")  # fmt: skip
with right:
    st.dataframe(
        shown[["K", "weights", "mean ± std", "rank", "best", "in the report's grid"]],
        hide_index=True, height=330, width="stretch",
    )  # fmt: skip
    download(grid, "grid-search")

st.subheader("One fold")
url_state("fold", 1, allowed=[1, 2, 3, 4, 5])
url_state("cv_k", 4, allowed=list(knn_runs.K_RANGE))
url_state("cv_weights", "distance", allowed=list(knn_state.WEIGHTS))
c1, c2, c3 = st.columns([2, 3, 2])
fold = c1.selectbox("Fold", [1, 2, 3, 4, 5], key="fold")
k = c2.slider("K", 1, 20, key="cv_k")
weights = c3.radio("Weighting", knn_state.WEIGHTS, key="cv_weights", horizontal=True)
to_url("fold", "cv_k", "cv_weights")

knn_state.neighbours("raw", fold - 1)
y = knn_state.query_labels("raw", fold - 1)
pred, scores = knn_state.votes("raw", fold - 1, k, weights)
held = knn_state.held_out(fold - 1)
x_train, _ = mnist("train")
st.metric(f"Fold {fold} accuracy ({len(y):,} held-out images)", f"{evaluate.accuracy(y, pred):.3%}")
report = evaluate.classification_report(y, pred)
table(report.round(4), f"fold{fold}-report-k{k}-{weights}", width="stretch")
confusion_drilldown(
    y, pred, x_train[held], key="cv_cell", split="train", proba=scores, index_base=held
)
