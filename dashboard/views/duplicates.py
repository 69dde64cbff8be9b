"""Near-duplicates between and within the training and test sets, and how the methods do
on the test images that have a twin in training."""

import pandas as pd
import streamlit as st

from core import duplicates, methods, tasks
from dashboard import cached, url
from dashboard.data import mnist
from dashboard.gallery import thumbnails
from dashboard.jobs import require
from dashboard.widgets import table

SHOWN = 48  # pairs drawn, the closest first (every pair is in the table and its CSV)
KINDS = list(duplicates.KINDS)
# Whole numbers: a bound slider writes its option's label in the URL (under=300).
EUCLIDEAN = list(range(150, 801, 25))
DISTORTION = list(range(2_000_000, 20_000_001, 500_000))

st.title("Near-duplicates and leakage")
st.caption(
    "Two images closer than a threshold. Test images with a near-twin in the training set "
    "are easier than the others for a method that remembers its training images; twins "
    "with different labels point at a wrong label. Distances are on 0..255 pixels: "
    "Euclidean (the exact search of the raw KNN) or the distortion distance (the "
    "distortion KNN's, each pixel free to match within ±2 pixels, deskewed; within a "
    "split, each image's 20 Euclidean nearest re-ranked by it)."
)
kind = st.segmented_control(
    "Pairs", KINDS, default=KINDS[0], required=True, **url.bound("kind", KINDS[0], KINDS)
)
distortion = "distortion" in kind
steps = DISTORTION if distortion else EUCLIDEAN
default = int(duplicates.DISTORTION if distortion else duplicates.EUCLIDEAN)
threshold = st.select_slider(
    "Closer than",
    steps,
    value=default,
    **url.bound("distortion_under" if distortion else "under", default, steps),
)

missing = duplicates.what_is_missing(kind)
if missing is not None:
    if kind == "test-train":
        cached.require_result(methods.get("knn-raw"))
    elif kind == "test-train (distortion)":
        cached.require_result(methods.get("knn-idm"))
    config = duplicates.within(kind)
    if config is not None:
        require(
            missing,
            lambda: None,
            tasks.twins_task(config.split, config.distance),
            ("a minute (test) to a few minutes (train)" if distortion else
             "a few seconds (test) to about a minute (train)"),
            key=f"twins:{config.split}:{config.distance}",
        )  # fmt: skip

found = duplicates.pairs(kind, float(threshold))
a_split, b_split = duplicates.splits(kind)
(xa, ya), (xb, yb) = mnist(a_split), mnist(b_split)
differ = found[found["label_a"] != found["label_b"]]
left, middle, right = st.columns(3)
left.metric("Pairs", f"{len(found):,}")
middle.metric("Twins with different labels", f"{len(differ):,}")
if not found.empty:
    right.metric("Most common digit", f"{found['label_a'].mode()[0]}")

if found.empty:
    st.info("No pair closer than this threshold: move the slider right.")
    st.stop()

only_differ = st.toggle("Only twins with different labels", key="dup_differ")
shown = (differ if only_differ else found).head(SHOWN)
st.markdown(
    f"**The {len(shown)} closest pairs** ({a_split} image, then its {b_split} twin; each "
    "opens its image page)"
)
images, captions, queries = [], [], []
for row in shown.itertuples():
    for index, split, x, y in ((row.a, a_split, xa, ya), (row.b, b_split, xb, yb)):
        images.append(x[index])
        captions.append(f"{split} #{index}: {y[index]}")
        queries.append({"image": int(index), "split": split})
thumbnails(images, captions, queries, key="dup_pairs", columns=8)
table(
    found.rename(
        columns={
            "a": f"{a_split} index",
            "b": f"{b_split} twin",
            "label_a": f"{a_split} label",
            "label_b": "twin's label",
        }
    ),
    f"near-duplicates-{kind.replace(' ', '-').replace('(', '').replace(')', '')}",
    hide_index=True,
    height=240,
)

if b_split == "train" and a_split == "test":
    st.subheader("The methods on test images with a twin in training")
    twin = duplicates.twin_mask(found, len(ya))
    predictions = {m.name: r.predictions for m in methods.all_methods() if (r := cached.result(m))}
    accuracy = duplicates.accuracy_with_and_without(twin, predictions, ya)
    st.caption(
        f"{int(twin.sum())} test images have a training twin closer than {threshold:,.0f}; "
        f"digits among them: "
        + ", ".join(f"{d}: {n}" for d, n in pd.Series(ya[twin]).value_counts().items())
        + ". A method far better on them than on the others leans on its training images."
    )
    table(
        accuracy,
        f"accuracy-with-twins-{'distortion' if distortion else 'euclidean'}",
        static=True,
        percent=["with a twin", "without"],
    )
