"""Draw (or upload) a digit and see what every method makes of it."""

import numpy as np
import pandas as pd
import streamlit as st

from core import knn, methods, splines
from core.preprocess import ImageError, image_to_mnist, pixels_to_grey, to_mnist
from dashboard import cached, figures, url
from dashboard.data import mnist

st.title("Draw a digit")
st.caption(
    "Your digit is prepared as MNIST's were: the inked box scaled to fit 20 × 20 pixels, "
    "placed in 28 × 28 with its centre of mass in the middle. Then every cached method says "
    "what it sees."
)
(x_train, y_train), (x_test, y_test) = mnist("train"), mnist("test")

SOURCES = ["draw", "upload", "test image"]
source = st.radio("Digit from", SOURCES, horizontal=True, **url.bound("source", "draw", SOURCES))

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
ready = [m for m in methods.all_methods() if m.can_predict_one()]
heavy = [m for m in ready if m.one_image_cost]
ask_heavy = heavy and st.checkbox(
    f"Also ask the {len(heavy)} augmented KNN variants (the first time, each needs "
    f"{heavy[0].one_image_cost})",
    key="draw_heavy",
)
rows = []
for method in ready:
    if method.one_image_cost and not ask_heavy:
        continue
    scores = method.predict_one(digit)
    rows.append(
        {
            "method": method.name,
            "prediction": int(scores.argmax()),
            "score": float(scores.max()),
            **{str(d): float(scores[d]) for d in range(10)},
        }
    )
answers = pd.DataFrame(rows).set_index("method")
st.dataframe(
    answers,
    width="stretch",
    column_config={
        c: st.column_config.ProgressColumn(c, min_value=0.0, max_value=1.0, format="%.2f")
        for c in ["score", *map(str, range(10))]
    },
)
missing = [m.name for m in methods.all_methods() if m not in ready]
if missing:
    st.caption(
        f"Not trained yet, so not asked: {', '.join(missing)}. The Compare page computes them."
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
