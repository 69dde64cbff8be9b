"""Which product path the KNN search takes on each kind of CPU, and what it costs.

    .venv/bin/python bench/bench_products.py

Runs the exact test-set search (60,000 × 10,000, k_max = 20) on the products path the
plan picks (not the pruned search, which bench_knn.py measures) in a subprocess per CPU
library cap: this CPU as it is, then capped as AVX-512 without VNNI and as AVX2 only
(``DNNL_MAX_CPU_ISA``, the way CPUs without VNNI run int8 products). Each subprocess also
times the bare float32 product of the same shapes, the reference, in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

_CHILD = """
import json, time, torch
from core.data import load_mnist
from core.knn.search import nearest_neighbours
from core.knn.products import product_plan

(xtr, _), (xte, _) = load_mnist("train"), load_mnist("test")
plan = product_plan()
a = torch.from_numpy(xte.reshape(len(xte), -1).astype("float32"))
b = torch.from_numpy(xtr.reshape(len(xtr), -1).astype("float32"))
start = time.perf_counter(); a @ b.T; bare = time.perf_counter() - start
start = time.perf_counter()
nb = nearest_neighbours(xtr, xte, 20, products=plan.path)
ours = time.perf_counter() - start
print(json.dumps({"path": nb.products, "exact": plan.exact, "ms": plan.ms, "ours": ours,
                  "bare": bare}))
"""

CAPS = {
    "this CPU": {},
    "AVX-512 without VNNI": {"DNNL_MAX_CPU_ISA": "AVX512_CORE"},
    "AVX2 only": {"DNNL_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def main() -> None:
    import torch

    print(f"{os.cpu_count()} CPUs, CPU capability {torch.backends.cpu.get_cpu_capability()}\n")
    print(
        "| int8 kernels as on | int8 exact | split exact | path taken | probe ms "
        "(int8 / split / float32) | search (s) | bare float32 product (s) | product / search |"
    )
    print("| --- | --- | --- | --- | --- | ---: | ---: | ---: |")  # fmt: skip
    for name, env in CAPS.items():
        run = subprocess.run(
            [sys.executable, "-c", _CHILD], env=os.environ | env,
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        r = json.loads(run.stdout.strip().splitlines()[-1])
        ms = " / ".join(f"{r['ms'][p]:.1f}" for p in ("int8", "int8-split", "float32"))
        print(
            f"| {name} | {'yes' if r['exact']['int8'] else 'no'} | "
            f"{'yes' if r['exact']['int8-split'] else 'no'} | {r['path']} | {ms} | "
            f"{r['ours']:.2f} | {r['bare']:.2f} | {r['bare'] / r['ours']:.2f}× |"
        )


if __name__ == "__main__":
    main()
