"""`stargan train MODEL` and `stargan sample CHECKPOINT`: training and sampling from a shell.

Introduced in `notebooks/01_cyclegan_baseline.ipynb` (and used by 02, 03).

  stargan train cyclegan --preset course --out runs/cyclegan
  stargan train stargan_v1 --preset course --out runs/v1 --device cpu --seed 1
  stargan train stargan_v1 --preset course --datasets faces,expressions --out runs/v1_joint
  stargan train stargan_v1 --preset course --out runs/v1          # again: resumes from runs/v1/checkpoint.pt
  stargan sample runs/v1/checkpoint.pt --out grid.png --n 8

Every field of a model's config dataclass is a flag (`--lambda-rec 5`, `--total-iters 2000`, ...);
flags override the preset's value, which overrides the paper's default. Tuple fields take
comma-separated values (`--datasets faces,expressions`). The run folder has one flag, `--out`: a
config field `out_dir` (StarGAN v2) is not a flag of its own; it is set to `--out`, so the checkpoint
records the folder the run was trained in.

Adding a model is one entry in `TRAINERS` (and, for sampling, one in `SAMPLERS`): a
`TrainEntry(config_class, make_config, run)` of "module:attribute" paths, imported when used.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from stargan_lib.errors import ConfigError


def resolve(path: str) -> Any:
    """"package.module:attribute" -> the attribute (imported on first use)."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class TrainEntry:
    """How the CLI trains one model.

    config_class: "module:Class", the config dataclass (its fields become flags)
    make_config:  "module:function", (preset name, overrides dict) -> config
    run:          "module:function", (config, args: argparse.Namespace) -> result with `.step`,
                  `.checkpoint`, `.seconds_per_iter`, `.history` (or None)
    """

    config_class: str
    make_config: str
    run: str
    help: str = ""


def make_cyclegan_config(preset: str | None, overrides: dict[str, Any]) -> Any:
    """`stargan train|params cyclegan`: the preset's CycleGANConfig with `overrides`; see notebook 01."""
    return resolve("stargan_lib.models.cyclegan:config_for")(preset, **overrides)


def make_stargan_v1_config(preset: str | None, overrides: dict[str, Any]) -> Any:
    """`stargan train|params stargan_v1`: the preset's StarGANv1Config with `overrides`; see notebook 02."""
    return resolve("stargan_lib.models.stargan_v1:config_for")(preset, **overrides)


def make_stargan_v2_config(preset: str | None, overrides: dict[str, Any]) -> Any:
    """`stargan train|params stargan_v2`: `--config X` picks the Table 1 letter (its ABLATION overrides
    are applied), `--dataset` the DATASETS values; the other flags override fields afterwards.
    Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`."""
    from stargan_lib.configs_v2 import make_config
    from stargan_lib.presets import get_preset

    overrides = dict(overrides)
    letter = overrides.pop("config", "F")
    dataset = overrides.pop("dataset", None)
    return make_config(letter, get_preset(preset), dataset, **overrides)


def run_cyclegan(cfg: Any, args: argparse.Namespace) -> Any:
    """`stargan train cyclegan`: train in --out (notebook 01 shows the same from Python)."""
    from stargan_lib.train.cyclegan import train

    return train(cfg, args.out, preset=args.preset, data_dir=args.data_dir, progress=args.progress)


def run_stargan_v1(cfg: Any, args: argparse.Namespace) -> Any:
    """`stargan train stargan_v1`: train in --out, one or two datasets (notebooks 02, 03 do it from Python)."""
    from stargan_lib.train.stargan_v1 import train

    dirs = args.data_dir.split(",") if args.data_dir else None
    return train(cfg, args.out, preset=args.preset, data_dir=dirs, progress=args.progress)


def run_stargan_v2(cfg: Any, args: argparse.Namespace) -> Any:
    """`stargan train stargan_v2 ...` (also under `torchrun --nproc_per_node N`): train and resume in --out.
    Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`."""
    from stargan_lib.train.distributed import cleanup, init_distributed
    from stargan_lib.train.stargan_v2 import train

    ctx = init_distributed(cfg.device)
    try:
        return train(cfg, args.out, preset=args.preset, data_dir=getattr(args, "data_dir", None),
                     progress=getattr(args, "progress", True), dist=ctx)
    finally:
        cleanup(ctx)


