"""Draw (or upload) a digit and see what every method makes of it."""

import numpy as np
import pandas as pd
import streamlit as st

from core import methods, splines
from core.preprocess import ImageError, image_to_mnist, pixels_to_grey, to_mnist
from core.spline_learn import hard_templates, nearest_template
from dashboard import figures
from dashboard.state import mnist, to_url, url_state

st.title("Draw a digit")
st.caption(
    "Your digit is prepared as MNIST's were: the inked box scaled to fit 20 × 20 pixels, "
    "placed in 28 × 28 with its centre of mass in the middle. Then every cached method says "
    "what it sees."
)
(x_train, y_train), (x_test, y_test) = mnist("train"), mnist("test")

SOURCES = ["draw", "upload", "test image"]
url_state("source", "draw", allowed=SOURCES)
source = st.radio("Digit from", SOURCES, key="source", horizontal=True)
to_url("source")

raw, digit = None, None
left, right = st.columns([3, 2])
with left:
    try:
        if source == "draw":
            from streamlit_drawable_canvas import st_canvas

            canvas = st_canvas(
                stroke_width=20, stroke_color="#000000", background_color="#ffffff",
                height=280, width=280, drawing_mode="freedraw", key="canvas",
                return_image_data=True,
            )  # fmt: skip
            if canvas.image_data is not None and (canvas.image_data[..., :3] < 128).any():
                raw = pixels_to_grey(canvas.image_data)
        elif source == "upload":
            upload = st.file_uploader(
                "An image of one digit (PNG, JPEG, GIF, BMP, WebP, TIFF)",
                type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"], key="upload",
            )  # fmt: skip
            if upload is not None:
                digit = image_to_mnist(upload.getvalue())
        else:
            url_state("draw_index", 0, parse=int)
            if not 0 <= st.session_state["draw_index"] < len(y_test):
                st.session_state["draw_index"] = 0
            index = st.number_input("Test image", 0, len(y_test) - 1, key="draw_index")
            to_url("draw_index")
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
rows = []
k = 4
pred, scores, idx, sq = methods.knn_predict_one(digit, x_train, y_train, k)
rows.append({"method": "KNN: raw pixels (K=4, distance)", "prediction": pred,
             "confidence": scores[pred]})  # fmt: skip
sp_pred, sp_scores = methods.splines_predict_one(digit, 1)
rows.append({"method": "splines: report templates, corrected (width 1)", "prediction": sp_pred,
             "confidence": np.nan})  # fmt: skip
learned = methods.METHODS["splines: learned templates (20 per digit, width 1)"]
learned_result = learned.load()


@st.cache_resource(show_spinner=False)
def learned_templates() -> np.ndarray:
    control = learned_result.arrays["control"]
    return hard_templates(control.reshape(-1, *control.shape[2:]), learned.config.width)


if learned_result is not None:
    rows.append(
        {
            "method": learned.name,
            "confidence": np.nan,
            "prediction": methods.learned_predict_one(digit, learned_result, learned.config),
        }
    )
for name in ("CNN: pattern-faithful", "CNN: pattern-repaired", "CNN: modern"):
    method = methods.METHODS[name]
    result = method.load()
    if result is not None:
        p = methods.cnn_predict_one(digit, result, method.config)
        rows.append({"method": name, "prediction": int(p.argmax()), "confidence": float(p.max())})
answers = pd.DataFrame(rows).set_index("method")
st.dataframe(
    answers,
    width="stretch",
    column_config={"confidence": st.column_config.NumberColumn(format="percent")},
)
missing = len(methods.METHODS) - len(rows) - 2  # the two KNN variants not used here
if missing > 0:
    st.caption("Methods not yet computed are missing here; the Compare page computes them.")

st.subheader(f"The {k} nearest training images (KNN)")
captions = [f"train #{i}: label {y_train[i]}, distance {np.sqrt(d):.0f}"
            for i, d in zip(idx, sq, strict=True)]  # fmt: skip
st.plotly_chart(figures.gallery(x_train, idx, captions, cols=k), key="draw_neighbours")
st.caption(" · ".join(captions))

st.subheader("Best-matching spline templates")
cols = st.columns(2)
report = splines.corrected_templates(1)[sp_pred]
cols[0].plotly_chart(
    figures.digit_image(np.maximum(np.pad(report, ((0, 1), (0, 0))) // 3, digit),
                        f"report templates: {sp_pred}"), key="draw_report_template",
)  # fmt: skip
if learned_result is not None:
    templates = learned_templates()
    t = int(nearest_template(digit[None], templates)[0])
    m = learned.config.templates_per_digit
    cols[1].plotly_chart(
        figures.digit_image(np.maximum(templates[t] // 3, digit),
                            f"learned templates: {t // m} (template {t % m})"),
        key="draw_learned_template",
    )  # fmt: skip
