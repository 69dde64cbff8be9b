"""Spline halos (chapter 2): the report's Bézier templates, their halos, and learned ones."""

import numpy as np
import pandas as pd
import streamlit as st

from core import bezier, evaluate, spline_runs, splines
from core.spline_learn import hard_templates, nearest_template
from dashboard import figures
from dashboard.state import mnist, require, table, to_url, url_state

st.title("Spline halos")
st.caption(
    "Each digit is described by Bézier strokes in three bands of 9 rows (top, middle, bottom); "
    "a stroke is rasterised as its L∞ halo and a test image takes the digit whose templates "
    "differ least from it, pixel by pixel. The report's own code scored 14 %; read as its "
    "text describes, the same templates reach 38 % at width 0 and fall as the halo widens; "
    "templates learned from the data reach 90.8 %."
)
(x_train, y_train), (x_test, y_test) = mnist("train"), mnist("test")

url_state("sp_digit", 2, allowed=list(range(10)))
url_state("sp_band", "bottom", allowed=list(splines.BANDS))
url_state("sp_width", 1, allowed=list(spline_runs.WIDTHS))
c1, c2, c3 = st.columns([2, 3, 3])
digit = c1.selectbox("Digit", range(10), key="sp_digit")
band = c2.radio("Band", splines.BANDS, key="sp_band", horizontal=True)
width = c3.slider("Halo width (pixels)", 0, 4, key="sp_width")
to_url("sp_digit", "sp_band", "sp_width")


def band_points(points: np.ndarray, b: int) -> np.ndarray:
    """Band coordinates (x across, y up) → image (row, column) in the 27-row template."""
    return np.stack([9 * b + 8 - points[:, 1], points[:, 0]], axis=1)


st.subheader(f"The report's templates of digit {digit}")
strokes = splines.report_templates()[digit]
b = splines.BANDS.index(band)
band_halo = np.zeros((27, 28), np.uint8)
for stroke in strokes[band]:
    band_halo[9 * b : 9 * b + 9] |= splines.band_to_image_rows(splines.stroke_image(stroke, width))
curves = [band_points(bezier.bezier_points(np.array(s.points), 200), b) for s in strokes[band]]
controls = [band_points(np.array(s.points, float), b) for s in strokes[band]]
left, right = st.columns(2)
left.plotly_chart(
    figures.strokes_over_halo(band_halo, curves, controls,
                              f"{band} band: {len(curves)} stroke(s), width {width}"),
    width="stretch", key="sp_band_plot",
)  # fmt: skip
whole = splines.corrected_templates(width)[digit]
right.plotly_chart(
    figures.strokes_over_halo(
        whole,
        [band_points(bezier.bezier_points(np.array(s.points), 200), splines.BANDS.index(bn))
         for bn in splines.BANDS for s in strokes[bn]],
        [band_points(np.array(s.points, float), splines.BANDS.index(bn))
         for bn in splines.BANDS for s in strokes[bn]],
        f"digit {digit}: the three bands, width {width}",
    ),
    width="stretch", key="sp_whole_plot",
)  # fmt: skip
st.caption(f"Halo pixels of the whole template: {int((whole > 0).sum())} of {whole.size}.")

if strokes[band]:
    st.subheader("Figure 2.1, step by step (first stroke of the band)")
    steps = bezier.figure_2_1(np.array(strokes[band][0].points, float), width, splines.BAND_GRID)
    s1, s2, s3 = st.columns(3)
    curve_fig = figures.strokes_over_halo(
        np.zeros((9, 28)), [band_points(steps["curve"], 0)], [band_points(steps["control"], 0)],
        "1. the curve and its control points",
    )  # fmt: skip
    s1.plotly_chart(curve_fig, width="stretch", key="sp_step1")
    dist = figures.matrix(
        pd.DataFrame(splines.band_to_image_rows(steps["distance"]))
        .rename_axis(index="row", columns="column"),
        "2. L∞ distance to the curve", colorscale="Blues", fmt=".1f",
    )  # fmt: skip
    s2.plotly_chart(dist, width="stretch", key="sp_step2")
    s3.plotly_chart(
        figures.digit_image(splines.band_to_image_rows(steps["pixels"]), "3. the halo's pixels"),
        width="stretch", key="sp_step3",
    )  # fmt: skip