# model name -> how to train it. One entry per model.
TRAINERS: dict[str, TrainEntry] = {
    "cyclegan": TrainEntry("stargan_lib.models.cyclegan:CycleGANConfig",
                           "stargan_lib.cli.train_cmd:make_cyclegan_config",
                           "stargan_lib.cli.train_cmd:run_cyclegan", "CycleGAN baseline between two domains"),
    "stargan_v1": TrainEntry("stargan_lib.models.stargan_v1:StarGANv1Config",
                             "stargan_lib.cli.train_cmd:make_stargan_v1_config",
                             "stargan_lib.cli.train_cmd:run_stargan_v1",
                             "StarGAN v1 (one dataset, or two with the mask vector)"),
    "stargan_v2": TrainEntry("stargan_lib.configs_v2:StarGANv2Config",
                             "stargan_lib.cli.train_cmd:make_stargan_v2_config",
                             "stargan_lib.cli.train_cmd:run_stargan_v2",
                             "StarGAN v2 Table 1 configuration A..F (--config, --dataset afhq|celeba_hq)"),
}


# ============================================================================ flags from dataclasses
# config fields that name the run folder: `--out` is their one flag (no `--out-dir` beside it)
RUN_FOLDER_FIELDS = ("out_dir",)

def add_tuple_args(parser: argparse.ArgumentParser, cls: type) -> None:
    """`--field a,b` for the tuple-valued fields of `cls` (add_dataclass_args skips them)."""
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if isinstance(default, tuple):
            parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f"cfg_{f.name}", default=None,
                                type=lambda s: tuple(v.strip() for v in s.split(",") if v.strip()),
                                metavar="A,B", help=f"{f.metadata.get('help', '')} [paper default: "
                                                    f"{','.join(map(str, default))}]")


def config_from_args(make_config: Callable[[str | None, dict], Any], cls: type, args: argparse.Namespace) -> Any:
    """The preset's config with the flags the user gave applied on top."""
    from stargan_lib.cli.dataclass_args import dataclass_overrides

    return make_config(args.preset, dataclass_overrides(args, cls))


# ============================================================================ train
def check_decay(cfg: Any, given: dict[str, Any]) -> None:
    """The learning-rate decay must fit in the run: `--decay-iters` longer than `total_iters` would start
    the rate at total/decay of its value (6 / 1000 = 0.6 %). Given on the command line it is a ConfigError;
    when it comes from the preset (a shortened --total-iters) a note on stderr says so."""
    decay, total = getattr(cfg, "decay_iters", None), cfg.total_iters
    if decay is None or decay <= total:
        return
    start = f"{total / decay:.1%}"
    if "decay_iters" in given:
        raise ConfigError(f"--decay-iters {decay} is longer than the run (total_iters={total}): the learning rate "
                          f"would start at {start} of its value. Give --decay-iters {total} or less (e.g. "
                          f"{total // 2}: constant for the first half, then linear decay to 0), or train longer")
    print(f"stargan train: note: the preset's decay_iters={decay} is longer than total_iters={total}, so the "
          f"learning rate starts at {start} of its value; give --decay-iters {total // 2} (or any value <= {total}) "
          "to decay within this run", file=sys.stderr)


def check_train_outputs(args: argparse.Namespace) -> None:
    """Before any work: --out is a folder that can be created and written, and the data cache (synthetic
    data) is a writable folder."""
    from stargan_lib.utils import check_cache_writable, check_output_dir

    check_output_dir(args.out, "--out", "give a run folder you can write (a new one, or an earlier run's to resume)")
    if not getattr(args, "data_dir", None):
        check_cache_writable()


def cmd_train(args: argparse.Namespace) -> int:
    """`stargan train MODEL`: train (or resume) and print a JSON summary (notebook 01 shows the same from Python)."""
    from stargan_lib.cli.dataclass_args import dataclass_overrides
    from stargan_lib.train.common import check_network_size

    entry = TRAINERS[args.model]
    cls = resolve(entry.config_class)
    cfg = config_from_args(resolve(entry.make_config), cls, args)
    check_decay(cfg, dataclass_overrides(args, cls))
    check_network_size(cfg)
    check_train_outputs(args)
    from stargan_lib.data.image_files import bad_image_policy

    if any(f.name == "out_dir" for f in dataclasses.fields(cfg)):
        cfg = dataclasses.replace(cfg, out_dir=str(args.out))     # one flag, one meaning: --out is the run folder
    print(f"training {args.model} ({args.preset or 'default'} preset) in {args.out}")
    with bad_image_policy(args.on_bad):  # --on-bad reaches the real-data loaders the trainer opens
        result = resolve(entry.run)(cfg, args)
    if result is not None:
        summary = {"model": args.model, "step": getattr(result, "step", None),
                   "checkpoint": str(getattr(result, "checkpoint", "")),
                   "seconds_per_iter": getattr(result, "seconds_per_iter", None)}
        history = getattr(result, "history", None) or {}
        summary["last_losses"] = {k: v[-1] for k, v in history.items() if "/" in k and v}
        print(json.dumps(summary, indent=2, default=str))
    return 0


