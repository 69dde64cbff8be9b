"""A new user's walk through the dashboard in a real browser, with zero exceptions.

The skeleton of ten ordinary error-analysis tasks: change a page's settings several times
in a row (the KNN page, cross-validation, the CNNs, Compare), open one method's error
gallery from the Results table, colour the map by right or wrong and select a box of it,
draw a digit, walk the most suspicious labels and mark them. After every step no page may
show an exception. The served app reads a cache of its own, filled here with small
results (two one-epoch networks, the raw neighbours and folds copied from the project's
cache when it has them).
"""

from __future__ import annotations

import re
import shutil
import time

import pytest

from core import cnn, jobs, knn, methods, tasks
from core.cache import CACHE_ENV
from core.cnn import CnnConfig
from core.data import FILES
from core.knn import NeighbourConfig
from dashboard.local import CHROMIUM_ARGS, chromium_path, serve, settled
from tests.conftest import REPO

pytestmark = pytest.mark.slow
ARTIFACTS = REPO / "artifacts" / "e2e-walk"


@pytest.fixture(scope="module")
def walk_cache(tmp_path_factory, mnist_dir):
    """A cache with what the walk looks at: the raw neighbours and folds, three cheap
    methods, two small networks."""
    root = tmp_path_factory.mktemp("walk-cache")
    (root / "MNIST" / "raw").mkdir(parents=True)
    for name in FILES:
        shutil.copy(mnist_dir / name, root / "MNIST" / "raw" / name)
    configs = [NeighbourConfig(), *knn.fold_configs("raw")]
    for config in configs:  # the project cache's copy when there is one (seconds saved)
        source = knn.STORE.path(config)
        if source.exists():
            shutil.copytree(source, root / knn.STORE.method / source.name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(root))
        knn.grid_search("raw")  # the folds, computed where they were not copied
        for method_id in ("knn-raw", "splines-report-corrected-w1", "splines-report-faithful-w1"):
            assert tasks.run_here(methods.get(method_id).task()).state == jobs.DONE
        nets = [
            cnn.trained(CnnConfig(model="pattern-repaired", epochs=1, train_limit=1000, seed=s))
            for s in (1, 2)
        ]
    return root, {n.path.name: cnn.describe(n) for n in nets}  # entry: its label in the page


@pytest.fixture(scope="module")
def app(walk_cache):
    root, nets = walk_cache
    try:
        with serve({CACHE_ENV: str(root)}) as url:
            yield url, nets
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="module")
def page(app):
    from playwright.sync_api import sync_playwright

    try:
        executable = chromium_path()
    except RuntimeError as e:
        pytest.fail(str(e))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url, _ = app
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1600})
        pg.set_default_timeout(120_000)
        pg.goto(url)  # the home page first (streamlit#9992, see test_e2e.py)
        settled(pg)
        yield pg
        browser.close()


def _main(page) -> str:
    return page.locator("[data-testid=stMain]").inner_text()


def _no_exception(page, step: str) -> None:
    settled(page)
    shown = page.locator("[data-testid=stException]")
    if shown.count():
        name = re.sub(r"\W+", "-", step)
        page.screenshot(path=ARTIFACTS / f"exception-{name}.png")
        pytest.fail(f"{step}: {shown.first.inner_text()[:500]}")


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label``, as a person does."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def _nudge_slider(page, index: int, presses: int) -> None:
    slider = page.get_by_role("slider").nth(index)
    slider.focus()
    key = "ArrowRight" if presses > 0 else "ArrowLeft"
    for _ in range(abs(presses)):
        page.keyboard.press(key)


