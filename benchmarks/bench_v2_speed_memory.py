"""StarGAN v2 speed and memory: seconds per training iteration of configurations A–F at the course
preset, and of F at the paper preset (256 px, batch 8), with the peak memory of one paper-preset
iteration with and without the memory options (bf16 autocast, gradient checkpointing).

    python benchmarks/bench_v2_speed_memory.py                       # everything (slow on a CPU)
    python benchmarks/bench_v2_speed_memory.py --skip-paper          # course preset only (a minute)
    python benchmarks/bench_v2_speed_memory.py --skip-course --paper-batch 2 --options none,ckpt

Every measurement runs in a fresh subprocess, so its peak RSS (resource.getrusage ru_maxrss) belongs to
that case alone; on CUDA the peak is torch.cuda.max_memory_allocated of the measured iterations.
Images are random (speed and memory do not depend on content). Reports medians; the numbers depend on
the machine and on its load, so compare ratios measured in the same run. Writes a Markdown table to
stdout and, with --json, the raw numbers.

Used for the figures in issue 6's closing note and `notebooks/05_stargan_v2_D_to_F.ipynb`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

OPTIONS = {"none": {}, "ckpt": {"grad_checkpoint": True}, "bf16": {"amp_bf16": True},
           "ckpt+bf16": {"grad_checkpoint": True, "amp_bf16": True}}


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_case(case: dict) -> dict:
    """One measurement in this process: build the trainer, time `iters` iterations after `warmup`."""
    import numpy as np
    import torch

    from stargan_lib.models.stargan_v2_config import make_config
    from stargan_lib.data.base import ImageSet
    from stargan_lib.train.engine import Engine
    from stargan_lib.train.stargan_v2 import StarGANv2Task

    if case.get("threads"):
        torch.set_num_threads(case["threads"])
    cfg = make_config(case["letter"], case["preset"], case["dataset"], device=case["device"], **case["overrides"])
    rng = np.random.default_rng(0)
    k, n = cfg.num_domains, max(4 * cfg.num_domains, cfg.batch_size)
    images = rng.integers(0, 256, (n, cfg.image_size, cfg.image_size, 3), dtype=np.uint8)
    data = ImageSet("random", "train", images, np.arange(n) % k, [f"d{i}" for i in range(k)], "domain")
    engine = Engine(StarGANv2Task(cfg, data), progress=False)
    cuda = engine.task.device.type == "cuda"
    for _ in range(case["warmup"]):
        engine.iteration()
    rss_before = _rss_now_mb()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(case["iters"]):
        t = time.perf_counter()
        engine.iteration()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return {
        **case,
        "sec_per_iter": statistics.median(times),
        "times": times,
        "rss_before_iter_mb": rss_before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "device_name": torch.cuda.get_device_name() if cuda else "cpu",
        "torch_threads": torch.get_num_threads(),
    }


def spawn_case(case: dict, timeout: float | None) -> dict:
    """`run_case` in a fresh interpreter (its own peak RSS); errors are reported, not raised."""
    cmd = [sys.executable, os.path.abspath(__file__), "--_case", json.dumps(case)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**case, "error": f"timed out after {timeout} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {**case, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def _fmt(v, spec=".3f") -> str:
    return "-" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--_case", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch threads per case (0: torch default)")
    ap.add_argument("--configs", default="ABCDEF", help="configurations to time at the course preset")
    ap.add_argument("--dataset", default="afhq", choices=["afhq", "celeba_hq"],
                    help="domain count / λ_ds (the paper preset keeps w_hpf = 0: no face-alignment network)")
    ap.add_argument("--course-iters", type=int, default=5)
    ap.add_argument("--paper-batch", type=int, default=8)
    ap.add_argument("--paper-iters", type=int, default=1)
    ap.add_argument("--paper-warmup", type=int, default=0)
    ap.add_argument("--options", default="none,ckpt,bf16,ckpt+bf16",
                    help=f"memory options to compare at the paper preset, from {list(OPTIONS)}")
    ap.add_argument("--skip-course", action="store_true")
    ap.add_argument("--skip-paper", action="store_true")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per case")
    ap.add_argument("--json", help="also write the raw results to this file")
    args = ap.parse_args(argv)

    if args._case:
        print(json.dumps(run_case(json.loads(args._case))), flush=True)
        return 0

    results = []
    common = {"device": args.device, "threads": args.threads, "dataset": args.dataset}
    if not args.skip_course:
        print("| config | preset | sec/iter (median) | peak RSS MB | CUDA peak MB |")
        print("|---|---|---|---|---|")
        for letter in args.configs:
            r = spawn_case({**common, "letter": letter, "preset": "course", "overrides": {},
                            "warmup": 1, "iters": args.course_iters, "option": "none"}, args.timeout)
            results.append(r)
            print(f"| {letter} | course | {_fmt(r.get('sec_per_iter'))} | {_fmt(r.get('peak_rss_mb'), '.0f')} | "
                  f"{_fmt(r.get('cuda_peak_mb'), '.0f')} |" + (f" error: {r['error']}" if "error" in r else ""),
                  flush=True)
    if not args.skip_paper:
        print(f"\n| config | preset | batch | option | sec/iter (median) | RSS before iter MB | peak RSS MB | "
              "CUDA peak MB |")
        print("|---|---|---|---|---|---|---|---|")
        for opt in args.options.split(","):
            over = {"batch_size": args.paper_batch, "w_hpf": 0.0, **OPTIONS[opt]}
            r = spawn_case({**common, "letter": "F", "preset": "paper", "overrides": over,
                            "warmup": args.paper_warmup, "iters": args.paper_iters, "option": opt}, args.timeout)
            results.append(r)
            print(f"| F | paper | {args.paper_batch} | {opt} | {_fmt(r.get('sec_per_iter'), '.1f')} | "
                  f"{_fmt(r.get('rss_before_iter_mb'), '.0f')} | {_fmt(r.get('peak_rss_mb'), '.0f')} | "
                  f"{_fmt(r.get('cuda_peak_mb'), '.0f')} |" + (f" error: {r['error']}" if "error" in r else ""),
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
