"""Compare: every method side by side, and the images one gets right and another wrong."""

import numpy as np
import pandas as pd
import streamlit as st

from core import methods, metrics, significance
from dashboard import cached, figures, url
from dashboard.data import mnist
from dashboard.gallery import gallery
from dashboard.slicing import save_as_slice
from dashboard.widgets import ERRORS_PAGE, Axes, confusion_drilldown, table

st.title("All methods side by side")
x_test, y_test = mnist("test")

results = {m: cached.result(m) for m in methods.all_methods()}
available = {m.name: r.predictions for m, r in results.items() if r is not None}
scores_of = {m.name: r.scores for m, r in results.items() if r is not None}
missing = [m for m, r in results.items() if r is None]

if missing:
    with st.expander(f"{len(missing)} method(s) not computed yet", expanded=not available):
        for method in missing:
            cached.require_result(method, stop=False)
if not available:
    st.stop()

st.subheader("Overall test accuracy")
chapters = {m.name: methods.CHAPTERS[m.chapter] for m in results}
overall = metrics.summary(y_test, available)
overall.insert(0, "chapter", [chapters[n] for n in overall.index])
table(
    overall,
    "compare-overall",
    width="stretch",
    column_config={"accuracy": st.column_config.NumberColumn(format="percent")},
)

st.subheader("Success per digit (%)")
per_digit = metrics.per_digit(y_test, available)
st.plotly_chart(
    figures.matrix(
        per_digit.drop(columns="support").T.rename_axis(index="method", columns="digit"),
        "Success per digit (%)",
        "RdYlGn",
        ".2f",
    ),
    width="stretch",
    key="compare_heat",
)
table(per_digit.round(2), "compare-per-digit", width="stretch")

st.subheader("Two methods")
names = list(available)
a, b = st.columns(2)
first = a.selectbox("Method A", names, index=len(names) - 1, **url.bound("a", names[-1], names))
second = b.selectbox("Method B", names, index=0, **url.bound("b", names[0], names))
pred_a, pred_b = available[first], available[second]
right_a, right_b = pred_a == y_test, pred_b == y_test
if first != second:
    found = significance.paired(first, second, pred_a, pred_b, y_test)
    st.markdown(f"**Is the difference real?** {found.sentence()}")
    st.caption(
        f"McNemar's exact test reads only the images one of the two gets right; the "
        f"interval comes from {significance.RESAMPLES:,} resamples of the 10,000 test "
        "images (seeded: the same on every run). The Calibration page says how far each "
        "method's scores are probabilities."
    )

SETS = ["A right, B wrong", "A wrong, B right", "both wrong"]


def _right_and_wrong() -> None:
    which = st.segmented_control(
        "Images", SETS, default=SETS[0], required=True, **url.bound("set", SETS[0], SETS)
    )
    chosen = {
        SETS[0]: right_a & ~right_b,
        SETS[1]: ~right_a & right_b,
        SETS[2]: ~right_a & ~right_b,
    }
    st.caption(
        " · ".join(f"{name}: {int(mask.sum())} images" for name, mask in chosen.items())
        + f" (A: {first}; B: {second})"
    )
    ids = np.flatnonzero(chosen[which])
    # Ranked by the scores of a method that is wrong on them: its most confident mistakes.
    ranking = scores_of[second] if which == SETS[0] else scores_of[first]
    if not len(ids):
        st.caption("No test image in this set.")
        return
    gallery(
        ids,
        images=x_test,
        labels=y_test,
        scores=ranking,
        key="compare_gallery",
        title=which,
        keyboard=True,
        caption=lambda i: f"#{i}: {y_test[i]}, A {pred_a[i]}, B {pred_b[i]}",
    )
    save_as_slice(ids, f"{which}: A {first}, B {second}", "Compare", "compare_slice")
    listing = pd.DataFrame(
        {
            "test index": ids,
            "label": y_test[ids],
            "A: " + first: pred_a[ids],
            "B: " + second: pred_b[ids],
        }
    )
    table(listing, "compare-two-methods", hide_index=True, width="stretch", height=200)


def _a_against_b() -> None:
    st.caption(
        f"Rows: what A ({first}) answers; columns: what B ({second}) answers. Off the "
        "diagonal, the images on which they disagree; a cell's gallery shows each image's "
        "label, then A's and B's answers."
    )
    confusion_drilldown(
        pred_a,
        pred_b,
        x_test,
        key="ab",
        scores=scores_of[first],
        labels=y_test,
        axes=Axes("A", "B", "every disagreement", "disagreements", "agreed", "disputed"),
    )


def _several() -> None:
    chosen = st.multiselect(
        "Methods",
        names,
        default=names,
        key="agree_methods",
        help="the agreement matrix and the gallery below read these methods only",
    )
    if len(chosen) < 2:
        st.info("Choose two methods or more.")
        return
    shares = significance.agreement({n: available[n] for n in chosen})
    frame = pd.DataFrame(
        100 * shares, pd.Index(chosen, name="method"), pd.Index(chosen, name="against")
    )
    st.plotly_chart(
        figures.matrix(
            frame, "Agreement: share of test images with the same answer (%)", "Blues", ".2f"
        ).update_layout(height=max(340, 34 * len(chosen) + 120)),
        width="stretch",
        key="agree_heat",
    )
    # Kept to the methods still chosen (a widget whose value is not among its options fails).
    kept = [n for n in st.session_state.get("agree_wrong", chosen[:1]) if n in chosen]
    st.session_state["agree_wrong"] = kept
    wrong = st.multiselect(
        "Wrong on the image (the other methods chosen above right)", chosen, key="agree_wrong"
    )
    right = np.stack([available[n] == y_test for n in chosen])  # (methods, images)
    wanted = np.isin(chosen, wrong)
    ids = np.flatnonzero((right != wanted[:, None]).all(axis=0))
    rest = [n for n in chosen if n not in wrong]
    st.markdown(
        f"**{len(ids)} test images** on which "
        + (", ".join(wrong) if wrong else "no method")
        + (" " if len(wrong) == 1 else " all ")
        + "went wrong"
        + (f" and {', '.join(rest)} got right" if rest else "")
    )
    if len(ids):
        gallery(
            ids,
            images=x_test,
            labels=y_test,
            scores=scores_of[wrong[0]] if wrong else None,
            key="agree_gallery",
            title="wrong: " + (", ".join(wrong) or "none"),
            keyboard=True,
            caption=lambda i: (
                f"#{i}: {y_test[i]}, " + " ".join(str(available[n][i]) for n in wrong)
            ),
        )
        save_as_slice(
            ids, "wrong: " + (", ".join(wrong) or "none"), "Compare, three or more", "agree_slice"
        )


SECTIONS = {
    "One right, the other wrong": _right_and_wrong,
    "A against B": _a_against_b,
    "Three or more methods": _several,
}
url.sections(SECTIONS, "compare_view")

st.page_link(
    ERRORS_PAGE,
    label="The errors of one method: every misclassified image, and its confusion matrix",
    icon=":material/error:",
)
