"""Every dashboard page rendered by AppTest: no exception, and a widget change shows what
core computes for the new value. Computations a page starts run in the job runner's
worker processes, as in the served app; the tests wait for them, then rerun the page."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import (
    calibration,
    cnn,
    jobs,
    knn,
    maps,
    marks,
    methods,
    metrics,
    splines,
    suspicious,
    tasks,
)
from core.cnn import CnnConfig
from core.knn import NeighbourConfig
from tests.conftest import REPO
from tests.dashboard.plotly_spec import array, traces

APP = str(REPO / "dashboard" / "app.py")
PAGES = sorted(p.stem for p in (REPO / "dashboard" / "views").glob("*.py"))  # every page


def open_page(page: str, **query) -> AppTest:
    st.cache_resource.clear()  # each test may point at its own cache folder
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update(query)
    at.run()  # the default page first: switch_page needs a run's page registry
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def click_and_wait(at: AppTest, key: str) -> None:
    """Click a compute button, let its job finish in the background, rerun the page."""
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    active = [s for s in jobs.all_jobs() if s.active]
    assert active, "the button queued no computation"
    for state in active:
        assert jobs.wait(state.id, timeout=600).state == jobs.DONE, jobs.read(state.id)
    at.run()
    assert not at.exception, at.exception


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def heading(at: AppTest, pattern: str) -> re.Match:
    for md in at.markdown:
        if m := re.search(pattern, md.value):
            return m
    raise AssertionError(f"no markdown matching {pattern!r}")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_cache(cached_copy, page):
    # Nothing computed yet: each page says what is missing and offers its buttons, once.
    at = open_page(page)
    keys = [b.key for b in at.button]
    assert len(keys) == len(set(keys))


SECTIONS = {  # the image page's sections, each with what it says on an empty cache
    "KNN neighbours": "No KNN neighbours cached yet",
    "Distortion KNN": "The distortion KNN is not computed yet",
    "Spline templates": "Learned templates not computed yet",
    "Pattern network": "The repaired pattern network is not trained yet",
    "Modern CNN: where it looked": "The modern CNN is not trained yet",
}


@pytest.mark.parametrize("section", SECTIONS)
def test_the_image_page_draws_only_the_section_opened(cached_copy, section):
    at = open_page("image", image="7", image_section=section)
    said = [i.value for i in at.info]
    assert [m for m in SECTIONS.values() if any(m in s for s in said)] == [SECTIONS[section]]
    # The report's templates need nothing cached: drawn in their section alone.
    assert bool(at.get("plotly_chart")[1:]) == (section == "Spline templates")


@pytest.mark.slow
def test_knn_page_k_weighting_and_cell(raw_neighbours, mnist_test):
    result, config = raw_neighbours
    _, y = mnist_test
    at = open_page("knn")
    assert metric(at, "Test accuracy") == "97.14%"  # the report's figure
    at.slider(key="k").set_value(1).run()
    at.radio(key="weights").set_value("uniform").run()
    pred = knn.predict(result, config, 1, "uniform")[0]
    assert metric(at, "Test accuracy") == f"{metrics.accuracy(y, pred):.2%}"
    at.selectbox(key="cell").set_value("4-9").run()
    n = int(((y == 4) & (pred == 9)).sum())
    assert heading(at, r"True 4, predicted 9: (\d+)").group(1) == str(n)
    assert at.query_params["cell"] == "4-9"  # K and weights: bound, checked in the browser
    # The gallery holds exactly the images of that cell (one page: fewer than 40).
    assert sorted(_links(at)) == np.flatnonzero((y == 4) & (pred == 9)).tolist()


@pytest.mark.slow
def test_knn_page_url_values_and_bad_ones(raw_neighbours, mnist_test):
    result, config = raw_neighbours
    at = open_page("knn", k="6", weights="uniform")
    pred = knn.predict(result, config, 6, "uniform")[0]
    assert metric(at, "Test accuracy") == f"{metrics.accuracy(mnist_test[1], pred):.2%}"
    at = open_page("knn", k="99", weights="nope", variant="raw", cell="x")
    assert metric(at, "Test accuracy") == "97.14%"
    notices = " ".join(t.value for t in at.toast)
    assert "k='99' ignored" in notices and "weights='nope' ignored" in notices
    assert "cell='x' ignored" in notices


@pytest.mark.slow
def test_cross_validation_page_fold_choice(mnist_dir, mnist_train):
    knn.grid_search("raw")  # the folds, computed if the cache lacks them
    at = open_page("cross_validation")
    assert "K = 4, distance weighting: 97.358%" in at.success[0].value  # the report's best
    at.selectbox(key="fold").set_value(3).run()
    config = NeighbourConfig(fold=2)
    pred = knn.predict(knn.cached_neighbours(config), config, 4, "distance")[0]
    acc = metrics.accuracy(knn.query_labels(config), pred)
    assert metric(at, "Fold 3 accuracy") == f"{acc:.3%}"


@pytest.mark.slow
def test_augmentation_page(mnist_dir, mnist_train, mnist_test):
    for variant in knn.REPORT_VARIANTS:
        knn.neighbours(NeighbourConfig(variant))
    at = open_page("augmentation")
    frame = at.dataframe[0].value
    assert frame.loc["augmented", "errors"] == 198  # 98.02 %, the report's figure
    at.number_input(key="aug_index").set_value(7).run()
    first = traces(at.get("plotly_chart")[0])[0]
    np.testing.assert_array_equal(array(first["z"])[:28, :28], mnist_train[0][7])
    assert heading(at, r"Fixed: (\d+)").group(1) == "139"
    # 139 images against 51: McNemar's exact test, as scipy's binomial test gives it.
    from scipy.stats import binomtest

    p = binomtest(51, 139 + 51, 0.5).pvalue
    assert (
        heading(
            at, r"139 images only A gets right, 51 only B: McNemar's exact p = ([\d.e-]+)"
        ).group(1)
        == f"{p:.3g}"
    )


def test_spline_page_width_slider(cached_copy):
    at = open_page("splines")
    # The templates' section alone: two drawings and figure 2.1's three steps, no table.
    assert len(at.get("plotly_chart")) == 5 and not at.dataframe
    for width in (0, 3):
        at.slider(key="sp_width").set_value(width).run()
        expected = int((splines.corrected_templates(width)[2] > 0).sum())
        assert any(f"Halo pixels of the whole template: {expected} of" in c.value
                   for c in at.caption)  # fmt: skip
    # The accuracy table is missing in this empty cache: its section's button computes it.
    at = open_page("splines", sp_section="Accuracy against width")
    assert not any("Halo pixels" in c.value for c in at.caption)
    click_and_wait(at, "compute:splines-report")
    table = at.dataframe[0].value
    acc = table.set_index(["templates", "width"]).loc[("report, corrected", 0), "accuracy"]
    assert acc == pytest.approx(0.3794, abs=1e-4)


def test_cnn_page_on_a_small_network(cached_copy, mnist_test):
    config = CnnConfig(model="pattern-repaired", epochs=1, train_limit=2000, optimizer="adam")
    result = cnn.trained(config)
    at = open_page("cnn", cnn_model=result.path.name)
    _, y = mnist_test
    acc = metrics.accuracy(y, result.arrays["test_pred"])
    assert metric(at, "Test accuracy") == f"{acc:.2%}"
    # The errors' section is open, the others are drawn only when opened.
    assert [t.label for t in at.tabs] == ["Errors", "Training curves", "Patterns"]
    assert "zone" not in [r.key for r in at.radio]
    assert any("cnn_cell_chart" in c.proto.id for c in at.get("plotly_chart"))
    at = open_page("cnn", cnn_model=result.path.name, cnn_section="Patterns")
    titles = [traces(c)[0].get("type") for c in at.get("plotly_chart")]
    assert "heatmap" in titles
    at.radio(key="zone").set_value("middle").run()
    assert not at.exception
    digit = 5
    at.selectbox(key="triple_digit").set_value(digit).run()
    triples = at.table[-1].value
    expected = cnn.pattern_triples(result.arrays["activations"], y, digit)
    assert triples["images"].tolist() == expected["images"].head(30).tolist()


def test_compare_page_computes_a_missing_method(cached_copy, mnist_test):
    at = open_page("compare")
    method = methods.get("splines-report-corrected-w1")
    click_and_wait(at, f"compute:method:{method.id}")
    overall = at.dataframe[0].value
    acc = method.result().accuracy(mnist_test[1])
    assert overall.loc[method.name, "accuracy"] == pytest.approx(acc)
    assert method.status().state == "cached"


def test_draw_page_on_a_test_image(cached_copy, mnist_train, mnist_test):
    at = open_page("draw", source="test image")
    at.number_input(key="draw_index").set_value(3).run()
    assert not at.exception
    from core.preprocess import to_mnist

    digit = to_mnist(mnist_test[0][3] / 255.0)
    answers = at.dataframe[0].value
    # Methods that need no training answer even on an empty cache; the others are named.
    for method_id in ("knn-raw", "splines-report-corrected-w1"):
        method = methods.get(method_id)
        assert answers.loc[method.name, "prediction"] == method.predict_one(digit).argmax()
    assert methods.get("cnn-modern").name not in answers.index
    assert any("Not computed yet" in c.value and "CNN: modern" in c.value for c in at.caption)


def test_a_damaged_cache_entry_is_reported_in_the_page_and_offered_again(cached_copy):
    config = splines.ReportSplineConfig("corrected", 2)
    arrays = splines.report_splines(config).path / "arrays.npz"
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arrays.write_bytes(bytes(data))
    at = open_page("splines", sp_section="Accuracy against width")
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "discarding unreadable entry" in warnings[0]
    assert "checksum of arrays.npz differs" in warnings[0]
    assert any("Not computed yet" in i.value for i in at.info)
    click_and_wait(at, "compute:splines-report")
    assert not at.warning  # reported once, then recomputed
    assert splines.REPORT_STORE.load(config) is not None


def test_a_computation_started_by_one_session_is_joined_by_another(cached_copy):
    # Two sessions (two AppTests: two browser tabs) on the Compare page of an empty cache.
    first, second = open_page("compare"), open_page("compare")
    method = methods.get("splines-report-faithful-w1")
    first.button(key=f"compute:method:{method.id}").click().run()
    second.run()  # the second tab sees it queued or running: no button, the progress
    state = jobs.read(method.task().id)
    assert state is not None
    if state.active:  # (it may already be done on a fast machine)
        assert f"compute:method:{method.id}" not in [b.key for b in second.button]
        assert len(second.get("progress")) >= 1
    assert jobs.wait(method.task().id, timeout=300).state == jobs.DONE
    second.run()
    assert method.name in second.dataframe[0].value.index  # the result, in the other tab
    assert len([s for s in jobs.all_jobs() if s.kind == "method"]) == 1  # computed once


# -- errors first: ranked galleries, one image's page, marks -------------------------------


def _links(at: AppTest) -> list[int]:
    """The image indices the gallery's thumbnails open, in the order shown."""
    out = []
    for link in at.get("page_link"):
        query = dict(p.split("=") for p in link.proto.query_string.split("&") if "=" in p)
        if link.proto.page == "image" and "image" in query:
            out.append(int(query["image"]))
    return out


