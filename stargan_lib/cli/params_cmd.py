"""`stargan params MODEL`: parameter counts per network, as a JSON object.

Introduced in `notebooks/01_cyclegan_baseline.ipynb` (why k domains need k(k-1) CycleGAN generators)
and `notebooks/02_stargan_v1.ipynb` (the parameter column of the v1 paper's Table 3).

  stargan params stargan_v1 --preset paper                       # {"G": 8430528, "D": 44762048, ...}
  stargan params stargan_v1 --preset paper --n-labels 8          # RaFD: 8 expressions
  stargan params stargan_v1 --preset paper --datasets faces,expressions   # joint, mask vector
  stargan params cyclegan --preset paper --n-domains 7           # all pairwise CycleGANs for 7 domains

Every config field is also a flag (`--g-conv-dim 32`, ...). The models are `train.registry.MODELS`
(each one's `param_counts`); `EXTRAS` adds a model's own options and figures where it has any.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from stargan_lib.cli.train_cmd import RUN_FOLDER_FIELDS, add_tuple_args, config_from_args
from stargan_lib.errors import ConfigError
from stargan_lib.train.registry import MODELS, check_network_size


def cyclegan_counts(cfg: Any, args: argparse.Namespace) -> dict[str, int]:
    """One generator and one discriminator; `total` = every network of the k(k-1)/2 pairwise CycleGANs
    that k domains need (k(k-1) generators and as many discriminators). Introduced in
    `notebooks/01_cyclegan_baseline.ipynb`."""
    from stargan_lib.models.cyclegan import param_counts

    k = args.n_domains
    if k < 2:
        raise ConfigError(f"--n-domains {k}: translation needs at least 2 domains")
    counts = param_counts(cfg)
    return {"G": counts["G"], "D": counts["D"], "n_domains": k, "n_generators": k * (k - 1),
            "total": k * (k - 1) * (counts["G"] + counts["D"])}


def cyclegan_args(parser: argparse.ArgumentParser) -> None:
    """`--n-domains k` of `stargan params cyclegan`; introduced in `notebooks/01_cyclegan_baseline.ipynb`."""
    parser.add_argument("--n-domains", type=int, default=2,
                        help="number of domains k: count the k(k-1)/2 CycleGANs they need (default 2)")


def stargan_v1_counts(cfg: Any, args: argparse.Namespace) -> dict[str, int]:
    """G and D of one StarGAN v1, which serves every domain. Introduced in `notebooks/02_stargan_v1.ipynb`."""
    from stargan_lib.models.stargan_v1 import param_counts

    counts = param_counts(cfg)
    return {**counts, "total": counts["G"] + counts["D"], "g_label_dim": cfg.g_label_dim, "d_classes": cfg.d_cls_dim}


def stargan_v1_args(parser: argparse.ArgumentParser) -> None:
    """`--n-labels` of `stargan params stargan_v1`; introduced in `notebooks/02_stargan_v1.ipynb`."""
    parser.add_argument("--n-labels", type=int, default=None, dest="cfg_c_dim",
                        help="labels of the (first) dataset, the same as --c-dim (5 CelebA attributes, 8 RaFD "
                             "expressions)")


def stargan_v2_counts(cfg: Any, args: Any = None) -> dict[str, Any]:
    """`stargan params stargan_v2`: parameters per network (official names) and their total.
    With `--dataset celeba_hq` at the paper preset the generator includes the high-pass skip's
    architecture (w_hpf = 1); the face-alignment network is not counted (nor is it in the official G).
    Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`."""
    from stargan_lib.models.stargan_v2 import param_counts

    counts = param_counts(cfg)
    return {**counts, "total": sum(counts.values()), "config": cfg.config, "dataset": cfg.dataset,
            "image_size": cfg.image_size, "num_domains": cfg.num_domains}


# model name -> (counts (config, args) -> JSON dict, extra options of its sub-command or None). A model
# without an entry prints its `param_counts` and their total.
EXTRAS: dict[str, tuple[Callable[[Any, argparse.Namespace], dict[str, Any]],
                        Callable[[argparse.ArgumentParser], None] | None]] = {
    "cyclegan": (cyclegan_counts, cyclegan_args),
    "stargan_v1": (stargan_v1_counts, stargan_v1_args),
    "stargan_v2": (stargan_v2_counts, None),
}


def cmd_params(args: argparse.Namespace) -> int:
    """`stargan params MODEL`: print the parameter counts as JSON (notebooks 01 and 02 show them from Python)."""
    model = MODELS[args.model]
    cfg = config_from_args(model, args)
    check_network_size(cfg)                   # refused before the networks are built, not by the allocator
    count = EXTRAS.get(args.model, (None, None))[0]
    if count is None:
        counts = model.param_counts(cfg)
        print(json.dumps({**counts, "total": sum(counts.values())}))
    else:
        print(json.dumps(count(cfg, args)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `stargan params MODEL` (one sub-command per `MODELS` entry); see `notebooks/01_cyclegan_baseline.ipynb`."""
    from stargan_lib.cli.dataclass_args import add_dataclass_args
    from stargan_lib.presets import PRESETS

    params = subparsers.add_parser(
        "params", help="parameter counts per network (JSON)",
        description="Build a model's networks for a preset (and flags) and print their parameter counts as JSON.")
    models = params.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, model in MODELS.items():
        cls = model.config_class
        p = models.add_parser(name, help=model.help, description=model.help)
        p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="smoke, course or paper (default: $STARGAN_PRESET or course)")
        add_args = EXTRAS.get(name, (None, None))[1]
        if add_args is not None:
            add_args(p)
        add_dataclass_args(p, cls, exclude=RUN_FOLDER_FIELDS)      # counting parameters writes no run folder
        add_tuple_args(p, cls)
        p.set_defaults(func=cmd_params)
