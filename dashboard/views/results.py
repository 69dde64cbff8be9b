"""Results: every method at a glance, compute everything in the background, import your own."""

import streamlit as st

from core import imported, jobs, marks, methods, published, tasks
from core.errors import ExplorerError
from dashboard import cached
from dashboard.data import mnist
from dashboard.jobs import POLL_S, describe, describe_batch, import_runner, runner, watch_batch
from dashboard.widgets import download, method_table

st.title("MNIST results explorer")
_, y_test = mnist("test")
ms = methods.all_methods()
results = {m.id: cached.result(m) for m in ms}


def _imported(result, filename: str) -> str:
    acc = (result.arrays["test_pred"] == y_test).mean()
    name, method_id = result.manifest["config"]["name"], result.meta["id"]
    return f"Imported {filename} as “{name}” ({method_id}): test accuracy {acc:.2%}."


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
fixed = marks.corrections("test")
corrected = marks.corrected_labels("test") if fixed else None
if fixed:
    st.caption(
        f"“on corrected labels”: the same predictions scored against the test labels with "
        f"the {len(fixed)} correction(s) a person made (Suspicious labels, an image's page)."
    )
table = methods.overview(ms, results, y_test, corrected).sort_values(
    "accuracy", ascending=False, na_position="last", kind="stable"
)
method_table(table)
download(table.drop(columns=["id"]), "methods", index=False)

st.subheader("Your own model")
st.caption(
    "Its predictions on the 10,000 test images become a method like ours (in Compare, the "
    "galleries, each image's page, the map): a CSV with a header `index,label` or "
    "`index,p0,…,p9`, an `.npy` of 10,000 labels or a 10,000 × 10 score matrix, or an ONNX "
    "model (input one image as (1, 28, 28), (28, 28) or (784,); it runs here in a process "
    "of its own, with a time and a memory limit, and may not read anything but its bytes)."
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
            label = name or upload.name
            if imported.kind_of(upload.name) == "onnx":  # run in a worker, within limits
                sha = imported.stage(upload.getvalue(), upload.name)
                task = tasks.import_task(sha, upload.name, label, pixels, outputs, normalise)
                import_runner().submit(task)
                st.session_state["import_job"] = task.id
            else:  # read here: parsing numbers runs nothing of the file's
                result = imported.import_file(
                    upload.getvalue(), upload.name, label, normalise=normalise
                )
                st.success(_imported(result, upload.name))
        except ExplorerError as exc:
            st.error(str(exc))


@st.fragment(run_every=POLL_S)
def _import_progress(job_id: str) -> None:
    """A running import, redrawn each second, with its Cancel; the page reruns at its end."""
    state = jobs.read(job_id)
    if state is None or not state.active:
        st.rerun()
    st.progress(state.fraction, text=describe(state))
    if st.button("Cancel the import", key="import_cancel", icon=":material/cancel:"):
        import_runner().cancel(job_id, "cancelled: nothing imported")
        st.rerun()


job = jobs.read(st.session_state["import_job"]) if "import_job" in st.session_state else None
if job is not None and job.active:
    _import_progress(job.id)
elif job is not None and job.state == jobs.FAILED:
    st.error(job.error)
elif job is not None:
    try:
        st.success(
            _imported(imported.find(imported.slug(job.params["name"])), job.params["filename"])
        )
    except ExplorerError:  # imported, then deleted or renamed since
        pass

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
