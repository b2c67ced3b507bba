"""Pieces shared by the course's generators.

`residual_output`: the course deviation that reads a generator's last layer as a change to its
input (CycleGAN's `g_residual` in `notebooks/01_cyclegan_baseline.ipynb`, StarGAN v1's in
`notebooks/02_stargan_v1.ipynb`).
"""

from __future__ import annotations

import torch


def residual_output(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """y = clamp(x + 2 tanh(h), -1, 1) for an input x and a last layer's tanh(h), both (B, 3, H, W) in [-1, 1].

    Deviation (course presets; the papers' generators output y = tanh(h)): the generator predicts
    a change of its input. The factor 2 lets a pixel reach any value in [-1, 1] from any input.
    With small initial weights tanh(h) is near 0, so an untrained generator is near the identity:
    a short run need not first learn to redraw background, skin and face shape before it can edit.
    """
    return (x + 2.0 * out).clamp(-1.0, 1.0)
