"""End to end in a real browser: the app served on localhost, driven by Playwright.

Headless Chromium from Debian's ``chromium`` package (``MNIST_EXPLORER_CHROMIUM`` to use
another executable). Screenshots land in ``artifacts/e2e/`` (the docs' own come from
``bench/screenshots.py``, on a computed cache).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from core import imported, jobs, knn, marks, methods, metrics, suspicious, tasks
from core.cache import CACHE_ENV
from core.data import FILES
from core.knn import NeighbourConfig
from dashboard.gallery import PAGE_SIZE
from dashboard.local import CHROMIUM_ARGS, chromium_path, launch, serve, settled
from tests.conftest import REPO

pytestmark = pytest.mark.slow
ARTIFACTS = REPO / "artifacts" / "e2e"


def _chromium() -> str:
    try:
        return chromium_path()
    except RuntimeError as e:
        pytest.fail(str(e))


def _serve(env: dict | None = None):
    """Start the app on a free port; yields its URL, stops it afterwards."""
    try:
        with serve(env) as url:
            yield url
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="module")
def server(mnist_dir):
    # The raw neighbours are what the KNN page shows; computed here if the cache lacks them.
    knn.neighbours(NeighbourConfig())
    yield from _serve()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, url: str):
    pg = browser.new_page(viewport={"width": 1400, "height": 1600})
    pg.set_default_timeout(120_000)
    # The first session of a fresh server that opens a page other than the default one
    # gets a spurious "Page not found" dialog over the right page (streamlit#9992):
    # open the default page once, as a visitor who first lands on the home page.
    pg.goto(url)
    settled(pg)
    return pg


@pytest.fixture(scope="module")
def page(server, browser):
    pg = _open(browser, server)
    yield pg
    pg.close()


def _metric(page, label: str) -> str:
    box = page.locator("[data-testid=stMetric]", has_text=label)
    return box.locator("[data-testid=stMetricValue]").inner_text()


def _eventually(read, expected, seconds: float = 60):
    """Poll ``read()`` until it equals ``expected`` (a rerun takes a moment to land)."""
    deadline = time.monotonic() + seconds
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.25)
    return value


def test_knn_page_k_slider_and_confusion_cell(server, page, mnist_test):
    _, y = mnist_test
    config = NeighbourConfig()
    result = knn.cached_neighbours(config)
    page.goto(f"{server}/knn")
    settled(page)
    assert _metric(page, "Test accuracy") == "97.14%"
    page.screenshot(path=ARTIFACTS / "knn.png")

    # K 4 → 5 with the keyboard on the slider.
    page.get_by_role("slider").focus()
    page.keyboard.press("ArrowRight")
    pred5 = knn.predict(result, config, 5, "distance")[0]
    shown = f"{metrics.accuracy(y, pred5):.2%}"
    assert shown != "97.14%"
    assert _eventually(lambda: _metric(page, "Test accuracy"), shown) == shown
    settled(page)
    assert "k=5" in page.url

    # Box-drag over the marker of cell (true 7, predicted 2).
    true, predicted = 7, 2
    expected = int(((y == true) & (pred5 == predicted)).sum())
    assert expected > 0
    point = page.locator(".scatterlayer .points path").nth(true * 10 + predicted)
    box = point.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 10, cy - 10)
    page.mouse.down()
    page.mouse.move(cx + 10, cy + 10, steps=5)
    page.mouse.up()
    heading = page.get_by_text(re.compile(r"True \d, predicted \d: \d+ "))
    want = f"True {true}, predicted {predicted}: {expected} misclassified test images"
    assert _eventually(heading.inner_text, want) == want
    settled(page)
    assert "cell=7-2" in page.url
    page.screenshot(path=ARTIFACTS / "knn-cell-7-2.png")


def test_draw_page_predicts_a_drawn_digit(server, page):
    page.goto(f"{server}/draw")
    settled(page)
    canvas = page.locator("canvas").last
    canvas.wait_for()
    box = canvas.bounding_box()
    x, top = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.15
    page.mouse.move(x, top)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * 0.85, steps=20)  # a vertical stroke: a 1
    page.mouse.up()
    # The rerun the stroke triggers may start a moment later: wait for its last figure
    # (the best spline template, drawn at the end of the page) rather than for quiet.
    page.wait_for_function(
        "() => /report templates: \\d/.test("
        "document.querySelector('[data-testid=stMain]').innerText)"
    )
    settled(page)
    page.screenshot(path=ARTIFACTS / "draw.png")
    text = page.locator("[data-testid=stMain]").inner_text()
    assert re.search(r"report templates: \d", text)
    assert "What each method says" in text
    nearest = re.findall(r"train #\d+: label (\d)", text)
    assert len(nearest) == 4
    assert np.bincount([int(d) for d in nearest]).argmax() == 1


@pytest.mark.parametrize(
    "path", ["data", "cross-validation", "augmentation", "splines", "cnn", "compare"]
)
def test_every_page_renders_in_the_browser(server, page, path):
    page.goto(f"{server}/{path}")
    settled(page)
    page.locator("[data-testid=stMain] h1").first.wait_for()
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=ARTIFACTS / f"{path}.png")


# -- a computation outlives the page that started it ---------------------------------------


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory, mnist_dir):
    """The app on a cache of its own that holds only the MNIST files."""
    cache = tmp_path_factory.mktemp("cache")
    (cache / "MNIST" / "raw").mkdir(parents=True)
    for name in FILES:
        shutil.copy(mnist_dir / name, cache / "MNIST" / "raw" / name)
    for url in _serve({CACHE_ENV: str(cache)}):
        yield url, cache


def _nav(page, title: str) -> None:
    """Switch page with the sidebar's link: the same session, as a person clicks."""
    page.locator("[data-testid=stSidebarNav] a", has_text=title).first.click()
    settled(page)


