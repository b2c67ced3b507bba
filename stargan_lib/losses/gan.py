"""Adversarial losses and the gradient penalty shared by every model of the course.

Introduced in `notebooks/01_cyclegan_baseline.ipynb` (LSGAN) and `notebooks/02_stargan_v1.ipynb`
(WGAN-GP); StarGAN v2 (`notebooks/04_stargan_v2_A_to_C.ipynb`) reuses the non-saturating loss and
`gradient_penalty` as its R1 regulariser.

The equations, with D's raw output ("critic value" or logit) written D(x):

- WGAN-GP, StarGAN v1 Eq. (8):
      L_adv = E_x[D_src(x)] - E_{x,c}[D_src(G(x,c))] - λ_gp E_x̂[(||∇_x̂ D_src(x̂)||_2 - 1)^2],
  x̂ sampled uniformly on the line between a real and a generated image, λ_gp = 10.
  D minimises -L_adv, G minimises -E[D_src(G(x,c))].
- LSGAN (CycleGAN Sec. 4, least squares): D minimises E[(D(y) - 1)^2] + E[D(G(x))^2],
  G minimises E[(D(G(x)) - 1)^2].
- Non-saturating (Goodfellow et al.; StarGAN v2 Sec. 4): D minimises
  E[softplus(-D(x))] + E[softplus(D(G(x)))] (= -log σ(D(x)) - log(1 - σ(D(G(x))))),
  G minimises E[softplus(-D(G(x)))].
- R1 (Mescheder et al.; StarGAN v2 with γ = 1): (γ/2) E_x[||∇_x D(x)||_2^2] on real images,
  i.e. `gradient_penalty(d_real, x_real, target=0)` times γ/2.

All functions are pure: tensors in, a scalar tensor out, averaged over the batch (and over the
patches of a PatchGAN output).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stargan_lib.errors import ConfigError

ADV_KINDS = ("wgan", "lsgan", "nonsat")


# ----------------------------------------------------------------------------- gradient penalty
def gradient_penalty(d_out: torch.Tensor, inputs: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """E[(||∇_inputs d_out||_2 - target)^2], the norm taken per sample over all of C, H, W.

    - WGAN-GP (StarGAN v1 Eq. 8): `inputs` are the random interpolates x̂ (made with
      `interpolate`), `d_out = D_src(x̂)`, `target = 1`; multiply by λ_gp = 10.
    - R1 (StarGAN v2): `inputs` are real images with `requires_grad_()`, `d_out = D(x)`,
      `target = 0`, giving E[||∇_x D(x)||^2]; multiply by γ/2.

    `d_out` may hold several outputs per sample (a PatchGAN map): their sum is differentiated, so each
    sample's gradient is that of the sum of its own outputs. `create_graph=True` lets the penalty
    itself be back-propagated into D's weights.
    """
    if not inputs.requires_grad:
        raise ValueError("gradient_penalty: `inputs` must require grad (call inputs.requires_grad_() "
                         "before computing d_out = D(inputs))")
    (grad,) = torch.autograd.grad(outputs=d_out.sum(), inputs=inputs, create_graph=True)
    grad = grad.flatten(1)                                   # (B, C*H*W)
    if target == 0:
        # ||g||^2 directly: the square root of 0 has an infinite derivative, so (||g|| - 0)^2 is
        # computed as the sum of squares (same value, finite gradient everywhere).
        return grad.pow(2).sum(dim=1).mean()
    norm = grad.norm(2, dim=1)                               # (B,)
    return (norm - target).pow(2).mean()


def interpolate(x_real: torch.Tensor, x_fake: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """x̂ = α x_real + (1 - α) x_fake with one α ~ U[0, 1] per sample; returned with requires_grad."""
    alpha = torch.rand(x_real.size(0), 1, 1, 1, device=x_real.device, dtype=x_real.dtype,
                       generator=generator)                 # (B, 1, 1, 1)
    x_hat = alpha * x_real.detach() + (1 - alpha) * x_fake.detach()  # (B, C, H, W)
    return x_hat.requires_grad_(True)


# ----------------------------------------------------------------------------- WGAN
def wgan_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """-E[D(x)] + E[D(G(x))]: D minimises this (the adversarial half of -L_adv, Eq. 8)."""
    return -d_real.mean() + d_fake.mean()


def wgan_g_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """-E[D(G(x))]: the part of L_adv (Eq. 8) that depends on G."""
    return -d_fake.mean()


# ----------------------------------------------------------------------------- LSGAN
def lsgan_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """E[(D(y) - 1)^2] + E[D(G(x))^2] (least-squares GAN, CycleGAN's choice).

    Deviation: CycleGAN's reference training halves D's objective (divides by 2) to slow D down;
    we keep the plain sum and leave the factor to the caller (`losses.cyclegan` applies 0.5).
    """
    return (d_real - 1).pow(2).mean() + d_fake.pow(2).mean()


def lsgan_g_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """E[(D(G(x)) - 1)^2]."""
    return (d_fake - 1).pow(2).mean()


# ----------------------------------------------------------------------------- non-saturating
def nonsat_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """E[-log σ(D(x))] + E[-log(1 - σ(D(G(x))))], written with softplus for stability."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def nonsat_g_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """E[-log σ(D(G(x)))]: G maximises log D instead of minimising log(1 - D) (stronger early gradients)."""
    return F.softplus(-d_fake).mean()


# ----------------------------------------------------------------------------- dispatch by name
def d_adv_loss(kind: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """D's adversarial loss of kind "wgan", "lsgan" or "nonsat"."""
    return _pick(kind, wgan_d_loss, lsgan_d_loss, nonsat_d_loss)(d_real, d_fake)


def g_adv_loss(kind: str, d_fake: torch.Tensor) -> torch.Tensor:
    """G's adversarial loss of kind "wgan", "lsgan" or "nonsat"."""
    return _pick(kind, wgan_g_loss, lsgan_g_loss, nonsat_g_loss)(d_fake)


def _pick(kind, wgan, lsgan, nonsat):
    table = {"wgan": wgan, "lsgan": lsgan, "nonsat": nonsat}
    if kind not in table:
        raise ConfigError(f"unknown adversarial loss {kind!r}; choose one of {ADV_KINDS}")
    return table[kind]
