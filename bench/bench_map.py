"""The map of the data: what laying it out costs, and how long the browser takes to draw it.

    .venv/bin/python bench/bench_map.py [--no-browser]

1. Layouts of the 10,000 test images (784 pixels, 2 threads). First, what a fresh worker
   pays: one map in a new process (imports, numba compiling umap-learn as it goes), with
   our exact neighbour graph (the map) beside umap-learn building its own approximate one
   (the reference), each in its own process. Then, warm in this process: UMAP as the map
   computes it (on the first 50 principal components, seeded), UMAP on all 784 pixels,
   and PCA, the instant fallback, as the reference.
2. The browser: the app served on a free port (this cache, the UMAP map of the pixels
   computed first), headless Chromium; the median of 5 loads of the map page, from the
   navigation to the last point drawn, beside the Data page's load as the reference.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import torch

from core import maps
from core.knn.products import machine_key

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def first_run(graph: str) -> float:
    """Seconds of one map of the pixels in this (new) process: ``graph`` "exact" as the map
    makes it, "umap" with umap-learn's own approximate neighbour graph."""
    start = time.perf_counter()
    c = maps.config("pixels")
    x = maps.features(c)
    if graph == "exact":
        maps.layout(c, x)
    else:
        import umap

        reducer = umap.UMAP(
            n_neighbors=c.n_neighbors, min_dist=c.min_dist, random_state=c.seed, n_jobs=1
        )
        reducer.fit_transform(maps._pca(x, c.pca_first))
    return time.perf_counter() - start


def fresh() -> list[tuple[str, float]]:
    rows = []
    for name, graph in (
        ("umap-learn's own approximate graph (reference)", "umap"),
        ("our exact neighbour graph (the map)", "exact"),
    ):
        run = subprocess.run(
            [sys.executable, __file__, "--first-run", graph],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append((name, float(run.stdout.split()[-1])))
    return rows


def layouts() -> list[tuple[str, float]]:
    x = maps.features(maps.config("pixels"))
    timed(maps.layout, maps.config("pixels"), x)  # numba compiles: timed by fresh()
    base = maps.config("pixels")
    rows = []
    for name, c in (
        ("PCA (the instant fallback, reference)", replace(base, layout="pca")),
        ("UMAP on 50 principal components (the map)", base),
        ("UMAP on the 784 pixels", replace(base, pca_first=0)),
    ):
        seconds, _ = timed(maps.layout, c, x)
        rows.append((name, seconds))
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser(repeat: int = 5) -> list[tuple[str, float]]:
    from playwright.sync_api import sync_playwright

    maps.compute(maps.config("pixels"))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "core", "dashboard", "--server.port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://localhost:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        chromium = os.environ.get("MNIST_EXPLORER_CHROMIUM", "/usr/bin/chromium")
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = b.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(120_000)

            def load(path: str, drawn: str) -> float:
                start = time.perf_counter()
                page.goto(f"{url}/{path}")
                page.wait_for_selector(drawn, state="attached")
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=stStatusWidget]')"
                )
                return time.perf_counter() - start

            rows = []
            for name, path, drawn in (
                ("Data page (reference)", "data", ".js-plotly-plot .heatmaplayer"),
                ("Map page, 10,000 points (WebGL)", "map", ".js-plotly-plot .gl-container canvas"),
            ):
                load(path, drawn)  # warm the server's caches
                rows.append((name, statistics.median(load(path, drawn) for _ in range(repeat))))
            b.close()
        return rows
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    if sys.argv[1:2] == ["--first-run"]:
        print(f"{first_run(sys.argv[2]):.2f}")
        return
    print(
        f"{machine_key()['cpu_model']}, {os.cpu_count()} CPUs, torch threads "
        f"{torch.get_num_threads()}, CPU capability {torch.backends.cpu.get_cpu_capability()}\n"
    )
    _table(
        "one map in a new process (imports, compiling, data, layout)",
        reference="reference",
        rows=fresh(),
        seconds=".1f",
        ratio=".2f",
    )
    _table("layout of the 10,000 test images (warm)", "PCA", layouts(), ".1f", ".0f")
    if "--no-browser" in sys.argv:
        return
    _table("page in the browser (median of 5, warm)", "Data page", browser(), ".2f", ".2f")


def _table(what: str, reference: str, rows, seconds: str, ratio: str) -> None:
    """A markdown table of (name, seconds) rows, each also as a ratio of the first."""
    ref = rows[0][1]
    print(f"| {what} | seconds | × {reference} |")
    print("| --- | ---: | ---: |")
    for name, t in rows:
        print(f"| {name} | {t:{seconds}} | {t / ref:{ratio}}× |")
    print()


if __name__ == "__main__":
    main()
