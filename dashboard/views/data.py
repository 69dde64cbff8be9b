"""Data overview: how many images per digit, what they look like, any image by index."""

import numpy as np
import pandas as pd
import streamlit as st

from core.data import SPLITS, samples_per_digit
from dashboard import figures
from dashboard.data import mnist

st.title("MNIST data")
st.caption(
    "70,000 handwritten digits of 28×28 grey pixels (0 = white paper, 255 = full ink): "
    "60,000 for training, 10,000 for testing, the four original files verified by MD5."
)

labels = {split: mnist(split)[1] for split in SPLITS}
counts = pd.DataFrame({split: np.bincount(y, minlength=10) for split, y in labels.items()})
counts.index.name = "digit"

st.subheader("Images per digit")
left, right = st.columns([3, 2])
left.plotly_chart(figures.digit_counts(counts.to_dict("series")), width="stretch")
right.dataframe(counts.assign(total=counts.sum(axis=1)), width="stretch")

st.subheader("Samples")
c1, c2, c3 = st.columns(3)
split = c1.radio("Split", list(SPLITS), horizontal=True, key="split")
per_digit = c2.slider("Images per digit", 1, 30, 12, key="per_digit")
seed = c3.number_input(
    "Random draw (0: the first images of each digit)", min_value=0, value=0, key="seed"
)
images, y = mnist(split)
grid = samples_per_digit(y, per_digit, seed=seed or None)
st.plotly_chart(figures.mosaic(images, grid), width="stretch")

st.subheader("One image")
n = len(y)
left, right = st.columns([2, 3])
index = left.number_input(f"Index in the {split} set (0–{n - 1})", 0, n - 1, 40, key="index")
image, label = images[index], int(y[index])
left.metric("Label", label)
left.plotly_chart(figures.digit_image(image, f"{split} #{index}: label {label}"), width="stretch")
with right.expander("Pixel values", expanded=False):
    st.dataframe(pd.DataFrame(image), width="stretch")
