"""Rendering speed of the synthetic datasets, on ONE CPU core.

`python benchmarks/bench_synthetic.py [--repeats 5] [--core 0]`: for each dataset and size
(16, 32, 64, 128 px) renders a batch several times and prints the median images per second.
Goal (issue 3): at least 1,000 images/s at 32 px on one core. The datasets are introduced in
notebook 00_setup_and_data.

The process is pinned to one core (Linux `sched_setaffinity`) and BLAS/OpenMP pools are limited
to one thread before NumPy loads. On a machine whose cores are shared with other jobs the medians
still move by tens of per cent between runs; read them as orders of magnitude against the goal.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import time  # noqa: E402

import numpy as np  # noqa: E402

from stargan_lib.data.synthetic import DATASETS, render  # noqa: E402

SIZES = (16, 32, 64, 128)
GOAL_32PX = 1000.0


def images_per_second(name: str, size: int, n: int, repeats: int) -> float:
    render(name, min(n, 64), size, seed=123)          # warm-up
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        render(name, n, size, seed=r)
        times.append(time.perf_counter() - t0)
    return n / float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin to (-1: do not pin)")
    args = parser.parse_args()
    if args.core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    pinned = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else "?"
    print(f"one process on core(s) {pinned}; median of {args.repeats} repeats; images per second")
    print(f"{'dataset':<14}" + "".join(f"{s:>10} px" for s in SIZES))
    worst32 = float("inf")
    for name in DATASETS:
        row = []
        for size in SIZES:
            n = max(64, 2_097_152 // (size * size))     # ~2 M pixels per repeat
            ips = images_per_second(name, size, n, args.repeats)
            row.append(ips)
            if size == 32:
                worst32 = min(worst32, ips)
        print(f"{name:<14}" + "".join(f"{v:>13,.0f}" for v in row))
    print(f"\nslowest dataset at 32 px: {worst32:,.0f} images/s = {worst32 / GOAL_32PX:.1f}x the goal of "
          f"{GOAL_32PX:,.0f} images/s")


if __name__ == "__main__":
    main()
