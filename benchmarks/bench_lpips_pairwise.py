"""Diversity LPIPS: AlexNet once per image + pairwise distances from features, vs the network per pair.

The StarGAN v2 paper's diversity score (Appendix C) averages LPIPS over the 45 pairs of 10 outputs
per source. `diversity_lpips` runs AlexNet 10 times per source and takes the 45 distances from
the features; `naive_diversity_lpips` calls the LPIPS network on each pair, as the official code
does (90 AlexNet passes per source). Same images, same value (checked to 1e-5), speed ratio from
medians over repeats.

    .venv/bin/python benchmarks/bench_lpips_pairwise.py                 # 8 sources x 10 outputs, 32/64/256 px
    .venv/bin/python benchmarks/bench_lpips_pairwise.py --sizes 256 --sources 4 --repeats 5 --device cuda
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from stargan_lib.metrics.lpips_metric import diversity_lpips, load_lpips, naive_diversity_lpips


def _median_time(fn, repeats: int) -> tuple[float, float]:
    times, value = [], None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        value = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=8, help="source images (each with --outputs outputs)")
    parser.add_argument("--outputs", type=int, default=10, help="outputs per source (paper: 10 -> 45 pairs)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 256], help="image sizes in px")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per method (median reported)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object per size")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    load_lpips(args.device)                                          # build once, outside the timings
    gen = torch.Generator().manual_seed(0)
    print(f"# {args.sources} sources x {args.outputs} outputs, {args.repeats} repeats, "
          f"{torch.get_num_threads()} CPU threads, device {args.device}")
    for size in args.sizes:
        base = torch.rand(args.sources, 1, 3, size, size, generator=gen) * 2 - 1
        outputs = (base + 0.3 * torch.randn(args.sources, args.outputs, 3, size, size, generator=gen)).clamp(-1, 1)
        diversity_lpips(outputs[:1], device=args.device)             # warm-up
        naive_diversity_lpips(outputs[:1], device=args.device)
        t_fast, v_fast = _median_time(lambda: diversity_lpips(outputs, device=args.device), args.repeats)
        t_naive, v_naive = _median_time(lambda: naive_diversity_lpips(outputs, device=args.device), args.repeats)
        diff = abs(v_fast - v_naive)
        row = {"size": size, "lpips_pairwise": v_fast, "lpips_per_pair": v_naive, "abs_diff": diff,
               "same_to_1e-5": diff < 1e-5, "median_s_pairwise": t_fast, "median_s_per_pair": t_naive,
               "speed_ratio": t_naive / t_fast}
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{size:4d} px  LPIPS {v_fast:.6f} vs {v_naive:.6f} (|diff| {diff:.1e}, "
                  f"{'same' if diff < 1e-5 else 'DIFFERENT'})  "
                  f"pairwise {t_fast:.3f} s  per pair {t_naive:.3f} s  ratio {t_naive / t_fast:.1f}x")


if __name__ == "__main__":
    main()
