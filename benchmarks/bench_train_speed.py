"""Training speed of every course model: images per second of one training step (a benchmark, not a test).

What it measures
----------------
- Course preset (default): CycleGAN, StarGAN v1 (single dataset, and joint faces + expressions with
  the mask vector) and StarGAN v2 configurations A-F, each at 1 and 2 torch threads, on the course's
  synthetic training data. One "image" is one source image of the batch: `batch_size` per iteration
  for every model (CycleGAN: the batch of domain A; its B batch is the same work again).
  Each case trains `--iters` iterations `--repeats` times in a fresh run; a repeat's figure is the
  library's own seconds per iteration of its training loop (set-up and data rendering excluded).
  The table gives the median over repeats, and with `--compare` the ratio to a committed baseline.
- One StarGAN v2 iteration at another preset (`--model stargan_v2 --config F --preset paper ...`):
  the median wall time of `--iters` single iterations (after one warm-up), each covering both D passes
  (latent and reference guides), both G passes and the EMA update, on random images. With `--json` it
  prints one JSON object whose `median_s` is that figure.

The official loop body, for comparison (`--official`)
-----------------------------------------------------
The released StarGAN v2 solver's training iteration does, in this order: a D step on the latent guide
(D on the real batch with R1 on it, then D on G(x, F(z1)) computed without gradients), a D step on the
reference guide (the same with E(x_ref)); a G step on the latent guide (G(x, s1), D on it, the style
reconstruction through E, a second output G(x, F(z2)) that is detached, and the cycle through E(x)),
after which G, F and E are stepped; a G step on the reference guide (the same with E(x_ref), E(x_ref2)),
after which only G is stepped; finally the EMA update of G, F and E. `--official` times that sequence of
network calls written directly against our networks (`official_step` below), so that the ratio
ours / official measures what our engine adds (bookkeeping, logging, checks) on the same work. Its
figure is the "official" median; the issue's 1.17 was measured against the released code itself.

    .venv/bin/python benchmarks/bench_train_speed.py                     # course table, 1 and 2 threads
    .venv/bin/python benchmarks/bench_train_speed.py --compare benchmarks/baseline_train_speed.json
    .venv/bin/python benchmarks/bench_train_speed.py --save benchmarks/baseline_train_speed.json
    .venv/bin/python benchmarks/bench_train_speed.py --model stargan_v2 --config F --preset paper \\
        --image-size 32 --batch-size 2 --threads 1 --iters 10 --json [--official]
    .venv/bin/python benchmarks/bench_train_speed.py --gflops      # achieved GFLOP/s beside this core's peaks

GFLOP/s (`--gflops`): the FLOPs of one training iteration are counted by torch's FlopCounterMode
(convolutions and matrix products, forward, backward and the gradient penalty's double backward) and
divided by the measured seconds per iteration; beside them, this machine's measured GFLOP/s on a
1024x1024 matmul and on a 64-channel 3x3 convolution (forward + backward), at the same thread count.

The machine is shared: run it on a quiet machine, and read ratios, not single times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

COURSE_CASES = ["cyclegan", "stargan_v1", "stargan_v1_joint"] + [f"stargan_v2_{c}" for c in "ABCDEF"]


# ----------------------------------------------------------------------------------- course cases
def _v1_like(case: str, preset: str, iters: int):
    """(train function, config, batch size) for CycleGAN / StarGAN v1 at `preset`, `iters` iterations."""
    overrides = {"total_iters": iters, "decay_iters": iters // 2, "sample_every": 0,
                 "ckpt_every": 10 ** 9, "device": "cpu"}
    if case == "cyclegan":
        from stargan_lib.models.cyclegan import config_for
        from stargan_lib.train.cyclegan import train
        cfg = config_for(preset, **overrides)
    else:
        from stargan_lib.models.stargan_v1 import config_for
        from stargan_lib.train.stargan_v1 import train
        if case == "stargan_v1_joint":
            overrides["datasets"] = ("faces", "expressions")
        cfg = config_for(preset, **overrides)
    return train, cfg, cfg.batch_size


def time_course_case(case: str, preset: str, iters: int) -> float:
    """Seconds per iteration of one fresh run of `case` (the trainer's own loop timing)."""
    if case.startswith("stargan_v2_"):
        from stargan_lib.models.stargan_v2_config import make_config
        from stargan_lib.train.engine import Engine
        from stargan_lib.train.stargan_v2 import StarGANv2Task, load_training_data
        cfg = make_config(case[-1], preset, device="cpu")
        engine = Engine(StarGANv2Task(cfg, load_training_data(cfg, preset)), progress=False)
        engine.iteration()                                    # warm-up
        times = []
        for _ in range(iters):
            t = time.perf_counter()
            engine.iteration()
            times.append(time.perf_counter() - t)
        return statistics.median(times)
    train, cfg, _ = _v1_like(case, preset, iters)
    with tempfile.TemporaryDirectory() as tmp:
        return float(train(cfg, Path(tmp) / "run", preset=preset, progress=False).seconds_per_iter)


def batch_size_of(case: str, preset: str) -> int:
    if case.startswith("stargan_v2_"):
        from stargan_lib.models.stargan_v2_config import make_config
        return make_config(case[-1], preset).batch_size
    return _v1_like(case, preset, 2)[2]


def course_table(args: argparse.Namespace) -> dict:
    cases = args.cases or COURSE_CASES
    results: dict = {"preset": args.preset, "iters": args.iters, "repeats": args.repeats, "cases": {}}
    for case in cases:
        bs = batch_size_of(case, args.preset)
        iters = args.iters if not case.startswith("stargan_v2") else max(2, args.iters // 2)
        for threads in args.thread_list:
            torch.set_num_threads(threads)
            times = [time_course_case(case, args.preset, iters) for _ in range(args.repeats)]
            med = statistics.median(times)
            results["cases"][f"{case}@{threads}"] = {"case": case, "threads": threads, "batch_size": bs,
                                                     "s_per_iter": times, "median_s": med,
                                                     "images_per_s": bs / med}
            print(f"{case:18} threads {threads}  {med * 1000:8.1f} ms/it  {bs / med:8.1f} img/s", flush=True)
    return results


def compare(results: dict, baseline: dict) -> None:
    """Print images/s now vs the baseline, and the issue's goal: now at 2 threads >= 2.5 x baseline at 1."""
    print(f"\n{'case':18} {'threads':>7} {'base img/s':>10} {'now img/s':>10} {'ratio':>6}")
    for key, now in results["cases"].items():
        base = baseline["cases"].get(key)
        if base:
            print(f"{now['case']:18} {now['threads']:7d} {base['images_per_s']:10.1f} {now['images_per_s']:10.1f} "
                  f"{now['images_per_s'] / base['images_per_s']:6.2f}")
    print("\nGoal: each model's images/s at 2 threads now >= 2.5 x its baseline at 1 thread")
    for case in dict.fromkeys(v["case"] for v in results["cases"].values()):
        now2, base1 = results["cases"].get(f"{case}@2"), baseline["cases"].get(f"{case}@1")
        if now2 and base1:
            r = now2["images_per_s"] / base1["images_per_s"]
            print(f"{case:18} {r:5.2f} x  {'met' if r >= 2.5 else 'NOT met'}")


# ----------------------------------------------------------------------------------- one v2 iteration
def official_step(nets, ema, optims, cfg, batch, step: int) -> None:
    """The released solver's iteration body, as described in the module docstring, on our networks.

    Written from the description of what the official loop computes (not from its code): for each of the
    latent and reference guides a D step with R1, then for each guide a G step with a detached second
    output for the diversity term; G, F and E stepped after the latent pass, G alone after the reference
    pass; then the EMA update.
    """
    from stargan_lib.models.stargan_v2_config import lambda_ds
    from stargan_lib.models.stargan_v2 import update_ema

    G, D, Fm, E = nets["generator"], nets["discriminator"], nets["mapping_network"], nets["style_encoder"]
    x, y, y_trg = batch["x"], batch["y"], batch["y_trg"]

    def style(guide: str, second: bool = False) -> torch.Tensor:
        if guide == "latent":
            return Fm(batch["z2" if second else "z1"], y_trg)
        return E(batch["x_ref2" if second else "x_ref"], y_trg)

    def zero() -> None:
        for o in optims.values():
            o.zero_grad(set_to_none=True)

    for guide in ("latent", "reference"):
        xr = x.detach().requires_grad_(True)
        out = D(xr, y)[0]
        loss_real = torch.nn.functional.softplus(-out).mean()
        grad = torch.autograd.grad(out.sum(), xr, create_graph=True)[0]
        r1 = 0.5 * grad.pow(2).reshape(len(x), -1).sum(1).mean()
        with torch.no_grad():
            fake = G(x, style(guide))
        loss_fake = torch.nn.functional.softplus(D(fake, y_trg)[0]).mean()
        zero()
        (loss_real + loss_fake + cfg.r1_gamma * r1).backward()
        optims["discriminator"].step()
    for guide in ("latent", "reference"):
        s1 = style(guide)
        fake = G(x, s1)
        adv = torch.nn.functional.softplus(-D(fake, y_trg)[0]).mean()
        sty = (E(fake, y_trg) - s1).abs().mean()
        with torch.no_grad():
            fake2 = G(x, style(guide, second=True))
        ds = (fake - fake2).abs().mean()
        rec = G(fake, E(x, y))
        cyc = (rec - x).abs().mean()
        loss = adv + cfg.lambda_sty * sty - lambda_ds(cfg, step) * ds + cfg.lambda_cyc * cyc
        zero()
        loss.backward()
        names = ["generator", "mapping_network", "style_encoder"] if guide == "latent" else ["generator"]
        for n in names:
            optims[n].step()
    update_ema(ema, nets, cfg.ema_beta)


def one_iteration(args: argparse.Namespace) -> dict:
    """Median wall time of one StarGAN v2 iteration (ours, and the official body with --official)."""
    from stargan_lib.models.stargan_v2_config import make_config
    from stargan_lib.data.base import ImageSet
    from stargan_lib.train.engine import Engine
    from stargan_lib.train.stargan_v2 import StarGANv2Task

    torch.set_num_threads(args.threads)
    over = {"device": "cpu"}
    if args.image_size:
        over["image_size"] = args.image_size
    if args.batch_size:
        over["batch_size"] = args.batch_size
    for item in args.set or []:
        key, _, value = item.partition("=")
        over[key] = json.loads(value)
    cfg = make_config(args.config, args.preset, **over)
    if cfg.w_hpf:
        cfg = make_config(args.config, args.preset, **over, w_hpf=0.0)
    g = torch.Generator().manual_seed(0)
    n = 8 * cfg.num_domains
    imgs = torch.randint(0, 256, (n, cfg.image_size, cfg.image_size, 3), generator=g, dtype=torch.uint8).numpy()
    labels = (torch.arange(n) % cfg.num_domains).numpy()
    data = ImageSet("random", "train", imgs, labels, [f"d{k}" for k in range(cfg.num_domains)], "domain")
    trainer = StarGANv2Task(cfg, data)
    engine = Engine(trainer, progress=False)

    def timed(step_fn) -> float:
        t0 = time.perf_counter()
        step_fn()
        return time.perf_counter() - t0

    out = {"model": "stargan_v2", "config": cfg.config, "preset": args.preset, "image_size": cfg.image_size,
           "batch_size": cfg.batch_size, "threads": torch.get_num_threads(), "iters": args.iters,
           "ds_both_outputs": getattr(cfg, "ds_both_outputs", None), "overrides": args.set or []}
    variants = [("ours", engine.iteration)]
    if args.official:
        official_steps = [0]

        def official() -> None:
            batch = trainer.batch()
            official_step(trainer.nets, trainer.ema, trainer.optims, cfg, batch, official_steps[0])
            official_steps[0] += 1
        variants.append(("official", official))
    # One warm-up each, then the variants alternate iteration by iteration, so that both see the same
    # machine load (a busy neighbour or a slower minute lands on both, not on one).
    for _, fn in variants:
        fn()
    per: dict[str, list[float]] = {name: [] for name, _ in variants}
    for _ in range(args.iters * max(1, args.repeats)):
        for name, fn in variants:
            per[name].append(timed(fn))
    out["times_s"] = per["ours"]
    out["median_s"] = statistics.median(per["ours"])
    if args.official:
        out["official_times_s"] = per["official"]
        out["official_median_s"] = statistics.median(per["official"])
        out["ratio_to_official"] = out["median_s"] / out["official_median_s"]
        # each iteration of ours against the official iteration timed right after it: robust to drift
        out["paired_ratio_median"] = statistics.median(a / b for a, b in zip(per["ours"], per["official"]))
    return out


# ----------------------------------------------------------------------------------- GFLOP/s
def train_case(case: str, preset: str, iters: int, out: Path) -> object:
    """Train `case` for `iters` iterations into `out` through the library's training call (the engine's
    loop); returns its TrainResult."""
    if case.startswith("stargan_v2_"):
        from stargan_lib.models.stargan_v2_config import make_config
        from stargan_lib.train.stargan_v2 import train
        cfg = make_config(case[-1], preset, device="cpu", total_iters=iters, sample_every=0, ckpt_every=10 ** 9)
        return train(cfg, out, preset=preset, progress=False)
    train, cfg, _ = _v1_like(case, preset, iters)
    return train(cfg, out, preset=preset, progress=False)


def flops_per_iteration(case: str, preset: str) -> float:
    """FLOPs of one training iteration, counted by torch's FlopCounterMode (convolutions and matrix
    products, forward, backward and the gradient penalty's double backward): the count of a 3-iteration
    run minus that of a 1-iteration run, halved, so that set-up and end-of-run work cancel."""
    from torch.utils.flop_counter import FlopCounterMode

    class _NoModules:
        """FlopCounterMode's per-module tracker hooks the backward pass, which autograd.grad (the gradient
        penalties) refuses; only the global total is needed here."""
        parents = {"Global"}

        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    counts = []
    for iters in (1, 3):
        fc = FlopCounterMode(display=False)
        fc.mod_tracker = _NoModules()
        with tempfile.TemporaryDirectory() as tmp, fc:
            train_case(case, preset, iters, Path(tmp) / "run")
        counts.append(fc.get_total_flops())
    return (counts[1] - counts[0]) / 2


def _median_time(fn, repeats: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine_peaks(threads: int) -> dict[str, float]:
    """GFLOP/s of this machine at `threads` threads on a 1024x1024 float32 matmul and on a 64-channel 3x3
    convolution of a batch of 8 32x32 maps, forward and backward (the course networks' typical layer)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    mm = 2 * 1024 ** 3 / _median_time(lambda: a @ b)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    x = torch.randn(8, 64, 32, 32, requires_grad=True)
    fwd = 2 * 8 * 64 * 64 * 9 * 32 * 32                 # multiply-adds x 2

    def step() -> None:
        conv(x).sum().backward()
    conv_gflops = 3 * fwd / _median_time(step)          # backward: input and weight gradients, 2x forward
    return {"matmul_1024": mm / 1e9, "conv64_fwd_bwd": conv_gflops / 1e9}


def gflops_table(args: argparse.Namespace) -> dict:
    """Achieved GFLOP/s per model (FLOPs of an iteration / its measured time) beside the machine's peaks."""
    cases = args.cases or ["cyclegan", "stargan_v1", "stargan_v2_A", "stargan_v2_F"]
    out: dict = {"preset": args.preset, "peaks": {}, "cases": {}}
    threads = args.thread_list
    for t in threads:
        out["peaks"][t] = machine_peaks(t)
    print(f"{'':22}" + "".join(f"{f'{t} thread(s)':>24}" for t in threads))
    for name in ("matmul_1024", "conv64_fwd_bwd"):
        print(f"peak {name:17}" + "".join(f"{out['peaks'][t][name]:20.1f} GF/s" for t in threads))
    for case in cases:
        torch.set_num_threads(1)
        gflop = flops_per_iteration(case, args.preset) / 1e9
        row = {"gflop_per_iter": gflop, "threads": {}}
        iters = args.iters if not case.startswith("stargan_v2") else max(2, args.iters // 2)
        for t in threads:
            torch.set_num_threads(t)
            s = statistics.median(time_course_case(case, args.preset, iters) for _ in range(args.repeats))
            row["threads"][t] = {"s_per_iter": s, "gflops": gflop / s,
                                 "of_conv_peak": gflop / s / out["peaks"][t]["conv64_fwd_bwd"]}
        out["cases"][case] = row
        print(f"{case:18} {gflop:6.2f} GFLOP/it" + "".join(
            f"{row['threads'][t]['gflops']:9.1f} GF/s ({100 * row['threads'][t]['of_conv_peak']:3.0f} % of conv)"
            for t in threads), flush=True)
    return out


# ----------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="course", choices=["smoke", "course", "paper"])
    ap.add_argument("--model", choices=["stargan_v2"], help="time one StarGAN v2 iteration instead of the table")
    ap.add_argument("--config", default="F", help="StarGAN v2 configuration A-F (with --model)")
    ap.add_argument("--image-size", type=int, default=0, help="override the image size (with --model)")
    ap.add_argument("--batch-size", type=int, default=0, help="override the batch size (with --model)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads (with --model; default 1). For the table: only this count (default 1 and 2)")
    ap.add_argument("--iters", type=int, default=20, help="iterations per repeat (StarGAN v2 cases: half)")
    ap.add_argument("--repeats", type=int, default=3, help="fresh runs per case; the median is reported")
    ap.add_argument("--cases", nargs="*", choices=COURSE_CASES, help="course cases to run (default: all)")
    ap.add_argument("--set", action="append", metavar="FIELD=JSON",
                    help="with --model: a StarGANv2Config override, e.g. --set ds_both_outputs=true")
    ap.add_argument("--official", action="store_true", help="with --model: also time the official loop body")
    ap.add_argument("--gflops", action="store_true",
                    help="achieved GFLOP/s per model (FLOPs counted by torch) beside this machine's matmul and "
                         "convolution peaks")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--save", type=Path, help="write the course table as JSON here (e.g. the baseline)")
    ap.add_argument("--compare", type=Path, help="a saved course table to compare with")
    args = ap.parse_args(argv)
    for name in ("iters", "repeats"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.model:
        args.threads = args.threads or 1
        if args.repeats == 3 and args.iters:
            args.repeats = 1
        res = one_iteration(args)
        print(json.dumps(res) if args.json else
              f"StarGAN v2 {res['config']} at {res['preset']}, {res['image_size']} px, batch {res['batch_size']}, "
              f"{res['threads']} thread(s): median {res['median_s']:.3f} s/iteration"
              + (f"; official body {res['official_median_s']:.3f} s, ratio {res['ratio_to_official']:.3f} "
                 f"(median of paired ratios {res['paired_ratio_median']:.3f})"
                 if args.official else ""))
        return 0
    args.thread_list = [args.threads] if args.threads else [1, 2]
    if args.gflops:
        res = gflops_table(args)
        if args.save:
            args.save.write_text(json.dumps(res, indent=1) + "\n")
        if args.json:
            print(json.dumps(res))
        return 0
    res = course_table(args)
    res["load_avg_after"] = os.getloadavg()[0]
    res["torch"] = torch.__version__
    if args.save:
        args.save.write_text(json.dumps(res, indent=1) + "\n")
        print(f"wrote {args.save}")
    if args.compare:
        compare(res, json.loads(args.compare.read_text()))
    if args.json:
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