@pytest.mark.slow
def test_a_cell_gallery_sorts_by_the_scores_and_pages_to_its_last_image(raw_neighbours, mnist_test):
    result, config = raw_neighbours
    _, y = mnist_test
    pred, scores = knn.predict(result, config, 4, "distance")
    at = open_page("knn")
    at.selectbox(key="cell").set_value("4-9").run()
    rows = np.flatnonzero((y == 4) & (pred == 9))
    for how in ("confident", "ambiguous", "true-low", "index"):
        at.selectbox(key="cell_gallery_sort").set_value(how).run()
        assert _links(at) == metrics.sort_rows(rows, scores, y, how)[:40].tolist(), how
    # A cell larger than a page: page after page to its last image.
    at.selectbox(key="cell").set_value("1-1").run()
    at.selectbox(key="cell_gallery_sort").set_value("ambiguous").run()
    order = metrics.sort_rows(np.flatnonzero((y == 1) & (pred == 1)), scores, y, "ambiguous")
    assert (
        heading(at, r"True 1, predicted 1: (\d+)").group(1) == str(len(order)) and len(order) > 40
    )
    seen = _links(at)
    while not at.button(key="cell_gallery_next").disabled:
        at.button(key="cell_gallery_next").click().run()
        seen += _links(at)
    assert seen == order.tolist()  # every image once, in order, the last one included


