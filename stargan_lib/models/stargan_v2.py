"""StarGAN v2 (Choi et al., CVPR 2020): generator G, mapping network F, style encoder E and
discriminator D, with the switches of the Table 1 ablation A–F.

Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` and `notebooks/05_stargan_v2_D_to_F.ipynb`.

Architecture (Appendix E, Tables 5–7), at 256 px:
- G: a 3x3 conv to 64 channels (Table 5 writes 1x1; the released networks, whose parameter counts
  we match, use 3x3 for the first conv and 1x1 for the last), four down-sampling pre-activation residual blocks with
  instance norm (IN), two intermediate IN blocks, two intermediate AdaIN blocks, four up-sampling
  AdaIN blocks, then IN - LeakyReLU - 1x1 conv to RGB. The style code s enters every AdaIN layer
  through a learned affine map. For CelebA-HQ one more down/up-sampling level is added, the
  decoder blocks lose their shortcuts, and high-pass filtered encoder features, masked by
  face-alignment heatmaps, are added back in the decoder (`w_hpf > 0`).
- F: 4 shared linear layers (16 -> 512 -> ... -> 512, ReLU), then per domain 3 linear+ReLU layers
  and a linear layer to the 64-d style code.
- E and D: 3x3 conv, six down-sampling residual blocks (no normalisation), LeakyReLU, 4x4 conv,
  LeakyReLU, then K heads: linear to 64 (E) or a 1x1 conv to one logit per domain (D).

Module and parameter names follow the released checkpoints (`100000_nets_ema.ckpt`), so
`load_official_nets_ema` loads them with `weights_only=True`; at the paper size the parameter counts
equal the official ones (AFHQ: G 33,892,995, F 3,259,072, E 20,949,760, D 20,852,803; CelebA-HQ with
the high-pass skip: G 43,467,395, F 2,438,272, E 20,916,928, D 20,852,290).

Ablation switches (see `stargan_lib.configs_v2`): `conditioning="concat"` (A, B) appends the one-hot
target domain to the input image as extra channels and uses IN (affine) in the decoder instead of
AdaIN; `discriminator="acgan"` (A) has one real/fake output plus a K-way classifier; `style="label"`
with AdaIN (C) feeds a learned per-domain embedding, `style="latent"` (D) feeds [embedding ; z] and
the encoder has one head predicting z.

Deviation: AdaIN computes (1 + γ(s)) · IN(x) + β(s) with the affine map's biases initialised to 0,
which equals the paper's "scaling biases set to one" and keeps the official parameter layout.
The face-alignment network (FAN) that produces the CelebA-HQ masks is `stargan_lib.models.fan`; G
takes its masks as `masks` (the trainer, the losses and the evaluation compute them from the source
image when `w_hpf > 0`) and, without them, skips the high-pass path (as the official generator does
when no masks are given).
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from stargan_lib.configs_v2 import DATASETS
from stargan_lib.models.stargan_v2_config import (StarGANv2Config, base_dim, code_dim, d_downsample, g_downsample,
                                                  make_config, validate)
from stargan_lib.errors import CheckpointError, ConfigError
from stargan_lib.utils import count_parameters, load_state_dict_checked, safe_torch_load

NET_NAMES = ("generator", "mapping_network", "style_encoder", "discriminator", "domain_embedding")
EMA_NAMES = ("generator", "mapping_network", "style_encoder", "domain_embedding")


def he_init(module: nn.Module) -> None:
    """He (Kaiming) normal initialisation for conv and linear weights, zero biases (Appendix B)."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _maybe_checkpoint(enabled: bool, fn, *args):
    """Run `fn(*args)`, through activation checkpointing when `enabled` and gradients are recorded."""
    if enabled and torch.is_grad_enabled():
        return checkpoint(fn, *args, use_reentrant=False)
    return fn(*args)


