"""Slices: named sets of test images (saved from any selection, pasted, or a rule on the
images' features), every method's accuracy on each with its interval; and the accuracy of
every method against each feature, with the slices where one does worst."""

import numpy as np
import streamlit as st

from core import features, methods, slices
from core.errors import ExplorerError
from dashboard import cached, figures, url
from dashboard.data import mnist
from dashboard.gallery import gallery
from dashboard.widgets import table

st.title("Slices")
st.caption(
    "A slice is a named set of test images: saved from a confusion cell, a map selection or "
    "a gallery (their “Save as a slice” button), pasted as indices, or made by a rule on the "
    "images' features. Saved in the cache for every session; `slice=NAME` in the URL opens "
    f"one. Each method's accuracy on it comes with its {slices.LEVEL:.0%} Wilson interval."
)
x_test, y_test = mnist("test")
results = {m.name: r for m in methods.all_methods() if (r := cached.result(m)) is not None}
predictions = {n: r.predictions for n, r in results.items()}
frame = cached.image_features()


def _open(name: str) -> None:
    """Callback: show the slice ``name`` in the first tab."""
    st.session_state["slice"] = name
    st.session_state["slices_view"] = VIEWS[0]


def _saved() -> None:
    saved = slices.slices()
    names = list(saved)
    if not names:
        st.info("No slice saved yet: make one in the next tab, or from any gallery.")
        return
    name = st.selectbox(
        "Slice", names, index=len(names) - 1, **url.bound("slice", names[-1], names)
    )
    chosen = saved[name]
    about = f"{chosen.size:,} test images"
    if chosen.source:
        about += f"; {chosen.source}"
    if chosen.who:
        about += f"; saved by {chosen.who}, {chosen.when}"
    st.caption(about)
    if not predictions:
        st.info("No method is cached yet: the Compare page computes them.")
    else:
        shown = slices.accuracy(chosen.indices, predictions, y_test)
        shown = shown.sort_values("accuracy", ascending=False)
        overall = {n: float(np.mean(p == y_test)) for n, p in predictions.items()}
        shown["on all images"] = shown["method"].map(overall)
        table(
            shown,
            f"slice-accuracy-{name}",
            static=True,
            percent=["accuracy", "from", "to", "on all images"],
        )
    rows = np.asarray(chosen.indices)
    by = st.selectbox(
        "Gallery ranked by", list(results) or ["—"], key="slice_rank", disabled=not results
    )
    gallery(
        rows,
        images=x_test,
        labels=y_test,
        scores=results[by].scores if by in results else None,
        key="slice_gallery",
        title=f"slice “{name}”",
        keyboard=True,
    )
    left, right = st.columns(2)
    left.download_button(
        f"Download {name}.csv",
        slices.to_csv(chosen, y_test, predictions),
        f"slice-{name}.csv",
        "text/csv",
        key="slice_csv",
        icon=":material/download:",
    )
    if right.button("Delete this slice", key="slice_delete", icon=":material/delete:"):
        slices.delete(name)
        st.session_state.pop("slice", None)
        st.rerun()


def _new() -> None:
    st.markdown("**From a list of test indices**")
    name = st.text_input("Name", key="new_slice_name", max_chars=80)
    text = st.text_area(
        "Test indices",
        key="new_slice_indices",
        help="numbers or ranges like 40-45, separated by commas, spaces or new lines",
    )
    if st.button("Save the list", key="new_slice_save", type="primary"):
        try:
            made = slices.save(name, slices.parse_indices(text), source="pasted indices")
        except ExplorerError as exc:
            st.error(str(exc))
        else:
            st.success(f"Saved “{made.name}”: {made.size:,} images.")
    st.markdown("**From a rule on the images' features**")
    feature = st.selectbox(
        "Feature",
        list(frame.columns),
        format_func=lambda f: features.FEATURES[f],
        key="rule_feature",
    )
    values = frame[feature].to_numpy()
    lo, hi = float(values.min()), float(values.max())
    low, high = st.slider("Range", lo, hi, (lo, hi), key=f"rule_range_{feature}", format="%.3g")
    rule = {feature: (low, high, True)}
    inside = np.flatnonzero(features.in_rule(frame, rule))
    st.caption(f"{len(inside):,} test images with {features.rule_text(feature, low, high, True)}")
    if len(inside):
        st.button(
            f"Save these {len(inside):,} images",
            key="rule_save",
            on_click=_save_rule,
            args=(feature, low, high, inside),
        )