@pytest.mark.slow
def test_knn_page_distortion_option_and_an_images_displacement_field(mnist_test):
    _, y = mnist_test
    result = knn.idm_neighbours(knn.IdmConfig())  # the project cache's, computed if missing
    at = open_page("knn", distance="distortion", k="3", weights="distance")
    pred = knn.idm_predict(result, 3, "distance")[0]
    assert metric(at, "Test accuracy") == f"{metrics.accuracy(y, pred):.2%}"
    at.slider(key="k").set_value(15).run()  # capped at the 10 distances kept
    pred = knn.idm_predict(result, 10, "distance")[0]
    assert metric(at, "Test accuracy") == f"{metrics.accuracy(y, pred):.2%}"
    assert at.selectbox(key="variant").disabled
    # An error's page: its IDM-nearest, bent onto it, and the arrows of every moved pixel.
    index = int(np.flatnonzero(knn.idm_predict(result, 3, "distance")[0] != y)[0])
    page = open_page("image", image=str(index), image_section="Distortion KNN")
    shown = next(d.value for d in page.dataframe if "IDM distance" in d.value.columns)
    assert shown["IDM distance"].tolist() == result.arrays["distances"][index].tolist()
    config = knn.IdmConfig()
    query = knn.idm.query_images(config, [index])[0]
    nearest = knn.idm.training_images(config, result.arrays["keys"][index, :1])[0][0]
    field = knn.distortion.displacement(query, nearest, config.window, config.context)
    assert field["cost"].sum() == result.arrays["distances"][index, 0]
    charts = {c.proto.id: c for c in page.get("plotly_chart")}
    arrows = next(
        traces(c) for c in page.get("plotly_chart") if len(traces(c)) == 4
    )  # the field: image, arrows, their heads, pixels matched in place
    moved = ((field["shift"] != 0).any(axis=-1) & (query > 0)).sum()
    assert len(arrows[1]["x"]) == 3 * moved and len(charts) >= 4
    # Images like this: its IDM-nearest training images, each original once, nearest first.
    page = open_page("image", image=str(index), image_section="Images like this")
    originals = result.arrays["keys"][index] % 60000
    _, first = np.unique(originals, return_index=True)
    expected = [f"image={i}&split=train" for i in originals[np.sort(first)][:8]]
    links = [link.proto.query_string for link in page.get("page_link")]
    at_distortion = [m.value for m in page.markdown].index(
        "**distortion: the nearest train images**"
    )
    assert at_distortion > 0 and links[16:24] == expected  # after the two Euclidean rows
    # Near-duplicates under the distortion distance: every test image closer than it.
    from core import duplicates

    under = 8_000_000
    close = result.arrays["distances"][:, 0] < under
    pairs = duplicates.pairs("test-train (distortion)", under)
    assert sorted(pairs["a"]) == np.flatnonzero(close).tolist()
    twins = result.arrays["keys"][pairs["a"].to_numpy(), 0] % 60000  # originals of copies
    np.testing.assert_array_equal(pairs["b"], twins)
    page = open_page("duplicates", kind="test-train (distortion)", distortion_under=str(under))
    assert metric(page, "Pairs") == f"{int(close.sum()):,}"