def _eventually(read, predicate, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not predicate(value := read()) and time.monotonic() < deadline:
        time.sleep(0.25)
    return value


def _heading(page, pattern: str) -> re.Match | None:
    return re.search(pattern, _main(page))


def test_settings_changed_again_and_again_on_every_confusion_page(app, page):
    url, nets = app
    # KNN: a cell picked, then K three times and the weighting.
    page.goto(f"{url}/knn?cell=4-9")
    _no_exception(page, "knn")
    for presses, step in ((3, "K 7"), (-5, "K 2"), (10, "K 12")):
        _nudge_slider(page, 0, presses)
        _no_exception(page, f"knn {step}")
        assert "True 4, predicted 9:" in _main(page)
    page.get_by_text("uniform", exact=True).click()
    _no_exception(page, "knn uniform")
    assert "cell=4-9" in page.url and "weights=uniform" in page.url
    page.screenshot(path=ARTIFACTS / "knn-changed-four-times.png")
    # Cross-validation: the fold's K three times.
    page.goto(f"{url}/cross-validation?cv_cell=4-9")
    _no_exception(page, "cross-validation")
    for presses in (3, -6, 9):
        _nudge_slider(page, 0, presses)
        _no_exception(page, f"cross-validation K {presses:+}")
        assert "True 4, predicted 9:" in _main(page)
    # CNNs: the network switched three times.
    page.goto(f"{url}/cnn?cnn_model={next(iter(nets))}&cnn_cell=4-9")
    _no_exception(page, "cnn")
    names = list(nets)
    for name in (names[1], names[0], names[1]):
        _choose(page, "Network", nets[name])
        _no_exception(page, f"cnn {name}")
        assert f"cnn_model={name}" in page.url and "True 4, predicted 9:" in _main(page)
    # Compare: method A three times, then the three sets.
    page.goto(f"{url}/compare")
    _no_exception(page, "compare")
    names = [methods.get(i).name for i in ("splines-report-corrected-w1", "knn-raw")]
    for name in (names[0], names[1], names[0]):
        _choose(page, "Method A", name)
        _no_exception(page, f"compare A {name}")
    for which in ("both wrong", "A wrong, B right"):
        page.get_by_role("radio", name=which, exact=True).click()
        _no_exception(page, f"compare {which}")
        assert re.search(rf"{which}: \d+ images", _main(page))


def test_one_methods_errors_from_the_results_table(app, page, mnist_test):
    url, _ = app
    _, y = mnist_test
    page.goto(url)
    _no_exception(page, "results")
    link = page.locator(".st-key-method_table a", has_text=re.compile(r"[\d,]+ errors$"))
    link.first.wait_for()
    assert link.count() >= 3  # one per computed method
    first = int(re.search(r"([\d,]+) errors$", link.first.inner_text()).group(1).replace(",", ""))
    link.first.click()
    _no_exception(page, "errors page")
    assert "/errors" in page.url and "method=" in page.url
    shown = _eventually(lambda: _heading(page, r"Every error: (\d+) misclassified"), bool)
    assert shown and int(shown.group(1)) == first
    thumbs = page.locator("[class*='st-key-thumbs_'] a")
    assert thumbs.count() == min(first, 40)
    # The method switched three times with a cell open, then back to every error.
    opened = page.url
    page.goto(f"{url}/errors?method=knn-raw&errors_cell=4-9")
    _no_exception(page, "errors page, a cell")
    for method_id in ("splines-report-faithful-w1", "knn-raw", "splines-report-corrected-w1"):
        _choose(page, "Method", methods.get(method_id).name)
        _no_exception(page, f"errors of {method_id}")
        assert "True 4, predicted 9:" in _main(page) and f"method={method_id}" in page.url
    page.goto(opened)
    _no_exception(page, "errors page again")
    # A thumbnail (picture and caption: one link) opens its image; → walks the gallery.
    caption = thumbs.first.inner_text()
    index, label, said = map(int, re.match(r"#(\d+): (\d)→(\d)", caption).groups())
    assert y[index] == label != said
    thumbs.first.locator("img").click()
    _no_exception(page, "image page")
    assert f"image={index}" in page.url
    page.keyboard.press("ArrowRight")
    _no_exception(page, "next image")
    assert f"image={index}" not in page.url


def test_the_map_coloured_by_right_or_wrong_and_a_box_of_it(app, page):
    url, _ = app
    page.goto(f"{url}/map?colour=right+or+wrong&method=KNN%3A+raw+%28K%3D4%2C+distance%29")
    _no_exception(page, "map")
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for()
    colours = page.evaluate(
        "() => document.querySelector('.js-plotly-plot')._fullData"
        ".map(t => [t.name, t.marker.color])"
    )
    by_name = {name.split()[0]: colour for name, colour in colours}
    assert by_name["wrong"] != by_name["right"] and by_name["wrong"].lower() == "#d62728"
    mode = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.dragmode")
    assert mode in ("lasso", "select")  # selecting is what the page is for
    page.wait_for_timeout(500)
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.locator(".js-plotly-plot .modebar-btn[data-val='select']").first.click(force=True)
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.4, y0 + box["height"] * 0.4, steps=8)
    page.mouse.up()
    _no_exception(page, "map box")
    shown = _eventually(lambda: _heading(page, r"the selected images: (\d+) images"), bool)
    assert shown and int(shown.group(1)) > 0
    captions = page.locator("[class*='st-key-thumbs_'] a").all_inner_texts()
    assert captions and all(re.match(r"#\d+: \d(→\d)?", c) for c in captions)
    page.mouse.move(5, 5)  # the pointer leaves the chart: no thumbnail stays over it
    page.wait_for_timeout(500)
    hover = page.locator(".hoverlayer .hovertext")
    assert hover.count() == 0 or not hover.first.is_visible()
    page.screenshot(path=ARTIFACTS / "map-right-or-wrong.png")


