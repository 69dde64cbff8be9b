"""A map of the data: the 10,000 test images as points, coloured by what you ask; a box or
lasso opens the gallery of the images it holds."""

import numpy as np
import streamlit as st

from core import maps, methods, tasks
from core.errors import ExplorerError
from dashboard import cached, figures, url
from dashboard.data import mnist
from dashboard.gallery import IMAGE_PAGE, gallery
from dashboard.jobs import offer
from dashboard.slicing import save_as_slice
from dashboard.widgets import error_caption

st.title("A map of the test set")
st.caption(
    "Each point is a test image, placed by UMAP so that images alike sit close: alike in "
    "their pixels, their deskewed pixels, or the modern CNN's features. Hover a point to see "
    "its digit; drag a lasso or a box (the toolbar switches) to open those images below."
)
x_test, y_test = mnist("test")

FEATURES = list(maps.FEATURES)
COLOURS = ["true label", "prediction", "right or wrong", "suspicion"]
c1, c2, c3 = st.columns([2, 2, 3])
# Not bound: a bound widget carries its formatted label in the URL, not the features' key.
url.url_state("features", "pixels", allowed=FEATURES)
features = c1.selectbox(
    "Features",
    FEATURES,
    format_func=maps.FEATURES.get,
    help="what “alike” means: the raw pixels, the pixels once each digit is deskewed, or "
    "what the modern CNN's last layer sees",
    key="features",
)
url.to_url("features")
colour_by = c2.selectbox(
    "Colour by",
    COLOURS,
    help="right or wrong: the chosen method's errors in red over grey; suspicion: how much "
    "the evidence disputes each label (the Suspicious labels page)",
    **url.bound("colour", "true label", COLOURS),
)
results = {m.name: r for m in methods.all_methods() if (r := cached.result(m)) is not None}
names = list(results)
default = next((n for n in ("CNN: modern", *names[::-1]) if n in names), "")
method = c3.selectbox(
    "Method",
    names or ["none cached yet"],
    index=names.index(default) if default else 0,
    help="whose predictions colour the map and rank the gallery of a selection",
    **url.bound("method", default, names),
)

try:
    config = maps.config(features)
except ExplorerError as exc:
    st.info(f"{exc}. The CNNs page (or Results' compute everything) trains it.")
    st.stop()
umap_xy = cached.map_xy(config)
if umap_xy is None:
    with st.container(border=True):
        offer(
            tasks.map_task(features),
            f"the UMAP map of {maps.FEATURES[features]}",
            "about half a minute to a minute and a half",
            key=f"map:{features}",
        )
    st.caption("Meanwhile, the PCA map (the two main directions of the same features):")
xy = umap_xy if umap_xy is not None else cached.instant_map(config)

result = results.get(method)
hover = cached.text_thumbnails()
if colour_by == "true label" or result is None and colour_by in ("prediction", "right or wrong"):
    colour, categorical, title = y_test, True, "true label"
elif colour_by == "prediction":
    colour, categorical, title = result.predictions, True, f"{method}: prediction"
elif colour_by == "right or wrong":
    right = result.predictions == y_test
    colour, categorical, title = (
        np.where(right, "right", "wrong"),
        True,
        f"{method}: right or wrong",
    )
else:
    ranked = cached.ranked_labels("test")
    suspicion = np.zeros(len(y_test))
    if ranked is not None:
        suspicion[ranked["index"].to_numpy()] = ranked["score"].to_numpy()
    colour, categorical, title = suspicion, False, "suspicion of the label"
labels_text = [
    f"{h}<br>label {y_test[i]}" + ("" if result is None else f", says {result.predictions[i]}")
    for i, h in enumerate(hover)
]


def _selected() -> None:
    """Callback of the chart: the chosen points' image indices, kept in session state."""
    points = st.session_state["map_chart"].selection.get("points", [])
    st.session_state["map_selected"] = sorted(
        {int(p["customdata"]) for p in points if "customdata" in p}
    )


st.plotly_chart(
    figures.data_map(xy, colour, labels_text, title, categorical),
    key="map_chart",
    on_select=_selected,
    selection_mode=("box", "lasso", "points"),
    width="stretch",
)
chosen = np.asarray(st.session_state.get("map_selected", []), np.int64)
if len(chosen) == 1:
    st.page_link(
        IMAGE_PAGE,
        label=f"Open test image #{chosen[0]}",
        icon=":material/image:",
        query_params={"image": int(chosen[0])},
    )
if len(chosen):
    gallery(
        chosen,
        images=x_test,
        labels=y_test,
        key="map_gallery",
        title="the selected images",
        scores=None if result is None else result.scores,
        keyboard=True,
        caption=lambda i: error_caption(
            int(i), int(y_test[i]), int(y_test[i] if result is None else result.predictions[i])
        ),
    )
    save_as_slice(
        chosen,
        f"map selection of {len(chosen)}",
        f"a selection on the map of {features}",
        "map_slice",
    )
else:
    st.caption("Nothing selected yet.")