@pytest.mark.slow
def test_spline_page_deformable_templates_and_the_width_slider(mnist_test):
    _, y = mnist_test
    config = splines.DeformConfig()
    result = splines.deformable_splines(config)  # the project cache's, computed if missing
    at = open_page("splines", sp_image="8", sp_section="A test image, rigid and bent")
    expected = np.mean(result.arrays["test_pred"] == y)
    assert metric(at, f"Test accuracy at width {config.halo}") == f"{expected:.2%}"
    said = int(result.arrays["test_pred"][8])
    assert metric(at, "Test #8 reads as") == str(said)
    costs = at.dataframe[-1].value
    assert costs["digit"].tolist() == result.arrays["digits"][8].tolist()
    at.slider(key="sp_width").set_value(2).run()  # re-read at width 2, deformations kept
    control = splines.LEARNED_STORE.load(config.templates).arrays["control"]
    wider = splines.rescore(mnist_test[0], result.arrays, control, 2, config)
    assert metric(at, "Test accuracy at width 2") == f"{np.mean(wider.argmin(1) == y):.2%}"


def test_the_image_page_of_a_right_and_a_wrong_image(cached_copy, mnist_test):
    _, y = mnist_test
    cached_ids = ["knn-raw", "splines-report-corrected-w1"]
    for method_id in cached_ids:
        assert tasks.run_here(methods.get(method_id).task()).state == jobs.DONE
    knn_pred = methods.get("knn-raw").result().predictions
    right, wrong = int(np.flatnonzero(knn_pred == y)[0]), int(np.flatnonzero(knn_pred != y)[0])
    for index in (right, wrong):
        at = open_page("image", image=str(index))
        assert at.title[0].value == f"Test image #{index}: labelled {y[index]}"
        answers = at.dataframe[0].value.set_index("method")
        assert sorted(answers.index) == sorted(methods.get(i).name for i in cached_ids)
        for method_id in cached_ids:
            method = methods.get(method_id)
            said = method.result().predictions[index]
            assert answers.loc[method.name, "prediction"] == said
            assert answers.loc[method.name, "right"] == (said == y[index])
        neighbours = at.dataframe[1].value  # the KNN tab: the raw neighbours of the image
        config = NeighbourConfig()
        expected = knn.cached_neighbours(config).arrays["indices"][index, :4]
        assert neighbours["index"].tolist() == expected.tolist()


