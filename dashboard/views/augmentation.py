"""Augmentation (chapter 1): what each transformation does, what it buys, what it breaks."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import knn, metrics, published, significance
from dashboard import cached, figures, url
from dashboard.data import mnist
from dashboard.gallery import gallery
from dashboard.widgets import table

st.title("Data augmentation")
st.caption(
    "The report added 8 transformed copies of every training image (±1 px shifts, ±10° "
    "rotations, zooms 1.1 and 1.2): 540,000 training images, "
    f"{published.KNN_AUGMENTED:.2%} at K = 4 (distance). "
    "We add the four diagonal shifts and deskewing. Accuracies below are at K = 4, distance."
)
(x_train, _), (x_test, y_test) = mnist("train"), mnist("test")

st.subheader("The transformations of one image")
n = len(x_train)
index = st.number_input(
    f"Training image (0–{n - 1})", 0, n - 1, 0, **url.bound("aug_index", 0, range(n))
)
variants, captions = knn.transformations(x_train[index])
st.plotly_chart(
    figures.gallery(variants, range(len(variants)), captions, cols=len(variants)),
    width="stretch",
    key="aug_transforms",
)
st.caption(" · ".join(captions))

st.subheader("Ablation: which transformations help")
rows, ready = [], {}
for variant in knn.VARIANTS:
    ours = variant not in knn.REPORT_VARIANTS
    # The report's variants offer a compute button when missing; ours are listed once cached.
    config = knn.NeighbourConfig(variant)
    result = cached.entry(knn.STORE, config) if ours else cached.neighbours(variant, stop=False)
    ready[variant] = result is not None
    row = {"training set": variant, "in the report": not ours}
    if result is not None:
        pred = cached.votes(variant, None, 4, "distance")[0]
        row |= {
            "accuracy": metrics.accuracy(y_test, pred),
            "errors": int((pred != y_test).sum()),
            "training images": result.meta.get("n_train"),
        }
    rows.append(row)
ablation = pd.DataFrame(rows).set_index("training set")
table(
    ablation,
    "augmentation-ablation",
    width="stretch",
    column_config={"accuracy": st.column_config.NumberColumn(format="percent")},
)
not_yet = [v for v in knn.VARIANTS if v not in knn.REPORT_VARIANTS and not ready[v]]
if not_yet:
    st.caption(
        f"Not computed yet: {', '.join(not_yet)} (the Results page's “Compute everything”, "
        "or `mnist-explorer compute`); their rows fill in once they are."
    )

if not (ready["augmented"] and ready["raw"]):  # their buttons are above
    st.stop()
raw = cached.votes("raw", None, 4, "distance")[0]
aug = cached.votes("augmented", None, 4, "distance")[0]

st.subheader("Success per digit, KNN vs augmented KNN (the report's figure 1.7)")
per_digit = metrics.per_digit(y_test, {"KNN": raw, "augmented KNN": aug})
left, right = st.columns([3, 2])
fig = go.Figure(
    [
        go.Bar(
            name=c,
            x=per_digit.index,
            y=per_digit[c],
            hovertemplate=c + ", digit %{x}: %{y:.2f} %<extra></extra>",
        )
        for c in ("KNN", "augmented KNN")
    ]
)
fig.update_layout(
    barmode="group",
    yaxis={"title": "success (%)", "range": [90, 100]},
    xaxis={"title": "digit", "dtick": 1},
    height=340,
    margin={"t": 10},
)
left.plotly_chart(fig, width="stretch")
with right:
    table(per_digit.round(2), "per-digit-knn-vs-augmented", width="stretch")

st.subheader("Images augmentation fixed, and images it broke")
fixed, broke = metrics.right_wrong(y_test, aug, raw), metrics.right_wrong(y_test, raw, aug)
st.markdown(
    f"**Fixed: {len(fixed)}** (wrong on raw pixels, right once augmented) · "
    f"**broke: {len(broke)}** (right before, wrong after)"
)
found = significance.paired("augmented KNN", "KNN", aug, raw, y_test)
st.markdown(
    f"**Is the difference real?** With A the augmented KNN and B the raw one: {found.sentence()}"
)
aug_scores = cached.votes("augmented", None, 4, "distance")[1]
fixed_tab, broke_tab = st.tabs([f"fixed ({len(fixed)})", f"broke ({len(broke)})"])
for tab, name, ids in ((fixed_tab, "fixed", fixed), (broke_tab, "broke", broke)):
    with tab:
        gallery(
            ids,
            images=x_test,
            labels=y_test,
            scores=aug_scores,
            key=f"aug_{name}",
            title=f"{name} by augmentation",
            caption=lambda i: f"#{i}: {y_test[i]}, raw {raw[i]}, aug. {aug[i]}",
            link={"variant": "augmented"},
        )
