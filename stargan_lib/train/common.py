"""What every trainer in the course shares: checkpoints that resume exactly, LR schedules as
functions of the step, the NaN guard (`load_run` for any model's checkpoint is in `train.registry`).

Introduced in `notebooks/01_cyclegan_baseline.ipynb`; the training engine (`train.engine`) and the
three models' trainers use all of it.

Checkpoints are always read onto the CPU first (the saved RNG states must stay CPU tensors for
`torch.set_rng_state`); `load_state_dict` then copies the weights to wherever the networks are.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping

import torch

from stargan_lib.errors import CheckpointError, TrainingError
from stargan_lib.utils import (atomic_torch_save, check_finite_weights, load_state_dict_checked, rng_state,
                               safe_torch_load, set_rng_state)

CHECKPOINT = "checkpoint.pt"          # the run's checkpoint inside its out_dir
# Config fields that may differ between a run and its resume: how long it trains, where and how often it
# writes, and the device. They do not change what the run computes up to a step, so resume ignores them,
# and run folders and course runs are named by a hash of every other field.
RESUMABLE_FIELDS = ("total_iters", "device", "out_dir", "log_every", "sample_every", "ckpt_every")
FORMAT = "stargan-course/1"


def check_finite(step: int, losses: Mapping[str, float]) -> None:
    """Stop with the step and the term that went bad when a loss is NaN or infinite."""
    bad = {k: v for k, v in losses.items() if not math.isfinite(float(v))}
    if bad:
        raise TrainingError(f"non-finite loss at step {step}: {bad}. Lower the learning rate, check the "
                            "input range ([-1, 1]) or resume from the last checkpoint")


def config_dict(cfg: Any) -> dict[str, Any]:
    """A dataclass config as a plain dict (safe to store in a weights_only checkpoint)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


def field_defaults(cfg: Any) -> dict[str, Any]:
    """The default value of each field of a dataclass config that has one (tuples as lists, as stored)."""
    return {f.name: (list(f.default) if isinstance(f.default, tuple) else f.default)
            for f in dataclasses.fields(cfg) if f.default is not dataclasses.MISSING}


def config_from_dict(cls: type, values: Mapping[str, Any]) -> Any:
    """Rebuild a config dataclass from `config_dict` output (lists back to tuples).

    Introduced in `notebooks/01_cyclegan_baseline.ipynb` (with `load_run`)."""
    return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()})


def config_diff(saved: Mapping[str, Any], current: Mapping[str, Any], ignore: tuple[str, ...] = (),
                defaults: Mapping[str, Any] | None = None) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ between two config dicts: name -> (saved, current).

    `defaults`: the config class's default values. A field the saved dict lacks (added to the config
    after the checkpoint was written) is not a difference when its current value is that default,
    because a new field's default keeps the behaviour the checkpoint was trained with.
    """
    keys = (set(saved) | set(current)) - set(ignore)
    defaults = defaults or {}
    return {k: (saved.get(k), current.get(k)) for k in sorted(keys) if saved.get(k) != current.get(k)
            and not (k not in saved and k in defaults and current.get(k) == defaults[k])}


def save_checkpoint(path: str | Path, *, step: int, cfg: Any, nets: Mapping[str, torch.nn.Module],
                    optims: Mapping[str, torch.optim.Optimizer], history: Mapping[str, list] | None = None,
                    extra: Mapping[str, Any] | None = None, engine: Mapping[str, Any] | None = None) -> None:
    """Write everything a resumed run needs, atomically: nets, optimisers, step, config, RNG, history
    (and `engine`: the training engine's own state, such as the partial history window)."""
    state = {
        "format": FORMAT,
        "step": int(step),
        "config_class": type(cfg).__name__,
        "config": config_dict(cfg),
        "nets": {k: v.state_dict() for k, v in nets.items()},
        "optims": {k: v.state_dict() for k, v in optims.items()},
        "rng": rng_state(),
        "history": {k: list(v) for k, v in (history or {}).items()},
        "extra": dict(extra or {}),
    }
    if engine is not None:
        state["engine"] = dict(engine)
    atomic_torch_save(state, path)


def load_checkpoint(path: str | Path, *, cfg: Any, nets: Mapping[str, torch.nn.Module],
                    optims: Mapping[str, torch.optim.Optimizer] | None = None,
                    ignore_fields: tuple[str, ...] = RESUMABLE_FIELDS,
                    restore_rng: bool = True, check_finite: bool = True) -> dict[str, Any]:
    """Load a course checkpoint into `nets` (and `optims`), refusing one of another configuration.

    Fields that may change on resume (how long to train, where to write) are in `ignore_fields`;
    any other difference is an error that lists the fields, as is a missing or unexpected key.
    `check_finite`: a checkpoint holding a NaN or infinite weight is refused (CheckpointError)
    before anything is loaded into `nets`. The file is read onto the CPU (RNG states stay CPU
    tensors); weights and optimiser states are copied to the devices of `nets`. Returns the
    checkpoint dict (step, history, extra ...).
    """
    state = read_checkpoint(path)
    if state["config_class"] != type(cfg).__name__:
        raise CheckpointError(f"{path} holds a {state['config_class']} run, not {type(cfg).__name__}")
    diff = config_diff(state["config"], config_dict(cfg), ignore=ignore_fields, defaults=field_defaults(cfg))
    if diff:
        lines = ", ".join(f"{k}: checkpoint={a!r} vs now={b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(f"{path} was trained with another configuration ({lines}); resume with the "
                              "same settings or start a new run in another folder")
    if check_finite:
        check_finite_weights({k: v for k, v in state["nets"].items() if k in nets}, str(path))
    for name, net in nets.items():
        load_state_dict_checked(net, state["nets"].get(name), f"{path}[{name}]")
    for name, opt in (optims or {}).items():
        opt.load_state_dict(state["optims"][name])
    if restore_rng:
        set_rng_state(state["rng"])
    return state


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A course checkpoint as a dict, read onto the CPU; a clear error for anything else.

    Introduced in `notebooks/01_cyclegan_baseline.ipynb` (with `load_run`)."""
    state = safe_torch_load(path, map_location="cpu")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a course training checkpoint (no 'format' tag); to load "
                              "official weights use the model's load_official_* function instead")
    return state


def clean_stale_tmp(folder: str | Path, names: tuple[str, ...]) -> list[Path]:
    """Delete the temporary files that a killed atomic save of `names` left in `folder`; returns them.

    The engine calls it when a run starts. Introduced in `notebooks/01_cyclegan_baseline.ipynb`."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for name in names for p in folder.glob(f".{name}.*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


__all__ = ["CHECKPOINT", "RESUMABLE_FIELDS", "check_finite", "clean_stale_tmp", "config_dict", "config_diff",
           "config_from_dict", "load_checkpoint", "load_state_dict_checked", "read_checkpoint", "save_checkpoint"]
