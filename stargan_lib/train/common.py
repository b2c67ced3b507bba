"""What every trainer in the course shares: checkpoints that resume exactly, LR schedules as
functions of the step, the NaN guard, loss history.

Introduced in `notebooks/01_cyclegan_baseline.ipynb`; the StarGAN trainers reuse all of it.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping

import torch

from stargan_lib.errors import CheckpointError, TrainingError
from stargan_lib.utils import atomic_torch_save, rng_state, safe_torch_load, set_rng_state


def linear_decay(step: int, total: int, decay_start: int) -> float:
    """Multiplier that is 1 until `decay_start`, then falls linearly to 0 at `total`.

    StarGAN v1 decays the learning rate this way over the second half of training (Sec. 5.3);
    StarGAN v2 decays λ_ds this way from its initial value to 0 (Sec. 3, Appendix B).
    """
    if step <= decay_start or total <= decay_start:
        return 1.0
    return max(0.0, 1.0 - (step - decay_start) / (total - decay_start))


def check_finite(step: int, losses: Mapping[str, float]) -> None:
    """Stop with the step and the term that went bad when a loss is NaN or infinite."""
    bad = {k: v for k, v in losses.items() if not math.isfinite(float(v))}
    if bad:
        raise TrainingError(f"non-finite loss at step {step}: {bad}. Lower the learning rate, check the "
                            "input range ([-1, 1]) or resume from the last checkpoint")


def config_dict(cfg: Any) -> dict[str, Any]:
    """A dataclass config as a plain dict (safe to store in a weights_only checkpoint)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


def config_diff(saved: Mapping[str, Any], current: Mapping[str, Any],
                ignore: tuple[str, ...] = ()) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ between two config dicts: name -> (saved, current)."""
    keys = (set(saved) | set(current)) - set(ignore)
    return {k: (saved.get(k), current.get(k)) for k in sorted(keys) if saved.get(k) != current.get(k)}


def save_checkpoint(path: str | Path, *, step: int, cfg: Any, nets: Mapping[str, torch.nn.Module],
                    optims: Mapping[str, torch.optim.Optimizer], history: Mapping[str, list] | None = None,
                    extra: Mapping[str, Any] | None = None) -> None:
    """Write everything a resumed run needs, atomically: nets, optimisers, step, config, RNG, history."""
    state = {
        "format": "stargan-course/1",
        "step": int(step),
        "config_class": type(cfg).__name__,
        "config": config_dict(cfg),
        "nets": {k: v.state_dict() for k, v in nets.items()},
        "optims": {k: v.state_dict() for k, v in optims.items()},
        "rng": rng_state(),
        "history": {k: list(v) for k, v in (history or {}).items()},
        "extra": dict(extra or {}),
    }
    atomic_torch_save(state, path)


def load_checkpoint(path: str | Path, *, cfg: Any, nets: Mapping[str, torch.nn.Module],
                    optims: Mapping[str, torch.optim.Optimizer] | None = None,
                    ignore_fields: tuple[str, ...] = ("total_iters", "device", "out_dir", "log_every",
                                                      "sample_every", "ckpt_every"),
                    restore_rng: bool = True, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a course checkpoint into `nets` (and `optims`), refusing one of another configuration.

    Fields that may change on resume (how long to train, where to write) are in `ignore_fields`;
    any other difference is an error that lists the fields, as is a missing or unexpected key.
    Returns the checkpoint dict (step, history, extra ...).
    """
    state = safe_torch_load(path, map_location=map_location)
    if not isinstance(state, dict) or state.get("format") != "stargan-course/1":
        raise CheckpointError(f"{path} is not a course training checkpoint (no 'format' tag); to load "
                              "official weights use the model's load_official_state_dict instead")
    if state["config_class"] != type(cfg).__name__:
        raise CheckpointError(f"{path} holds a {state['config_class']} run, not {type(cfg).__name__}")
    diff = config_diff(state["config"], config_dict(cfg), ignore=ignore_fields)
    if diff:
        lines = ", ".join(f"{k}: checkpoint={a!r} vs now={b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(f"{path} was trained with another configuration ({lines}); resume with the "
                              "same settings or start a new run in another folder")
    for name, net in nets.items():
        load_state_dict_checked(net, state["nets"].get(name), f"{path}[{name}]")
    for name, opt in (optims or {}).items():
        opt.load_state_dict(state["optims"][name])
    if restore_rng:
        set_rng_state(state["rng"])
    return state


def load_state_dict_checked(net: torch.nn.Module, sd: Mapping[str, torch.Tensor] | None, where: str) -> None:
    """`load_state_dict` with an error that names the missing, unexpected and mis-shaped keys."""
    if sd is None:
        raise CheckpointError(f"{where}: the checkpoint has no weights for this network")
    own = net.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted(k for k in set(own) & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    if missing or unexpected or shapes:
        def head(keys: list[str]) -> str:
            return ", ".join(keys[:6]) + (f" ... (+{len(keys) - 6})" if len(keys) > 6 else "")
        parts = []
        if missing:
            parts.append(f"missing keys: {head(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {head(unexpected)}")
        if shapes:
            parts.append("shape mismatch: " + head([f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}"
                                                    for k in shapes]))
        raise CheckpointError(f"{where} does not fit this model ({'; '.join(parts)}). It was made with "
                              "another configuration (image size, number of domains/labels, model size)")
    net.load_state_dict(sd)
