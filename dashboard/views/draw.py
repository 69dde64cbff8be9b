"""Draw (or upload) a digit and see what every method makes of it."""

import numpy as np
import pandas as pd
import streamlit as st

from core import answers, knn, methods, splines, tasks
from core.preprocess import ImageError, image_to_mnist, pixels_to_grey, to_mnist
from dashboard import cached, figures, url
from dashboard.data import mnist
from dashboard.jobs import offer

st.title("Draw a digit")
st.caption(
    "Your digit is prepared as MNIST's were: the inked box scaled to fit 20 × 20 pixels, "
    "placed in 28 × 28 with its centre of mass in the middle. Then every cached method says "
    "what it sees."
)
(x_train, y_train), (x_test, y_test) = mnist("train"), mnist("test")

SOURCES = ["draw", "upload", "test image"]
source = st.radio(
    "Digit from",
    SOURCES,
    horizontal=True,
    help="draw with the mouse, upload a photo or scan of one digit, or take a test image",
    **url.bound("source", "draw", SOURCES),
)

raw, digit = None, None
left, right = st.columns([3, 2])
with left:
    try:
        if source == "draw":
            from streamlit_drawable_canvas import st_canvas

            canvas = st_canvas(
                stroke_width=20,
                stroke_color="#000000",
                background_color="#ffffff",
                height=280,
                width=280,
                drawing_mode="freedraw",
                key="canvas",
                return_image_data=True,
            )
            if canvas.image_data is not None and (canvas.image_data[..., :3] < 128).any():
                raw = pixels_to_grey(canvas.image_data)
        elif source == "upload":
            upload = st.file_uploader(
                "An image of one digit (PNG, JPEG, GIF, BMP, WebP, TIFF)",
                type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"],
                key="upload",
            )
            if upload is not None:
                digit = image_to_mnist(upload.getvalue())
        else:
            n = len(y_test)
            index = st.number_input(
                "Test image", 0, n - 1, 0, **url.bound("draw_index", 0, range(n))
            )
            raw = x_test[index] / 255.0
        if raw is not None:
            digit = to_mnist(raw)
    except ImageError as exc:
        st.error(str(exc))
if digit is None:
    right.info("Draw a digit on the canvas (or pick another source) to see the predictions.")
    st.stop()
right.plotly_chart(figures.digit_image(digit, "as MNIST sees it (28 × 28)"), key="draw_digit")

st.subheader("What each method says")


def _row(method, scores) -> dict:
    return {
        "method": method.name,
        "prediction": int(scores.argmax()),
        "score": float(scores.max()),
        **{str(d): float(scores[d]) for d in range(10)},
    }


every = methods.all_methods()
ready = [m for m in every if m.can_predict_one()]
heavy = [m for m in ready if m.one_image_cost]
with st.spinner("Asking every method…"):
    rows = [_row(m, m.predict_one(digit)) for m in ready if not m.one_image_cost]
if heavy and st.checkbox(
    f"Also ask the {len(heavy)} methods that search augmented training sets (in the "
    f"background; the first time, each spends {heavy[0].one_image_cost})",
    key="draw_heavy",
    help="their answers for this digit are kept: asking again is immediate",
):
    found = {m: answers.cached(m, digit) for m in heavy}
    rows += [_row(m, scores) for m, scores in found.items() if scores is not None]
    waiting = [m for m, scores in found.items() if scores is None]
    if waiting:
        with st.container(border=True):
            offer(
                tasks.one_image_task([m.id for m in waiting], digit),
                f"the answers of {len(waiting)} methods for this digit",
                heavy[0].one_image_cost + " each",
                key="draw-heavy",
                start=True,
            )
answers_frame = pd.DataFrame(rows).set_index("method")
st.dataframe(
    answers_frame,
    width="stretch",
    column_config={
        c: st.column_config.ProgressColumn(c, min_value=0.0, max_value=1.0, format="%.2f")
        for c in ["score", *map(str, range(10))]
    },
)
untrained = [m.name for m in every if m not in ready and m.chapter]
files = [m.name for m in every if m not in ready and not m.chapter]
if untrained:
    st.caption(
        f"Not computed yet, so not asked: {', '.join(untrained)}. The Results page computes "
        "them in the background."
    )
if files:
    st.caption(
        f"Imported as predictions on the test set, which cannot answer a new drawing: "
        f"{', '.join(files)} (an ONNX model can)."
    )

K = 4
st.subheader(f"The {K} nearest training images (KNN, raw pixels)")
nb = knn.image_neighbours(knn.VARIANTS["raw"], digit, K)
idx, dist = nb.indices[0], np.sqrt(nb.sqdist[0])
captions = [
    f"train #{i}: label {y_train[i]}, distance {d:.0f}" for i, d in zip(idx, dist, strict=True)
]
st.plotly_chart(figures.gallery(x_train, idx, captions, cols=K), key="draw_neighbours")
st.caption(" · ".join(captions))

st.subheader("Best-matching spline templates")
cols = st.columns(2)
best = int(splines.scores(digit[None], 1, "corrected")[0].argmin())
cols[0].plotly_chart(
    figures.digit_image(
        splines.overlay(splines.corrected_templates(1)[best], digit), f"report templates: {best}"
    ),
    key="draw_report_template",
)
learned_method = methods.get("splines-learned")
learned = cached.entry(learned_method.store, learned_method.config)
if learned is not None:
    w, m = learned_method.config.width, learned_method.config.templates_per_digit
    templates = cached.learned_templates(learned.path.name, learned.arrays["control"], w)
    t = int(splines.nearest_template(digit[None], templates)[0])
    cols[1].plotly_chart(
        figures.digit_image(
            splines.overlay(templates[t], digit), f"learned templates: {t // m} (template {t % m})"
        ),
        key="draw_learned_template",
    )
