"""Server-side render times of the dashboard with warm caches, against its budgets.

    .venv/bin/python bench/bench_dashboard.py [--repeat 5]

Each page is rendered by Streamlit's AppTest (the script run a browser would trigger,
without the network): once to warm the caches, then ``--repeat`` times; the median is
reported. The reference measured in the same run is the Data page without its charts
(the bare cost of a script run that reads MNIST). Budgets: a page switch under 1 s, a
K-slider change under 300 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGES = tuple(p.stem for p in sorted((Path(APP).parent / "views").glob("*.py")))
REFERENCE = """
import streamlit as st
from dashboard.data import mnist
st.title("reference")
st.write(len(mnist("train")[1]), len(mnist("test")[1]))
"""


def _median_seconds(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    ref = AppTest.from_string(REFERENCE, default_timeout=600)
    ref.run()
    t_ref = _median_seconds(ref.run, args.repeat)

    at = AppTest.from_file(APP, default_timeout=600)
    at.run()
    rows = []
    for page in PAGES:
        at.switch_page(f"views/{page}.py").run()  # warm: caches filled, results loaded
        assert not at.exception, (page, at.exception)
        missing = [b.label for b in at.button if (b.key or "").startswith("compute:")]
        if missing:
            raise SystemExit(
                f"page {page}: results not cached ({'; '.join(missing)}). Warm the cache "
                "first: python -m core compute --all"
            )
        rows.append((f"page {page}", _median_seconds(at.run, args.repeat), 1.0))

    at.switch_page("views/knn.py").run()
    ks = iter([1, 20] * args.repeat)
    for k in (1, 20):  # warm both votes
        at.slider(key="k").set_value(k).run()
    t_k = _median_seconds(lambda: at.slider(key="k").set_value(next(ks)).run(), args.repeat)
    rows.append(("K-slider change (KNN page)", t_k, 0.3))

    print(f"reference (a bare script run reading MNIST): {t_ref * 1000:.0f} ms")
    print(f"{'render':<30} {'median ms':>10} {'× reference':>12} {'budget ms':>10}  ok")
    for name, t, budget in rows:
        ok = "yes" if t < budget else "NO"
        print(f"{name:<30} {t * 1000:>10.0f} {t / t_ref:>12.1f} {budget * 1000:>10.0f}  {ok}")


if __name__ == "__main__":
    main()
