"""One image's whole story: every method's answer, its neighbours, the templates that fit
it, the patterns it fires, where the network looked; and a person's verdict on its label."""

import numpy as np
import pandas as pd
import streamlit as st

from core import cnn, knn, marks, methods, similar, splines, suspicious
from dashboard import cached, figures, overlays, url
from dashboard.data import mnist
from dashboard.gallery import thumbnails
from dashboard.widgets import deformation_story

SPLITS = ["test", "train"]
split = st.query_params.get("split", "test")
if split not in SPLITS:
    st.toast(f"URL parameter split={split!r} ignored: expected one of {SPLITS}; using test.")
    split = "test"
images, labels = mnist(split)
n = len(labels)
ctx = st.session_state.get("gallery")
walk = ctx["ids"] if ctx and ctx["split"] == split else []


def _go(index: int) -> None:
    st.session_state["image"] = int(index)  # a callback: before the widget is drawn again


# The default only when previous / next has not set the value (Streamlit warns otherwise).
default = {} if "image" in st.session_state else {"value": 0}
index = st.number_input(
    f"{split.title()} image (0–{n - 1})",
    min_value=0,
    max_value=n - 1,
    **default,
    help="any image of the split; from a gallery, ← and → walk that gallery",
    **url.bound("image", 0, range(n), parse=int),
)
position = walk.index(index) if index in walk else None
if position is not None:
    nav = st.columns([2, 5, 2, 3], vertical_alignment="center")
    nav[0].button(
        "◀ previous",
        on_click=_go,
        args=(walk[max(position - 1, 0)],),
        disabled=position == 0,
        shortcut="Left",
        help="the previous image of the gallery (←)",
    )
    nav[2].button(
        "next ▶",
        on_click=_go,
        args=(walk[min(position + 1, len(walk) - 1)],),
        disabled=position == len(walk) - 1,
        shortcut="Right",
        help="the next one (→)",
    )
    nav[1].caption(f"{position + 1} of {len(walk)} in “{ctx['title']}”")
    if ctx.get("page") is not None:
        nav[3].page_link(ctx["page"], label="↩ back to the gallery", query_params=ctx["query"])
label = int(labels[index])
st.title(f"{split.title()} image #{index}: labelled {label}")

left, right = st.columns([4, 9])
left.plotly_chart(
    figures.digit_image(images[index], f"#{index}, label {label}", height=260), key="img_digit"
)
VERDICT = {"wrong": ("✗ wrong", "X"), "right": ("✓ right", "V"), "unsure": ("? unsure", "U")}


def _mark(split: str, index: int, verdict: str, current: str | None) -> None:
    """A verdict button's callback: the verdict kept, or removed when it was the current one."""
    chosen = None if verdict == current else verdict
    marks.set_mark(split, index, chosen)
    st.session_state["marked"] = (
        f"Marked: label of #{index} is {chosen}." if chosen else f"Mark of #{index} removed."
    )


def _correct(split: str, index: int, key: str) -> None:
    """The right-label pills' callback: "wrong, it is d" kept, or the verdict removed."""
    digit = st.session_state.get(key)
    marks.set_mark(split, index, None if digit is None else "wrong", digit)
    st.session_state["marked"] = (
        f"Marked: #{index} is a {digit}." if digit is not None else f"Mark of #{index} removed."
    )


with left:
    mark = marks.marks(split).get(index)
    current = mark.verdict if mark else None
    st.markdown(f"Is **{label}** the right label?")
    # Buttons, not a radio group: a focused radio group takes the arrow keys, and ← / →
    # must keep walking the gallery after a verdict.
    row = st.container(horizontal=True)
    for verdict, (text, key) in VERDICT.items():
        row.button(
            text,
            key=f"mark_{split}_{index}_{verdict}",
            type="primary" if verdict == current else "secondary",
            shortcut=key,
            on_click=_mark,
            args=(split, index, verdict, current),
            help=f"{key}: your verdict on the label, kept for every session "
            "(press the chosen one again to remove it)",
        )
    # Keyed by what the cache holds: a verdict given elsewhere draws the pills afresh.
    fixed = mark.label if mark else None
    fix_key = f"fix_{split}_{index}_{fixed}"
    st.pills(
        "The right label is",
        [d for d in range(10) if d != label],
        default=fixed,
        key=fix_key,
        on_change=_correct,
        args=(split, index, fix_key),
        help="a wrong label's correction: kept with the verdict, exported with the marks",
    )
    if "marked" in st.session_state:
        st.toast(st.session_state.pop("marked"))
    said = "none yet"
    if mark:
        said = mark.verdict + (f", it is a {mark.label}" if mark.label is not None else "")
        said += f" ({mark.who}, {mark.when})" if mark.who else ""
    st.caption(
        f"Your verdict: {said}. Kept in the cache for every session; the Suspicious labels "
        "page lists them and `mnist-explorer marks export` writes them out."
    )