st.subheader("Accuracy against halo width")
missing = [
    spline_runs.ReportSplineConfig(m, w) for m in splines.MODES for w in spline_runs.WIDTHS
    if spline_runs.STORE.load(spline_runs.ReportSplineConfig(m, w)) is None
]  # fmt: skip
if missing:
    require(
        f"the report templates' scores at {len(missing)} (mode, width) settings",
        lambda: None,
        lambda progress: [
            (spline_runs.report_splines(c), progress(i + 1, len(missing)))
            for i, c in enumerate(missing)
        ],
        "a few seconds",
        key="splines-report",
    )


@st.cache_resource(ttl=60, show_spinner=False)
def learned_results() -> dict:
    """Learned template sets of the cache, by (templates per digit, width); re-read each minute."""
    return {
        (r.manifest["config"]["templates_per_digit"], r.manifest["config"]["width"]): r
        for r in spline_runs.STORE.entries()
        if "templates_per_digit" in r.manifest["config"] and not r.manifest["config"]["train_limit"]
    }


@st.cache_data(ttl=60, show_spinner=False)
def accuracy_rows() -> list[dict]:
    rows = [
        {"templates": f"report, {mode}", "width": w, "accuracy": acc["test"],
         "on the report's 100 images": acc["report_sample"]}
        for (mode, w), acc in spline_runs.report_spline_table().items()
    ]  # fmt: skip
    for (m, w), r in learned_results().items():
        rows.append({"templates": f"learned, {m} per digit", "width": w,
                     "accuracy": evaluate.accuracy(y_test, r.arrays["test_pred"]),
                     "on the report's 100 images": np.nan})  # fmt: skip
    return rows


@st.cache_resource(show_spinner=False, max_entries=8)
def learned_templates(m: int, w: int) -> np.ndarray:
    """The halo images of a learned set: (10 · m, 28, 28) uint8, digit-major."""
    control = learned_results()[(m, w)].arrays["control"]
    return hard_templates(control.reshape(-1, *control.shape[2:]), w)


learned = learned_results()
rows = accuracy_rows()
acc_table = pd.DataFrame(rows)
left, right = st.columns([3, 2])
left.plotly_chart(
    figures.lines(acc_table, "width", "accuracy", "templates", "Test accuracy"), width="stretch"
)
with right:
    table(acc_table, "spline-accuracy", hide_index=True, width="stretch", height=320)
if not learned:
    st.info(
        "No learned templates cached yet: `python -m core splines --learned` trains them "
        "(about 10 minutes), or use the Compare page's button."
    )

st.subheader("A test image against its best-matching templates")
url_state("sp_image", 0, parse=int)
if not 0 <= st.session_state["sp_image"] < len(y_test):
    st.session_state["sp_image"] = 0
index = st.number_input(f"Test image (0–{len(y_test) - 1})", 0, len(y_test) - 1, key="sp_image")
to_url("sp_image")
image = x_test[index]
score = splines.scores(image[None], width, "corrected")[0]
best = int(np.argmin(score))
panels = st.columns(3)
panels[0].plotly_chart(
    figures.digit_image(image, f"test #{index}: label {y_test[index]}"),
    width="stretch",
    key="sp_test",
)
overlay = np.maximum(np.pad(splines.corrected_templates(width)[best], ((0, 1), (0, 0))) // 3,
                     image)  # fmt: skip
panels[1].plotly_chart(
    figures.digit_image(overlay, f"report templates say {best} (width {width})"),
    width="stretch", key="sp_overlay",
)  # fmt: skip
if learned:
    m, w = max(learned, key=lambda mw: (mw[1] == width, mw[0]))
    templates = learned_templates(m, w)

    t = int(nearest_template(image[None], templates)[0])
    panels[2].plotly_chart(
        figures.digit_image(np.maximum(templates[t] // 3, image),
                            f"learned templates say {t // m} (template {t % m}, width {w})"),
        width="stretch", key="sp_learned",
    )  # fmt: skip
st.dataframe(pd.DataFrame({"template distance": score}).rename_axis("digit").T, width="stretch")
