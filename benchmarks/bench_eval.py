"""How long the StarGAN v2 evaluation takes: its components, measured, and what they add up to per
ablation configuration (`ablation.experiment.evaluate_configuration`) and per protocol run.

The evaluation's cost is almost all network passes: FID InceptionV3 (299 px, whatever the image size)
on every translated image (pairs x sources x outputs; at the course preset 6 x 30 x 10 = 1,800 per
configuration) and once on the real images (3 x 500, then cached on disk), and the diversity LPIPS
(AlexNet at 256 px, 10 outputs per source). The bootstrap standard errors (100 draws per pair of FID
and of the oracle Fréchet distance) and the direct distances are timed too.

Every time is the median of `--repeats` runs, as process CPU seconds (what the work costs on one
core; with `--threads 1` also about the wall time on a quiet machine) and wall seconds (which a busy
machine inflates). The Inception pass is timed twice, interleaved: `inception_features` (the
library's path) and pytorch-fid's network as built (`build_fid_inception`, batch norms unfolded, on
whole batches of `--batch`), the path the evaluation took before `fold_batch_norms` / `CPU_SUB_BATCH`.

The per-configuration lines are extrapolated from the components (not counting the generator and
the oracle, which are small); `--config F --sources 5` also measures `evaluate_configuration` of an
untrained configuration (the evaluation's cost does not depend on training) with 5 sources per domain
and the preset's other sizes, and extrapolates it to the preset's sources from the measured
per-image and per-source costs.

    .venv/bin/python benchmarks/bench_eval.py --threads 1
    .venv/bin/python benchmarks/bench_eval.py --threads 1 --config F --sources 5
    .venv/bin/python benchmarks/bench_eval.py --preset smoke --run
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
import warnings
from typing import Any, Callable

import numpy as np
import torch

from stargan_lib.metrics.bootstrap import DEFAULT_B, FrechetResampler, source_draws
from stargan_lib.metrics.fid_metric import (FEATURE_DIM, FIDSampleSizeWarning, build_fid_inception, fid_from_stats,
                                            inception_features, load_inception, statistics_from_features)
from stargan_lib.metrics.lpips_metric import diversity_lpips, load_lpips
from stargan_lib.metrics.oracle_metrics import oracle_frechet_distance
from stargan_lib.metrics.weights import fid_inception_state
from stargan_lib.presets import PRESETS, get_preset

ORACLE_DIM = 256          # the course oracle's hidden layer (`Oracle.embed`)


@dataclasses.dataclass
class Timing:
    cpu: float
    wall: float

    def __mul__(self, k: float) -> "Timing":
        return Timing(self.cpu * k, self.wall * k)

    def __add__(self, other: "Timing") -> "Timing":
        return Timing(self.cpu + other.cpu, self.wall + other.wall)

    def __str__(self) -> str:
        return f"{self.cpu:8.3f} s CPU {self.wall:8.3f} s wall"


ZERO = Timing(0.0, 0.0)


def _once(fn: Callable[[], Any]) -> Timing:
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return Timing(time.process_time() - c0, time.perf_counter() - t0)


def _median(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, Timing]:
    """Median CPU and wall seconds of each fn, the fns interleaved in every repeat."""
    runs: dict[str, list[Timing]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            runs[k].append(_once(fn))
    return {k: Timing(statistics.median(t.cpu for t in v), statistics.median(t.wall for t in v))
            for k, v in runs.items()}


def inception_per_image(size: int, batch: int, repeats: int, device: str) -> dict[str, Timing]:
    """Seconds per image of the library's `inception_features` and of pytorch-fid's unfolded network."""
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    net = load_inception(device)
    dev = next(net.parameters()).device
    ref = build_fid_inception(fid_inception_state()[0]).to(dev, memory_format=torch.channels_last)

    def reference() -> None:
        with torch.inference_mode():
            x01 = ((x.to(dev) * 127.5 + 127.5).round() / 255).contiguous(memory_format=torch.channels_last)
            ref(x01)

    fns = {"inception_features": lambda: inception_features(x, batch, device, progress=False),
           "pytorch-fid network, unfolded, whole batches": reference}
    for fn in fns.values():                          # warm-up (oneDNN picks its kernels on first use)
        fn()
    return {k: t * (1 / batch) for k, t in _median(fns, repeats).items()}


def lpips_per_source(size: int, n_outputs: int, lpips_size: int, repeats: int, device: str, sources: int = 4) -> Timing:
    outs = torch.rand(sources, n_outputs, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    fn = lambda: diversity_lpips(outs, device=device, per_source=True, size=lpips_size)  # noqa: E731
    fn()
    return _median({"lpips": fn}, repeats)["lpips"] * (1 / sources)


def distance_costs(n_fake: int, per_source: int, n_real: int, n_boot: int, repeats: int) -> dict[str, Timing]:
    """Per domain pair: the resamplers' set-up and `n_boot` bootstrap draws (FID, d = 2048, and the oracle
    Fréchet distance, d = 256), and the two direct distances, on random features of the evaluation's sizes."""
    rng = np.random.default_rng(0)
    out: dict[str, Timing] = {}
    for name, d in (("FID", FEATURE_DIM), ("oracle FD", ORACLE_DIM)):
        real = rng.normal(size=(n_real, d)) @ rng.normal(size=(d, d)) * 0.05
        fake = rng.normal(size=(n_fake, d)) @ rng.normal(size=(d, d)) * 0.05 + 0.1
        real_stats = statistics_from_features(real, warn=False)
        draws = source_draws({0: n_fake // per_source}, n_boot, seed=1)
        holder: dict[str, FrechetResampler] = {}

        def build() -> None:
            holder["r"] = FrechetResampler(fake, per_source, real_stats.mu, real_stats.sigma)

        def draw_all() -> None:
            [holder["r"].distance(dr[0]) for dr in draws]

        if d == FEATURE_DIM:
            direct = lambda: fid_from_stats(statistics_from_features(fake, warn=False), real_stats)  # noqa: E731
        else:
            direct = lambda: oracle_frechet_distance(fake, real)  # noqa: E731
        build(), draw_all(), direct()                                   # warm-up (imports, first calls)
        t = _median({"build": build, "draws": draw_all, "direct": direct}, repeats)
        out[f"{name} bootstrap set-up"] = t["build"]
        out[f"{name} bootstrap, {n_boot} draws"] = t["draws"]
        out[f"{name} direct distance"] = t["direct"]
    return out


def run_configuration(letter: str, preset: Any, sources: int, threads: int | None, device: str) -> tuple[Timing, dict]:
    """`evaluate_configuration` of an untrained configuration `letter`, `sources` sources per domain."""
    from stargan_lib.ablation.experiment import evaluate_configuration, prepare
    from stargan_lib.models.stargan_v2 import build_nets, ema_copy

    p = dataclasses.replace(preset, ablation=dataclasses.replace(preset.ablation, n_sources=sources))
    with tempfile.TemporaryDirectory() as out:
        exp = prepare(letter, p, "animals", 0, None, out, device=device, threads=threads)
        torch.manual_seed(0)
        ema = ema_copy(build_nets(exp.cfg))
        from stargan_lib.data.oracle import get_oracle
        get_oracle("animals", preset=p, image_size=exp.cfg.image_size, progress=False, device=device)  # cached
        holder: dict[str, Any] = {}
        t = _once(lambda: holder.setdefault("r", evaluate_configuration(exp, ema, progress=False)))
    return t, holder["r"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=50, help="Inception batch size (EvalConfig.fid_batch_size)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--domains", type=int, default=3, help="domains of the dataset (animals: 3)")
    parser.add_argument("--preset", default="course", help="the preset of the per-configuration estimate and runs")
    parser.add_argument("--config", default=None, help="also measure evaluate_configuration of this untrained "
                                                       "configuration (A-F) with --sources sources per domain")
    parser.add_argument("--sources", type=int, default=5, help="sources per domain of the --config run")
    parser.add_argument("--run", action="store_true", help="also time a protocol run at --preset (identity-like "
                                                           "generator, both modes, the preset's eval_sources)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from stargan_lib.ablation.settings import eval_sizes

    preset = get_preset(args.preset)
    ev = eval_sizes(preset)
    k, pairs = args.domains, args.domains * (args.domains - 1)
    n_real = ev["n_real"] or preset.train_size("animals") // k
    load_inception(args.device)
    load_lpips(args.device)
    print(f"# {torch.get_num_threads()} torch thread(s), device {args.device}; medians of {args.repeats}; "
          f"preset {preset.name}: {preset.image_size} px, {ev['n_sources']} sources x {ev['n_outputs']} outputs, "
          f"{pairs} pairs, {n_real} real images per domain, LPIPS at {ev['lpips_size']} px, bootstrap {DEFAULT_B}")

    inc = inception_per_image(preset.image_size, args.batch, args.repeats, args.device)
    t_inc = inc["inception_features"]
    for name, t in inc.items():
        print(f"Inception per image   {name:45s} {t.cpu * 1000:7.1f} ms CPU {t.wall * 1000:7.1f} ms wall")
    t_lp = lpips_per_source(preset.image_size, ev["n_outputs"], ev["lpips_size"], args.repeats, args.device)
    print(f"diversity LPIPS per source ({ev['n_outputs']} outputs)          {t_lp.cpu * 1000:18.1f} ms CPU "
          f"{t_lp.wall * 1000:7.1f} ms wall")
    per_pair_images = ev["n_sources"] * ev["n_outputs"]
    dist = distance_costs(per_pair_images, ev["n_outputs"], n_real, DEFAULT_B, args.repeats)
    for name, t in dist.items():
        print(f"per pair, {per_pair_images} outputs: {name:37s} {t}")

    # per configuration at the preset's ablation sizes (generator and oracle passes not included)
    fake = inc["inception_features"] * (pairs * per_pair_images)
    fake_before = inc["pytorch-fid network, unfolded, whole batches"] * (pairs * per_pair_images)
    lpips = t_lp * (pairs * ev["n_sources"])
    dists = sum(dist.values(), ZERO) * pairs
    real = t_inc * (k * n_real)
    print(f"\nper configuration at {preset.name} (extrapolated from the components above):")
    print(f"  Inception on {pairs * per_pair_images} outputs        {fake}   (unfolded network: {fake_before})")
    print(f"  diversity LPIPS, {pairs * ev['n_sources']} sources         {lpips}   (D-F only)")
    print(f"  bootstrap + direct distances  {dists}")
    print(f"  D-F (latent): {fake + lpips + dists}; A-C: {fake + dists}; the first configuration also computes "
          f"the real statistics ({k * n_real} images, then cached): + {real}")
    print("  protocol (`stargan eval`: both modes, eval_sources; Inception and LPIPS resize, so the costs above hold):")
    for name, p in PRESETS.items():
        n_fake = pairs * 2 * p.eval_sources * 10
        t_cfg = t_inc * n_fake + t_lp * (pairs * 2 * p.eval_sources)
        print(f"    {name:>6}: {p.eval_sources} sources/domain -> {n_fake} translated images: "
              f"~{t_cfg.cpu / 60:.1f} min CPU (+ the real statistics once)")

    if args.config:
        t, res = run_configuration(args.config, preset, args.sources, args.threads or None, args.device)
        mode = next(iter(res["modes"]))
        per_source = t_inc * (pairs * ev["n_outputs"]) + (t_lp * pairs if mode != "deterministic" else ZERO)
        est = t + per_source * (ev["n_sources"] - args.sources)
        print(f"\nmeasured: evaluate_configuration({args.config}, untrained) at {args.sources} sources per domain "
              f"({mode}; real statistics cached unless this is the first run): {t}")
        print(f"extrapolated to {ev['n_sources']} sources: {est} (+ {per_source.cpu:.2f} s CPU per source per domain)")
        m = res["modes"][mode]
        print(f"  {mode}: FID {m['fid']:.4f} ± {m.get('fid_se')}, LPIPS {m.get('lpips')}, oracle FD "
              f"{m.get('oracle_fd')} ± {m.get('oracle_fd_se')}")

    if args.run:
        from stargan_lib.data.synthetic import make_dataset
        from stargan_lib.metrics.protocol import EvalConfig, evaluate_protocol

        train = make_dataset("animals", "train", preset=preset)
        test = make_dataset("animals", "test", preset=preset)

        def latent_fn(x, y, z):
            return (x + 0.3 * torch.tanh(z[:, :3])[:, :, None, None]).clamp(-1, 1)

        def reference_fn(x, y, x_ref):
            return 0.5 * (x + x_ref)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FIDSampleSizeWarning)
            runs = [_once(lambda: evaluate_protocol(train, test, latent_fn=latent_fn, reference_fn=reference_fn,
                                                    preset=preset, cfg=EvalConfig(device=args.device),
                                                    dataset="animals-bench", progress=True)) for _ in range(2)]
        print(f"measured at {preset.name}: first run {runs[0]} (real statistics included), second run "
              f"{runs[1]} (cached statistics)")


if __name__ == "__main__":
    main()