def test_a_mark_persists_across_sessions_and_shows_in_the_suspicious_list(cached_copy):
    assert tasks.run_here(methods.get("knn-raw").task()).state == jobs.DONE
    first = open_page("image", image="1901")
    first.button(key="mark_test_1901_wrong").click().run()
    assert not first.exception
    second = open_page("image", image="1901")  # another session, later
    assert second.button(key="mark_test_1901_wrong").proto.type == "primary"  # the verdict
    assert any("Your verdict: wrong" in c.value for c in second.caption)
    second.button(key="mark_test_1901_wrong").click().run()  # pressed again: removed
    assert marks.marks("test") == {}
    second.button(key="mark_test_1901_wrong").click().run()
    listing = open_page("suspicious").dataframe[0].value.set_index("index")
    assert listing.loc[1901, "mark"] == "wrong"
    assert listing["mark"].notna().sum() == 1
    # Only labels the evidence disputes are listed (each suggests another digit).
    assert (listing["suggested"] != listing["given"]).all()


def test_the_review_queue_keeps_verdicts_and_walks_the_suspicious_labels(cached_copy, mnist_test):
    assert tasks.run_here(methods.get("knn-raw").task()).state == jobs.DONE
    _, y = mnist_test
    at = open_page("suspicious", view="review one by one")
    ranked = suspicious.suspicious("test")
    queue = ranked[ranked["suggested"] != ranked["given"]]["index"].tolist()[:100]
    assert heading(at, r"\*\*#(\d+)\*\* \(1 of 100\)").group(1) == str(queue[0])
    fix = (int(y[queue[0]]) + 1) % 10
    at.button(key=f"review_digit_{fix}").click().run()  # the key "fix"
    assert not at.exception, at.exception
    assert marks.corrections("test") == {queue[0]: fix}
    assert heading(at, r"\*\*#(\d+)\*\* \(2 of").group(1) == str(queue[1])
    assert "1 of 100 reviewed" in at.get("progress")[0].proto.text
    at.button(key="review_N").click().run()
    at.button(key="review_N").click().run()  # twice: a second change in a row
    assert heading(at, r"\*\*#(\d+)\*\* \(4 of").group(1) == str(queue[3])
    at.button(key="review_Left").click().run()
    at.button(key="review_right").click().run()  # V: the given label is right
    assert marks.verdicts("test") == {queue[0]: "wrong", queue[2]: "right"}
    at.checkbox(key="unmarked").check().run()  # only the images without a verdict
    assert "0 of 98 reviewed" in at.get("progress")[0].proto.text
    assert heading(at, r"\*\*#(\d+)\*\* \((\d+) of 98\)").group(1) == str(queue[3])
    at.button(key="review_unsure").click().run()
    assert heading(at, r"\*\*#(\d+)\*\* \((\d+) of 97\)").group(1) == str(queue[4])


def test_a_corrected_label_from_the_image_page_scores_every_method_again(cached_copy, mnist_test):
    assert tasks.run_here(methods.get("knn-raw").task()).state == jobs.DONE
    knn_raw = methods.get("knn-raw").result()
    y = mnist_test[1]
    index = int(np.flatnonzero(knn_raw.predictions != y)[0])  # an error of the raw KNN
    said = int(knn_raw.predictions[index])
    page = open_page("image", image=str(index))
    page.get("button_group")[0].set_value(said).run()  # "the right label is ..."
    assert not page.exception, page.exception
    assert marks.corrections("test") == {index: said}
    assert any(f"wrong, it is a {said}" in c.value for c in page.caption)
    page.get("button_group")[0].set_value(None).run()  # unselected: the verdict goes
    assert marks.marks("test") == {}
    page.get("button_group")[0].set_value(said).run()
    front = open_page("results")
    assert any("1 correction(s)" in c.value for c in front.caption)
    shown = [m.value for m in front.markdown]
    expected = f"{knn_raw.accuracy(marks.corrected_labels('test')):.2%}"
    assert expected in shown and f"{knn_raw.accuracy(y):.2%}" in shown


# -- the front page, the map -----------------------------------------------------------------


@pytest.fixture
def held(cached_copy):
    """A real job runner with no worker: what is submitted stays queued (until closed)."""
    runner = tasks.runner(max_workers=0)
    yield runner
    runner.close()


def test_the_front_page_lists_every_method_with_its_status(held, mnist_test):
    assert tasks.run_here(methods.get("knn-raw").task()).state == jobs.DONE
    held.submit(methods.get("cnn-modern").task())
    at = open_page("results")
    links = [(link.proto.page, link.proto.label) for link in at.get("page_link")]
    named = [label for page, label in links if label in {m.name for m in methods.all_methods()}]
    # Every method, the computed ones first (best first), each name a link to its page.
    assert sorted(named) == sorted(m.name for m in methods.all_methods())
    assert named[0] == methods.get("knn-raw").name
    assert ("errors", "286 errors") in links  # its error gallery, one click away
    rows = [md.value for md in at.markdown]
    assert "97.14%" in rows and "cached" in rows and "queued" in rows and "missing" in rows
    assert "None" not in rows and "nan" not in rows
    assert "97.14%" in at.markdown[0].value  # the headline reads the cached figures
    assert "14% on the report's 100 images, not computed yet on the 10,000 test images" in (
        at.markdown[0].value
    )


