"""Pieces shared by the course's models.

`run_settings`: the config fields every model shares (the run fields the training engine reads,
the seed, the device, the batch and Adam's β), written once; each model's config subclasses it with
its own defaults (introduced in `notebooks/01_cyclegan_baseline.ipynb`).

`residual_output`: the course deviation that reads a generator's last layer as a change to its
input (CycleGAN's `g_residual` in `notebooks/01_cyclegan_baseline.ipynb`, StarGAN v1's in
`notebooks/02_stargan_v1.ipynb`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import field

import torch

from stargan_lib.utils import field_range


def run_settings(*, total_iters: int, batch_size: int, seed: int, log_every: int, sample_every: int,
                 beta1: float, beta2: float, decay_iters: int | None = None) -> type:
    """A frozen dataclass to subclass: the fields every model's config shares, with that model's defaults.

    They are what the training engine reads (`train.engine.RunConfig`: total_iters, log_every,
    sample_every, ckpt_every), the run's seed and device, the batch size and Adam's β1, β2; with
    `decay_iters`, also the linear learning-rate decay and the flip augmentation of CycleGAN and
    StarGAN v1 (`decay_iters`, `hflip`). A config's field names and values, and so its checkpoints
    and run hashes, do not depend on where a field is declared. Introduced in
    `notebooks/01_cyclegan_baseline.ipynb`.
    """
    def f(default, help: str, kind: str | None = None):
        return field(default=default, metadata={**(field_range(kind) if kind else {}), "help": help})

    fields = [
        ("batch_size", int, f(batch_size, "images per batch (the global batch, split across DDP processes)", "count")),
        ("beta1", float, f(beta1, "Adam β1", "beta")),
        ("beta2", float, f(beta2, "Adam β2", "beta")),
        ("total_iters", int, f(total_iters, "training iterations", "count")),
    ]
    if decay_iters is not None:
        fields += [("decay_iters", int, f(decay_iters, "the learning rates decay linearly to 0 over this many last "
                                                       "iterations", "count0")),
                   ("hflip", bool, f(True, "random horizontal flips (p = 0.5) as augmentation"))]
    fields += [
        ("seed", int, f(seed, "random seed")),
        ("device", str, f("auto", "auto, cpu, cuda or cuda:N")),
        ("log_every", int, f(log_every, "iterations between loss-history rows", "count0")),
        ("sample_every", int, f(sample_every, "iterations between sample grids (0: never)", "count0")),
        ("ckpt_every", int, f(10_000, "iterations between checkpoints (0: only at the stop)", "count0")),
    ]
    return dataclasses.make_dataclass("RunSettings", fields, frozen=True)


def residual_output(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """y = clamp(x + 2 tanh(h), -1, 1) for an input x and a last layer's tanh(h), both (B, 3, H, W) in [-1, 1].

    Deviation (course presets; the papers' generators output y = tanh(h)): the generator predicts
    a change of its input. The factor 2 lets a pixel reach any value in [-1, 1] from any input.
    With small initial weights tanh(h) is near 0, so an untrained generator is near the identity:
    a short run need not first learn to redraw background, skin and face shape before it can edit.
    """
    return (x + 2.0 * out).clamp(-1.0, 1.0)
