"""Spline halos (chapter 2): the report's Bézier templates, their halos, and learned ones."""

import numpy as np
import pandas as pd
import streamlit as st

from core import methods, published, splines, tasks
from dashboard import cached, figures, overlays, url
from dashboard.data import mnist
from dashboard.jobs import require
from dashboard.widgets import ERRORS_PAGE, deformation_story, table

st.title("Spline halos")
x_test, y_test = mnist("test")


def _acc(found) -> str:
    """A cached entry's test accuracy, or what to do while it is missing."""
    return (
        "(not computed yet)"
        if found is None
        else f"{np.mean(found.arrays['test_pred'] == y_test):.2%}"
    )


report_w0 = cached.entry(splines.REPORT_STORE, splines.ReportSplineConfig("corrected", 0))
learned_method, bend = methods.get("splines-learned"), methods.get("splines-deformable")
st.caption(
    "Each digit is described by Bézier strokes in three bands of 9 rows (top, middle, bottom); "
    "a stroke is rasterised as its L∞ halo and a test image takes the digit whose templates "
    f"differ least from it, pixel by pixel. The report's own code scored "
    f"{published.SPLINES_OWN_CODE:.0%} on its 100 images; read as its text describes, the "
    f"same templates reach {_acc(report_w0)} of the test set at width 0 and fall as the halo "
    f"widens; templates learned from the data reach "
    f"{_acc(cached.entry(learned_method.store, learned_method.config))}, and "
    f"{_acc(cached.entry(bend.store, bend.config))} when they may bend onto each image (below)."
)

cached_here = [m for m in methods.all_methods() if m.chapter == 2 and cached.result(m)]
if cached_here:
    st.markdown("**Every error of one of this chapter's methods:**")
    for col, m in zip(st.columns(len(cached_here)), cached_here, strict=True):
        col.page_link(
            ERRORS_PAGE,
            label=m.name.removeprefix("splines: "),
            query_params={"method": m.id},
            icon=":material/error:",
        )

# Learned template sets on the whole training set, by (templates per digit, width).
learned_sets = [
    r for r in cached.entries(splines.LEARNED_STORE) if not r.manifest["config"]["train_limit"]
]
learned = {
    (r.manifest["config"]["templates_per_digit"], r.manifest["config"]["width"]): r
    for r in learned_sets
}
DIGITS = list(range(10))
width = st.slider(
    "Halo width (pixels)",
    0,
    4,
    1,
    help="how far from a stroke (L∞ distance) a pixel still counts as ink of the template",
    **url.bound("sp_width", 1, splines.WIDTHS),
)


def _templates() -> None:
    """The report's strokes of one digit and band, and figure 2.1 step by step."""
    c1, c2 = st.columns([2, 3])
    digit = c1.selectbox(
        "Digit",
        DIGITS,
        index=2,
        help="whose hand-made templates are drawn",
        **url.bound("sp_digit", 2, DIGITS),
    )
    band = c2.radio(
        "Band",
        splines.BANDS,
        index=2,
        horizontal=True,
        help="the digit is cut into three bands of 9 rows, each with its own strokes",
        **url.bound("sp_band", "bottom", splines.BANDS),
    )
    st.subheader(f"The report's templates of digit {digit}")
    one = splines.template_drawing(digit, width, bands=(band,))
    whole = splines.template_drawing(digit, width)
    left, right = st.columns(2)
    left.plotly_chart(
        overlays.strokes_over_halo(
            one.halo,
            one.curves,
            one.controls,
            f"{band} band: {len(one.curves)} stroke(s), width {width}",
        ),
        width="stretch",
        key="sp_band_plot",
    )
    right.plotly_chart(
        overlays.strokes_over_halo(
            whole.halo,
            whole.curves,
            whole.controls,
            f"digit {digit}: the three bands, width {width}",
        ),
        width="stretch",
        key="sp_whole_plot",
    )
    st.caption(
        f"Halo pixels of the whole template: {int((whole.halo > 0).sum())} of {whole.halo.size}."
    )

    strokes = splines.report_templates()[digit][band]
    if strokes:
        st.subheader("Figure 2.1, step by step (first stroke of the band)")
        steps = splines.figure_2_1(np.array(strokes[0].points, float), width, splines.BAND_GRID)
        s1, s2, s3 = st.columns(3)
        curve_fig = overlays.strokes_over_halo(
            np.zeros((9, 28)),
            [splines.band_points(steps["curve"], 0)],
            [splines.band_points(steps["control"], 0)],
            "1. the curve and its control points",
        )
        s1.plotly_chart(curve_fig, width="stretch", key="sp_step1")
        dist = figures.matrix(
            pd.DataFrame(splines.band_to_image_rows(steps["distance"])).rename_axis(
                index="row", columns="column"
            ),
            "2. L∞ distance to the curve",
            colorscale="Blues",
            fmt=".1f",
        )
        s2.plotly_chart(dist, width="stretch", key="sp_step2")
        s3.plotly_chart(
            figures.digit_image(
                splines.band_to_image_rows(steps["pixels"]), "3. the halo's pixels"
            ),
            width="stretch",
            key="sp_step3",
        )


