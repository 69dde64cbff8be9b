"""The map of the data: what laying it out costs, and how long the browser takes to draw it.

    .venv/bin/python bench/bench_map.py

1. Layouts of the 10,000 test images (784 pixels, 2 threads): UMAP as the map computes it
   (on the first 50 principal components, seeded), UMAP on all 784 pixels, and PCA, the
   instant fallback, as the reference; each once, in this process, after a first UMAP run
   during which numba compiles it (timed apart: each worker process pays it once).
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


def layouts() -> list[tuple[str, float]]:
    x = maps.features(maps.config("pixels"))
    # numba compiles UMAP during its first run in a process: that run is timed apart.
    seconds, _ = timed(maps.layout, maps.config("pixels"), x)
    print(
        f"UMAP's first run in this process (the map, numba compiling as it goes): {seconds:.1f} s\n"
    )

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
    print(
        f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}\n"
    )
    rows = layouts()
    ref = rows[0][1]
    print("| layout of the 10,000 test images | seconds | × PCA |")
    print("| --- | ---: | ---: |")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.1f} | {seconds / ref:.0f}× |")
    rows = browser()
    ref = rows[0][1]
    print("\n| page in the browser (median of 5, warm) | seconds | × Data page |")
    print("| --- | ---: | ---: |")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {seconds / ref:.2f}× |")


if __name__ == "__main__":
    main()
