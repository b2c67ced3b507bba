"""How long the StarGAN v2 evaluation protocol takes at each preset, from measured per-image costs.

The protocol's cost is almost all FID InceptionV3 passes (299 px, whatever the image size): the
real training images of every domain once (then cached), and per configuration
pairs x modes x sources x 10 translated images. This script measures the Inception time per
image and the diversity-LPIPS time per source at the preset's image size on this machine, and
multiplies by the counts of each preset (animals: 3 domains, 6 pairs, latent + reference).
`--run` also times a real protocol run at the chosen preset with an identity-like generator (the
generator's own cost is not part of the estimate).

    .venv/bin/python benchmarks/bench_eval.py --threads 2
    .venv/bin/python benchmarks/bench_eval.py --preset smoke --run
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from stargan_lib.metrics.fid_metric import FIDSampleSizeWarning, inception_features, load_inception
from stargan_lib.metrics.lpips_metric import diversity_lpips, load_lpips
from stargan_lib.presets import PRESETS, get_preset


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=50, help="Inception batch size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--domains", type=int, default=3, help="domains of the dataset (animals: 3)")
    parser.add_argument("--preset", default=None, help="with --run: the preset to run (default: course)")
    parser.add_argument("--run", action="store_true", help="also time a real protocol run at --preset")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_inception(args.device)
    load_lpips(args.device)
    x = torch.rand(args.batch, 3, 32, 32) * 2 - 1
    inception_features(x[:2], device=args.device, progress=False)
    t_inc = _median(lambda: inception_features(x, args.batch, args.device, progress=False), args.repeats) / args.batch
    print(f"# {torch.get_num_threads()} CPU threads, device {args.device}: Inception {t_inc * 1000:.0f} ms / image "
          f"(batch {args.batch}, median of {args.repeats})")
    k, pairs = args.domains, args.domains * (args.domains - 1)
    for name, p in PRESETS.items():
        outs = torch.rand(4, 10, 3, p.image_size, p.image_size) * 2 - 1
        t_lp = _median(lambda: diversity_lpips(outs, device=args.device), args.repeats) / 4
        n_fake = pairs * 2 * p.eval_sources * 10
        n_real = p.n_train if name != "paper" else 14_630          # AFHQ train set for the paper preset
        t_real = n_real * t_inc
        t_cfg = n_fake * t_inc + pairs * 2 * p.eval_sources * t_lp
        print(f"{name:>6}: {p.image_size:3d} px, {p.eval_sources} sources/domain -> {n_fake} translated images per "
              f"configuration: ~{t_cfg / 60:.1f} min (+ real statistics of {n_real} images once: "
              f"~{t_real / 60:.1f} min, then cached); LPIPS {t_lp * 1000:.0f} ms / source")
    if args.run:
        from stargan_lib.data.synthetic import make_dataset
        from stargan_lib.metrics.protocol import EvalConfig, evaluate_protocol

        preset = get_preset(args.preset)
        train = make_dataset("animals", "train", preset=preset)
        test = make_dataset("animals", "test", preset=preset)

        def latent_fn(x, y, z):
            return (x + 0.3 * torch.tanh(z[:, :3])[:, :, None, None]).clamp(-1, 1)

        def reference_fn(x, y, x_ref):
            return 0.5 * (x + x_ref)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FIDSampleSizeWarning)
            t0 = time.perf_counter()
            res = evaluate_protocol(train, test, latent_fn=latent_fn, reference_fn=reference_fn, preset=preset,
                                    cfg=EvalConfig(device=args.device), dataset="animals-bench", progress=True)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            evaluate_protocol(train, test, latent_fn=latent_fn, reference_fn=reference_fn, preset=preset,
                              cfg=EvalConfig(device=args.device), dataset="animals-bench", progress=True)
            second = time.perf_counter() - t0
        print(f"measured at {preset.name}: first run {first / 60:.1f} min (real statistics included), second run "
              f"{second / 60:.1f} min (cached statistics); latent FID {res['modes']['latent']['fid']:.1f}")


if __name__ == "__main__":
    main()
