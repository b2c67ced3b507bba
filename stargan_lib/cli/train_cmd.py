"""`stargan train MODEL` and `stargan sample CHECKPOINT`: training and sampling from a shell.

Introduced in `notebooks/01_cyclegan_baseline.ipynb` (and used by 02, 03).

  stargan train cyclegan --preset course --out runs/cyclegan
  stargan train stargan_v1 --preset course --out runs/v1 --device cpu --seed 1
  stargan train stargan_v1 --preset course --datasets faces,expressions --out runs/v1_joint
  stargan train stargan_v1 --preset course --out runs/v1          # again: resumes from runs/v1/checkpoint.pt
  stargan train stargan_v2 --config F --preset course --out runs/F --procs 2   # two processes (DDP, gloo)
  stargan sample runs/v1/checkpoint.pt --out grid.png --n 8

Every field of a model's config dataclass is a flag (`--lambda-rec 5`, `--total-iters 2000`, ...);
flags override the preset's value, which overrides the paper's default. Tuple fields take
comma-separated values (`--datasets faces,expressions`). The run folder has one flag, `--out`: a
config field `out_dir` (StarGAN v2) is not a flag of its own; it is set to `--out`, so the checkpoint
records the folder the run was trained in.

Every model is one entry of `train.registry.MODELS` (its config class, `config_for`, `train`, `sample`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from stargan_lib.errors import ConfigError
from stargan_lib.train.registry import MODELS, Model, check_network_size, model_of, sample_run


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


def config_from_args(model: Model, args: argparse.Namespace) -> Any:
    """The preset's config of `model` with the flags the user gave applied on top."""
    from stargan_lib.cli.dataclass_args import dataclass_overrides

    return model.config_for(args.preset, **dataclass_overrides(args, model.config_class))


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
    from stargan_lib.data.image_files import bad_image_policy

    model = MODELS[args.model]
    cfg = config_from_args(model, args)
    check_decay(cfg, dataclass_overrides(args, model.config_class))
    check_network_size(cfg)
    check_train_outputs(args)
    if any(f.name == "out_dir" for f in dataclasses.fields(cfg)):
        cfg = dataclasses.replace(cfg, out_dir=str(args.out))     # one flag, one meaning: --out is the run folder
    procs = getattr(args, "procs", 1) or 1
    if procs > 1:
        return train_processes(model, cfg, args, procs)
    print(f"training {args.model} ({args.preset or 'default'} preset) in {args.out}")
    with bad_image_policy(args.on_bad):  # --on-bad reaches the real-data loaders the trainer opens
        result = model.train(cfg, args.out, preset=args.preset, data_dir=getattr(args, "data_dir", None),
                             progress=getattr(args, "progress", True))
    if result is not None:
        summary = {"model": args.model, "step": getattr(result, "step", None),
                   "checkpoint": str(getattr(result, "checkpoint", "")),
                   "seconds_per_iter": getattr(result, "seconds_per_iter", None)}
        history = getattr(result, "history", None) or {}
        summary["last_losses"] = {k: v[-1] for k, v in history.items() if "/" in k and v}
        print(json.dumps(summary, indent=2, default=str))
    return 0


def _train_one_process(name: str, cfg: Any, out: str, preset: str | None, data_dir: str | None, on_bad: str,
                       progress: bool) -> None:
    """One process of `stargan train --procs N` (`train.distributed.spawn_local` set RANK, WORLD_SIZE, ...;
    the model's `train` joins that group)."""
    from stargan_lib.data.image_files import bad_image_policy

    with bad_image_policy(on_bad):
        MODELS[name].train(cfg, out, preset=preset, data_dir=data_dir, progress=progress)


def train_processes(model: Model, cfg: Any, args: argparse.Namespace, procs: int) -> int:
    """`stargan train MODEL --procs N`: the engine's data parallelism on this machine's CPU cores, N processes
    (gloo) with an equal share of the cores (or of $STARGAN_THREADS) each, the same global batch as one
    process (each keeps its shard). Measured on the course's 2-core machine (README, "Speed"): 2 processes
    train StarGAN v2 F 1.06x as fast as 2 threads on a quiet machine and 0.81x one thread beside a busy
    process."""
    from stargan_lib.threads import available_cores, per_worker_count
    from stargan_lib.train.distributed import spawn_local

    if not model.data_parallel:
        raise ConfigError(f"--procs {procs}: {model.name} trains in one process (its task does not shard batches "
                          "over a process group); drop --procs. Data parallelism: "
                          + ", ".join(m.name for m in MODELS.values() if m.data_parallel))
    if cfg.batch_size % procs:
        raise ConfigError(f"--procs {procs}: the batch size {cfg.batch_size} does not split into {procs} equal "
                          f"shards; use a --batch-size that is a multiple of {procs}")
    # each process inherits $STARGAN_THREADS: shared among them, as the schedulers share it
    threads = per_worker_count(None, procs) or max(1, available_cores() // procs)
    print(f"training {args.model} ({args.preset or 'default'} preset) in {args.out}: {procs} processes with "
          f"{threads} thread(s) each, global batch {cfg.batch_size}")
    spawn_local(_train_one_process, (model.name, cfg, str(args.out), args.preset, getattr(args, "data_dir", None),
                                     args.on_bad, getattr(args, "progress", True)), procs, threads)
    return 0


# ============================================================================ sample
def cmd_sample(args: argparse.Namespace) -> int:
    """`stargan sample CHECKPOINT`: save a grid of held-out translations (notebook 01 shows grids from Python)."""
    from stargan_lib.utils import check_cache_writable, check_output_file, safe_torch_load

    check_output_file(args.out, "--out", "give a PNG file path you can write")
    if not getattr(args, "data_dir", None):
        check_cache_writable()                    # the held-out synthetic set is cached

    state = safe_torch_load(args.checkpoint)
    kind = state.get("config_class") if isinstance(state, dict) else None
    if not isinstance(kind, str) or model_of(kind) is None:
        known = sorted(m.config_class.__name__ for m in MODELS.values())
        raise ConfigError(f"{args.checkpoint} is not a course training checkpoint of a model that can be sampled "
                          f"(config class {kind!r}; known: {known}). Pass the checkpoint.pt a "
                          "`stargan train` run wrote")
    from stargan_lib.data.image_files import bad_image_policy

    with bad_image_policy(args.on_bad):
        out = sample_run(args.checkpoint, args.out, n=getattr(args, "n", 4), preset=args.preset,
                         data_dir=getattr(args, "data_dir", None), device=getattr(args, "device", "cpu"))
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
    for name, model in MODELS.items():
        cls = model.config_class
        p = models.add_parser(name, help=model.help, description=f"Train {name}. {model.help}.")
        p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="smoke, course or paper (default: $STARGAN_PRESET or course)")
        p.add_argument("--out", required=True, help="run folder: checkpoint.pt, samples/")
        p.add_argument("--data-dir", default=None,
                       help="real data folder(s) instead of synthetic data (comma-separated, one per dataset)")
        p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
        if model.data_parallel:
            p.add_argument("--procs", type=positive_int, default=1,
                           help="train in N processes on this machine's CPU cores (data parallelism, gloo; the same "
                                "global batch). On 2 cores: 1.06x two threads quiet, slower beside a busy process")
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