def test_a_computation_started_on_one_page_finishes_while_another_is_open(
    empty_server, browser, monkeypatch
):
    server, cache = empty_server
    monkeypatch.setenv(CACHE_ENV, str(cache))  # read the server's job files from here
    task = methods.get("knn-raw").task()
    page = _open(browser, server)
    _nav(page, "KNN")
    button = page.get_by_role("button", name=re.compile("Compute the raw neighbours"))
    button.click()
    page.get_by_text(re.compile("Computed in the background")).wait_for()
    page.screenshot(path=ARTIFACTS / "job-running.png")
    _nav(page, "Overview")  # leave: the computation must go on without this page
    seen = jobs.read(task.id)
    assert seen is not None and seen.state in (jobs.QUEUED, jobs.RUNNING, jobs.DONE)
    if seen.active:  # every page shows what is computing, in the sidebar
        sidebar = page.locator("[data-testid=stSidebar]")
        assert "KNN: raw" in sidebar.inner_text() or jobs.read(task.id).state == jobs.DONE
    assert jobs.wait(task.id, timeout=600).state == jobs.DONE
    _nav(page, "KNN")  # come back: the result is there
    assert _eventually(lambda: _metric(page, "Test accuracy"), "97.14%") == "97.14%"
    page.screenshot(path=ARTIFACTS / "job-done.png")
    page.close()


# -- errors first: a click opens a cell, a thumbnail opens its image, a mark stays ----------