# ============================================================================ sample
def sample_count(args: argparse.Namespace) -> int:
    """`--n` of `stargan sample`, the same for every model: a positive number of input images, else a
    ConfigError (the parser already refuses 0 and negative counts; this covers a Namespace built in Python)."""
    n = getattr(args, "n", 4)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"--n {n!r}: give a positive number of input images (e.g. --n 4)")
    return n


def sample_cyclegan(path: str, args: argparse.Namespace) -> Path:
    """Rows [a, G_AB(a), G_BA(G_AB(a))] and [b, G_BA(b), G_AB(G_BA(b))] of held-out images."""
    from stargan_lib.data.datasets import open_dataset
    from stargan_lib.train.common import load_run
    from stargan_lib.data.datasets import fixed_batch
    from stargan_lib.train.cyclegan import cycle_grid, open_domains
    from stargan_lib.train.engine import save_grid

    run = load_run(path, device=args.device)
    cfg = run.cfg
    test = open_dataset(cfg.dataset, "test", data_dir=args.data_dir, image_size=cfg.image_size, preset=args.preset)
    set_a, set_b = open_domains(dataclasses.replace(cfg, batch_size=1, hflip=False), test)
    n = sample_count(args)
    (x_a, _), (x_b, _) = fixed_batch(set_a, n), fixed_batch(set_b, n)
    return save_grid(cycle_grid(run.nets, x_a, x_b), args.out)


def sample_stargan_v1(path: str, args: argparse.Namespace) -> Path:
    """Each held-out image of the first dataset, then its translation to every target label."""
    from stargan_lib.data.datasets import open_dataset
    from stargan_lib.train.common import load_run
    from stargan_lib.data.datasets import fixed_batch
    from stargan_lib.train.engine import save_grid
    from stargan_lib.train.stargan_v1 import translation_grid

    run = load_run(path, device=args.device)
    cfg = run.cfg
    test = open_dataset(cfg.datasets[0], "test", data_dir=args.data_dir, image_size=cfg.image_size,
                        preset=args.preset)
    x, y = fixed_batch(test, sample_count(args))
    label_names = run.state.get("extra", {}).get("label_names") or [list(test.label_names)]
    grid, names = translation_grid(run.nets["G"], cfg, x, y, label_names)
    print("columns:", ", ".join(names))
    return save_grid(grid, args.out)


