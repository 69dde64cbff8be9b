"""The docs' screenshots, taken anew from the real browser on the project's cache.

    .venv/bin/python bench/screenshots.py [--only NAME ...] [--out docs/screenshots]

The app is served on localhost from the project's cache (compute it first: ``mnist-explorer
compute --all``; a view that still offers a computation stops the script, so no screenshot
shows a page waiting for a result) and each view is opened by its URL in Debian's Chromium
driven by Playwright, then photographed once its script run is over and the page is still.
The README and docs/ use only these files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dashboard.local import CHROMIUM_ARGS, REPO, chromium_path, serve, settled

# name → (the view's address, a text on it to wait for, and to scroll to the top of the
# picture: the page's own title when the picture is its top)
VIEWS = {
    "results": ("/", "MNIST results explorer"),
    "knn-cell-7-2": ("/knn?k=5&cell=7-2", "True 7, predicted 2"),
    "splines": ("/splines", "Spline halos"),
    "deformable": ("/splines?sp_section=A+test+image%2C+rigid+and+bent", "Templates that bend"),
    "cnn": ("/cnn?cnn_section=Patterns", "Convolutional networks"),
    "draw": ("/draw", "Draw a digit"),
    "idm-field": ("/image?image=115&image_section=Distortion+KNN", "IDM-nearest"),
    "suspicious": ("/suspicious", "Suspicious labels"),
    "calibration": ("/calibration?t=0.9", "Methods on the charts"),
    "slices-features": (
        "/slices?slices_view=Features+and+the+worst+slices&feature=stroke",
        "Features and the worst slices",
    ),
    "duplicates": ("/duplicates", "Near-duplicates and leakage"),
    "compare-a-b": (
        "/compare?a=CNN%3A+modern&b=KNN%3A+distortion+%28IDM%2C+%C2%B12+px%2C+K%3D1%2C+uniform%29"
        "&compare_view=A+against+B&ab=4-9",
        "Two methods",
    ),
    "review": ("/suspicious?view=review+one+by+one", "Suspicious labels"),  # then its queue
    "map": ("/map", "A map of the test set"),
}


# Every chart of the page drawn (the map's WebGL one takes longest).
DRAWN = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]
  .every(chart => chart.querySelector('.main-svg'))"""


def take(page, url: str, name: str, out: Path) -> Path:
    """Open one view, check it is computed, and write ``out/name.png``."""
    address, expected = VIEWS[name]
    page.goto(url + address)
    settled(page)
    main = page.locator("[data-testid=stMain]")
    anchor = main.get_by_text(expected).first
    anchor.wait_for()
    anchor.evaluate("e => e.scrollIntoView({block: 'start'})")
    settled(page)  # the script run over, then the charts drawn after the scroll
    page.wait_for_function(DRAWN)
    settled(page)
    offers = page.locator("button", has_text="Compute ")
    if offers.count():
        raise SystemExit(
            f"{name}: results not cached ({offers.first.inner_text()}); compute them first: "
            "mnist-explorer compute --all"
        )
    path = out / f"{name}.png"
    page.screenshot(path=path)
    return path


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(VIEWS), help="these views only")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with serve() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(180_000)
        for name in args.only or list(VIEWS):
            print(f"wrote {take(page, url, name, args.out)}")
        browser.close()


if __name__ == "__main__":
    main()
