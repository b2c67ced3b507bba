"""Every model of the course in one table, `MODELS`, and what works on a run of any of them.

Introduced in `notebooks/01_cyclegan_baseline.ipynb`. A `Model` holds the model's config class, how a
config is built (`config_for(preset, **overrides)`), its networks (`build_nets`, `param_counts`, the EMA
copies of StarGAN v2), its `train(cfg, out_dir, data=None, *, preset, data_dir, progress, stop_after)`
and its `sample(run, out, *, n, preset, data_dir)`: plain functions and classes, imported here the
ordinary way. Adding a model is one entry in `MODELS`; `stargan train|params|sample`, `load_run` and the
size check read it.

- `load_run(path)`: the config and networks (EMA networks for StarGAN v2) of any model's checkpoint;
  `build_run_nets(cfg)` builds them untrained (also for the shipped course runs);
- `sample_run(path, out, n=...)`: `stargan sample` from Python;
- `check_network_size(cfg)`: refuse networks too large to allocate, before anything is built.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from stargan_lib.errors import CheckpointError, ConfigError
from stargan_lib.models import cyclegan as cyclegan_model
from stargan_lib.models import stargan_v1 as stargan_v1_model
from stargan_lib.models import stargan_v2 as stargan_v2_model
from stargan_lib.models import stargan_v2_config
from stargan_lib.train import cyclegan, stargan_v1, stargan_v2
from stargan_lib.train.common import config_from_dict, read_checkpoint
from stargan_lib.utils import check_finite_weights, load_state_dict_checked, resolve_device


@dataclass(frozen=True)
class Model:
    """One model of the course: what the command line, `load_run` and the size check need of it."""

    name: str                                   # `stargan train NAME`
    help: str
    config_class: type
    config_for: Callable[..., Any]              # (preset, **overrides) -> config
    build_nets: Callable[[Any], Any]            # config -> {name: network}
    param_counts: Callable[[Any], dict[str, int]]
    train: Callable[..., Any]                   # (cfg, out_dir, data=None, *, preset, data_dir, progress, stop_after)
    sample: Callable[..., Path]                 # (run, out, *, n, preset, data_dir) -> the written grid
    ema_copy: Callable[[Any], Any] | None = None   # networks -> their EMA copies (StarGAN v2)
    validate: Callable[[Any], Any] | None = None   # config read from a checkpoint -> checked config (StarGAN v2)
    data_parallel: bool = False                 # its task shards batches over a process group (`--procs`, torchrun)


MODELS: dict[str, Model] = {m.name: m for m in (
    Model("cyclegan", "CycleGAN baseline between two domains", cyclegan_model.CycleGANConfig,
          cyclegan_model.config_for, cyclegan_model.build_nets, cyclegan_model.param_counts, cyclegan.train,
          cyclegan.sample),
    Model("stargan_v1", "StarGAN v1 (one dataset, or two with the mask vector)", stargan_v1_model.StarGANv1Config,
          stargan_v1_model.config_for, stargan_v1_model.build_nets, stargan_v1_model.param_counts, stargan_v1.train,
          stargan_v1.sample),
    Model("stargan_v2", "StarGAN v2 Table 1 configuration A..F (--config, --dataset afhq|celeba_hq)",
          stargan_v2_config.StarGANv2Config, stargan_v2_config.config_for, stargan_v2_model.build_nets,
          stargan_v2_model.param_counts, stargan_v2.train, stargan_v2.sample, stargan_v2_model.ema_copy,
          stargan_v2_config.validate, data_parallel=True),
)}


def model_of(cfg_or_class_name: Any) -> Model | None:
    """The `Model` of a config (or of a config class name, as a checkpoint stores it); None for no known model."""
    name = cfg_or_class_name if isinstance(cfg_or_class_name, str) else type(cfg_or_class_name).__name__
    return next((m for m in MODELS.values() if m.config_class.__name__ == name), None)


# ============================================================================ network size
# The most numbers (parameters and buffers) the networks of one configuration may hold: 2**30 float32 are
# 4 GiB, and training needs several times that (gradients, two Adam moments, EMA copies, activations).
MAX_NETWORK_NUMBERS = 2 ** 30


def network_numbers(cfg: Any) -> int | None:
    """How many numbers (parameters and buffers) the networks of `cfg` hold, counted on the meta device
    (nothing is allocated); None for a config of no known model or one whose networks cannot be built there."""
    model = model_of(cfg)
    if model is None:
        return None
    try:
        with torch.device("meta"):
            nets = model.build_nets(cfg)
    except Exception:  # a size error is the real constructor's to report, with its own message
        return None
    return sum(t.numel() for net in nets.values() for t in itertools.chain(net.parameters(), net.buffers()))


def check_network_size(cfg: Any, limit: int = MAX_NETWORK_NUMBERS) -> None:
    """Refuse, before anything is allocated, a configuration whose networks cannot be allocated (a
    ConfigError naming the size settings). `stargan train|params` call it.

    Introduced in `notebooks/01_cyclegan_baseline.ipynb`."""
    n = network_numbers(cfg)
    if n is None or n <= limit:
        return
    words = ("size", "dim", "downsample", "repeat", "ngf", "ndf", "blocks", "layers", "bottleneck", "mapping")
    sizes = ", ".join(f"{f.name}={getattr(cfg, f.name)}" for f in dataclasses.fields(cfg)
                      if isinstance(getattr(cfg, f.name), int) and not isinstance(getattr(cfg, f.name), bool)
                      and any(w in f.name for w in words))
    raise ConfigError(f"{type(cfg).__name__}: these networks would hold {n:,} numbers ({n * 4 / 2 ** 30:,.0f} GiB "
                      f"of float32 weights, several times that to train), more than the {limit:,} that can be "
                      f"allocated. Lower the size settings ({sizes}): a smaller image_size, fewer channels, or "
                      "(StarGAN v2) d_downsample / g_downsample 0 so that they follow image_size")


# ============================================================================ runs of any model
@dataclasses.dataclass
class LoadedRun:
    """What `load_run` returns: the run's config, its networks (eval mode), the EMA networks (StarGAN
    v2; None otherwise) and the whole checkpoint dict (step, history, extra ...). Introduced in
    `notebooks/01_cyclegan_baseline.ipynb`."""

    cfg: Any
    nets: Any
    ema: Any
    state: dict[str, Any]


def build_run_nets(cfg: Any) -> tuple[dict[str, torch.nn.Module], Any]:
    """Untrained networks of a config of any model (`MODELS`), and their EMA copies (StarGAN v2; None
    for the others). `load_run` and the shipped course runs (`experiments.course_ship`) build with it."""
    model = model_of(cfg)
    nets = model.build_nets(cfg)
    return nets, (model.ema_copy(nets) if model.ema_copy is not None else None)


def load_run(path: str | Path, device: str | torch.device = "cpu", check_finite: bool = True) -> LoadedRun:
    """Rebuild the config and networks of any model's course checkpoint (`<out_dir>/checkpoint.pt`).

    The networks are in eval mode on `device`. Non-finite weights are refused with a clear error
    (`check_finite=False` skips that check). Introduced in `notebooks/01_cyclegan_baseline.ipynb`;
    `stargan sample` and notebooks 02-05 use it to reload a finished run.
    """
    state = read_checkpoint(path)
    kind = state.get("config_class")
    model = model_of(kind) if isinstance(kind, str) else None
    if model is None:
        raise CheckpointError(f"{path} holds a {kind!r} run; known models: "
                              f"{sorted(m.config_class.__name__ for m in MODELS.values())}")
    cfg = config_from_dict(model.config_class, state["config"])
    if model.validate is not None:
        cfg = model.validate(cfg)
    nets, ema = build_run_nets(cfg)
    for name, net in (ema or {}).items():
        load_state_dict_checked(net, state["nets"].get(f"ema_{name}"), f"{path}[ema_{name}]")
        net.to(resolve_device(device)).eval()
    for name, net in nets.items():
        load_state_dict_checked(net, state["nets"].get(name), f"{path}[{name}]")
        net.to(resolve_device(device)).eval()
    if check_finite:
        check_finite_weights({**nets, **{f"ema_{k}": v for k, v in (ema or {}).items()}}, str(path))
    return LoadedRun(cfg, nets, ema, state)


def sample_run(path: str | Path, out: str | Path, *, n: int = 4, preset: str | None = None,
               data_dir: str | Path | None = None, device: str = "cpu") -> Path:
    """`stargan sample` from Python: translate `n` held-out images with the run in checkpoint `path` (the
    model's `sample`) and save the grid to `out`. Introduced in `notebooks/01_cyclegan_baseline.ipynb`."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"--n {n!r}: give a positive number of input images (e.g. --n 4)")
    run = load_run(path, device=device)
    return model_of(run.cfg).sample(run, out, n=n, preset=preset, data_dir=data_dir)


__all__ = ["LoadedRun", "MAX_NETWORK_NUMBERS", "MODELS", "Model", "build_run_nets", "check_network_size", "load_run",
           "model_of", "network_numbers", "sample_run"]
