"""CycleGAN (Zhu et al., ICCV 2017): two generators G: A -> B, F: B -> A and two discriminators,
the two-domain baseline that StarGAN v1 is compared with (its Table 3).

Introduced in `notebooks/01_cyclegan_baseline.ipynb`.

Architecture (CycleGAN appendix 7.2, "resnet_9blocks" and the 70x70 PatchGAN):
- Generator: c7s1-64, d128, d256, R256 x 9, u128, u64, c7s1-3 (c7s1-k: 7x7 conv stride 1, k
  filters; dk: 3x3 conv stride 2; Rk: residual block of two 3x3 convs; uk: 3x3 transposed conv
  stride 1/2). Reflection padding, instance norm (no affine parameters, no running statistics),
  ReLU, tanh output.
- Discriminator: C64-C128-C256-C512 (Ck: 4x4 conv, instance norm, LeakyReLU 0.2; no norm on C64;
  stride 2 except the last, stride 1), then a 4x4 conv to one channel. Each output value sees a
  70x70 patch of the input.

Every convolution carries a bias, also those followed by instance norm (where the bias has no
effect, the per-channel mean being subtracted), because the reference implementation keeps them:
that gives its parameter counts at paper size, G 11,378,179 and D 2,764,737. The modules sit in one
`model` Sequential in the reference order, so `state_dict()` keys follow the reference layout (`model.1.weight`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from stargan_lib.errors import ConfigError
from stargan_lib.models.common import residual_output, run_settings
from stargan_lib.utils import MAX_IMAGE_SIZE, check_fields, check_run_lengths, count_parameters, field_range


# ============================================================================ configuration
@dataclass(frozen=True)
class CycleGANConfig(run_settings(total_iters=200_000, batch_size=1, seed=0, log_every=10, sample_every=1000,
                                 beta1=0.5, beta2=0.999, decay_iters=100_000)):
    """CycleGAN hyper-parameters; the defaults are the paper's (Sec. 4 and appendix 7).

    Deviation: the paper counts epochs (100 at the initial learning rate, 100 decaying linearly to 0,
    batch size 1); we count iterations: 200,000 with decay over the last 100,000 (= 200 epochs of a
    1,000-image domain). Use `config_for(preset, **overrides)` for the smoke / course / paper variant.
    """

    # --- data: two domains of one dataset (label names of a binary set, or domain names)
    image_size: int = field(default=256, metadata={
        **field_range("count", MAX_IMAGE_SIZE), "help": "image height = width in pixels (paper: 256)"})
    dataset: str = field(default="faces", metadata={"help": "synthetic dataset the two domains come from"})
    domain_a: str = field(default="Black_Hair", metadata={"help": "domain A: a label (attribute) name"})
    domain_b: str = field(default="Blond_Hair", metadata={"help": "domain B: a label (attribute) name"})
    # --- architecture
    ngf: int = field(default=64, metadata={**field_range("count"), "help": "channels of the generators' first layer"})
    ndf: int = field(default=64, metadata={
        **field_range("count"), "help": "channels of the discriminators' first layer"})
    n_blocks: int = field(default=9, metadata={
        **field_range("count0"), "help": "residual blocks per generator (9 at 256 px, 6 at 128 px)"})
    n_layers_d: int = field(default=3, metadata={
        **field_range("count0"), "help": "stride-2 layers of the PatchGAN (3 = 70x70 patches)"})
    g_residual: bool = field(default=False, metadata={
        "help": "course deviation: each generator predicts a change added to its input, y = clamp(x + 2 tanh(h)) "
                "(paper: False, y = tanh(h))"})
    # --- losses
    lambda_cyc: float = field(default=10.0, metadata={
        **field_range("nonneg"), "help": "weight λ of the cycle-consistency loss"})
    lambda_id: float = field(default=0.5, metadata={**field_range("nonneg"),
        "help": "identity loss weight, relative to lambda_cyc (0 switches the identity loss off)"})
    pool_size: int = field(default=50, metadata={
        **field_range("count0"), "help": "image pool: D sees a history of this many fakes (0: off)"})
    # --- optimisation (batch_size, beta1, beta2, total_iters, decay_iters, hflip and the run fields: run_settings)
    lr: float = field(default=2e-4, metadata={**field_range("positive"), "help": "Adam learning rate (G and D)"})

    def __post_init__(self) -> None:
        check_fields(self)              # every number finite and in its field's range (NaN, negative rates ...)
        if self.image_size % 4 != 0:
            raise ConfigError(f"image_size={self.image_size} must be divisible by 4 (G down-samples twice)")
        # the PatchGAN map is image_size / 2**n_layers_d - 2 patches wide (two stride-1 4x4 convs)
        if self.image_size // 2 ** self.n_layers_d - 2 < 1:
            raise ConfigError(f"image_size={self.image_size} is too small for a PatchGAN with n_layers_d="
                              f"{self.n_layers_d}; use at least {3 * 2 ** self.n_layers_d} px or fewer layers")
        check_run_lengths(self)
        if self.domain_a == self.domain_b:
            raise ConfigError(f"domain_a and domain_b are both {self.domain_a!r}; pick two different domains")


def config_for(preset: str | None = None, **overrides: Any) -> CycleGANConfig:
    """The config of `preset` ("smoke", "course", "paper"; default $STARGAN_PRESET or "course"):
    paper defaults, the preset's image size, its "cyclegan" overrides, then `overrides`.

    At the paper preset the image size is the preset's 128 px (the CelebA setting in which the
    StarGAN v1 paper compares with CycleGAN, its Table 3) with the 9-block generator; pass
    `image_size=256` for the CycleGAN paper's own setting (the parameter counts do not change).
    """
    from stargan_lib.presets import get_preset

    return get_preset(preset).model_config(CycleGANConfig, "cyclegan", overrides)


# ============================================================================ building blocks
def norm(dim: int) -> nn.Module:
    """Instance norm as in CycleGAN: no affine parameters, no running statistics."""
    return nn.InstanceNorm2d(dim, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """R_k: x + [pad, 3x3 conv, IN, ReLU, pad, 3x3 conv, IN](x) with reflection padding."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)                       # (B, dim, h, w)


