"""How to share the CPU's cores: images/s of each course model under each thread option, on a quiet
machine and beside a busy process (a benchmark, not a test).

Options (each in a fresh process, so that OpenMP's settings take effect before torch starts):
- `1 thread`, `2 threads`: a fixed torch thread count (`--threads 1`, `--threads 2`);
- `2 threads passive`: two threads with `OMP_WAIT_POLICY=PASSIVE` (idle OpenMP threads sleep at once
  instead of spinning);
- `policy`: no explicit count, so the course's thread policy decides (`stargan_lib.threads`: the
  thread count follows the cores other processes leave free);
- `2 processes`: the engine's data parallelism (DDP on gloo), two processes with one thread each and
  the same global batch (`stargan train --procs 2`; StarGAN v2 only: its task is the one that shards batches);
- `2 runs side by side`: two independent one-thread trainings at once, their combined images/s (how the
  ablation and `stargan course-runs` use two cores).

Conditions: `quiet` (nothing else runs; check `uptime` first) and `busy` (one other process keeps a
core busy the whole time: a one-thread 64-channel convolution forward/backward loop, the kind of
work a second notebook or an ablation job does).

Each case trains `--iters` iterations of the course preset through the library's training call (the
engine's loop, so the policy's once-per-iteration `tick` runs) `--repeats` times; a repeat's figure
is the engine's own seconds per iteration, the table gives the median as images/s (the batch's
source images per second).

    .venv/bin/python benchmarks/bench_threads.py                       # all models, options, conditions
    .venv/bin/python benchmarks/bench_threads.py --models stargan_v1 --conditions busy --json

The machine is shared: read ratios within one run of this script, not single times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS = ("cyclegan", "stargan_v1", "stargan_v2_F")
OPTIONS = ("1 thread", "2 threads", "2 threads passive", "policy", "2 processes", "2 runs side by side")
ITERS = {"cyclegan": 40, "stargan_v1": 40, "stargan_v2_F": 12}

BUSY_LOOP = """
import os, torch
torch.set_num_threads(1)
parent = os.getppid()
conv = torch.nn.Conv2d(64, 64, 3, padding=1)
x = torch.randn(8, 64, 32, 32)
while os.getppid() == parent:          # ends with the benchmark, even when it is killed
    conv(x).square().mean().backward()
"""


# ----------------------------------------------------------------------------------- one case, in a worker
def _config(model: str, iters: int):
    over = {"total_iters": iters, "sample_every": 0, "ckpt_every": 10 ** 9, "device": "cpu"}
    if model == "cyclegan":
        from stargan_lib.models.cyclegan import config_for
        return config_for("course", **over, decay_iters=iters // 2)
    if model == "stargan_v1":
        from stargan_lib.models.stargan_v1 import config_for
        return config_for("course", **over, decay_iters=iters // 2)
    from stargan_lib.models.stargan_v2_config import make_config
    return make_config(model[-1], "course", **over)


def _train(model: str, cfg, out: Path):
    """Train `cfg` into `out` through the model's one training call (under a process group launched by
    `spawn_local`, StarGAN v2's joins it); returns the engine's TrainResult."""
    from stargan_lib.train.registry import MODELS

    return MODELS[model.rsplit("_", 1)[0] if model.startswith("stargan_v2") else model].train(
        cfg, out, preset="course", progress=False)


def worker(model: str, option: str, iters: int) -> dict:
    """Run one case in this process; returns seconds per iteration and the threads used at the end."""
    sys.path.insert(0, str(REPO))
    import torch

    from stargan_lib import threads

    threads.use_threads({"1 thread": 1, "2 threads": 2, "2 threads passive": 2}.get(option))
    cfg = _config(model, iters)
    with tempfile.TemporaryDirectory() as tmp:
        res = _train(model, cfg, Path(tmp) / "run")
    follower = threads._FOLLOWER
    return {"s_per_iter": res.seconds_per_iter, "batch": cfg.batch_size, "threads_end": torch.get_num_threads(),
            "changes": follower.changes if follower else 0}


def _ddp_worker(model: str, iters: int, out: str) -> None:
    """One of `spawn_local`'s processes (one thread each, RANK/WORLD_SIZE set): train, rank 0 writes the
    seconds per iteration."""
    import torch.distributed as dist

    cfg = _config(model, iters)
    with tempfile.TemporaryDirectory() as tmp:
        res = _train(model, cfg, Path(tmp) / "run")
    if os.environ.get("RANK") == "0":
        Path(out).write_text(json.dumps({"s_per_iter": res.seconds_per_iter, "batch": cfg.batch_size,
                                         "threads_end": 1, "changes": 0}))
    if dist.is_initialized():
        dist.barrier()


def ddp_case(model: str, iters: int) -> dict:
    """The engine's data parallelism: `stargan train --procs 2` (`train.distributed.spawn_local`)."""
    from stargan_lib.train.distributed import spawn_local

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ddp.json")
        spawn_local(_ddp_worker, (model, iters, out), procs=2, threads=1)
        return json.loads(Path(out).read_text())