def test_a_slice_saved_from_a_lasso_on_the_map_and_reopened_from_its_url(app, page):
    from urllib.parse import quote

    url, _ = app
    page.goto(f"{url}/map")
    _no_exception(page, "map for a lasso")
    page.locator(".js-plotly-plot").first.wait_for()
    page.wait_for_timeout(500)
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.locator(".js-plotly-plot .modebar-btn[data-val='lasso']").first.click(force=True)
    cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    page.mouse.move(cx, cy - 120)
    page.mouse.down()
    for dx, dy in ((110, -40), (140, 60), (40, 130), (-90, 100), (-130, 0), (-60, -110)):
        page.mouse.move(cx + dx, cy + dy, steps=6)
    page.mouse.move(cx, cy - 120, steps=6)
    page.mouse.up()
    _no_exception(page, "map lasso")
    shown = _eventually(lambda: _heading(page, r"the selected images: (\d+) images"), bool)
    assert shown, "the lasso selected nothing"
    n = int(shown.group(1))
    page.get_by_role("button", name=re.compile(r"Save these [\d,]+ images as a slice")).click()
    name = page.get_by_label("Name")
    name.fill("lassoed on the map")
    name.press("Enter")
    page.get_by_role("button", name="Save", exact=True).click()
    _no_exception(page, "slice saved")
    body = lambda: page.locator("body").inner_text()  # noqa: E731  the popover is outside stMain
    assert _eventually(lambda: "Saved “lassoed on the map”" in body(), bool), body()[-800:]
    page.keyboard.press("Escape")
    page.goto(f"{url}/slices?slice={quote('lassoed on the map')}")
    _no_exception(page, "slice reopened")
    said = _eventually(
        lambda: _heading(page, r"([\d,]+) test images; a selection on the map"), bool
    )
    assert said and int(said.group(1).replace(",", "")) == n
    assert _eventually(lambda: _heading(page, rf"slice “lassoed on the map”: {n} images"), bool)
    _no_exception(page, "slice shown")
    assert "KNN: raw (K=4, distance)" in page.locator("[data-testid=stTable]").first.inner_text()
    page.screenshot(path=ARTIFACTS / "slice-from-lasso.png")


def test_draw_a_digit(app, page):
    url, _ = app
    page.goto(f"{url}/draw")
    _no_exception(page, "draw")
    canvas = page.locator("canvas").last
    canvas.wait_for()
    box = canvas.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * 0.85, steps=20)
    page.mouse.up()
    page.wait_for_function(
        "() => /report templates: \\d/.test("
        "document.querySelector('[data-testid=stMain]').innerText)"
    )
    _no_exception(page, "draw a 1")
    assert "What each method says" in _main(page)


def test_walk_the_suspicious_labels_and_mark_them(app, page):
    url, _ = app
    page.goto(f"{url}/suspicious")
    _no_exception(page, "suspicious")
    listed = _eventually(lambda: _heading(page, r"Among the first (\d+)"), bool)
    assert listed
    thumbs = page.locator("[class*='st-key-thumbs_'] a")
    first = re.match(r"#(\d+) (\d)→(\d)", thumbs.first.inner_text())
    assert first and first.group(2) != first.group(3)  # the evidence disputes the label
    thumbs.first.click()
    _no_exception(page, "first suspicious image")
    marked = []
    for step in range(3):
        index = int(re.search(r"image=(\d+)", page.url).group(1))
        if step == 1:
            page.keyboard.press("x")  # the verdict's shortcut
        else:
            page.get_by_role("button", name=re.compile("✗ wrong")).click()
        _no_exception(page, f"mark {index}")
        assert "Your verdict: wrong" in _main(page)
        marked.append(index)
        page.keyboard.press("ArrowRight")
        _no_exception(page, "next suspicious")
    assert len(set(marked)) == 3
    page.goto(f"{url}/suspicious")
    _no_exception(page, "suspicious again")
    assert _eventually(lambda: _heading(page, r"\*?\*?(\d+) marked wrong"), bool)
    assert re.search(r"3 marked wrong", _main(page))
    page.screenshot(path=ARTIFACTS / "suspicious-marked.png")
