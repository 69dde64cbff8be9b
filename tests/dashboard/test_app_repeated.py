"""Settings changed several times in a row on every page with a confusion matrix: no
exception, the chosen cell kept, and the cell picker's labels the same whatever the counts.

The labels matter because the browser sends back the label it was shown and Streamlit
maps it to a cell with the labels of the new run: a label holding a count that changed
maps to nothing (a traceback on the second change, until labels stopped holding counts).
The real-browser twin of these tests is ``test_e2e_walk.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import cnn, jobs, knn, methods, metrics, significance, tasks
from core.cnn import CnnConfig
from core.knn import NeighbourConfig
from tests.dashboard.test_app_pages import heading, metric, open_page


def _same_cell_after_each(at, cell_key: str, changes, check=None) -> None:
    """Pick a cell, then apply ``changes`` (each a function of the AppTest) one by one."""
    at.selectbox(key=cell_key).set_value("4-9").run()
    labels = at.selectbox(key=cell_key).options
    assert "true 4, predicted 9" in labels
    for change in changes:
        change(at)
        at.run()
        assert not at.exception, at.exception
        assert at.selectbox(key=cell_key).value == "4-9"
        assert at.selectbox(key=cell_key).options == labels  # no count in a label
        if check is not None:
            check(at)


@pytest.mark.slow
def test_knn_page_k_three_times_then_the_weighting(raw_neighbours, mnist_test):
    result, config = raw_neighbours
    _, y = mnist_test
    at = open_page("knn")
    seen = []

    def check(at):
        k, w = at.slider(key="k").value, at.radio(key="weights").value
        pred = knn.predict(result, config, k, w)[0]
        assert metric(at, "Test accuracy") == f"{metrics.accuracy(y, pred):.2%}"
        n = int(((y == 4) & (pred == 9)).sum())
        assert heading(at, r"True 4, predicted 9: (\d+)").group(1) == str(n)
        seen.append(at.button(key="cell_all").label)  # "All N errors"

    _same_cell_after_each(
        at,
        "cell",
        [
            lambda at: at.slider(key="k").set_value(7),
            lambda at: at.slider(key="k").set_value(2),
            lambda at: at.slider(key="k").set_value(12),
            lambda at: at.radio(key="weights").set_value("uniform"),
        ],
        check,
    )
    assert len(set(seen)) == 4  # the counts did change under the picker
    # Every error of this setting, in one gallery, from the button beside the picker.
    at.button(key="cell_all").click().run()
    pred = knn.predict(result, config, 12, "uniform")[0]
    assert heading(at, r"Every error: (\d+) misclassified").group(1) == str((pred != y).sum())
    assert at.query_params["cell"] == "errors"


@pytest.mark.slow
def test_cross_validation_page_k_three_times(mnist_dir):
    knn.grid_search("raw")  # the report's folds, computed if the cache lacks them
    at = open_page("cross_validation")
    _same_cell_after_each(
        at, "cv_cell", [lambda at, k=k: at.slider(key="cv_k").set_value(k) for k in (7, 1, 15)]
    )


def test_cnn_page_network_switched_three_times(cached_copy):
    nets = [
        cnn.trained(CnnConfig(model="pattern-repaired", epochs=1, train_limit=1000, seed=s))
        for s in (1, 2)
    ]
    names = [r.path.name for r in nets]
    at = open_page("cnn", cnn_model=names[0])
    _same_cell_after_each(
        at,
        "cnn_cell",
        [lambda at, n=n: at.selectbox(key="cnn_model").set_value(n) for n in names[::-1] * 2],
    )


def test_compare_and_errors_pages_method_switched_three_times(cached_copy, mnist_test):
    _, y = mnist_test
    ids = ["knn-raw", "splines-report-corrected-w1", "splines-report-faithful-w1"]
    for method_id in ids:
        assert tasks.run_here(methods.get(method_id).task()).state == "done"
    names = [methods.get(i).name for i in ids]
    at = open_page("compare")
    chapters = at.dataframe[0].value["chapter"]
    assert chapters[names[0]] == "KNN" and chapters[names[1]] == "Spline halos"
    for name in (names[1], names[2], names[0]):  # method A three times
        at.selectbox(key="a").set_value(name).run()
        assert not at.exception, at.exception
        assert at.selectbox(key="b").value == names[0]  # B stays where it was
    right_a, right_b = (methods.get(i).result().predictions == y for i in (ids[0], ids[1]))
    at.selectbox(key="b").set_value(names[1]).run()
    pred_a, pred_b = (methods.get(i).result().predictions for i in (ids[0], ids[1]))
    said = significance.paired(names[0], names[1], pred_a, pred_b, y).sentence()
    assert any(said in m.value for m in at.markdown)  # McNemar and the interval, for A and B
    expected = {
        "A right, B wrong": right_a & ~right_b,
        "A wrong, B right": ~right_a & right_b,
        "both wrong": ~right_a & ~right_b,
    }
    for which in ("A wrong, B right", "both wrong", "A right, B wrong"):
        at.segmented_control(key="set").set_value(which).run()
        assert not at.exception, at.exception
        shown = [c.value for c in at.caption if c.value.startswith(f"{which}: **")]
        assert shown and f"**{int(expected[which].sum())} images**" in shown[0]
    at = open_page("errors", method="knn-raw")
    pred = methods.get("knn-raw").result().predictions
    assert heading(at, r"Every error: (\d+) misclassified").group(1) == str((pred != y).sum())
    at.selectbox(key="errors_cell").set_value("4-9").run()
    labels = at.selectbox(key="errors_cell").options
    for method_id in (ids[1], ids[2], ids[0]):
        at.selectbox(key="method").set_value(method_id).run()
        assert not at.exception, at.exception
        assert at.selectbox(key="errors_cell").value == "4-9"
        assert at.selectbox(key="errors_cell").options == labels
        pred = methods.get(method_id).result().predictions
        n = int(((y == 4) & (pred == 9)).sum())
        assert heading(at, r"True 4, predicted 9: (\d+)").group(1) == str(n)
    assert at.query_params["method"] == "knn-raw"


def test_compare_a_against_b_and_three_methods_wrong_or_right(cached_copy, mnist_test):
    _, y = mnist_test
    ids = ["knn-raw", "splines-report-corrected-w1", "splines-report-faithful-w1"]
    for method_id in ids:
        assert tasks.run_here(methods.get(method_id).task()).state == "done"
    pred = {methods.get(i).name: methods.get(i).result().predictions for i in ids}
    names = list(pred)
    at = open_page("compare", a=names[0], b=names[1], compare_view="A against B")
    for cell in ("4-9", "7-1", "3-3"):  # three cells in a row, the last one agreed
        at.selectbox(key="ab").set_value(cell).run()
        assert not at.exception, at.exception
        a, b = (int(v) for v in cell.split("-"))
        n = int(((pred[names[0]] == a) & (pred[names[1]] == b)).sum())
        kind = "agreed" if a == b else "disputed"
        assert heading(at, rf"A {a}, B {b}: (\d+) {kind}").group(1) == str(n)
    at.button(key="ab_all").click().run()
    n = int((pred[names[0]] != pred[names[1]]).sum())
    assert heading(at, r"Every disagreement: (\d+) disputed").group(1) == str(n)

    at = open_page("compare", compare_view="Three or more methods")
    assert set(at.multiselect(key="agree_methods").value) == set(names)  # every cached one
    right = {n: p == y for n, p in pred.items()}
    for wrong in ([names[0]], [names[1], names[2]], []):
        at.multiselect(key="agree_wrong").set_value(wrong).run()
        assert not at.exception, at.exception
        mask = np.ones(len(y), bool)
        for n in names:
            mask &= ~right[n] if n in wrong else right[n]
        assert heading(at, r"\*\*(\d+) test images\*\* on which").group(1) == str(mask.sum())
    at.multiselect(key="agree_wrong").set_value(names[1:]).run()
    at.multiselect(key="agree_methods").set_value(names[:2]).run()  # one wrong one unchosen
    assert not at.exception, at.exception
    assert at.multiselect(key="agree_wrong").value == names[1:2]
    mask = right[names[0]] & ~right[names[1]]
    assert heading(at, r"\*\*(\d+) test images\*\* on which").group(1) == str(mask.sum())
    at.multiselect(key="agree_methods").set_value(names[:1]).run()
    assert "Choose two methods or more." in [i.value for i in at.info]


def test_the_image_page_links_each_neighbour_and_the_knn_table_names_its_digits(cached_copy):
    assert tasks.run_here(methods.get("knn-raw").task()).state == "done"
    at = open_page("image", image="1901")
    nearest = knn.cached_neighbours(NeighbourConfig()).arrays["indices"][1901, :4]
    linked = [
        link.proto.query_string
        for link in at.get("page_link")
        if "split=train" in (link.proto.query_string)
    ]
    assert linked == [f"image={i}&split=train" for i in nearest]
    page = open_page("knn")
    shown = page.table[0].value
    assert list(shown["digit"]) == list(range(10))  # a column of its own, not an index


def test_the_draw_page_asks_slow_methods_in_the_background(cached_copy, monkeypatch):
    import dashboard.jobs

    runner = tasks.runner(max_workers=0)  # what is submitted stays queued
    monkeypatch.setattr(dashboard.jobs, "runner", lambda: runner)
    try:
        at = open_page("draw", source="test image", draw_index="3")
        at.checkbox(key="draw_heavy").check().run()
        assert not at.exception, at.exception
        heavy = [m.id for m in methods.all_methods() if m.can_predict_one() and m.one_image_cost]
        queued = [jobs.read(i) for i in runner.queued()]
        assert len(queued) == 1 and queued[0].params["ids"] == heavy
        assert len(at.get("progress")) >= 1  # its progress, not a page that hangs
        answered = at.dataframe[0].value.index
        assert not set(answered) & {methods.get(i).name for i in heavy}
    finally:
        runner.close()
