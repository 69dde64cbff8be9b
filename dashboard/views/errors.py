"""Every error of one method: its misclassified test images in one gallery, ranked by its
scores and paged, with the confusion matrix to narrow them to one cell."""

import streamlit as st

from core import methods, metrics
from dashboard import cached, url
from dashboard.data import mnist
from dashboard.widgets import ERRORS, confusion_drilldown, page_target

st.title("The errors of one method")
x_test, y_test = mnist("test")
results = {m.id: (m, r) for m in methods.all_methods() if (r := cached.result(m)) is not None}
if not results:
    st.info("No method is computed yet: the Results page computes them.")
    st.stop()

ids = list(results)
default = "cnn-modern" if "cnn-modern" in results else ids[0]
url.url_state("method", default, allowed=ids)
method_id = st.selectbox(
    "Method",
    ids,
    key="method",
    format_func=lambda i: results[i][0].name,
    help="any computed method, imported ones included",
)
url.to_url("method")
method, result = results[method_id]
pred = result.predictions

m1, m2, m3 = st.columns([2, 2, 3], vertical_alignment="center")
m1.metric("Errors", f"{int((pred != y_test).sum())} / {len(y_test)}")
m2.metric("Test accuracy", f"{metrics.accuracy(y_test, pred):.2%}")
page, query = page_target(method.page)
m3.page_link(page, label=f"How “{method.name}” works", query_params=query, icon=":material/info:")
st.caption(
    "The gallery opens on every error, the most confident first (the order menu changes "
    "that); a cell of the matrix narrows it to one confusion. Each thumbnail opens its "
    "image's page, whose arrows walk this gallery."
)
confusion_drilldown(
    y_test,
    pred,
    x_test,
    key="errors_cell",
    scores=result.scores,
    default=ERRORS,
)
