"""KNN (chapter 1): any K, weighting and training variant, re-voted from cached neighbours."""

import streamlit as st

from core import knn, methods, metrics, published
from dashboard import cached, url
from dashboard.data import mnist
from dashboard.widgets import confusion_drilldown, table

WEIGHTS = ("distance", "uniform")
DISTANCES = ("euclidean", "distortion")

st.title("K nearest neighbours")
st.caption(
    "Each test image takes the majority label of its K nearest training images (Euclidean "
    f"distance on the 784 pixels). The report chose K = 4 with distance weighting: "
    f"{published.KNN_RAW:.2%}; with its augmented training set (shifts, rotations, zooms): "
    f"{published.KNN_AUGMENTED:.2%}. The neighbours are computed once per training variant; "
    "moving K or the weighting only re-votes."
)

variants = list(knn.VARIANTS)
distance = st.segmented_control(
    "Distance",
    DISTANCES,
    help="distortion: each pixel may match a few pixels away (the image distortion model)",
    default="euclidean",
    required=True,
    **url.bound("distance", "euclidean", DISTANCES),
)
bending = distance == "distortion"
c1, c2, c3 = st.columns([3, 3, 2])
variant = c1.selectbox(
    "Training set",
    variants,
    disabled=bending,
    help="The distortion KNN re-ranks candidates of its own training sets" if bending else None,
    **url.bound("variant", "raw", variants),
)
k = c2.slider(
    "K (neighbours that vote)", 1, 20, knn.REPORT_K, **url.bound("k", knn.REPORT_K, knn.K_RANGE)
)
weights = c3.radio(
    "Weighting", WEIGHTS, horizontal=True, **url.bound("weights", knn.REPORT_WEIGHTS, WEIGHTS)
)
x_test, y_test = mnist("test")

if bending:
    method = methods.get("knn-idm")
    config = method.config
    st.caption(
        f"Each test pixel may match the training image anywhere within ±{config.window} "
        f"pixels, compared on its {2 * config.context + 1}×{2 * config.context + 1} "
        "neighbourhood of gradients (the image distortion model of Keysers et al., 2007). "
        "It re-ranks the Euclidean nearest: "
        + " and ".join(f"{n} of {knn.variant_name(v)}" for v, n in config.sources)
        + ". An image's page draws how each pixel moved."
    )
    cached.require_result(method)
    if k > config.keep:
        st.caption(f"K = {k} read as {config.keep}: the distances kept per image.")
        k = config.keep
    pred, scores = cached.idm_votes(k, weights)
    n_train = f"{cached.entry(method.store, config).meta['distinct_candidates']:.0f} per query"
else:
    result = cached.neighbours(variant)
    pred, scores = cached.votes(variant, None, k, weights)
    n_train = f"{result.meta.get('n_train', 0):,}"
acc = metrics.accuracy(y_test, pred)

m1, m2, m3 = st.columns(3)
m1.metric(
    "Test accuracy",
    f"{acc:.2%}",
    delta=f"{acc - published.KNN_RAW:+.2%} vs the report's {published.KNN_RAW:.2%}",
)
m2.metric("Errors", f"{int((pred != y_test).sum())} / {len(y_test)}")
m3.metric("Candidates compared" if bending else "Training images", n_train)

st.subheader("Success per digit")
name = f"distortion, K={k}, {weights}" if bending else f"{variant}, K={k}, {weights}"
columns = {name: pred}
if (bending or variant != "raw") and cached.neighbours("raw", stop=False) is not None:
    columns["the report's: raw, K=4, distance"] = cached.votes("raw", None, 4, "distance")[0]
table(
    metrics.per_digit(y_test, columns).rename_axis("digit").reset_index(),
    "knn-per-digit",
    static=True,
    decimals=2,
)

st.subheader("Confusion matrix")
confusion_drilldown(
    y_test,
    pred,
    x_test,
    key="cell",
    scores=scores,
    link={"distance": distance, "variant": variant, "k": k, "weights": weights},
)