def _like_this() -> None:
    """Its nearest training and test images under three distances, each a link."""
    st.caption(
        "Its nearest images under three distances: Euclidean on the pixels (exact), the "
        "distortion KNN's (each pixel free to move ±2 pixels, deskewed; test images, from "
        "its cache) and Euclidean on the modern CNN's 64 features. Each thumbnail says its "
        "label and distance, and opens its page."
    )
    found = {
        ("Euclidean", among): similar.euclidean(split, index, among) for among in similar.SPLITS
    }
    if split == "test":
        near = similar.distortion(index)
        if near is None:
            st.caption("The distortion KNN is not cached yet: the KNN page computes it.")
        else:
            found[("distortion", "train")] = near
    features = cached.cnn_features()
    if features is not None:
        for among in similar.SPLITS:
            found[("CNN features", among)] = similar.by_features(features, split, index, among)
    for (distance, among), frame in found.items():
        pool = mnist(among)[0]
        st.markdown(f"**{distance}: the nearest {among} images**")
        thumbnails(
            [pool[i] for i in frame["index"]],
            [f"#{r.index}: {r.label} · {r.distance:,.0f}" for r in frame.itertuples()],
            [{"image": int(i), "split": among} for i in frame["index"]],
            key=f"like_{distance.replace(' ', '_')}_{among}",
            columns=8,
        )


if split == "train":
    st.subheader("Images like this")
    _like_this()
    with right:
        found = suspicious.train_evidence(compute=False)
        if found is None:
            st.info(
                "Out-of-fold evidence for training images comes from the Suspicious labels "
                "page (its training-set list computes it)."
            )
        else:
            name, scores = next(iter(found.sources.items()))
            st.markdown(f"**{name}** says {int(scores[index].argmax())}")
            st.plotly_chart(figures.score_bars(scores[index], label), key="img_train_votes")
    st.stop()

# -- every cached method ------------------------------------------------------------------
results = {m.name: r for m in methods.all_methods() if (r := cached.result(m)) is not None}
with right:
    if not results:
        st.info("No method is cached yet: the Compare page computes them.")
    else:
        answers = methods.answers(results, index, label)
        wrong = int((~answers["right"]).sum())
        said = f"**{len(answers) - wrong} of {len(answers)} methods** read it as {label}."
        ranking = cached.ranked_labels("test")
        if ranking is not None:
            place = ranking.index[ranking["index"] == index][0]
            row = ranking.loc[place]
            said += (
                f" Suspicion of its label: {row['score']:.3f}, rank {place + 1} of "
                f"{len(ranking)} (the evidence suggests {int(row['suggested'])})."
            )
        st.markdown(said)
        st.dataframe(
            answers,
            hide_index=True,
            width="stretch",
            height=35 * (len(answers) + 1) + 3,
            column_order=["method", "prediction", "right", "scores", "score"],
            column_config={
                "method": st.column_config.TextColumn("method", width="medium"),
                "prediction": st.column_config.NumberColumn("says", width="small"),
                "right": st.column_config.CheckboxColumn("right", width="small"),
                "score": st.column_config.ProgressColumn(
                    "its score", min_value=0.0, max_value=1.0, format="%.2f", width="small"
                ),
                "scores": st.column_config.BarChartColumn(
                    "scores of 0…9", y_min=0.0, y_max=1.0, width="small"
                ),
            },
        )


