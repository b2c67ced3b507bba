"""Train (or load) the oracle of every synthetic dataset and print its held-out scores.

The figures of the closing note: `python benchmarks/bench_oracle.py [--preset course] [--retrain]`.
Goal at the course preset (32 px, 6,000 training / 1,000 held-out images, `oracle_epochs` epochs):
at least 98% held-out accuracy on every attribute and domain of all four datasets, with about a
minute of training per dataset on a 2-core CPU. Oracles are introduced in notebook 00_setup_and_data.

Time is reported twice: wall-clock, and the CPU time of this process (all its threads). On a
machine whose cores are shared with other jobs the wall clock depends on the neighbours; CPU time
divided by the thread count is what the same work takes on otherwise idle cores. Rendering the data
is included only when the data cache is empty.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from stargan_lib.data.oracle import get_oracle
from stargan_lib.data.synthetic import DATASETS
from stargan_lib.presets import get_preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="course")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--retrain", action="store_true", help="train again even if cached (to time it)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    preset = get_preset(args.preset)
    print(f"preset {preset.name}: {preset.image_size} px, n_train {preset.n_train}, n_test {preset.n_test}, "
          f"{preset.oracle_epochs} epochs, {args.threads} thread(s)")
    results, ok = {}, True
    for name in args.datasets:
        t0, c0 = time.perf_counter(), time.process_time()
        oracle = get_oracle(name, preset=preset, retrain=args.retrain, progress=False, device="cpu")
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        m = dict(oracle.metrics)
        m["seconds"], m["cpu_seconds"] = seconds, cpu
        results[name] = m
        ok &= m["min_accuracy"] >= 0.98
        accs = "  ".join(f"{k} {100 * v:.1f}%" for k, v in m["accuracy"].items())
        r2 = "  ".join(f"{k} {v:.3f}" for k, v in m["r2"].items())
        print(f"\n{name}: {seconds:.0f} s wall, {cpu:.0f} s CPU "
              f"({'trained' if args.retrain else 'trained or loaded'})")
        print(f"  accuracy  {accs}")
        print(f"  min {100 * m['min_accuracy']:.1f}%  overall {100 * m['overall_accuracy']:.1f}%  (n={m['n']})")
        print(f"  content R^2  {r2}")
    print(f"\nevery attribute/domain >= 98%: {ok}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