def _save_rule(feature: str, low: float, high: float, inside: np.ndarray) -> None:
    text = features.rule_text(feature, low, high, True)
    made = slices.save(text, inside, source=f"rule: {text}", rule={feature: (low, high, True)})
    _open(made.name)


def _save_worst(row: dict) -> None:
    made = slices.save(
        row["name"],
        np.flatnonzero(features.in_rule(frame, row["rule"])),
        row["source"],
        row["rule"],
    )
    _open(made.name)


def _features() -> None:
    if not predictions:
        st.info("No method is cached yet: the Compare page computes them.")
        return
    missing = [f for f in features.CACHED_FEATURES if f not in frame]
    if missing:
        st.caption(
            "Not cached yet, so not here: "
            + ", ".join(features.CACHED_FEATURES[f] for f in missing)
            + " (the raw KNN, the distortion KNN and the learned templates give them)."
        )
    names = list(frame.columns)
    # Not bound: a bound widget carries its formatted label in the URL, not the feature.
    url.url_state("feature", names[0], allowed=names)
    feature = st.selectbox(
        "Feature", names, format_func=lambda f: features.FEATURES[f], key="feature"
    )
    url.to_url("feature")
    ranked = sorted(predictions, key=lambda n: -np.mean(predictions[n] == y_test))
    chapter = {m.name: m.chapter for m in methods.all_methods()}
    best = [next((n for n in ranked if chapter.get(n) == c), None) for c in (1, 2, 3)]
    chosen = st.multiselect(
        "Methods",
        list(predictions),
        default=[n for n in best if n is not None] or ranked[:3],
        key="feature_methods",
        help="at first the most accurate method of each chapter",
    )
    by_bin = features.accuracy_by_bin(frame, feature, {n: predictions[n] for n in chosen}, y_test)
    if chosen:
        long = by_bin.melt(["bin", "from", "to", "middle", "images"], chosen, "method", "accuracy")
        st.plotly_chart(
            figures.lines(long, "middle", "accuracy", "method").update_xaxes(
                title=features.FEATURES[feature]
            ),
            key="feature_chart",
        )
    table(by_bin, f"accuracy-by-{feature}", static=True, decimals=3, percent=chosen)

    st.subheader("Where a method does worst")
    method = st.selectbox(
        "Method", list(predictions), index=list(predictions).index(ranked[0]), key="worst_method"
    )
    right = predictions[method] == y_test
    worst = features.worst_slices(frame, right)
    st.caption(
        f"The {features.BINS} bins of each feature (equal counts) and every pair of bins of two "
        f"features with at least {features.MIN_IMAGES} images, lowest accuracy first; "
        f"{method} is right on {right.mean():.2%} of all images."
    )
    for i, row in enumerate(worst.itertuples()):
        left, mid, right_col = st.columns([6, 2, 2], vertical_alignment="center")
        left.markdown(f"{row.slice}")
        mid.markdown(f"**{row.accuracy:.1%}** of {row.images:,}")
        right_col.button(
            "Open",
            key=f"worst_{i}",
            on_click=_save_worst,
            args=(
                {
                    "name": f"{method}, worst: {row.slice}"[:80],
                    "rule": row.rule,
                    "source": f"worst slice of {method}: {row.slice}",
                },
            ),
            help="saved as a slice, then opened",
        )


VIEWS = ["Saved slices", "New slice", "Features and the worst slices"]
SECTIONS = dict(zip(VIEWS, (_saved, _new, _features), strict=True))
url.sections(SECTIONS, "slices_view")