def test_a_count_click_opens_its_cell_and_a_thumbnail_opens_the_image_page(
    server, page, mnist_test
):
    _, y = mnist_test
    config = NeighbourConfig()
    pred = knn.predict(knn.cached_neighbours(config), config, 4, "distance")[0]
    cm = metrics.confusion(y, pred)
    page.goto(f"{server}/knn")
    settled(page)
    # A plain click on a count of the table (row "true 4", a column near its right end).
    table = page.locator(".st-key-cell_table [data-testid=stDataFrame]")
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + 35 * 5 + 17)
    _eventually(lambda: re.search(r"cell=4-(\d)", page.url) is not None, True)
    settled(page)
    predicted = int(re.search(r"cell=4-(\d)", page.url).group(1))
    shown = re.search(
        r"True 4, predicted \d: (\d+)", page.locator("[data-testid=stMain]").inner_text()
    )
    assert int(shown.group(1)) == cm[4, predicted]
    # Back to the worst cell, and a click on its first thumbnail's link: the image's page.
    page.goto(f"{server}/knn?cell=4-9")
    settled(page)
    link = page.get_by_role("link", name=re.compile(r"^#\d+")).first
    index = int(re.match(r"#(\d+)", link.inner_text()).group(1))
    link.click()
    settled(page)
    assert page.locator("h1").first.inner_text() == f"Test image #{index}: labelled {y[index]}"
    assert f"image={index}" in page.url
    page.keyboard.press("ArrowRight")  # the next image of the same gallery
    settled(page)
    assert f"image={index}" not in page.url and "image=" in page.url
    page.screenshot(path=ARTIFACTS / "image.png")


def test_a_mark_on_a_label_is_still_there_after_a_reload(empty_server, browser):
    server, cache = empty_server
    page = _open(browser, f"{server}/image?image=3558")
    page.get_by_text("Your verdict: none yet").wait_for()
    page.get_by_role("button", name=re.compile("✗ wrong")).click()  # (X: the walk's test)
    settled(page)
    page.reload()
    settled(page)
    assert "Your verdict: wrong" in page.locator("[data-testid=stMain]").inner_text()
    assert (
        json.loads((cache / "marks" / "labels-test.json").read_text())["3558"]["verdict"] == "wrong"
    )
    page.close()


def test_labels_reviewed_at_the_keyboard(browser, tmp_path, mnist_dir, mnist_test):
    # A cache with the test set's evidence: the raw KNN (its neighbours copied when the
    # project cache has them).
    cache = tmp_path / "cache"
    (cache / "MNIST" / "raw").mkdir(parents=True)
    for name in FILES:
        shutil.copy(mnist_dir / name, cache / "MNIST" / "raw" / name)
    source = knn.STORE.path(NeighbourConfig())
    if source.exists():
        shutil.copytree(source, cache / knn.STORE.method / source.name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_ENV, str(cache))
        assert tasks.run_here(methods.get("knn-raw").task()).state == jobs.DONE
        ranked = suspicious.suspicious("test")
    disputed = ranked[ranked["suggested"] != ranked["given"]]["index"].tolist()[:100]  # its top
    _, y = mnist_test
    main = "[data-testid=stMain]"
    with serve({CACHE_ENV: str(cache)}) as url:
        page = _open(browser, f"{url}/suspicious?view=review+one+by+one")
        expect(page.locator(main)).to_contain_text(
            f"0 of {len(disputed)} reviewed", timeout=120_000
        )  # a fresh server's first run of the page
        first = disputed[0]
        expect(page.locator(main)).to_contain_text(f"#{first} (1 of")
        fix = (int(y[first]) + 1) % 10
        page.keyboard.press(str(fix))  # "the right label is fix": kept, the next one shown
        expect(page.locator(main)).to_contain_text(f"#{disputed[1]} (2 of", timeout=60_000)
        expect(page.locator(main)).to_contain_text(f"1 of {len(disputed)} reviewed")
        page.keyboard.press("v")  # the given label is right
        expect(page.locator(main)).to_contain_text(f"#{disputed[2]} (3 of", timeout=60_000)
        page.keyboard.press("p")  # back to the one just judged
        expect(page.locator(main)).to_contain_text(f"#{disputed[1]} (2 of", timeout=60_000)
        page.keyboard.press("n")
        expect(page.locator(main)).to_contain_text(f"#{disputed[2]} (3 of", timeout=60_000)
        page.screenshot(path=ARTIFACTS / "review.png")
        page.reload()  # the verdicts are the cache's, not the tab's
        settled(page)
        expect(page.locator(main)).to_contain_text(f"2 of {len(disputed)} reviewed")
        page.close()
    kept = json.loads((cache / "marks" / "labels-test.json").read_text())
    assert kept[str(first)]["verdict"] == "wrong" and kept[str(first)]["label"] == fix
    assert kept[str(disputed[1])]["verdict"] == "right" and len(kept) == 2