# ============================================================================ generator
class ResnetGenerator(nn.Module):
    """c7s1-ngf, d(2ngf), d(4ngf), R(4ngf) x n_blocks, u(2ngf), u(ngf), c7s1-3: one direction A -> B.

    Deviation (`residual=True`, the course preset's `g_residual`): the output is read as a change of
    the input (`models.common.residual_output`); same layers and state_dict as the paper's.
    """

    def __init__(self, ngf: int = 64, n_blocks: int = 9, residual: bool = False):
        super().__init__()
        self.residual = residual
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), norm(ngf), nn.ReLU(True)]  # c7s1
        dim = ngf
        for _ in range(2):                                                          # d2ngf, d4ngf
            layers += [nn.Conv2d(dim, dim * 2, 3, 2, 1), norm(dim * 2), nn.ReLU(True)]
            dim *= 2
        layers += [ResnetBlock(dim) for _ in range(n_blocks)]                       # R4ngf x n
        for _ in range(2):                                                          # u2ngf, ungf
            layers += [nn.ConvTranspose2d(dim, dim // 2, 3, 2, 1, output_padding=1), norm(dim // 2), nn.ReLU(True)]
            dim //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(dim, 3, 7), nn.Tanh()]          # c7s1-3
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)           # (B, 3, H, W) -> (B, ngf, H, W) -> (B, 4ngf, H/4, W/4) -> (B, 3, H, W)
        return residual_output(x, out) if self.residual else out


# ============================================================================ discriminator
class PatchDiscriminator(nn.Module):
    """C64-C128-C256-C512 + 4x4 conv to 1 channel: one real/fake score per (70x70 at n_layers=3) patch."""

    def __init__(self, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]     # C64, no norm
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1                                               # last Ck: stride 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1), norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]                                       # patch scores
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)          # (B, 3, H, W) -> (B, 1, H/8 - 2, W/8 - 2) at n_layers = 3


# ============================================================================ whole model
def build_nets(cfg: CycleGANConfig) -> dict[str, nn.Module]:
    """The four networks: G_AB (A -> B), G_BA (B -> A; F in the paper), D_A (judges A), D_B (judges B)."""
    return {
        "G_AB": ResnetGenerator(cfg.ngf, cfg.n_blocks, residual=cfg.g_residual),
        "G_BA": ResnetGenerator(cfg.ngf, cfg.n_blocks, residual=cfg.g_residual),
        "D_A": PatchDiscriminator(cfg.ndf, cfg.n_layers_d),
        "D_B": PatchDiscriminator(cfg.ndf, cfg.n_layers_d),
    }


def param_counts(cfg: CycleGANConfig) -> dict[str, int]:
    """Parameters of one generator and one discriminator ({"G": ..., "D": ...}) and of all four
    networks together ("total"): a CycleGAN for k domains needs k(k-1) generators."""
    g = count_parameters(ResnetGenerator(cfg.ngf, cfg.n_blocks))
    d = count_parameters(PatchDiscriminator(cfg.ndf, cfg.n_layers_d))
    return {"G": g, "D": d, "total": 2 * g + 2 * d}


@torch.no_grad()
def translate(G: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """G(x) in evaluation mode, in batches, for one generator (G_AB or G_BA); returns CPU images in
    [-1, 1] of x's shape (N, 3, H, W). Introduced in `notebooks/01_cyclegan_baseline.ipynb`."""
    was_training = G.training
    G.eval()
    device = next(G.parameters()).device
    out = [G(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
    G.train(was_training)
    return torch.cat(out) if out else x[:0].clone()
