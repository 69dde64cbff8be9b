"""Every page timed in a real browser: a click in the sidebar → the page's last element drawn.

    .venv/bin/python bench/bench_pages.py [--repeat 5]

The app is served on localhost from the project's cache (warm it first: ``mnist-explorer
compute --all``; a page that offers a computation stops the bench) and driven by
Playwright with the system Chromium. In the page, a capturing listener stamps the click
(or key press) and a MutationObserver stamps the last change inside the main area; a
measurement ends once the script run that followed is over and the main area has been
still for 0.7 s. The figure is last change − click: what a user waits for, network,
script, charts and all. Each page is opened once to warm its caches, then timed
``--repeat`` times, coming from the Overview page; the median is reported. The reference
in the same run is the Overview page itself (the lightest page). Budgets: 1.5 s per
page, 300 ms for a K change on the KNN page (the slider moved with the keyboard).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from core.knn.products import machine_key
from dashboard.local import (
    CHROMIUM_ARGS,
    ELAPSED,
    OBSERVE,
    chromium_path,
    done_after,
    serve,
    settled,
)

PAGE_BUDGET_S, K_BUDGET_S = 1.5, 0.3
QUIET_MS = 700
PAGES = (
    "results", "data", "knn", "cross-validation", "augmentation", "splines", "cnn", "errors",
    "compare", "calibration", "slices", "duplicates", "draw", "map", "image", "suspicious",
)  # fmt: skip
_HOME = "data"
_DEFAULT = "results"  # the app's default page: its link and address are "/"


def _measure(page, action, path: str) -> float:
    """Seconds from the action to the last change of the page it leads to."""
    page.evaluate(OBSERVE)
    action()
    page.wait_for_function(done_after(QUIET_MS), arg=path, polling=100, timeout=120_000)
    return page.evaluate(ELAPSED)


def _go(page, path: str) -> float:
    address = "/" if path == _DEFAULT else f"/{path}"
    link = page.locator(f"[data-testid=stSidebarNav] a[href$='{address}']")
    return _measure(page, link.click, address)


def _check_warm(page, path: str) -> None:
    offers = page.locator("button", has_text="Compute ")
    if offers.count():
        raise SystemExit(
            f"page {path}: results not cached ({offers.first.inner_text()}). Warm the cache "
            "first: mnist-explorer compute --all"
        )


def _k_change(page, repeat: int) -> tuple[str, float, float]:
    """K moved with the keyboard on the KNN page: the median of ``repeat`` moves."""
    _go(page, "knn")
    slider = page.get_by_role("slider")
    times = []
    for i in range(repeat + 1):  # the first move warms the other K's caches
        slider.focus()
        key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
        times.append(_measure(page, lambda key=key: page.keyboard.press(key), "/knn"))
    return "K change (KNN page, keyboard)", statistics.median(times[1:]), K_BUDGET_S


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=PAGES, help="these pages (and the reference)")
    args = parser.parse_args()
    pages = [p for p in PAGES if not args.only or p in args.only or p == _HOME]
    rows = []
    with serve() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(120_000)
        page.goto(f"{url}/{_HOME}")
        settled(page)
        for path in pages:
            _go(page, path)  # warm: its caches filled
            settled(page)
            _check_warm(page, path)
            times = []
            for _ in range(args.repeat):
                _go(page, _HOME if path != _HOME else "results")
                times.append(_go(page, path))
            rows.append((f"page {path}", statistics.median(times), PAGE_BUDGET_S))
        if not args.only or "knn" in args.only:
            rows.append(_k_change(page, args.repeat))
        browser.close()
    ref = next(t for name, t, _ in rows if name == f"page {_HOME}")
    print(
        f"\nChromium (Debian), {machine_key()['cpu_model']}, {torch.get_num_threads()} torch "
        "threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}; median of {args.repeat}\n"
    )
    print("| action | median (s) | × the Overview page | budget (s) | within |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, t, budget in rows:
        ok = "yes" if t <= budget else "**no**"
        print(f"| {name} | {t:.2f} | {t / ref:.1f}× | {budget:.1f} | {ok} |")


if __name__ == "__main__":
    main()
