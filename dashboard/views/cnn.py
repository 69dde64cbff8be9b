"""CNNs (chapter 3): errors, training curves, and what the zone patterns look like.

One section at a time, in tabs that draw only the open one: the whole page at once took
the browser over two seconds on a 2-core CPU (seven charts and three grids).
"""

import numpy as np
import streamlit as st

from core import cnn, methods, metrics
from dashboard import cached, figures, url
from dashboard.data import mnist
from dashboard.widgets import confusion_drilldown, table

st.title("Convolutional networks")
st.caption(
    "The report's pattern network cuts the image into three zones of 10 rows; each zone's "
    "small CNN picks one of 8, 10 or 8 patterns, and the digit is read from the three "
    "patterns that fired. As written (max over the batch, no gradient to the zones) it stays "
    "near chance; repaired (max over patterns, straight-through gradient) it learns. A modern "
    "batch-normalised CNN is the reference."
)
x_test, y_test = mnist("test")

others = {
    r.path.name: r
    for r in cached.entries_of(cnn.STORES.values())
    if cnn.config_of(r) not in cnn.CONFIGS.values()
}
options = list(cnn.CONFIGS) + list(others)
# Not bound: a bound widget would carry its formatted label in the URL, not the entry name.
url.url_state("cnn_model", "pattern-repaired", allowed=options)
choice = st.selectbox(
    "Network",
    options,
    key="cnn_model",
    format_func=lambda o: (
        f"{o} (the chapter's configuration)" if o in cnn.CONFIGS else cnn.describe(others[o])
    ),
)
url.to_url("cnn_model")
if choice in cnn.CONFIGS:
    result = cached.require_entry(methods.get(f"cnn-{choice}"))
else:
    result = others[choice]
config = cnn.config_of(result)

pred, proba = result.arrays["test_pred"].astype(int), result.arrays["test_proba"]
meta = result.meta
m1, m2, m3, m4 = st.columns(4)
m1.metric("Test accuracy", f"{metrics.accuracy(y_test, pred):.2%}")
m2.metric("Training time", f"{meta.get('seconds', 0):.0f} s")
m3.metric("Device", f"{meta.get('device', '?')} ({meta.get('threads', '?')} threads)")
m4.metric("Epochs", config.epochs)


def _errors() -> None:
    confusion_drilldown(
        y_test,
        pred,
        x_test,
        key="cnn_cell",
        scores=proba.astype(np.float64),
        link={"cnn_model": choice},
    )


def _training() -> None:
    curves = cnn.history_frame(meta)
    long = curves.melt("epoch", var_name="curve")
    loss = long[long.curve.str.endswith("loss")]
    accuracy = long[long.curve.str.endswith("accuracy")]
    left, right = st.columns(2)
    left.plotly_chart(
        figures.lines(loss, "epoch", "value", "curve", "Loss", percent=False),
        width="stretch",
        key="cnn_loss",
    )
    right.plotly_chart(
        figures.lines(accuracy, "epoch", "value", "curve", "Accuracy"),
        width="stretch",
        key="cnn_acc",
    )
    table(curves, f"cnn-{choice}-history", static=True, decimals=4)


def _patterns() -> None:
    st.subheader("What fires in each zone, for each digit")
    activations = result.arrays["activations"]
    stats = cnn.pattern_stats(activations, y_test)
    zone_name = st.radio("Zone", cnn.ZONES, horizontal=True, **url.bound("zone", "top", cnn.ZONES))
    zone = cnn.ZONES.index(zone_name)
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
    share = cnn.pattern_share(activations, y_test, zone)
    title = f"{zone_name} zone: share of each digit's images where the pattern fires"
    st.plotly_chart(figures.matrix(share, title, "Blues", ".1%"), width="stretch", key="cnn_share")
    st.markdown(
        "**What each pattern looks like**: the mean zone crop of the images where it "
        "fires (left) and its 8 most activating crops."
    )
    rows = []
    for p in range(cnn.PATTERNS[zone]):
        tiles, top, n_fire = cnn.pattern_tiles(x_test, activations, zone, p)
        captions = [f"pattern {p}: mean of {n_fire} crops"] + [
            f"test #{i} (label {y_test[i]})" for i in top
        ]
        rows.append((tiles, captions))
    st.plotly_chart(figures.tile_rows(rows, "pattern"), width="stretch", key="cnn_patterns")

    st.subheader("Pattern triples of one digit")
    digits = list(range(10))
    digit = st.selectbox("Digit", digits, index=3, **url.bound("triple_digit", 3, digits))
    triples = cnn.pattern_triples(activations, y_test, digit)
    table(triples.head(30), f"triples-{choice}-digit{digit}", static=True, percent=["share"])
    st.caption(
        f"{len(triples)} distinct (top, middle, bottom) triples among the "
        f"{int((y_test == digit).sum())} test images of digit {digit}."
    )


SECTIONS = {"Errors": _errors, "Training curves": _training}
if "activations" in result.arrays:
    SECTIONS["Patterns"] = _patterns
url.sections(SECTIONS, "cnn_section", "Errors")