# ============================================================================ building blocks
class AdaIN(nn.Module):
    """Adaptive instance normalisation: (1 + γ(s)) · IN(x) + β(s), [γ, β] = fc(s)."""

    def __init__(self, code_dim: int, num_features: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(num_features, affine=False)
        self.fc = nn.Linear(code_dim, num_features * 2)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = self.fc(s)[:, :, None, None]             # (B, 2C, 1, 1)
        gamma, beta = h.chunk(2, dim=1)               # (B, C, 1, 1) each
        return (1 + gamma) * self.norm(x) + beta      # (B, C, H, W)


class HighPass(nn.Module):
    """Depth-wise 3x3 Laplacian high-pass filter divided by w_hpf (CelebA-HQ skip connections)."""

    def __init__(self, w_hpf: float):
        super().__init__()
        kernel = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]]) / w_hpf
        self.register_buffer("filter", kernel)        # persistent: it is in the official state dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.size(1)
        weight = self.filter.to(x.dtype)[None, None].expand(c, 1, 3, 3)   # (C, 1, 3, 3)
        return F.conv2d(x, weight, padding=1, groups=c)                   # (B, C, H, W)


class ResBlk(nn.Module):
    """Pre-activation residual block: [IN] - LReLU - conv3x3 - [avgpool] - [IN] - LReLU - conv3x3,
    plus a shortcut (1x1 conv when the width changes, avgpool when down-sampling), over √2."""

    def __init__(self, dim_in: int, dim_out: int, normalize: bool = False, downsample: bool = False):
        super().__init__()
        self.normalize, self.downsample = normalize, downsample
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        if normalize:
            self.norm1 = nn.InstanceNorm2d(dim_in, affine=True)
            self.norm2 = nn.InstanceNorm2d(dim_in, affine=True)
        self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False) if dim_in != dim_out else None

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv1x1 is not None:
            x = self.conv1x1(x)
        return F.avg_pool2d(x, 2) if self.downsample else x

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            x = self.norm1(x)
        x = self.conv1(F.leaky_relu(x, 0.2))
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        if self.normalize:
            x = self.norm2(x)
        return self.conv2(F.leaky_relu(x, 0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.shortcut(x) + self.residual(x)) / math.sqrt(2)   # (B, C_out, H', W')


class UpResBlk(nn.Module):
    """Decoder block: norm - LReLU - [upsample] - conv3x3 - norm - LReLU - conv3x3 (+ shortcut) / √2.

    norm is AdaIN driven by the code s (C–F, the official "AdainResBlk"), or instance norm with its
    own affine parameters when the target is concatenated to the input instead (A, B). With the
    high-pass skip (CelebA-HQ) the shortcut is dropped; its 1x1 conv still exists, as in the
    official networks (it is part of the released parameter count).
    """

    def __init__(self, dim_in: int, dim_out: int, code_dim: int, upsample: bool = False,
                 use_shortcut: bool = True, adain: bool = True):
        super().__init__()
        self.upsample, self.use_shortcut, self.adain = upsample, use_shortcut, adain
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, 1, 1)
        if adain:
            self.norm1, self.norm2 = AdaIN(code_dim, dim_in), AdaIN(code_dim, dim_out)
        else:
            self.norm1 = nn.InstanceNorm2d(dim_in, affine=True)
            self.norm2 = nn.InstanceNorm2d(dim_out, affine=True)
        self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False) if dim_in != dim_out else None

    def _norm(self, norm: nn.Module, x: torch.Tensor, s: torch.Tensor | None) -> torch.Tensor:
        return norm(x, s) if self.adain else norm(x)

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv1x1(x) if self.conv1x1 is not None else x

    def residual(self, x: torch.Tensor, s: torch.Tensor | None) -> torch.Tensor:
        x = F.leaky_relu(self._norm(self.norm1, x, s), 0.2)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv1(x)
        x = F.leaky_relu(self._norm(self.norm2, x, s), 0.2)
        return self.conv2(x)

    def forward(self, x: torch.Tensor, s: torch.Tensor | None) -> torch.Tensor:
        out = self.residual(x, s)                                # (B, C_out, H', W')
        if self.use_shortcut:
            out = (out + self.shortcut(x)) / math.sqrt(2)
        return out


def _trunk(image_size: int, dim_in: int, max_conv_dim: int, n_down: int) -> tuple[list[nn.Module], int]:
    """Shared body of E and D: conv3x3, `n_down` down-sampling residual blocks, LReLU, a conv whose
    kernel covers the remaining map (4x4 at the paper size), LReLU. Returns (layers, width)."""
    layers: list[nn.Module] = [nn.Conv2d(3, dim_in, 3, 1, 1)]
    dim_out = dim_in
    for _ in range(n_down):
        dim_out = min(dim_in * 2, max_conv_dim)
        layers.append(ResBlk(dim_in, dim_out, downsample=True))
        dim_in = dim_out
    final = image_size >> n_down
    layers += [nn.LeakyReLU(0.2), nn.Conv2d(dim_out, dim_out, final, 1, 0), nn.LeakyReLU(0.2)]
    return layers, dim_out


