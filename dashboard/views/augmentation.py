"""Augmentation (chapter 1): what each transformation does, what it buys, what it breaks."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import augment, evaluate, knn_runs
from dashboard import figures, knn_state
from dashboard.state import mnist, table, to_url, url_state

st.title("Data augmentation")
st.caption(
    "The report added 8 transformed copies of every training image (±1 px shifts, ±10° "
    "rotations, zooms 1.1 and 1.2): 540,000 training images, 98.02 % at K = 4 (distance). "
    "We add the four diagonal shifts and deskewing. Accuracies below are at K = 4, distance."
)
(x_train, _), (x_test, y_test) = mnist("train"), mnist("test")

st.subheader("The transformations of one image")
url_state("aug_index", 0, parse=int)
n = len(x_train)
if not 0 <= st.session_state["aug_index"] < n:
    st.toast(f"aug_index: expected 0..{n - 1}; using 0.")
    st.session_state["aug_index"] = 0
index = st.number_input(f"Training image (0–{n - 1})", 0, n - 1, key="aug_index")
to_url("aug_index")
names = augment.TRANSFORMS
image = x_train[index : index + 1]
variants = np.concatenate(
    [image] + [np.clip(augment.apply_transform(image, t), 0, 255).astype(np.uint8) for t in names]
)
captions = ["original"] + [
    f"{t} ({next(g for g, ts in augment.GROUPS.items() if t in ts)})" for t in names
]
st.plotly_chart(
    figures.gallery(variants, np.arange(len(variants)), captions, cols=len(variants)),
    width="stretch",
    key="aug_transforms",
)
st.caption(" · ".join(captions))

st.subheader("Ablation: which transformations help")
rows, results = [], {}
for variant in knn_runs.VARIANTS:
    ours = variant not in knn_runs.REPORT_VARIANTS
    # The report's variants offer a compute button when missing; ours are listed once cached.
    cached = knn_runs.cached_neighbours(knn_runs.NeighbourConfig(variant)) is not None
    result = knn_state.neighbours(variant, stop=False) if cached or not ours else None
    results[variant] = result
    row = {"training set": variant, "in the report": not ours}
    if result is not None:
        pred = knn_state.votes(variant, None, 4, "distance")[0]
        row |= {"accuracy": evaluate.accuracy(y_test, pred),
                "errors": int((pred != y_test).sum()),
                "training images": result.meta.get("n_train")}  # fmt: skip
    rows.append(row)
ablation = pd.DataFrame(rows).set_index("training set")
table(
    ablation,
    "augmentation-ablation",
    width="stretch",
    column_config={"accuracy": st.column_config.NumberColumn(format="percent")},
)
st.caption("Our variants beyond the report are shown once computed (`python -m core knn --all`).")

if results["augmented"] is None or results["raw"] is None:  # their buttons are above
    st.stop()
raw = knn_state.votes("raw", None, 4, "distance")[0]
aug = knn_state.votes("augmented", None, 4, "distance")[0]

st.subheader("Success per digit, KNN vs augmented KNN (the report's figure 1.7)")
per_digit = evaluate.per_digit(y_test, {"KNN": raw, "augmented KNN": aug})
left, right = st.columns([3, 2])
fig = go.Figure(
    [go.Bar(name=c, x=per_digit.index, y=per_digit[c],
            hovertemplate=c + ", digit %{x}: %{y:.2f} %<extra></extra>")
     for c in ("KNN", "augmented KNN")]
)  # fmt: skip
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
fixed = np.flatnonzero((raw != y_test) & (aug == y_test))
broke = np.flatnonzero((raw == y_test) & (aug != y_test))
st.markdown(
    f"**Fixed: {len(fixed)}** (wrong on raw pixels, right once augmented) · "
    f"**broke: {len(broke)}** (right before, wrong after)"
)
for name, ids in (("fixed", fixed), ("broke", broke)):
    captions = [
        f"test #{i}: label {y_test[i]}, raw said {raw[i]}, augmented said {aug[i]}"
        for i in ids[:100]
    ]
    st.markdown(f"*{name}*")
    st.plotly_chart(
        figures.gallery(x_test, ids[:100], captions), width="stretch", key=f"aug_{name}"
    )