def sample_stargan_v2(path: str, args: argparse.Namespace) -> Path:
    """`stargan sample checkpoint.pt --out grid.png`: the latent (and reference) grid of held-out images,
    or the one-output-per-domain grid for A–C, with the EMA networks. Introduced in
    `notebooks/04_stargan_v2_A_to_C.ipynb`."""
    import torch

    from stargan_lib.configs_v2 import SYNTHETIC
    from stargan_lib.train.common import load_run
    from stargan_lib.train.engine import save_grid
    from stargan_lib.train.stargan_v2 import DomainImages, sample_grids

    run = load_run(path, getattr(args, "device", "cpu"))
    cfg, ema = run.cfg, run.ema
    if getattr(args, "data_dir", None):
        from stargan_lib.data.datasets import open_dataset, to_imageset
        test = to_imageset(open_dataset(cfg.dataset, "test", data_dir=args.data_dir, image_size=cfg.image_size))
    else:
        from stargan_lib.data.synthetic import make_dataset
        test = make_dataset(SYNTHETIC[cfg.dataset], "test", image_size=cfg.image_size, preset=args.preset)
    data = DomainImages(test, cfg)
    n = sample_count(args)
    dev = next(ema.parameters()).device
    src = torch.cat([d[: max(1, n // cfg.num_domains)] for d in data.by_domain])[:n]
    refs = torch.stack([d[-1] for d in data.by_domain])
    from stargan_lib.models.fan import build_fan
    fan = build_fan(cfg)                      # None unless the run has CelebA-HQ's high-pass skip
    grids = sample_grids(ema, data.images(src).to(dev), data.images(refs).to(dev),
                         torch.arange(cfg.num_domains, device=dev), seed=cfg.seed,
                         fan=fan.to(dev) if fan is not None else None)
    kind = "det" if "det" in grids else ("reference" if "reference" in grids else "latent")
    imgs, nrow = grids[kind]
    out = Path(args.out)
    save_grid(imgs.cpu().float().clamp(-1, 1), out, nrow=nrow)
    for other, (im, nr) in grids.items():
        if other != kind:
            save_grid(im.cpu().float().clamp(-1, 1), out.with_name(f"{out.stem}_{other}{out.suffix}"), nrow=nr)
    return out


# checkpoint config class -> "module:function" (checkpoint path, args) -> written path. One entry per model.
SAMPLERS: dict[str, str] = {
    "CycleGANConfig": "stargan_lib.cli.train_cmd:sample_cyclegan",
    "StarGANv1Config": "stargan_lib.cli.train_cmd:sample_stargan_v1",
    "StarGANv2Config": "stargan_lib.cli.train_cmd:sample_stargan_v2",
}


def cmd_sample(args: argparse.Namespace) -> int:
    """`stargan sample CHECKPOINT`: save a grid of held-out translations (notebook 01 shows grids from Python)."""
    from stargan_lib.utils import check_cache_writable, check_output_file, safe_torch_load

    sample_count(args)
    check_output_file(args.out, "--out", "give a PNG file path you can write")
    if not getattr(args, "data_dir", None):
        check_cache_writable()                    # the held-out synthetic set is cached

    state = safe_torch_load(args.checkpoint)
    kind = state.get("config_class") if isinstance(state, dict) else None
    if kind not in SAMPLERS:
        raise ConfigError(f"{args.checkpoint} is not a course training checkpoint of a model that can be sampled "
                          f"(config class {kind!r}; known: {sorted(SAMPLERS)}). Pass the checkpoint.pt a "
                          "`stargan train` run wrote")
    from stargan_lib.data.image_files import bad_image_policy

    with bad_image_policy(args.on_bad):
        out = resolve(SAMPLERS[kind])(args.checkpoint, args)
    print(f"wrote {out}")
    return 0


# ============================================================================ parser
def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `stargan train MODEL` and `stargan sample`; introduced in `notebooks/01_cyclegan_baseline.ipynb`."""
    from stargan_lib.cli.dataclass_args import add_dataclass_args, add_on_bad_arg, positive_int
    from stargan_lib.presets import PRESETS

    train = subparsers.add_parser(
        "train", help="train a model (resumes when --out holds a checkpoint)",
        description="Train a model on the synthetic data of a preset (or real data with --data-dir). Running the "
                    "same command again resumes from OUT/checkpoint.pt; a different configuration is refused.")
    models = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, entry in TRAINERS.items():
        cls = resolve(entry.config_class)
        p = models.add_parser(name, help=entry.help, description=f"Train {name}. {entry.help}.")
        p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="smoke, course or paper (default: $STARGAN_PRESET or course)")
        p.add_argument("--out", required=True, help="run folder: checkpoint.pt, samples/")
        p.add_argument("--data-dir", default=None,
                       help="real data folder(s) instead of synthetic data (comma-separated, one per dataset)")
        p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
        add_on_bad_arg(p, "skip")
        add_dataclass_args(p, cls, exclude=RUN_FOLDER_FIELDS)     # --out names the run folder
        add_tuple_args(p, cls)
        p.set_defaults(func=cmd_train)

    sample = subparsers.add_parser(
        "sample", help="translate held-out images with a trained checkpoint and save a grid",
        description="Load a `stargan train` checkpoint, translate held-out synthetic images (or --data-dir) to "
                    "every target domain and save one image grid.")
    sample.add_argument("checkpoint", help="OUT/checkpoint.pt of a training run")
    sample.add_argument("--out", required=True, help="PNG file to write")
    sample.add_argument("--n", type=positive_int, default=4, help="number of input images (rows; default 4)")
    sample.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="preset whose held-out synthetic set is used (default: $STARGAN_PRESET or course)")
    sample.add_argument("--data-dir", default=None, help="real test data folder instead of synthetic data")
    sample.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    add_on_bad_arg(sample, "skip")
    sample.set_defaults(func=cmd_sample)
