"""Suspicious labels: the images whose label the evidence disputes, most suspicious first,
and a person's verdict on each."""

import pandas as pd
import streamlit as st

from core import marks, methods, suspicious, tasks
from dashboard import cached, url
from dashboard.data import mnist
from dashboard.gallery import data_uri, gallery
from dashboard.jobs import require
from dashboard.review import review_queue
from dashboard.widgets import download

st.title("Suspicious labels")
st.caption(
    "Out-of-sample class scores of independent methods (for test images: a KNN and the CNNs, "
    "all trained on the training set; for training images: the votes of their nearest "
    "neighbours in the other folds of a 5-fold split) go to cleanlab, which scores how "
    "well each given label fits them. The worse the fit, the higher the image ranks; the "
    "suggested label is the evidence's favourite. Open an image to see every method's "
    "answer and give your verdict."
)

SPLITS = ["test", "train"]
split = st.radio("Images", SPLITS, horizontal=True, **url.bound("split", "test", SPLITS))
images, labels = mnist(split)

if split == "test":
    for method_id in (suspicious.TEST_KNN[0], *suspicious.TEST_CNN):
        # The evidence: each missing source is offered for computing (the ranking uses
        # whichever are cached, and grows better as they arrive).
        cached.require_result(methods.get(method_id), stop=False)
else:
    e = suspicious.TRAIN_EVIDENCE
    require(
        "the out-of-fold votes of the training images",
        lambda: cached.ranked_labels("train"),
        tasks.folds_task(e["variant"], e["cv_scheme"]),
        "about 20 seconds to 2 minutes (5 folds of deskewed neighbours)",
        key="suspicious-train",
    )
with_imported = split == "test" and st.checkbox(
    "Count my imported methods as evidence too",
    key="with_imported",
    disabled=not any(m.chapter == 0 for m in methods.all_methods()),
)
ranked = cached.ranked_labels(split, with_imported)
if ranked is None:
    st.stop()

verdicts = marks.verdicts(split)
ranked = ranked.assign(mark=ranked["index"].map(verdicts))
disputed = ranked[ranked["suggested"] != ranked["given"]]
agreeing = st.checkbox(
    "Also list the images whose evidence favours their own label",
    key="agreeing",
    help=f"{len(ranked) - len(disputed):,} images rank low in suspicion and their evidence's "
    "favourite is their label: by default only the "
    f"{len(disputed):,} whose evidence suggests another digit are listed",
)
listed = ranked if agreeing else disputed
c1, c2, c3 = st.columns([2, 3, 2])
most = max(len(listed), 1)
top = c1.number_input(
    "How many",
    1,
    most,
    min(100, most),
    step=10,
    help="the most suspicious first",
    **url.bound("top", min(100, most), range(1, most + 1), parse=int),
)
head = listed.head(top)
pairs = head.groupby(["given", "suggested"]).size().sort_values(ascending=False)
options = ["all"] + [f"{g}→{s}" for g, s in pairs.index]
pair = c2.selectbox(
    "Given → suggested",
    options,
    help="one confusion of the list; "
    + ", ".join(f"{g}→{s}: {n}" for (g, s), n in pairs.head(6).items()),
    **url.bound("pair", "all", options),
)
unmarked = c3.checkbox("Only the ones not marked yet", key="unmarked")
shown = head
if pair != "all":
    g, s = map(int, pair.split("→"))
    shown = shown[(shown["given"] == g) & (shown["suggested"] == s)]
if unmarked:
    shown = shown[shown["mark"].isna()]

counts = head["mark"].value_counts()
st.markdown(
    f"Among the first {top}: **{counts.get('wrong', 0)} marked wrong**, "
    f"{counts.get('right', 0)} right, {counts.get('unsure', 0)} unsure, "
    f"{int(head['mark'].isna().sum())} not marked yet."
)
rows = shown["index"].to_numpy()
VIEWS = ["gallery", "review one by one"]
view = st.radio(
    "View",
    VIEWS,
    horizontal=True,
    help="review: one image large, its evidence and neighbours; verdicts at the keyboard "
    "(a digit: the right label; V: the given label is right; U: unsure; X: wrong; N / → "
    "next, P / ← previous)",
    **url.bound("view", VIEWS[0], VIEWS),
)
if view != VIEWS[0]:
    review_queue(rows, split, images, labels, ranked, unmarked)
    st.stop()
suggested = dict(zip(ranked["index"], ranked["suggested"], strict=True))
gallery(
    rows,
    images=images,
    labels=labels,
    key=f"suspicious_{split}",
    split=split,
    title=f"the most suspicious {split} labels",
    ranked=True,
    keyboard=True,
    caption=lambda i: (
        {"wrong": "✗ ", "right": "✓ ", "unsure": "? "}.get(verdicts.get(int(i)), "")
        + f"#{i} {labels[i]}→{suggested[i]}"
    ),
)


listing = shown.assign(image=[data_uri(images[i]) for i in shown["index"]])
st.dataframe(
    listing.drop(columns=["quality", "confidence"]),
    hide_index=True,
    width="stretch",
    column_order=[
        "image",
        "index",
        "given",
        "suggested",
        "score",
        "flagged",
        "agree",
        "mark",
        *[c for c in listing.columns if c.startswith(("KNN", "CNN"))],
    ],
    column_config={
        "image": st.column_config.ImageColumn("image", width="small"),
        "score": st.column_config.ProgressColumn(
            "suspicion", min_value=0.0, max_value=1.0, format="%.3f"
        ),
    },
    row_height=60,
)
download(
    pd.DataFrame(shown[["index", "given", "suggested", "score", "mark"]]),
    f"suspicious-labels-{split}",
    index=False,
)