# ----------------------------------------------------------------------------------- the parent
def run_case(model: str, option: str, iters: int) -> dict | None:
    """One case in a fresh Python process (its OpenMP settings start clean)."""
    if option == "2 processes" and not model.startswith("stargan_v2"):
        return None
    if option == "2 runs side by side":
        return side_by_side_case(model, iters)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "STARGAN_THREADS", "MKL_NUM_THREADS"):
        env.pop(k, None)
    if option == "2 threads passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    fn = "ddp_case" if option == "2 processes" else "worker"
    args = f"{model!r}, {iters}" if option == "2 processes" else f"{model!r}, {option!r}, {iters}"
    code = (f"import json, sys; sys.path.insert(0, {str(REPO / 'benchmarks')!r}); import bench_threads as b; "
            f"print('RESULT', json.dumps(b.{fn}({args})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(REPO))
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{model} / {option} failed:\n{out.stderr[-3000:]}")


def side_by_side_case(model: str, iters: int) -> dict:
    """Two independent one-thread trainings at once (how the ablation and `stargan course-runs` use the
    cores): the figure is their combined throughput, reported as the seconds per iteration that give it."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: run_case(model, "1 thread", iters), range(2)))
    rate = sum(1 / r["s_per_iter"] for r in runs)          # iterations per second of the two together
    return {"s_per_iter": 1 / rate, "batch": runs[0]["batch"], "threads_end": 1, "changes": 0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    ap.add_argument("--options", nargs="*", default=list(OPTIONS), choices=OPTIONS)
    ap.add_argument("--conditions", nargs="*", default=["quiet", "busy"], choices=["quiet", "busy"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iters-scale", type=float, default=1.0, help="scale the iterations per case")
    ap.add_argument("--json", type=Path, help="write the results here as JSON")
    args = ap.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f} (quiet figures need a quiet machine)", flush=True)
    results = []
    for condition in args.conditions:
        busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if condition == "busy" else None
        try:
            if busy:
                time.sleep(2.0)
            for model in args.models:
                iters = max(4, int(ITERS[model] * args.iters_scale))
                # the options alternate repeat by repeat, so that a slower minute lands on all of them
                runs = {o: [] for o in args.options}
                for _ in range(args.repeats):
                    for option in args.options:
                        runs[option].append(run_case(model, option, iters))
                for option in args.options:
                    reps = runs[option]
                    if reps[0] is None:
                        continue
                    s = statistics.median(r["s_per_iter"] for r in reps)
                    row = {"condition": condition, "model": model, "option": option, "iters": iters,
                           "s_per_iter": [r["s_per_iter"] for r in reps], "median_s": s,
                           "images_per_s": reps[0]["batch"] / s, "threads_end": [r["threads_end"] for r in reps],
                           "changes": [r["changes"] for r in reps]}
                    results.append(row)
                    print(f"{condition:5} {model:13} {option:18} {row['images_per_s']:7.1f} img/s "
                          f"({s * 1000:6.0f} ms/it, threads at the end {row['threads_end']})", flush=True)
        finally:
            if busy:
                busy.kill()
                busy.wait()
    print("\nimages/s relative to one thread, same model and condition:")
    for condition in args.conditions:
        for model in args.models:
            base = next((r for r in results if r["condition"] == condition and r["model"] == model
                         and r["option"] == "1 thread"), None)
            if not base:
                continue
            cells = [f"{r['option']} {r['images_per_s'] / base['images_per_s']:.2f}x" for r in results
                     if r["condition"] == condition and r["model"] == model]
            print(f"{condition:5} {model:13} " + " | ".join(cells))
    if args.json:
        args.json.write_text(json.dumps({"load_avg_after": os.getloadavg()[0], "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
