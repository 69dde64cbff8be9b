"""Results: every method at a glance, compute everything in the background, import your own."""

import streamlit as st

from core import imported, methods, published, tasks
from core.errors import ExplorerError
from dashboard import cached
from dashboard.data import mnist
from dashboard.jobs import describe_batch, runner, watch_batch
from dashboard.widgets import download, method_table

st.title("MNIST results explorer")
_, y_test = mnist("test")
ms = methods.all_methods()
results = {m.id: cached.result(m) for m in ms}


def _acc(method_id: str) -> str:
    r = results.get(method_id)
    return "not computed yet" if r is None else f"{r.accuracy(y_test):.2%}"


st.markdown(
    f"- **The report's numbers, reproduced to the digit**: KNN on raw pixels "
    f"{_acc('knn-raw')} (the report: {published.KNN_RAW:.2%}), with its augmentations "
    f"{_acc('knn-augmented')} (the report: {published.KNN_AUGMENTED:.2%}).\n"
    f"- **Where it went wrong**: its CSV files lost their first row; its spline code read "
    f"column strips and kept one band: {published.SPLINES_OWN_CODE:.0%} on the report's 100 "
    f"images, {_acc('splines-report-faithful-w1')} on the 10,000 test images, and "
    f"{_acc('splines-report-corrected-w1')} once read as its text describes; its pattern "
    f"network cannot learn ({_acc('cnn-pattern-faithful')} against the "
    f"{published.PATTERN_NETWORK:.1%} claimed).\n"
    f"- **Beyond it**: deskewed, augmented KNN on 60 principal components "
    f"{_acc('knn-deskewed-augmented-diagonals-pca60')}, the distortion KNN {_acc('knn-idm')}, "
    f"learned spline templates {_acc('splines-learned')} ({_acc('splines-deformable')} when "
    f"they bend), the repaired pattern network {_acc('cnn-pattern-repaired')}, a modern CNN "
    f"{_acc('cnn-modern')}."
)

st.subheader("Compute everything")
todo = tasks.everything()
batch = runner().batch
if batch is not None and describe_batch(batch)["active"]:
    watch_batch()
elif todo:
    minutes = sum(seconds for _, seconds in todo) / 60
    st.info(
        f"{len(todo)} results are not computed yet (about {minutes:.0f} minutes on 2 cores). "
        "They are computed in the background, one at a time: keep browsing, each page fills "
        "in as its results arrive."
    )
    if st.button(
        f"Compute everything ({len(todo)} missing)",
        key="compute:everything",
        type="primary",
        help="queued in the background, one at a time; each page fills in as they arrive",
    ):
        runner().submit_all([t for t, _ in todo], [s for _, s in todo])
        st.rerun()
else:
    st.success("Every result the pages use is cached.")

st.subheader("Every method")
st.caption(
    "Best first. A method's name opens the page that explains it; its errors open the "
    "gallery of every image it gets wrong, most confident mistakes first."
)
table = methods.overview(ms, results, y_test).sort_values(
    "accuracy", ascending=False, na_position="last", kind="stable"
)
method_table(table)
download(table.drop(columns=["id"]), "methods", index=False)

st.subheader("Your own model")
st.caption(
    "Its predictions on the 10,000 test images become a method like ours (in Compare, the "
    "galleries, each image's page, the map): a CSV with a header `index,label` or "
    "`index,p0,…,p9`, an `.npy` of 10,000 labels or a 10,000 × 10 score matrix, or an ONNX "
    "model (input one image as (1, 28, 28), (28, 28) or (784,); it is run here)."
)
with st.form("import", border=True):
    upload = st.file_uploader(
        "File",
        type=["csv", "npy", "onnx"],
        key="import_file",
        help="predictions for the 10,000 test images in their order, or an ONNX model",
    )
    name = st.text_input(
        "Name", key="import_name", placeholder="my model", help="how the pages will call it"
    )
    c1, c2, c3 = st.columns(3)
    pixels = c1.radio("ONNX input pixels", ["0..1", "0..255"], horizontal=True, key="import_pixels")
    outputs = c2.radio(
        "ONNX outputs", ["probabilities", "logits"], horizontal=True, key="import_outputs"
    )
    normalise = c3.checkbox("Rescale scores that do not sum to 1", key="import_normalise")
    if st.form_submit_button("Import", type="primary"):
        try:
            if upload is None:
                raise ExplorerError("file: expected a .csv, .npy or .onnx file, found none")
            result = imported.import_file(
                upload.getvalue(),
                upload.name,
                name or upload.name,
                pixels=pixels,
                outputs=outputs,
                normalise=normalise,
            )
            acc = (result.arrays["test_pred"] == y_test).mean()
            st.success(
                f"Imported {upload.name} as “{result.manifest['config']['name']}” "
                f"({result.meta['id']}): test accuracy {acc:.2%}."
            )
        except ExplorerError as exc:
            st.error(str(exc))

mine = [m for m in ms if m.chapter == 0]
if mine:
    st.markdown(f"**Your imported models ({len(mine)})**: rename or delete")
for m in mine:
    with st.container(border=True):
        st.caption(f"{m.name} — {m.about}")
        c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
        new = c1.text_input("Rename to", key=f"rename_{m.id}", value=m.config.name)
        if c2.button("Rename", key=f"do_rename_{m.id}") and new.strip() != m.config.name:
            try:
                imported.rename(m.id, new)
                st.rerun()
            except ExplorerError as exc:
                st.error(str(exc))
        if c3.button("Delete", key=f"delete_{m.id}"):
            imported.delete(m.id)
            st.rerun()
