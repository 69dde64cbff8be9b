"""Entry point of the dashboard: ``streamlit run dashboard/app.py``."""

import streamlit as st

from dashboard.jobs import sidebar
from dashboard.notices import core_notices

st.set_page_config(page_title="MNIST results explorer", page_icon="🔢", layout="wide")

PAGES = {
    "Results": [
        st.Page(
            "views/results.py",
            title="Results",
            icon=":material/leaderboard:",
            url_path="results",
            default=True,
        ),
    ],
    "Data": [
        st.Page("views/data.py", title="Overview", icon=":material/grid_view:", url_path="data"),
        st.Page(
            "views/duplicates.py",
            title="Near-duplicates",
            icon=":material/content_copy:",
            url_path="duplicates",
        ),
    ],
    "Chapter 1 · KNN": [
        st.Page("views/knn.py", title="KNN", icon=":material/hub:", url_path="knn"),
        st.Page(
            "views/cross_validation.py",
            title="Cross-validation",
            icon=":material/table:",
            url_path="cross-validation",
        ),
        st.Page(
            "views/augmentation.py",
            title="Augmentation",
            icon=":material/transform:",
            url_path="augmentation",
        ),
    ],
    "Chapter 2 · Splines": [
        st.Page(
            "views/splines.py", title="Spline halos", icon=":material/gesture:", url_path="splines"
        ),
    ],
    "Chapter 3 · CNNs": [
        st.Page("views/cnn.py", title="CNNs", icon=":material/neurology:", url_path="cnn"),
    ],
    "All methods": [
        st.Page("views/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
        st.Page(
            "views/calibration.py",
            title="Calibration",
            icon=":material/speed:",
            url_path="calibration",
        ),
        st.Page("views/slices.py", title="Slices", icon=":material/bookmarks:", url_path="slices"),
        st.Page("views/draw.py", title="Draw a digit", icon=":material/draw:", url_path="draw"),
        st.Page(
            "views/map.py", title="Map of the data", icon=":material/scatter_plot:", url_path="map"
        ),
    ],
    "Errors": [
        st.Page(
            "views/errors.py",
            title="One method's errors",
            icon=":material/error:",
            url_path="errors",
        ),
        st.Page("views/image.py", title="One image", icon=":material/image:", url_path="image"),
        st.Page(
            "views/suspicious.py",
            title="Suspicious labels",
            icon=":material/report:",
            url_path="suspicious",
        ),
    ],
}
# A chart's hover label (the map's thumbnails) is hidden once the pointer leaves the chart:
# one drawn just before a selection's rerun otherwise stays over the new chart.
st.html("<style>.js-plotly-plot:not(:hover) .hoverlayer {visibility: hidden}</style>")
with core_notices():
    page = st.navigation(PAGES, expanded=True)  # every page in sight, the Errors ones too
    st.session_state["current_page"] = page  # where a gallery's image page links back to
    with st.sidebar:
        sidebar()  # every computation in progress, whichever page started it
    page.run()
