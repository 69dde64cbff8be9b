"""CNNs (chapter 3): training curves, errors, and what the zone patterns look like."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import cnn_runs, evaluate
from core.cnn import PATTERNS
from core.cnn_train import CnnConfig
from dashboard import figures
from dashboard.state import mnist, require, table, to_url, url_state
from dashboard.widgets import confusion_drilldown

st.title("Convolutional networks")
st.caption(
    "The report's pattern network cuts the image into three zones of 10 rows; each zone's "
    "small CNN picks one of 8, 10 or 8 patterns, and the digit is read from the three "
    "patterns that fired. As written (max over the batch, no gradient to the zones) it stays "
    "near chance; repaired (max over patterns, straight-through gradient) it learns. A modern "
    "batch-normalised CNN is the reference."
)
(x_test, y_test) = mnist("test")


def _describe(r) -> str:
    c = r.manifest["config"]
    extra = f", first {c['train_limit']} images" if c.get("train_limit") else ""
    return f"{c['model']} ({c['epochs']} epochs, {c['optimizer']}{extra}) [{r.path.name[:8]}]"


others = {
    r.path.name: r
    for r in cnn_runs.cached_results()
    if CnnConfig(**{**r.manifest["config"], "widths": tuple(r.manifest["config"]["widths"])})
    not in cnn_runs.CONFIGS.values()
}
options = list(cnn_runs.CONFIGS) + list(others)
url_state("cnn_model", "pattern-repaired", allowed=options)
choice = st.selectbox(
    "Network", options, key="cnn_model",
    format_func=lambda o: f"{o} (the chapter's configuration)" if o in cnn_runs.CONFIGS
    else _describe(others[o]),
)  # fmt: skip
to_url("cnn_model")
if choice in cnn_runs.CONFIGS:
    config = cnn_runs.CONFIGS[choice]
    store = cnn_runs.STORES[config.model]
    result = require(
        f"the {choice} network", lambda: store.load(config),
        lambda progress: cnn_runs.trained(config, progress),
        f"{config.epochs} epochs of training on this machine's "
        f"{'GPU' if __import__('torch').cuda.is_available() else 'CPU'}",
        key=f"cnn:{choice}",
    )  # fmt: skip
else:
    result = others[choice]
    raw = result.manifest["config"]
    config = CnnConfig(**{**raw, "widths": tuple(raw["widths"])})

pred, proba = result.arrays["test_pred"].astype(int), result.arrays["test_proba"]
meta = result.meta
m1, m2, m3, m4 = st.columns(4)
m1.metric("Test accuracy", f"{evaluate.accuracy(y_test, pred):.2%}")
m2.metric("Training time", f"{meta.get('seconds', 0):.0f} s")
m3.metric("Device", f"{meta.get('device', '?')} ({meta.get('threads', '?')} threads)")
m4.metric("Epochs", config.epochs)

st.subheader("Training curves")
epochs = np.arange(1, len(meta.get("train_loss", [])) + 1)
curves = pd.DataFrame({"epoch": epochs})
for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
    values = meta.get(key, [])
    if len(values) == len(epochs):
        curves[key] = values
left, right = st.columns(2)
long = curves.melt("epoch", var_name="curve")
left.plotly_chart(
    figures.lines(
        long[long.curve.str.endswith("loss")], "epoch", "value", "curve", "Loss", percent=False
    ),
    width="stretch",
    key="cnn_loss",
)
right.plotly_chart(
    figures.lines(long[long.curve.str.endswith("accuracy")], "epoch", "value", "curve", "Accuracy"),
    width="stretch",
    key="cnn_acc",
)
table(curves, f"cnn-{choice}-history", hide_index=True, width="stretch")

st.subheader("Errors")


def show_probabilities(row: int) -> None:
    fig = go.Figure(go.Bar(x=list(range(10)), y=proba[row],
                           hovertemplate="digit %{x}: %{y:.3f}<extra></extra>"))  # fmt: skip
    fig.update_layout(
        height=220,
        xaxis={"dtick": 1, "title": "digit"},
        yaxis={"title": "probability", "range": [0, 1]},
        margin={"t": 10},
    )
    a, b = st.columns([1, 3])
    a.plotly_chart(
        figures.digit_image(x_test[row], f"test #{row}: label {y_test[row]}"), key="cnn_image"
    )
    b.plotly_chart(fig, width="stretch", key="cnn_proba")


confusion_drilldown(y_test, pred, x_test, key="cnn_cell", proba=proba, inspect=show_probabilities)

if "activations" not in result.arrays:
    st.stop()

st.subheader("Patterns: what fires in each zone, for each digit")
activations = result.arrays["activations"]
stats = cnn_runs.pattern_stats(activations, y_test)
url_state("zone", "top", allowed=["top", "middle", "bottom"])
zone_name = st.radio("Zone", ["top", "middle", "bottom"], key="zone", horizontal=True)
to_url("zone")
zone = ["top", "middle", "bottom"].index(zone_name)
left, right = st.columns(2)
left.plotly_chart(
    figures.matrix(stats[zone]["mean"], f"{zone_name} zone: mean activation"),
    width="stretch",
    key="cnn_mean",
)
right.plotly_chart(
    figures.matrix(stats[zone]["var"], f"{zone_name} zone: variance", "Magma"),
    width="stretch",
    key="cnn_var",
)
fired = cnn_runs.fired_patterns(activations)[:, zone]
share = pd.crosstab(
    pd.Series(y_test, name="digit"), pd.Series(fired, name="pattern"), normalize="index"
).reindex(columns=range(PATTERNS[zone]), fill_value=0)
st.plotly_chart(figures.matrix(share, f"{zone_name} zone: share of each digit's images where "
                               "the pattern fires", "Blues", ".1%"), width="stretch",
                key="cnn_share")  # fmt: skip

st.markdown(
    "**What each pattern looks like**: the mean zone crop of the images where it "
    "fires (left) and its 8 most activating crops."
)
crops = cnn_runs.zone_crops(x_test, zone)
for p in range(PATTERNS[zone]):
    mean, top = cnn_runs.pattern_picture(x_test, activations, zone, p)
    n_fire = int((fired == p).sum())
    tiles = np.concatenate([mean[None].round().astype(np.uint8), crops[top]])
    captions = [f"pattern {p}: mean of {n_fire} crops"] + [
        f"test #{i} (label {y_test[i]})" for i in top
    ]
    fig = figures.gallery(tiles, np.arange(len(tiles)), captions, cols=len(tiles))
    fig.update_layout(height=90, title=None)
    st.plotly_chart(fig, width="stretch", key=f"cnn_pattern_{p}")

st.subheader("Pattern triples of one digit")
url_state("triple_digit", 3, allowed=list(range(10)))
digit = st.selectbox("Digit", range(10), key="triple_digit")
to_url("triple_digit")
triples = cnn_runs.pattern_triples(activations, y_test, digit)
table(
    triples.head(30),
    f"triples-{choice}-digit{digit}",
    hide_index=True,
    width="stretch",
    column_config={"share": st.column_config.NumberColumn(format="percent")},
)
st.caption(
    f"{len(triples)} distinct (top, middle, bottom) triples among the "
    f"{int((y_test == digit).sum())} test images of digit {digit}."
)