def _run_trunk(layers: nn.Sequential, x: torch.Tensor, ckpt: bool) -> torch.Tensor:
    for layer in layers:
        x = _maybe_checkpoint(ckpt and isinstance(layer, ResBlk), layer, x)
    return x


def _pick(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Row b of `out` (B, K, ...) at head y[b]: the output branch of each sample's domain."""
    return out[torch.arange(out.size(0), device=out.device), y]


# ============================================================================ the networks
class Generator(nn.Module):
    """G(x, s): encoder of IN residual blocks, decoder of AdaIN (or IN) residual blocks (Table 5).

    `s` is the code G is conditioned on: a style code (B, style_dim) for E/F, the domain embedding
    (B, style_dim) for C, [embedding ; z] (B, style_dim + latent_dim) for D, or the one-hot target
    domain (B, K) for A/B, which is then concatenated to the image depth-wise.
    """

    def __init__(self, image_size: int = 256, code_dim: int = 64, base_dim: int = 64,
                 max_conv_dim: int = 512, n_down: int = 4, n_bottleneck: int = 2, w_hpf: float = 0.0,
                 concat_domains: int = 0):
        super().__init__()
        self.image_size, self.concat_domains, self.w_hpf = image_size, concat_domains, w_hpf
        self.grad_checkpoint = False
        adain = concat_domains == 0
        dim_in = base_dim
        self.from_rgb = nn.Conv2d(3 + concat_domains, dim_in, 3, 1, 1)
        self.encode = nn.ModuleList()
        self.decode = nn.ModuleList()
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(dim_in, affine=True), nn.LeakyReLU(0.2),
                                    nn.Conv2d(dim_in, 3, 1, 1, 0))
        dim_out = dim_in
        for _ in range(n_down):                       # down-sampling blocks and their mirror images
            dim_out = min(dim_in * 2, max_conv_dim)
            self.encode.append(ResBlk(dim_in, dim_out, normalize=True, downsample=True))
            self.decode.insert(0, UpResBlk(dim_out, dim_in, code_dim, upsample=True,
                                           use_shortcut=w_hpf == 0, adain=adain))
            dim_in = dim_out
        for _ in range(n_bottleneck):                 # intermediate blocks at the bottleneck
            self.encode.append(ResBlk(dim_out, dim_out, normalize=True))
            self.decode.insert(0, UpResBlk(dim_out, dim_out, code_dim, use_shortcut=w_hpf == 0,
                                           adain=adain))
        self.hpf = HighPass(w_hpf) if w_hpf > 0 else None
        # encoder features at these sizes are passed through the high-pass skip (32, 64, 128 at 256 px)
        self._skip_sizes = (image_size // 8, image_size // 4, image_size // 2)

    def forward(self, x: torch.Tensor, s: torch.Tensor,
                masks: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        if self.concat_domains:                       # A, B: depth-wise concatenation of the target
            c = s[:, :, None, None].expand(-1, -1, x.size(2), x.size(3)).to(x.dtype)  # (B, K, H, W)
            x, s = torch.cat([x, c], dim=1), None     # (B, 3 + K, H, W)
        x = self.from_rgb(x)                          # (B, 64, H, W)
        use_skip = self.hpf is not None and masks is not None
        cache = {}
        for block in self.encode:
            if use_skip and x.size(2) in self._skip_sizes:
                cache[x.size(2)] = x
            x = _maybe_checkpoint(self.grad_checkpoint, block, x)     # down to (B, 512, 16, 16)
        for block in self.decode:
            x = _maybe_checkpoint(self.grad_checkpoint, block, x, s)  # back up to (B, 64, H, W)
            if use_skip and x.size(2) in self._skip_sizes:
                mask = masks[0] if x.size(2) == self._skip_sizes[0] else masks[1]
                mask = F.interpolate(mask, size=x.size(2), mode="bilinear")
                x = x + self.hpf(mask * cache[x.size(2)])
        return self.to_rgb(x)                         # (B, 3, H, W)


class MappingNetwork(nn.Module):
    """F_y(z): shared MLP, then one MLP head per domain; the head of domain y is returned (Table 6)."""

    def __init__(self, latent_dim: int = 16, style_dim: int = 64, num_domains: int = 2,
                 hidden_dim: int = 512, n_shared: int = 4, n_unshared: int = 4):
        super().__init__()
        shared: list[nn.Module] = []
        dim = latent_dim
        for _ in range(n_shared):
            shared += [nn.Linear(dim, hidden_dim), nn.ReLU()]
            dim = hidden_dim
        self.shared = nn.Sequential(*shared)
        self.unshared = nn.ModuleList()
        for _ in range(num_domains):
            head: list[nn.Module] = []
            for _ in range(n_unshared - 1):
                head += [nn.Linear(hidden_dim, hidden_dim), nn.ReLU()]
            head.append(nn.Linear(hidden_dim, style_dim))
            self.unshared.append(nn.Sequential(*head))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.shared(z)                                           # (B, 512)
        out = torch.stack([head(h) for head in self.unshared], 1)    # (B, K, style_dim)
        return _pick(out, y)                                         # (B, style_dim)


class StyleEncoder(nn.Module):
    """E_y(x): convolutional trunk shared by all domains, one linear head per domain (Table 7).

    With `num_heads=1` (configuration D) it is the plain encoder E(x) that predicts the latent code.
    """

    def __init__(self, image_size: int = 256, out_dim: int = 64, num_heads: int = 2, base_dim: int = 64,
                 max_conv_dim: int = 512, n_down: int = 6):
        super().__init__()
        self.grad_checkpoint = False
        layers, dim = _trunk(image_size, base_dim, max_conv_dim, n_down)
        self.shared = nn.Sequential(*layers)
        self.unshared = nn.ModuleList(nn.Linear(dim, out_dim) for _ in range(num_heads))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = _run_trunk(self.shared, x, self.grad_checkpoint).flatten(1)   # (B, 512)
        out = torch.stack([head(h) for head in self.unshared], 1)         # (B, K, out_dim)
        if len(self.unshared) == 1:
            return out[:, 0]                                              # (B, out_dim)
        if y is None:
            raise ConfigError("this style encoder has one head per domain: pass the domain y of x")
        return _pick(out, y)                                              # (B, out_dim)


class Discriminator(nn.Module):
    """D: the trunk of Table 7 and a 1x1 conv head.

    multi-task (B–F): K outputs, D_y(x) is the one of x's domain; forward returns (D_y(x), None).
    ACGAN (A): one real/fake output `main[-1]` plus a K-way domain classifier `cls`;
    forward returns (D_src(x), D_cls(x) logits (B, K)).
    """

    def __init__(self, image_size: int = 256, num_domains: int = 2, base_dim: int = 64,
                 max_conv_dim: int = 512, n_down: int = 6, kind: str = "multitask"):
        super().__init__()
        self.kind, self.grad_checkpoint = kind, False
        layers, dim = _trunk(image_size, base_dim, max_conv_dim, n_down)
        layers.append(nn.Conv2d(dim, num_domains if kind == "multitask" else 1, 1, 1, 0))
        self.main = nn.Sequential(*layers)
        self.cls = nn.Conv2d(dim, num_domains, 1, 1, 0) if kind == "acgan" else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = _run_trunk(self.main[:-1], x, self.grad_checkpoint)    # (B, 512, 1, 1)
        out = self.main[-1](h).flatten(1)                         # (B, K) or (B, 1)
        if self.cls is None:
            return _pick(out, y), None                            # (B,)
        return out[:, 0], self.cls(h).flatten(1)                  # (B,), (B, K)


class DomainEmbedding(nn.Module):
    """Learned per-domain code e_y for configurations C and D; D appends the latent z: [e_y ; z]."""

    def __init__(self, num_domains: int, dim: int, with_latent: bool = False):
        super().__init__()
        self.with_latent = with_latent
        self.embed = nn.Embedding(num_domains, dim)

    def forward(self, y: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        e = self.embed(y)                                  # (B, style_dim)
        if self.with_latent:
            return torch.cat([e, z.to(e.dtype)], dim=1)    # (B, style_dim + latent_dim)
        return e


# ============================================================================ the whole model
class StarGANv2Nets(nn.ModuleDict):
    """The networks of one configuration by their official names, plus the config that built them."""

    def __init__(self, cfg: StarGANv2Config, modules: Mapping[str, nn.Module]):
        super().__init__(dict(modules))
        self.cfg = cfg


def build_nets(cfg: StarGANv2Config) -> StarGANv2Nets:
    """The networks configuration `cfg.config` needs, He-initialised, on the CPU.

    generator and discriminator always; mapping_network (E, F); style_encoder (D: one head predicting
    z; E, F: one head per domain); domain_embedding (C, D).
    """
    validate(cfg)
    b, n_g, n_d = base_dim(cfg), g_downsample(cfg), d_downsample(cfg)
    concat = cfg.conditioning == "concat"
    nets: dict[str, nn.Module] = {
        "generator": Generator(cfg.image_size, code_dim(cfg), b, cfg.max_conv_dim, n_g, cfg.g_bottleneck,
                               cfg.w_hpf, concat_domains=cfg.num_domains if concat else 0),
        "discriminator": Discriminator(cfg.image_size, cfg.num_domains, b, cfg.max_conv_dim, n_d,
                                       cfg.discriminator),
    }
    if cfg.style == "style_code":
        nets["mapping_network"] = MappingNetwork(cfg.latent_dim, cfg.style_dim, cfg.num_domains,
                                                 cfg.hidden_dim, cfg.mapping_shared, cfg.mapping_unshared)
        nets["style_encoder"] = StyleEncoder(cfg.image_size, cfg.style_dim, cfg.num_domains, b,
                                             cfg.max_conv_dim, n_d)
    elif cfg.style == "latent":
        nets["style_encoder"] = StyleEncoder(cfg.image_size, cfg.latent_dim, 1, b, cfg.max_conv_dim, n_d)
    if cfg.conditioning == "adain" and cfg.style in ("label", "latent"):
        nets["domain_embedding"] = DomainEmbedding(cfg.num_domains, cfg.style_dim,
                                                   with_latent=cfg.style == "latent")
    for net in nets.values():
        net.apply(he_init)
    return StarGANv2Nets(cfg, nets)


def ema_copy(nets: StarGANv2Nets) -> StarGANv2Nets:
    """Frozen copies of the generating networks (G, F, E, embedding; not D) for the moving average."""
    ema = StarGANv2Nets(nets.cfg, {k: copy.deepcopy(v) for k, v in nets.items() if k in EMA_NAMES})
    ema.requires_grad_(False)
    return ema.eval()


@torch.no_grad()
def update_ema(ema: Mapping[str, nn.Module], nets: Mapping[str, nn.Module], beta: float) -> None:
    """θ_ema ← β·θ_ema + (1 − β)·θ for every parameter; buffers are copied."""
    for name, ema_net in ema.items():
        src = dict(nets[name].named_parameters())
        for pname, p in ema_net.named_parameters():
            p.lerp_(src[pname].detach().to(p.dtype), 1.0 - beta)
        src_buf = dict(nets[name].named_buffers())
        for bname, b in ema_net.named_buffers():
            b.copy_(src_buf[bname])


def set_grad_checkpointing(nets: Mapping[str, nn.Module], enabled: bool) -> None:
    """Switch activation checkpointing of the residual blocks of G, E and D (memory for compute)."""
    for net in nets.values():
        for m in net.modules():
            if hasattr(m, "grad_checkpoint"):
                m.grad_checkpoint = enabled


def param_counts(cfg: StarGANv2Config) -> dict[str, int]:
    """Parameters of each network of `cfg` (buffers such as the high-pass filter excluded)."""
    return {k: count_parameters(v) for k, v in build_nets(cfg).items()}


# ============================================================================ codes and generation
def check_domains(y: Any, num_domains: int, n: int, name: str = "y_trg",
                  device: torch.device | None = None) -> torch.Tensor:
    """`y` as a (n,) long tensor of domain indices in [0, K), or a ConfigError saying what is wrong."""
    y = torch.as_tensor(y, device=device)
    if y.dim() == 0:
        y = y.expand(n)
    if y.dtype.is_floating_point or y.dim() != 1 or y.numel() != n:
        raise ConfigError(f"{name} must hold one integer domain index per image ({n} images), got a "
                          f"{tuple(y.shape)} {y.dtype} tensor")
    if n and (int(y.min()) < 0 or int(y.max()) >= num_domains):
        raise ConfigError(f"{name} holds domain index {int(y.max()) if int(y.max()) >= num_domains else int(y.min())} "
                          f"but this model has {num_domains} domains (indices 0..{num_domains - 1}); "
                          "pass the index of the reference's/target's domain in the model's domain list")
    return y.long()


def label_code(nets: Mapping[str, nn.Module], cfg: StarGANv2Config, y: torch.Tensor) -> torch.Tensor:
    """A–C: the one-hot domain (concatenation) or the learned embedding e_y (AdaIN)."""
    if cfg.conditioning == "concat":
        return F.one_hot(y, cfg.num_domains).float()            # (B, K)
    return nets["domain_embedding"](y)                          # (B, style_dim)


def latent_code(nets: Mapping[str, nn.Module], cfg: StarGANv2Config, y: torch.Tensor,
                z: torch.Tensor) -> torch.Tensor:
    """D: [e_y ; z];  E, F: s = F_y(z) (Eq. 1)."""
    if cfg.style == "latent":
        return nets["domain_embedding"](y, z)                   # (B, style_dim + latent_dim)
    return nets["mapping_network"](z, y)                        # (B, style_dim)


def reference_code(nets: Mapping[str, nn.Module], cfg: StarGANv2Config, x_ref: torch.Tensor,
                   y: torch.Tensor) -> torch.Tensor:
    """E, F: s = E_y(x_ref), the style of a reference image of domain y."""
    return nets["style_encoder"](x_ref, y)                      # (B, style_dim)


def source_code(nets: Mapping[str, nn.Module], cfg: StarGANv2Config, x: torch.Tensor,
                y: torch.Tensor) -> torch.Tensor:
    """The code that maps a translation back to x in the cycle loss (Eq. 4): ŝ = E_y(x) for E/F,
    [e_y ; E(x)] for D, the source label for A–C."""
    if cfg.style == "style_code":
        return nets["style_encoder"](x, y)
    if cfg.style == "latent":
        return nets["domain_embedding"](y, nets["style_encoder"](x))
    return label_code(nets, cfg, y)


def _check_images(x: torch.Tensor, cfg: StarGANv2Config, name: str) -> None:
    if not torch.is_tensor(x) or x.dim() != 4 or x.size(1) != 3:
        raise ConfigError(f"{name} must be a (B, 3, H, W) image tensor in [-1, 1], got "
                          f"{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}")


def translate_det(nets: StarGANv2Nets, x: torch.Tensor, y_trg: Any, masks=None) -> torch.Tensor:
    """A–C: the single output G(x, y) per source and target domain."""
    cfg = nets.cfg
    if cfg.style != "label":
        raise ConfigError(f"configuration {cfg.config} is not deterministic (no single output per domain); "
                          "use translate_latent (D-F) or translate_reference (E-F)")
    _check_images(x, cfg, "x")
    y = check_domains(y_trg, cfg.num_domains, len(x), "y_trg", x.device)
    return nets["generator"](x, label_code(nets, cfg, y), masks)


def translate_latent(nets: StarGANv2Nets, x: torch.Tensor, y_trg: Any, z: torch.Tensor,
                     masks=None) -> torch.Tensor:
    """D–F: latent-guided synthesis G(x, F_y(z)) (D: G(x, [e_y ; z]))."""
    cfg = nets.cfg
    if cfg.style == "label":
        raise ConfigError(f"configuration {cfg.config} has no latent code (A-C give one output per domain); "
                          "use translate_det, or a configuration D-F")
    _check_images(x, cfg, "x")
    y = check_domains(y_trg, cfg.num_domains, len(x), "y_trg", x.device)
    if z.dim() != 2 or z.size(0) != len(x) or z.size(1) != cfg.latent_dim:
        raise ConfigError(f"z must be ({len(x)}, {cfg.latent_dim}) (one latent per image), got {tuple(z.shape)}")
    return nets["generator"](x, latent_code(nets, cfg, y, z), masks)


def translate_reference(nets: StarGANv2Nets, x: torch.Tensor, y_trg: Any, x_ref: torch.Tensor,
                        masks=None) -> torch.Tensor:
    """E–F: reference-guided synthesis G(x, E_y(x_ref)); y_trg is the domain of each reference."""
    cfg = nets.cfg
    if cfg.style != "style_code":
        raise ConfigError(f"configuration {cfg.config} has no style encoder for reference images; "
                          "reference-guided synthesis needs configuration E or F")
    _check_images(x, cfg, "x")
    _check_images(x_ref, cfg, "x_ref")
    if len(x_ref) != len(x):
        raise ConfigError(f"x_ref has {len(x_ref)} images but x has {len(x)}: give one reference per source "
                          "(repeat them with .expand / .repeat_interleave)")
    if x_ref.size(-1) != cfg.image_size or x_ref.size(-2) != cfg.image_size:
        raise ConfigError(f"x_ref is {x_ref.size(-2)}x{x_ref.size(-1)} px but the style encoder takes "
                          f"{cfg.image_size}x{cfg.image_size}; resize the references to {cfg.image_size} px")
    y = check_domains(y_trg, cfg.num_domains, len(x), "y_ref (the references' domain)", x.device)
    return nets["generator"](x, reference_code(nets, cfg, x_ref, y), masks)


# ============================================================================ official checkpoints
def _strip_prefix(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}


def count_heads(sd: Mapping[str, Any], prefix: str = "unshared") -> int:
    """Number of per-domain heads `unshared.<i>...` in a state dict (the domain count K)."""
    idx = {int(m.group(1)) for k in sd if (m := re.match(rf"{prefix}\.(\d+)\.", k))}
    return len(idx)


def load_official_nets_ema(path: str, dataset: str | None = None, num_domains: int | None = None,
                           image_size: int = 256, map_location: str | torch.device = "cpu") -> StarGANv2Nets:
    """The released `100000_nets_ema.ckpt` (AFHQ or CelebA-HQ) as configuration F's EMA networks.

    Loaded with `weights_only=True` (no code runs). The domain count is read from the checkpoint
    (heads of the mapping network) and checked against `num_domains` / `dataset` when given; the
    high-pass skip is on when the generator has `hpf.filter` (CelebA-HQ). Used in notebook 05.
    Download: see the course README (the official StarGAN v2 repository's `download.sh`).
    """
    state = safe_torch_load(path, map_location=map_location)
    need = ("generator", "mapping_network", "style_encoder")
    if not isinstance(state, dict) or any(k not in state for k in need):
        found = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path} is not a StarGAN v2 nets_ema checkpoint: expected keys {list(need)}, "
                              f"found {found}. Use the file named like 100000_nets_ema.ckpt")
    sds = {k: _strip_prefix(state[k]) for k in need}
    k_ckpt = count_heads(sds["mapping_network"])
    if num_domains is not None and num_domains != k_ckpt:
        raise CheckpointError(f"{path} has {k_ckpt} domains (mapping-network heads) but num_domains="
                              f"{num_domains} was asked for; use num_domains={k_ckpt} or the checkpoint "
                              "trained on your domains")
    if dataset is not None:
        want = DATASETS[_dataset_key(dataset)]["num_domains"]
        if want != k_ckpt:
            raise CheckpointError(f"{path} has {k_ckpt} domains but dataset {dataset!r} has {want}; "
                                  "pick the checkpoint of that dataset (afhq: 3 domains, celeba_hq: 2)")
    w_hpf = 1.0 if "hpf.filter" in sds["generator"] else 0.0
    if w_hpf:
        w_hpf = float(8.0 / sds["generator"]["hpf.filter"][1, 1])   # the filter is the kernel / w_hpf
    dataset = dataset or ("celeba_hq" if w_hpf else "afhq")
    cfg = make_config("F", None, dataset, num_domains=k_ckpt, w_hpf=w_hpf, image_size=image_size)
    nets = ema_copy(build_nets(cfg))
    for name in need:
        load_state_dict_checked(nets[name], sds[name], f"{path}[{name}]")
    return nets


def _dataset_key(dataset: str) -> str:
    from stargan_lib.configs_v2 import DATASET_ALIASES
    key = DATASET_ALIASES.get(dataset, dataset)
    if key not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; choose one of {sorted(DATASETS)}")
    return key
