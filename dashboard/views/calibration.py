"""Calibration: how far each method's scores can be read as probabilities, and how
accurate it is on the images it is sure of."""

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from core import calibration, methods, metrics
from dashboard import cached, figures, url
from dashboard.data import mnist
from dashboard.gallery import gallery
from dashboard.slicing import save_as_slice
from dashboard.widgets import table

# What a method's ten scores are, by chapter: only the networks' are probabilities.
SCORES_ARE = {
    0: "as imported",
    1: "votes: the share of the K nearest with each label",
    2: "a softmax of template distances",
    3: "softmax probabilities",
}

st.title("Calibration")
x_test, y_test = mnist("test")
results = {m: r for m in methods.all_methods() if (r := cached.result(m)) is not None}
if not results:
    st.info("No method is cached yet: the Compare page computes them.")
    st.stop()
st.caption(
    "A method's confidence on an image is its highest class score. Calibrated, the images "
    "it gives a confidence p are right a share p of the time. KNN votes and template softmaxes are "
    "scores, not probabilities: their calibration says how far they are from being read "
    "as ones. ECE: the gap between confidence and accuracy over "
    f"{calibration.BINS} confidence bins, weighted by their images; Brier: the squared "
    "distance of the scores to the one-hot label; NLL: −log of the label's score (a zero "
    f"vote counts as {calibration.EPS:g})."
)

temperatures: dict[str, float] = {}
if st.toggle(
    "Networks temperature-scaled",
    key="cal_tempered",
    help="each network's log-probabilities divided by the temperature that maximises the "
    "likelihood of the training images its training held out (never the test set); no "
    "prediction changes",
):
    st.caption(
        "Temperature scaling applies to the networks only: KNN votes of zero stay zero at "
        "any temperature, and the templates have no scores on images they were not fitted to."
    )
    for m, r in list(results.items()):
        if isinstance(m, methods.CnnMethod) and (found := cached.network_held_out(m)) is not None:
            temperatures[m.name] = t = float(found.meta["temperature"])
            results[m] = replace(r, scores=calibration.tempered(r.scores, t))

by_name = {m.name: (m, r) for m, r in results.items()}
rows = [
    {
        "method": m.name,
        "scores are": SCORES_ARE.get(m.chapter, "as imported")
        + (f", at temperature {temperatures[m.name]:.3f}" if m.name in temperatures else ""),
        **calibration.summary(r.scores, y_test),
    }
    for m, r in results.items()
]
overview = pd.DataFrame(rows).sort_values("ECE")
table(
    overview,
    "calibration",
    static=True,
    decimals=4,
    percent=["accuracy", "top-2 accuracy"],
)

names = list(by_name)
# At first the most accurate network and the most accurate KNN whose votes are graded
# (a K = 1 vote has one confidence: a single point on either chart).
best = overview.sort_values("accuracy", ascending=False)["method"].tolist()
graded = [n for n in best if len(np.unique(by_name[n][1].scores.max(axis=1))) > 2]
default = [n for n in best if by_name[n][0].chapter == 3][:1] + [
    n for n in graded if by_name[n][0].chapter == 1
][:1]
chosen = st.multiselect(
    "Methods on the charts",
    names,
    default=default or names[:2],
    max_selections=6,
    key="cal_methods",
)
if not chosen:
    st.stop()
left, right = st.columns(2)
with left:
    st.markdown("**Reliability diagram**")
    st.plotly_chart(
        figures.reliability(
            {n: calibration.reliability(by_name[n][1].scores, y_test) for n in chosen}
        ),
        key="cal_reliability",
    )
with right:
    st.markdown("**Coverage and accuracy: keep the images whose confidence is ≥ t**")
    st.plotly_chart(
        figures.coverage({n: calibration.coverage(by_name[n][1].scores, y_test) for n in chosen}),
        key="cal_coverage",
    )

THRESHOLDS = [round(t, 2) for t in np.arange(0.0, 1.0001, 0.05)]
threshold = st.select_slider(
    "Confidence threshold t",
    THRESHOLDS,
    value=0.5,
    help="the images a method is at least this sure of: how many, how accurate; the "
    "gallery below holds the chosen method's mistakes at or above it",
    **url.bound("t", 0.5, THRESHOLDS, parse=float),
)
cols = st.columns(len(chosen))
for col, name in zip(cols, chosen, strict=True):
    scores = by_name[name][1].scores
    sure = scores.max(axis=1) >= threshold
    acc = float(np.mean(scores[sure].argmax(1) == y_test[sure])) if sure.any() else float("nan")
    col.metric(name, f"{acc:.2%}", f"{int(sure.sum())} images kept ({sure.mean():.1%})")

st.subheader("One method, digit by digit")
one = st.selectbox("Method", chosen, key="cal_one")
method, result = by_name[one]
digits = calibration.per_digit(result.scores, y_test)
report = metrics.classification_report(y_test, result.predictions).iloc[:10]
digits[["precision", "recall", "F1"]] = report[["precision", "recall", "f1-score"]].to_numpy()
table(
    digits.reset_index(),
    f"calibration-{method.id}",
    static=True,
    decimals=4,
    percent=["accuracy", "top-2 accuracy", "precision", "recall", "F1"],
)
confidence = result.scores.max(axis=1)
wrong_sure = np.flatnonzero((result.predictions != y_test) & (confidence >= threshold))
st.markdown(
    f"**{len(wrong_sure)} mistakes of {one} at confidence ≥ {threshold:g}**, the surest first"
)
if len(wrong_sure):
    gallery(
        wrong_sure[np.argsort(-confidence[wrong_sure], kind="stable")],
        images=x_test,
        labels=y_test,
        scores=result.scores,
        key="cal_gallery",
        title=f"{one}: mistakes at confidence ≥ {threshold:g}",
        link={"method": method.id},
        ranked=True,
        keyboard=True,
    )
    save_as_slice(
        wrong_sure, f"{one}: mistakes at confidence ≥ {threshold:g}", "Calibration", "cal_slice"
    )