# -- the front page's import, the map's selection ----------------------------------------------


def test_a_csv_imported_on_the_front_page_appears_in_compare(
    empty_server, browser, tmp_path, mnist_test
):
    server, cache = empty_server
    _, y = mnist_test
    pred = y.copy()
    pred[:500] = (pred[:500] + 1) % 10
    good = tmp_path / "mine.csv"
    good.write_text("index,label\n" + "\n".join(f"{i},{p}" for i, p in enumerate(pred)) + "\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("index,label\n0,7\n0,2\n")
    page = _open(browser, server)  # the front page
    said = []
    for path, name in ((bad, "broken"), (good, "my model")):
        page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(path))
        page.wait_for_timeout(1000)
        page.get_by_role("textbox", name="Name", exact=True).fill(name)
        page.get_by_role("button", name="Import").click()
        settled(page)
        said.append(page.locator("[data-testid=stMain]").inner_text())
    assert "bad.csv: expected 10000 rows (one per test image), found 2" in said[0]  # as the CLI
    assert not list((cache / "imported").glob("*/manifest.json")) or "broken" not in said[1]
    assert "Imported mine.csv as “my model” (yours-my-model): test accuracy 95.00%" in said[1]
    _nav(page, "Compare")  # in the per-digit chart's legend once Plotly has drawn it
    expect(page.locator("[data-testid=stMain]")).to_contain_text("yours: my model", timeout=60_000)
    page.screenshot(path=ARTIFACTS / "compare-imported.png")
    page.close()


def _imported_names(cache) -> set[str]:
    """The names of the methods imported into a cache (this module's tests share one)."""
    found = (cache / "imported").glob("*/manifest.json")
    return {json.loads(p.read_text())["config"]["name"] for p in found}


def test_an_onnx_upload_runs_in_the_background_and_can_be_cancelled(
    empty_server, browser, tmp_path
):
    from tests.test_untrusted import _allocation_bomb, _children_running, _endless_loop

    server, cache = empty_server
    loop, good = tmp_path / "loop.onnx", tmp_path / "good.onnx"
    loop.write_bytes(_endless_loop())
    good.write_bytes(_allocation_bomb(1))  # a linear model: x · w + the images' mean
    page = _open(browser, server)

    def upload(path, name: str) -> None:
        page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(path))
        page.wait_for_timeout(1000)
        page.get_by_role("textbox", name="Name", exact=True).fill(name)
        page.locator("[data-testid=stRadio] label", has_text="logits").click()
        page.get_by_role("button", name="Import").click()

    upload(loop, "endless")
    main = page.locator("[data-testid=stMain]")
    expect(main.get_by_text("the import of loop.onnx as “endless”")).to_be_visible(timeout=30_000)
    page.screenshot(path=ARTIFACTS / "import-running.png")
    _eventually(lambda: bool(_children_running()), True)  # the model runs, in a worker
    page.get_by_role("button", name="Cancel the import").click()
    expect(main.get_by_text("cancelled: nothing imported")).to_be_visible(timeout=30_000)
    _eventually(_children_running, [], seconds=10)
    assert "endless" not in _imported_names(cache)
    _nav(page, "Compare")  # the server still answers, the session goes on
    page.goto(server)
    settled(page)
    upload(good, "good model")
    done = main.get_by_text("Imported good.onnx as “good model” (yours-good-model)")
    expect(done).to_be_visible(timeout=120_000)
    assert "good model" in _imported_names(cache)
    page.close()