def _accuracy() -> None:
    """Every template set's test accuracy at every halo width."""
    st.subheader("Accuracy against halo width")
    settings = [splines.ReportSplineConfig(m, w) for m in splines.MODES for w in splines.WIDTHS]
    table_ready = require(
        "the report templates' scores at every mode and width",
        lambda: all([cached.entry(splines.REPORT_STORE, c) for c in settings]) or None,
        tasks.spline_table_task(),
        "a few seconds",
        key="splines-report",
        stop=False,  # the learned templates' rows do not need it
    )
    if table_ready:
        acc_table = splines.accuracy_frame(learned_sets)
        left, right = st.columns([3, 2])
        left.plotly_chart(
            figures.lines(acc_table, "width", "accuracy", "templates", "Test accuracy"),
            width="stretch",
        )
        with right:
            table(acc_table, "spline-accuracy", hide_index=True, width="stretch", height=320)
    if not learned:
        cached.require_entry(methods.get("splines-learned"), stop=False)


def _one_image() -> None:
    """One test image against the best templates, rigid and bent."""
    st.subheader("A test image against its best-matching templates")
    n = len(y_test)
    index = st.number_input(
        f"Test image (0–{n - 1})",
        0,
        n - 1,
        0,
        help="the image matched against the templates, rigid and bent",
        **url.bound("sp_image", 0, range(n)),
    )
    image = x_test[index]
    score = splines.scores(image[None], width, "corrected")[0]
    best = int(np.argmin(score))
    panels = st.columns(3)
    panels[0].plotly_chart(
        figures.digit_image(image, f"test #{index}: label {y_test[index]}"),
        width="stretch",
        key="sp_test",
    )
    panels[1].plotly_chart(
        figures.digit_image(
            splines.overlay(splines.corrected_templates(width)[best], image),
            f"report templates say {best} (width {width})",
        ),
        width="stretch",
        key="sp_overlay",
    )
    if learned:
        m, w = max(learned, key=lambda mw: (mw[1] == width, mw[0]))
        control = learned[(m, w)].arrays["control"]
        templates = cached.learned_templates(learned[(m, w)].path.name, control, w)
        t = int(splines.nearest_template(image[None], templates)[0])
        panels[2].plotly_chart(
            figures.digit_image(
                splines.overlay(templates[t], image),
                f"learned templates say {t // m} (template {t % m}, width {w})",
            ),
            width="stretch",
            key="sp_learned",
        )
    st.dataframe(pd.DataFrame({"template distance": score}).rename_axis("digit").T, width="stretch")

    st.subheader("Templates that bend")
    found = cached.require_entry(bend, stop=False)
    if found is None:
        return
    config = bend.config
    distances = cached.deform_distances(width)
    said = int(distances[index].argmin())
    acc = float(np.mean(distances.argmin(axis=1) == y_test))
    st.caption(
        f"Each of the learned templates nearest to the image (the {config.digits} best digits, "
        f"{config.per_digit} templates each) is deformed onto it: its control points move at "
        f"most {config.bound:g} pixels, each squared pixel of movement costing "
        f"{config.penalty}; the digit whose deformed template costs least (mismatch + "
        "deformation) wins. The halo width slider re-reads the deformed templates at that width."
    )
    rigid_acc = float(np.mean(cached.rigid_predictions(width) == y_test))
    m1, m2 = st.columns(2)
    m1.metric(
        f"Test accuracy at width {width}",
        f"{acc:.2%}",
        delta=f"{acc - rigid_acc:+.2%} vs the same templates rigid at width {width}",
    )
    m2.metric(f"Test #{index} reads as", said)
    deformation_story(found.arrays, index, x_test[index], int(y_test[index]), said, width, "sp")


# One section at a time, as on the CNN page (the whole page took 1.9 s in the browser).
SECTIONS = {
    "Report templates": _templates,
    "Accuracy against width": _accuracy,
    "A test image, rigid and bent": _one_image,
}
url.sections(SECTIONS, "sp_section")
