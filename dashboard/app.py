"""Entry point of the dashboard: ``streamlit run dashboard/app.py``."""

import streamlit as st

st.set_page_config(page_title="MNIST results explorer", page_icon="🔢", layout="wide")

pages = {
    "Data": [
        st.Page("views/data.py", title="Overview", icon=":material/grid_view:", url_path="data"),
    ],
}
st.navigation(pages).run()