def test_the_server_killed_while_a_job_runs_then_started_again(
    browser, tmp_path, mnist_dir, mnist_test, monkeypatch
):
    cache = tmp_path / "cache"
    (cache / "MNIST" / "raw").mkdir(parents=True)
    for name in FILES:
        shutil.copy(mnist_dir / name, cache / "MNIST" / "raw" / name)
    monkeypatch.setenv(CACHE_ENV, str(cache))
    marks.set_mark("test", 3558, "wrong")
    imported.import_file(
        ("index,label\n" + "\n".join(f"{i},{v}" for i, v in enumerate(mnist_test[1]))).encode(),
        "mine.csv",
        "mine",
    )
    kept = {
        p: p.read_bytes()
        for p in [*cache.glob("marks/*.json"), *cache.glob("imported/**/*")]
        if p.is_file()
    }
    proc, url = launch({CACHE_ENV: str(cache)})
    try:
        page = _open(browser, url)
        page.get_by_role("button", name=re.compile(r"^Compute everything")).click()
        _eventually(lambda: any(s.state == jobs.RUNNING for s in jobs.all_jobs()), True)
        running = next(s for s in jobs.all_jobs() if s.state == jobs.RUNNING)
        os.kill(proc.pid, signal.SIGKILL)  # the server dies; its worker goes on
        proc.wait()
        page.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    finished = jobs.wait(running.id, timeout=300)
    assert finished.state == jobs.DONE and finished.pid == running.pid  # by its worker
    # The jobs the dead server had queued are reported failed (so Retry is offered).
    _eventually(lambda: all(not s.active for s in jobs.all_jobs()), True, seconds=jobs.STALE_S + 10)
    queued = [s for s in jobs.all_jobs() if s.id != running.id]
    assert queued and all("server that queued it stopped" in s.error for s in queued)
    assert {p: p.read_bytes() for p in kept} == kept  # marks and imports intact
    assert not list(cache.glob(".tmp/*/*.npz"))  # nothing half-written was left to read
    with serve({CACHE_ENV: str(cache)}) as again:
        page = _open(browser, again)
        main = page.locator("[data-testid=stMain]")  # a fresh server: its first run is slow
        offer = re.compile(r"Compute everything \(\d+ missing\)")  # the rest, to retry
        expect(main).to_contain_text(offer, timeout=120_000)
        expect(main).to_contain_text("yours: mine")  # the import
        expect(main).to_contain_text("KNN on raw pixels 97.14%")  # what its worker finished
        page.close()


def test_a_box_on_the_map_opens_exactly_its_images(empty_server, browser):
    server, cache = empty_server
    page = _open(browser, f"{server}/map")
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for()
    page.wait_for_timeout(1000)
    # Box mode from the toolbar, then a drag over the middle of the plot.
    page.locator(".js-plotly-plot .modebar-btn[data-val='select']").first.click(force=True)
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.45
    x1, y1 = box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.55
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()
    settled(page)
    # The points inside the box Plotly drew (its own bounds, in data coordinates): the
    # gallery must hold exactly those.
    inside = page.evaluate(
        """() => {
            const gd = document.querySelector('.js-plotly-plot');
            const s = gd._fullLayout.selections[0];
            const [xlo, xhi] = [Math.min(s.x0, s.x1), Math.max(s.x0, s.x1)];
            const [ylo, yhi] = [Math.min(s.y0, s.y1), Math.max(s.y0, s.y1)];
            const ids = [];
            for (const t of gd._fullData) for (let i = 0; i < t.x.length; i++)
                if (t.x[i] >= xlo && t.x[i] <= xhi && t.y[i] >= ylo && t.y[i] <= yhi)
                    ids.push(t.customdata[i]);
            return ids;
        }"""
    )
    assert inside, "the box caught no point"
    shown = re.search(
        r"the selected images: (\d+) images", page.locator("[data-testid=stMain]").inner_text()
    )
    assert shown and int(shown.group(1)) == len(inside)
    # The caption is drawn before the thumbnails: wait for the whole first page of them.
    links = page.get_by_role("link", name=re.compile(r"^#\d+"))
    expect(links).to_have_count(min(len(inside), PAGE_SIZE), timeout=30_000)
    opened = {int(re.match(r"#(\d+)", t).group(1)) for t in links.all_inner_texts()}
    assert opened and opened <= set(inside)  # the first page of the gallery: those images
    page.screenshot(path=ARTIFACTS / "map.png")
    page.close()