def test_compute_everything_queues_exactly_the_missing_results(held, monkeypatch):
    import dashboard.jobs

    assert tasks.run_here(methods.get("knn-raw").task()).state == jobs.DONE
    monkeypatch.setattr(dashboard.jobs, "runner", lambda: held)
    missing = [task.id for task, _ in tasks.everything()]
    assert methods.get("knn-raw").task().id not in missing  # cached: not asked again
    at = open_page("results")
    at.button(key="compute:everything").click().run()
    assert not at.exception
    assert held.batch is not None and list(held.batch.ids) == missing
    assert sorted(held.queued()) == sorted(missing)
    assert all(jobs.read(i).state == jobs.QUEUED for i in missing)
    assert not tasks.everything()  # nothing left to ask for: all queued
    overall = [p for p in at.get("progress") if "Computing everything" in p.proto.text]
    assert len(overall) == 1  # the overall progress bar (the sidebar lists each job too)


def test_a_map_selection_opens_the_gallery_of_exactly_those_images(cached_copy, mnist_test):
    _, y = mnist_test
    assert tasks.run_here(methods.get("knn-raw").task()).state == jobs.DONE
    at = open_page("map")  # no UMAP map yet: offered, and the PCA map drawn meanwhile
    assert any(b.key == "compute:map:pixels" for b in at.button)
    figure = at.get("plotly_chart")[0]
    points = traces(figure)
    assert all(t["type"] == "scattergl" for t in points)
    assert sum(len(array(t["customdata"])) for t in points) == 10000
    chosen = [3, 18, 115, 1901, 4860]
    at.session_state["map_selected"] = chosen
    at.run()
    scores = methods.get("knn-raw").result().scores
    assert _links(at) == metrics.sort_rows(np.array(chosen), scores, y, "confident").tolist()
    # A link to the deskewed map opens it (the features' key in the URL, not their label),
    # and the selection is saved as a slice by name.
    deskewed = open_page("map", features="deskewed")
    assert deskewed.selectbox(key="features").value == "deskewed"
    at.text_input(key="map_slice_name").set_value("five from the map").run()
    at.button(key="map_slice_save").click().run()
    from core import slices

    assert slices.get("five from the map").indices == tuple(sorted(chosen))
    assert "a selection on the map of pixels" in slices.get("five from the map").source


@pytest.mark.slow
def test_the_umap_map_is_computed_in_the_background_and_drawn(cached_copy):
    at = open_page("map")
    click_and_wait(at, "compute:map:pixels")
    assert not any(b.key == "compute:map:pixels" for b in at.button)
    xy = maps.STORE.load(maps.config("pixels")).arrays["xy"]
    drawn = traces(at.get("plotly_chart")[0])
    ids = np.concatenate([array(t["customdata"]) for t in drawn])
    positions = np.concatenate([np.stack([array(t["x"]), array(t["y"])], 1) for t in drawn])
    np.testing.assert_allclose(positions[np.argsort(ids)], xy, rtol=1e-5)


def test_the_calibration_page_its_threshold_and_its_confident_mistakes(cached_copy, mnist_test):
    _, y = mnist_test
    ids = ["splines-report-corrected-w1", "splines-report-faithful-w1"]
    for method_id in ids:
        assert tasks.run_here(methods.get(method_id).task()).state == jobs.DONE
    at = open_page("calibration")
    shown = at.table[0].value.set_index("method")
    for method_id in ids:
        method = methods.get(method_id)
        expected = calibration.ece(method.result().scores, y)
        assert float(shown.loc[method.name, "ECE"]) == pytest.approx(expected, abs=5e-5)
    name = methods.get(ids[0]).name
    at.multiselect(key="cal_methods").set_value([name]).run()
    scores = methods.get(ids[0]).result().scores
    confidence, pred = scores.max(1), scores.argmax(1)
    for t in (0.3, 0.15, 0.3):  # the threshold moved, and back
        at.select_slider(key="t").set_value(t).run()
        assert not at.exception, at.exception
        sure = confidence >= t
        kept = next(m for m in at.metric if m.label == name)
        assert kept.value == f"{np.mean(pred[sure] == y[sure]):.2%}"
        assert kept.delta.startswith(f"{int(sure.sum())} images kept")
        wrong = int(((pred != y) & sure).sum())
        assert heading(at, rf"(\d+) mistakes of .* at confidence ≥ {t:g}").group(1) == str(wrong)
    assert open_page("calibration", t="0.15").select_slider(key="t").value == 0.15  # a link
    refused = open_page("calibration", t="2")
    assert refused.select_slider(key="t").value == 0.5
    assert any("t='2' ignored" in t.value for t in refused.toast)


