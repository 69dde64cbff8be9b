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

# name → (the view's address, what must be on it before the picture is taken)
VIEWS = {
    "results": ("/", "Results"),
    "knn-cell-7-2": ("/knn?k=5&cell=7-2", "True 7, predicted 2"),
    "splines": ("/splines", "Spline halos"),
    "cnn": ("/cnn", "CNNs"),
    "draw": ("/draw", "Draw a digit"),
    "idm-field": ("/image?image=115", "#115"),
    "deformable": ("/image?image=65", "#65"),
    "suspicious": ("/suspicious", "Suspicious labels"),
    "review": ("/suspicious?view=review+one+by+one", "reviewed"),
    "map": ("/map", "Map of the data"),
}


def take(page, url: str, name: str, out: Path) -> Path:
    """Open one view, check it is computed, and write ``out/name.png``."""
    address, expected = VIEWS[name]
    page.goto(url + address)
    settled(page)
    main = page.locator("[data-testid=stMain]")
    main.get_by_text(expected).first.wait_for()
    offers = page.locator("button", has_text="Compute ")
    if offers.count():
        raise SystemExit(
            f"{name}: results not cached ({offers.first.inner_text()}); compute them first: "
            "mnist-explorer compute --all"
        )
    path = out / f"{name}.png"
    page.screenshot(path=path, full_page=True)
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