def _knn() -> None:
    """Its nearest training images under the Euclidean distance, and their vote."""
    variants = [v for v in knn.VARIANTS if cached.entry(knn.STORE, knn.NeighbourConfig(v))]
    if not variants:
        st.info("No KNN neighbours cached yet (the KNN page computes them).")
        return
    c1, c2, c3 = st.columns([3, 3, 2])
    variant = c1.selectbox("Training set", variants, **url.bound("variant", variants[0], variants))
    k = c2.slider("K", 1, 20, knn.REPORT_K, **url.bound("k", knn.REPORT_K, knn.K_RANGE))
    weights = c3.radio(
        "Weighting",
        knn.WEIGHTS[::-1],
        horizontal=True,
        **url.bound("weights", knn.REPORT_WEIGHTS, knn.WEIGHTS),
    )
    config = knn.NeighbourConfig(variant)
    entry = cached.entry(knn.STORE, config)
    votes = cached.votes(variant, None, k, weights)[1][index]
    neighbour_images, about = knn.query_neighbours(entry, config, index, k)
    a, b = st.columns([1, 3])
    a.plotly_chart(figures.score_bars(votes, label), key="img_votes")
    a.caption(f"The vote of the {k} nearest ({weights}): {int(votes.argmax())}.")
    with b:
        # Each neighbour opens the page of the training image it was made from.
        originals = np.asarray(about["index"]) % len(mnist("train")[1])
        thumbnails(
            list(neighbour_images),
            [
                f"{row['training image']}: {row['label']} · {row['distance']:.0f}"
                for _, row in about.iterrows()
            ],
            [{"image": int(i), "split": "train"} for i in originals],
            key="img_neighbours",
            columns=min(k, 10),
        )
        st.dataframe(about, hide_index=True, width="stretch")


def _distortion() -> None:
    """Its nearest training image under the distortion model, bent onto it."""
    bend = methods.get("knn-idm")
    if cached.entry(bend.store, bend.config) is None:
        st.info(
            "The distortion KNN is not computed yet (the KNN page's “Distortion” option offers it)."
        )
        return
    story = cached.idm_story(index)
    nearest = story["neighbours"].iloc[0]
    st.markdown(
        f"IDM-nearest: training image {nearest['training image']}, a "
        f"**{nearest['label']}**; its {len(story['neighbours'])} nearest say "
        f"{', '.join(map(str, story['neighbours']['label']))}. Each arrow goes from a "
        "pixel of this image to the pixel of the training image it matched "
        f"(at most ±{bend.config.window}); the bent image is the training image with "
        "every pixel taken from where it matched."
    )
    cols = st.columns([2, 2, 2, 5], vertical_alignment="center")
    panels = (
        (figures.digit_image(story["query"], f"#{index} as compared", 240), "query"),
        (figures.digit_image(story["images"][0], f"nearest: {nearest['label']}", 240), "ref"),
        (figures.digit_image(story["warped"], f"bent onto #{index}", 240), "warped"),
        (
            overlays.displacement_field(
                story["images"][0], story["shift"], story["query"], "how pixels moved"
            ).update_layout(height=460),
            "field",
        ),
    )
    for col, (fig, name) in zip(cols, panels, strict=True):
        col.plotly_chart(fig, key=f"img_idm_{name}")
    st.dataframe(story["neighbours"], hide_index=True, width="stretch")