def test_the_calibration_page_and_the_cli_scale_a_network_by_its_held_out_temperature(
    cached_copy, mnist_test, monkeypatch, capsys
):
    # A small network in the registry's place (the page and the CLI run in this process).
    small = CnnConfig(
        model="pattern-repaired", epochs=1, train_limit=2000, optimizer="adam", val_split=0.25
    )
    net = methods.CnnMethod("pattern-repaired", "seconds", 5, config=small)
    monkeypatch.setitem(methods._registry(), net.id, net)
    cnn.trained(small)
    _, y = mnist_test
    scores = net.result().scores
    at = open_page("calibration")
    assert float(at.table[0].value.set_index("method").loc[net.name, "ECE"]) == pytest.approx(
        calibration.ece(scores, y), abs=5e-5
    )
    at.toggle(key="cal_tempered").set_value(True).run()
    assert not at.exception, at.exception
    assert f"compute:held-out:{net.id}" in [b.key for b in at.button]  # offered, not fitted
    temperature = cnn.held_out(small).meta["temperature"]
    for on in (True, False, True):  # fitted since: the figures follow the toggle
        at.toggle(key="cal_tempered").set_value(on).run()
        assert not at.exception, at.exception
        row = at.table[0].value.set_index("method").loc[net.name]
        shown = calibration.tempered(scores, temperature) if on else scores
        assert float(row["ECE"]) == pytest.approx(calibration.ece(shown, y), abs=5e-5)
        assert ("at temperature" in row["scores are"]) is on
    from core import cli

    assert cli.main(["calibration", net.id, "--tempered", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [net.id, f"{net.id} (T={temperature:.3f})"]
    assert rows[1]["ECE"] == pytest.approx(
        calibration.ece(calibration.tempered(scores, temperature), y)
    )


def test_the_near_duplicates_page_threshold_kind_and_labels_that_differ(raw_neighbours, mnist_test):
    from core import duplicates

    result, _ = raw_neighbours
    x, y = mnist_test
    nearest = np.sqrt(result.arrays["sqdist"][:, 0].astype(np.float64))
    at = open_page("duplicates")
    for threshold in (400, 250, 400):  # the slider moved, and back
        at.select_slider(key="under").set_value(threshold).run()
        assert not at.exception, at.exception
        twins = nearest < threshold
        assert metric(at, "Pairs") == f"{int(twins.sum()):,}"
        shown = heading(at, r"The (\d+) closest pairs").group(1)
        assert int(shown) == min(48, int(twins.sum()))
        accuracy = at.table[0].value.set_index("method")
        pred = methods.get("knn-raw").result().predictions
        expected = np.mean(pred[twins] == y[twins])
        assert accuracy.loc["KNN: raw (K=4, distance)", "with a twin"] == pytest.approx(expected)
    duplicates.twins(duplicates.TwinConfig("test"))
    at.segmented_control(key="kind").set_value("test-test").run()
    assert not at.exception, at.exception
    pairs = duplicates.pairs("test-test", 400)
    assert metric(at, "Pairs") == f"{len(pairs):,}"
    differ = int((pairs["label_a"] != pairs["label_b"]).sum())
    assert metric(at, "Twins with different labels") == f"{differ:,}"
    at.toggle(key="dup_differ").set_value(True).run()
    assert not at.exception, at.exception
    if differ:
        assert heading(at, r"The (\d+) closest pairs").group(1) == str(min(48, differ))
    kind = "test-test (distortion)"  # within the test set, the distortion distance
    duplicates.twins(duplicates.within(kind))
    at.segmented_control(key="kind").set_value(kind).run()
    assert not at.exception, at.exception
    for threshold in (duplicates.DISTORTION, 12_000_000):
        if threshold != duplicates.DISTORTION:
            at.select_slider(key="distortion_under").set_value(threshold).run()
            assert not at.exception, at.exception
        pairs = duplicates.pairs(kind, threshold)
        assert metric(at, "Pairs") == f"{len(pairs):,}"
        differ = int((pairs["label_a"] != pairs["label_b"]).sum())
        assert metric(at, "Twins with different labels") == f"{differ:,}"
    at.toggle(key="dup_differ").set_value(False).run()
    shown = heading(at, r"The (\d+) closest pairs").group(1)
    assert int(shown) == min(48, len(pairs)) and len(pairs) > 2  # more than at 6,000,000
    refused = open_page("duplicates", under="near")
    assert any("under='near' ignored" in t.value for t in refused.toast)


def _nearest_by_hand(pool: np.ndarray, query: np.ndarray, k: int, skip: int | None) -> list[int]:
    """The ``k`` nearest rows of ``pool`` to ``query`` (exact int64 squared distances)."""
    d = ((pool.reshape(len(pool), -1).astype(np.int64) - query.reshape(-1)) ** 2).sum(1)
    if skip is not None:
        d[skip] = np.iinfo(np.int64).max
    return np.argsort(d, kind="stable")[:k].tolist()


@pytest.mark.parametrize("split", ["test", "train"])
def test_images_like_this_link_the_nearest_images_of_both_splits(
    cached_copy, mnist_test, mnist_train, split
):
    index = 1901 if split == "test" else 7
    at = open_page("image", image=str(index), split=split, image_section="Images like this")
    assert not at.exception, at.exception
    headings = [m.value for m in at.markdown if m.value.startswith("**Euclidean")]
    assert headings == [
        "**Euclidean: the nearest train images**",
        "**Euclidean: the nearest test images**",
    ]
    query = (mnist_test if split == "test" else mnist_train)[0][index]
    links = [link.proto.query_string for link in at.get("page_link")]
    for among, (pool, _) in (("train", mnist_train), ("test", mnist_test)):
        skip = index if among == split else None
        expected = [f"image={i}&split={among}" for i in _nearest_by_hand(pool, query, 8, skip)]
        shown = [q for q in links if q.endswith(f"split={among}")][:8]
        assert shown == expected
    # The CNN's features need the modern CNN: offered, not computed, on an empty cache.
    assert "compute:method:cnn-modern" in [b.key for b in at.button]


def test_slices_pasted_saved_from_compare_found_worst_and_reopened(cached_copy, mnist_test):
    from core import features, slices

    _, y = mnist_test
    ids = ["splines-report-corrected-w1", "splines-report-faithful-w1"]
    for method_id in ids:
        assert tasks.run_here(methods.get(method_id).task()).state == jobs.DONE
    pred = {methods.get(i).name: methods.get(i).result().predictions for i in ids}
    at = open_page("slices")
    assert "No slice saved yet" in at.info[0].value
    at = open_page("slices", slices_view="New slice")
    at.text_input(key="new_slice_name").set_value("my list")
    at.text_area(key="new_slice_indices").set_value("3 four").run()
    at.button(key="new_slice_save").click().run()
    assert "found 'four'" in at.error[0].value and not slices.slices()
    at.text_area(key="new_slice_indices").set_value("3, 17 40-42").run()
    at.button(key="new_slice_save").click().run()
    assert slices.get("my list").indices == (3, 17, 40, 41, 42)

    at = open_page("slices", slice="my list")
    shown = at.table[0].value.set_index("method")
    for name, p in pred.items():
        rows = [3, 17, 40, 41, 42]
        assert shown.loc[name, "right"] == int((p[rows] == y[rows]).sum())
        assert shown.loc[name, "from"] <= shown.loc[name, "accuracy"] <= shown.loc[name, "to"]

    # From the Compare page: the images A gets right and B wrong, saved by name.
    names = list(pred)
    page = open_page("compare", a=names[0], b=names[1])
    page.text_input(key="compare_slice_name").set_value("A right").run()
    page.button(key="compare_slice_save").click().run()
    assert not page.exception, page.exception
    expected = np.flatnonzero((pred[names[0]] == y) & (pred[names[1]] != y))
    assert slices.get("A right").indices == tuple(expected.tolist())

    # The worst slice of a method, opened from the features tab, then deleted.
    at = open_page("slices", slices_view="Features and the worst slices", feature="slant")
    assert not at.exception, at.exception
    frame = features.test_features()
    by_bin = at.table[0].value
    assert by_bin["images"].sum() == 10_000
    at.selectbox(key="worst_method").set_value(names[0]).run()
    worst = features.worst_slices(frame, pred[names[0]] == y)
    at.button(key="worst_0").click().run()
    assert not at.exception, at.exception
    opened = at.selectbox(key="slice").value
    assert opened.startswith(f"{names[0]}, worst: ")
    assert slices.get(opened).size == worst.iloc[0]["images"]
    at.button(key="slice_delete").click().run()
    assert opened not in slices.slices()