def _splines() -> None:
    """The report's, learned and deformable templates that fit it."""
    width = st.slider("Halo width", 0, 4, 1, **url.bound("width", 1, splines.WIDTHS))
    distances = splines.scores(images[index][None], width, "corrected")[0]
    report_scores = splines.class_scores(distances[None] / 255.0)[0]
    best = int(distances.argmin())
    table = pd.DataFrame(
        {"report: distance": distances, "report: score": report_scores},
        index=pd.Index(range(10), name="digit"),
    )
    panels = st.columns(4)
    panels[0].plotly_chart(
        figures.digit_image(
            splines.overlay(splines.corrected_templates(width)[best], images[index]),
            f"report templates: {best}",
        ),
        key="img_report_best",
    )
    panels[1].plotly_chart(
        figures.digit_image(
            splines.overlay(splines.corrected_templates(width)[label], images[index]),
            f"report template of {label}",
        ),
        key="img_report_label",
    )
    learned_method = methods.get("splines-learned")
    learned = cached.entry(learned_method.store, learned_method.config)
    if learned is not None:
        m, w = learned_method.config.templates_per_digit, learned_method.config.width
        templates = cached.learned_templates(learned.path.name, learned.arrays["control"], w)
        nearest = splines.nearest_per_digit(images[index], templates, m)
        d = learned.arrays["test_distances"][index]
        table["learned: distance"], table["learned: score"] = d, splines.class_scores(d[None])[0]
        said = int(d.argmin())
        for panel, digit, title in (
            (panels[2], said, f"learned templates: {said}"),
            (panels[3], label, f"learned template of {label}"),
        ):
            panel.plotly_chart(
                figures.digit_image(
                    splines.overlay(templates[nearest[digit]], images[index]), title
                ),
                key=f"img_learned_{panel is panels[2]}",
            )
    else:
        panels[2].info("Learned templates not computed yet (the Spline halos page offers them).")
    st.dataframe(table.T, width="stretch")
    st.markdown("**Learned templates that bend onto it**")
    bend = methods.get("splines-deformable")
    bent = cached.entry(bend.store, bend.config)
    if bent is None:
        st.info("Deformable templates not computed yet (the Spline halos page offers them).")
    else:
        said = int(cached.deform_distances(width)[index].argmin())
        deformation_story(bent.arrays, index, images[index], label, said, width, "img")


def _patterns() -> None:
    """The patterns its three zones fire in the repaired pattern network."""
    entry = cached.entry(cnn.STORES["pattern-repaired"], cnn.CONFIGS["pattern-repaired"])
    if entry is None:
        st.info("The repaired pattern network is not trained yet (the CNNs page trains it).")
        return
    activations = entry.arrays["activations"]
    test_labels = mnist("test")[1]
    found = cnn.triple_rank(activations, test_labels, index)
    top, middle, bottom = found["triple"]
    rank = (
        f"the {found['rank']}ᵗʰ commonest of {found['distinct']} triples among the "
        f"{label}s ({found['images']} images, {found['share']:.1%})"
        if found["rank"]
        else f"a triple no other {label} fires"
    )
    st.markdown(f"Patterns fired: top **{top}**, middle **{middle}**, bottom **{bottom}**: {rank}.")
    cols = st.columns(3)
    for zone, (col, pattern) in enumerate(zip(cols, found["triple"], strict=True)):
        tiles, _, n_fire = cnn.pattern_tiles(images, activations, zone, pattern, top=0)
        crop = cnn.zone_crops(images[index : index + 1], zone)[0]
        col.plotly_chart(
            figures.gallery(
                np.stack([crop, tiles[0]]),
                [0, 1],
                [
                    f"#{index}, {cnn.ZONES[zone]} zone",
                    f"pattern {pattern}: mean of {n_fire} crops",
                ],
                cols=2,
            ),
            key=f"img_zone_{zone}",
        )


def _cnn() -> None:
    """Where the modern CNN looked (integrated gradients)."""
    modern = methods.get("cnn-modern")
    entry = cached.entry(modern.store, modern.config)
    if entry is None:
        st.info("The modern CNN is not trained yet (the CNNs page trains it).")
        return
    probs = results[modern.name].scores[index]
    said = int(probs.argmax())
    second = int(np.argsort(probs)[-2])
    targets = [said, label] if said != label else [said, second]
    attributions = cached.saliency(modern.id, entry.path.name, index, tuple(targets))
    cols = st.columns(3)
    cols[0].plotly_chart(figures.score_bars(probs, label), key="img_cnn_probs")
    for col, target, attribution in zip(cols[1:], targets, attributions, strict=True):
        col.plotly_chart(
            overlays.saliency(images[index], attribution, f"for {target} ({probs[target]:.2f})"),
            key=f"img_saliency_{target}",
        )
    st.caption(
        "Integrated gradients (captum) from a blank image: red pixels raise the "
        "digit's probability, blue ones lower it; the contour is the ink."
    )


# One section at a time, as on the CNN page: all five at once took the browser two
# seconds on a 2-core CPU (ten charts and four tables).
SECTIONS = {
    "KNN neighbours": _knn,
    "Distortion KNN": _distortion,
    "Spline templates": _splines,
    "Pattern network": _patterns,
    "Modern CNN: where it looked": _cnn,
    "Images like this": _like_this,
}
url.sections(SECTIONS, "image_section")
