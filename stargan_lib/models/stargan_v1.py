"""StarGAN v1 (Choi et al., CVPR 2018): one generator G(x, c) for all domains and a PatchGAN
discriminator with two heads, D_src (real/fake) and D_cls (domain classifier).

Introduced in `notebooks/02_stargan_v1.ipynb`; the mask vector of Sec. 3.2 (joint training on two
datasets) in `notebooks/03_mask_vector_joint_training.ipynb`.

Architecture: the paper's appendix 7.2, Tables 4 (G) and 5 (D).
- G: the target label c (n_c numbers) is replicated over the image plane and concatenated to the
  image channels (depth-wise concatenation, Fig. 3), then 7x7 conv, two stride-2 down-sampling
  convs, six residual blocks, two stride-2 transposed convs, 7x7 conv, tanh. Instance norm in all
  layers but the last.
- D: six stride-2 4x4 convs with Leaky ReLU (slope 0.01), no normalisation; D_src is a 3x3 conv to
  one channel (a PatchGAN map of (h/64, w/64) at 6 layers), D_cls a conv whose kernel covers the
  whole (h/64, w/64) map, giving n_d logits.

The modules are named so that `state_dict()` has exactly the key names and shapes of the released
StarGAN v1 checkpoints (`200000-G.ckpt`, `200000-D.ckpt`): `load_official_weights` loads them.
At the paper configuration (128 px, conv_dim 64, 6 residual blocks, 6 D layers) the parameter
counts are those of the official implementation: 5 CelebA attributes G 8,430,528 / D 44,762,048;
8 RaFD expressions G 8,439,936 / D 44,786,624; joint CelebA+RaFD (G label 5+8+2 = 15, D classes 13)
G 8,461,888 / D 44,827,584.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from stargan_lib.errors import ConfigError
from stargan_lib.models.common import residual_output, run_settings
from stargan_lib.utils import (MAX_IMAGE_SIZE, check_fields, check_run_lengths, count_parameters, field_range,
                               load_state_dict_checked, safe_torch_load)

# Label kind of each synthetic dataset the v1 model is trained on (see `stargan_lib.data`):
# faces carry binary attributes (CelebA-like), expressions one-hot expressions (RaFD-like).
DATASET_LABEL_KIND = {"faces": "binary", "expressions": "domain", "animals": "domain", "faces_gender": "domain"}


# ============================================================================ configuration
@dataclass(frozen=True)
class StarGANv1Config(run_settings(total_iters=200_000, batch_size=16, seed=0, log_every=10, sample_every=1000,
                                  beta1=0.5, beta2=0.999, decay_iters=100_000)):
    """StarGAN v1 hyper-parameters; the defaults are the paper's (Sec. 3, 4, 5.3, appendix 7.2).

    Use `config_for(preset, **overrides)` to get the smoke / course / paper variant. The run and optimiser
    fields shared with the other models come from `run_settings`; here `total_iters` counts D updates
    (one per iteration; G is updated every `n_critic` of them).
    """

    # --- data and labels
    image_size: int = field(default=128, metadata={
        **field_range("count", MAX_IMAGE_SIZE), "help": "image height = width in pixels (paper: 128)"})
    datasets: tuple[str, ...] = field(default=("faces",), metadata={
        "help": "one dataset, or two for joint training with the mask vector (Sec. 3.2), e.g. faces,expressions"})
    c_dim: int = field(default=5, metadata={
        **field_range("count"), "help": "number of labels of the first dataset (CelebA: 5 attributes)"})
    c2_dim: int = field(default=8, metadata={**field_range("count"),
        "help": "number of labels of the second dataset, used only in joint training (RaFD: 8 expressions)"})
    # --- architecture (Tables 4, 5)
    g_conv_dim: int = field(default=64, metadata={**field_range("count"), "help": "channels of G's first conv layer"})
    d_conv_dim: int = field(default=64, metadata={**field_range("count"), "help": "channels of D's first conv layer"})
    g_repeat_num: int = field(default=6, metadata={
        **field_range("count0"), "help": "residual blocks in G's bottleneck"})
    d_repeat_num: int = field(default=6, metadata={**field_range("count0"),
        "help": "stride-2 conv layers in D (image_size must be divisible by 2**d_repeat_num)"})
    g_residual: bool = field(default=False, metadata={
        "help": "course deviation: G predicts a change added to its input, y = clamp(x + 2 tanh(h)) "
                "(paper: False, y = tanh(h))"})
    # --- loss weights (Eqs. 5, 6, 8)
    lambda_cls: float = field(default=1.0, metadata={
        **field_range("nonneg"), "help": "weight of the domain classification losses"})
    lambda_rec: float = field(default=10.0, metadata={
        **field_range("nonneg"), "help": "weight of the reconstruction (cycle) loss"})
    lambda_gp: float = field(default=10.0, metadata={
        **field_range("nonneg"), "help": "weight of the WGAN gradient penalty"})
    lambda_id: float = field(default=0.0, metadata={**field_range("nonneg"),
        "help": "course deviation: weight of an identity loss ||x - G(x, c')||_1 (paper: 0, no such term)"})
    # --- optimisation (Sec. 5.3; batch_size, beta1, beta2, total_iters, decay_iters, hflip and the run fields:
    #     run_settings)
    g_lr: float = field(default=1e-4, metadata={**field_range("positive"), "help": "Adam learning rate of G"})
    d_lr: float = field(default=1e-4, metadata={**field_range("positive"), "help": "Adam learning rate of D"})
    n_critic: int = field(default=5, metadata={**field_range("count"), "help": "D updates per G update"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "datasets", tuple(self.datasets))      # frozen: normalise once
        check_fields(self)              # every number finite and in its field's range (NaN, negative rates ...)
        if len(self.datasets) not in (1, 2):
            raise ConfigError(f"datasets={self.datasets!r}: give one dataset, or two for mask-vector joint training")
        unknown = [d for d in self.datasets if d not in DATASET_LABEL_KIND]
        if unknown:
            raise ConfigError(f"datasets={self.datasets!r}: unknown {unknown}; choose from {sorted(DATASET_LABEL_KIND)}")
        if self.image_size % (2 ** self.d_repeat_num) != 0:
            raise ConfigError(
                f"image_size={self.image_size} is not divisible by 2**d_repeat_num={2 ** self.d_repeat_num}: "
                f"D's classification kernel would be {self.image_size / 2 ** self.d_repeat_num}. Lower "
                f"d_repeat_num (at most {max(0, self.image_size.bit_length() - 1)}) or change image_size")
        if self.image_size % 4 != 0:
            raise ConfigError(f"image_size={self.image_size} must be divisible by 4 (G down-samples twice)")
        check_run_lengths(self)

    @property
    def joint(self) -> bool:
        """True when training on two datasets with the mask vector."""
        return len(self.datasets) == 2

    @property
    def label_dims(self) -> tuple[int, ...]:
        """Labels per dataset: (c_dim,) or (c_dim, c2_dim)."""
        return (self.c_dim, self.c2_dim) if self.joint else (self.c_dim,)

    @property
    def label_kinds(self) -> tuple[str, ...]:
        """"binary" or "domain" per dataset."""
        return tuple(DATASET_LABEL_KIND[d] for d in self.datasets)

    @property
    def g_label_dim(self) -> int:
        """n_c, the length of G's label input: c, or c̃ = [c1, c2, m] in joint training (Eq. 7)."""
        return sum(self.label_dims) + (len(self.datasets) if self.joint else 0)

    @property
    def d_cls_dim(self) -> int:
        """n_d, the number of D_cls outputs: the labels of all datasets."""
        return sum(self.label_dims)


def config_for(preset: str | None = None, **overrides: Any) -> StarGANv1Config:
    """The config of `preset` ("smoke", "course", "paper"; default $STARGAN_PRESET or "course").

    Starts from the paper defaults, sets the preset's image size, applies the preset's
    "stargan_v1" overrides, then `overrides`.
    """
    from stargan_lib.presets import get_preset

    return get_preset(preset).model_config(StarGANv1Config, "stargan_v1", overrides)


# ============================================================================ building blocks
class InstanceNorm(nn.InstanceNorm2d):
    """Instance normalisation with an affine transform and running statistics, as in the official model.

    The running mean/var buffers exist (the official checkpoints contain them, so they load) and are
    updated while training, but normalisation always uses each image's own statistics, in train and
    eval mode alike, which is what instance normalisation means.
    Deviation: a plain `nn.InstanceNorm2d(track_running_stats=True)` would switch to the running
    averages after `.eval()` and translate differently; here `.eval()` does not change the outputs.
    """

    def __init__(self, num_features: int):
        super().__init__(num_features, affine=True, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = self.training
        return F.instance_norm(x, self.running_mean if update else None, self.running_var if update else None,
                               self.weight, self.bias, use_input_stats=True, momentum=self.momentum, eps=self.eps)


def conv_in_relu(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> list[nn.Module]:
    """CONV-(N c_out, K kernel, S stride, P padding), IN, ReLU: three layers (no conv bias, IN follows)."""
    return [nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False), InstanceNorm(c_out), nn.ReLU(inplace=True)]


def deconv_in_relu(c_in: int, c_out: int) -> list[nn.Module]:
    """DECONV-(N c_out, K4x4, S2, P1), IN, ReLU: doubles the resolution."""
    return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), InstanceNorm(c_out), nn.ReLU(inplace=True)]


class ResidualBlock(nn.Module):
    """x + [CONV 3x3, IN, ReLU, CONV 3x3, IN](x), channels unchanged."""

    def __init__(self, dim: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), InstanceNorm(dim), nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), InstanceNorm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)                             # (B, dim, h, w)


def replicate_label(c: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, n_c) label -> (B, n_c, H, W): each label value becomes a constant feature map."""
    return c.view(c.size(0), c.size(1), 1, 1).expand(-1, -1, height, width)


def concat_label(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Depth-wise concatenation of image and spatially replicated label: (B, 3 + n_c, H, W)."""
    return torch.cat([x, replicate_label(c.to(x.dtype), x.size(2), x.size(3))], dim=1)


# ============================================================================ generator
class Generator(nn.Module):
    """G(x, c) -> y, Table 4. `label_dim` is n_c (n_d, or n_d + n_datasets with the mask vector).

    Deviation (`residual=True`, the course preset's `g_residual`): the last layer's output is read
    as a change to the input, y = clamp(x + 2 tanh(h), -1, 1) (`models.common.residual_output`),
    instead of the image itself, y = tanh(h). The layers and the state_dict are the paper's; only
    the output map differs (`notebooks/02_stargan_v1.ipynb` shows what it buys).
    """

    def __init__(self, label_dim: int = 5, conv_dim: int = 64, repeat_num: int = 6, residual: bool = False):
        super().__init__()
        self.label_dim = label_dim
        self.residual = residual
        layers = conv_in_relu(3 + label_dim, conv_dim, 7, 1, 3)                  # (B, 64, h, w)
        dim = conv_dim
        for _ in range(2):                                                       # down-sampling
            layers += conv_in_relu(dim, dim * 2, 4, 2, 1)                        # (B, 2dim, h/2, w/2)
            dim *= 2
        layers += [ResidualBlock(dim) for _ in range(repeat_num)]                # (B, 256, h/4, w/4)
        for _ in range(2):                                                       # up-sampling
            layers += deconv_in_relu(dim, dim // 2)                              # (B, dim/2, 2h', 2w')
            dim //= 2
        layers += [nn.Conv2d(dim, 3, 7, 1, 3, bias=False), nn.Tanh()]            # (B, 3, h, w)
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        check_label(c, self.label_dim, "G", x.size(0))
        out = self.main(concat_label(x, c))              # (B, 3 + n_c, H, W) -> (B, 3, H, W), tanh(h)
        if self.residual:
            return residual_output(x, out)               # y = clamp(x + 2 tanh(h)): a change of the input
        return out


# ============================================================================ discriminator
class Discriminator(nn.Module):
    """D(x) -> (D_src, D_cls), Table 5: a PatchGAN real/fake map and n_d domain logits."""

    def __init__(self, image_size: int = 128, n_classes: int = 5, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        if image_size % (2 ** repeat_num) != 0:
            raise ConfigError(f"D: image_size={image_size} is not divisible by 2**repeat_num={2 ** repeat_num}")
        self.n_classes = n_classes
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]  # (B, 64, h/2, w/2)
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.01)]    # (B, 2dim, h'/2, w'/2)
            dim *= 2
        self.main = nn.Sequential(*layers)
        kernel = image_size // (2 ** repeat_num)
        self.conv1 = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)                      # D_src head
        self.conv2 = nn.Conv2d(dim, n_classes, kernel, 1, 0, bias=False)         # D_cls head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)                                    # (B, 2048, h/64, w/64)
        out_src = self.conv1(h)                             # (B, 1, h/64, w/64)  real/fake per patch
        out_cls = self.conv2(h)                             # (B, n_d, 1, 1)      domain logits
        return out_src, out_cls.view(out_cls.size(0), out_cls.size(1))   # (B, n_d)


# ============================================================================ whole model
def check_label(c: torch.Tensor, expected: int, who: str, batch: int | None = None) -> None:
    """Raise a ConfigError when a label tensor is not (B, expected)."""
    if c.dim() != 2 or c.size(1) != expected or (batch is not None and c.size(0) != batch):
        want = f"({batch if batch is not None else 'B'}, {expected})"
        raise ConfigError(
            f"{who} expects labels of shape {want} but got {tuple(c.shape)}. The model was built for "
            f"{expected} label values; build the labels for this model's datasets (joint training uses "
            "c̃ = [c1, c2, m], see make_unified_label) or build the model with the matching c_dim/c2_dim")


def generator_label(cfg: StarGANv1Config, y: torch.Tensor, dataset: int = 0) -> torch.Tensor:
    """The label G takes, (B, n_c), from a dataset's label `y`.

    y: (B, k) 0/1 binary attributes, or (B,) class indices of a one-hot dataset. With one dataset
    G takes the attributes, or the one-hot vector; in joint training the unified label
    c̃ = [c1, c2, m] of Eq. 7 (`stargan_lib.data.datasets.make_unified_label`).
    """
    from stargan_lib.data.datasets import make_unified_label

    kind, dim = cfg.label_kinds[dataset], cfg.label_dims[dataset]
    if kind == "binary" and (y.dim() != 2 or y.size(1) != dim):
        raise ConfigError(f"dataset {cfg.datasets[dataset]!r} has {dim} binary attributes in this config but the "
                          f"labels have shape {tuple(y.shape)}; set c_dim/c2_dim to the number of attributes")
    if kind == "domain" and y.dim() != 1:
        raise ConfigError(f"dataset {cfg.datasets[dataset]!r} has one-hot labels: pass class indices of shape "
                          f"(B,), got {tuple(y.shape)}")
    if kind == "domain" and y.numel() and int(y.max()) >= dim:
        raise ConfigError(f"class index {int(y.max())} of dataset {cfg.datasets[dataset]!r} is out of range for "
                          f"{dim} classes; set c_dim/c2_dim to the number of classes")
    if cfg.joint:
        return make_unified_label(y, dataset, cfg.label_dims)             # (B, c1 + c2 + 2)
    return y.float() if kind == "binary" else F.one_hot(y.long(), dim).float()   # (B, n_c)


def build_nets(cfg: StarGANv1Config) -> dict[str, nn.Module]:
    """{"G": Generator, "D": Discriminator} for `cfg` (on the CPU; the trainer moves them)."""
    return {
        "G": Generator(cfg.g_label_dim, cfg.g_conv_dim, cfg.g_repeat_num, residual=cfg.g_residual),
        "D": Discriminator(cfg.image_size, cfg.d_cls_dim, cfg.d_conv_dim, cfg.d_repeat_num),
    }


def param_counts(cfg: StarGANv1Config) -> dict[str, int]:
    """Parameters per network, e.g. {"G": 8430528, "D": 44762048} at the paper configuration."""
    return {name: count_parameters(net) for name, net in build_nets(cfg).items()}


def load_official_weights(net: nn.Module, path: str | Path) -> nn.Module:
    """Load a released StarGAN v1 checkpoint (`200000-G.ckpt` into a Generator, `-D.ckpt` into a
    Discriminator) safely (`weights_only=True`); mismatched keys/shapes are named in the error."""
    state = safe_torch_load(path)
    load_state_dict_checked(net, state, str(path))
    return net


@torch.no_grad()
def translate(G: nn.Module, x: torch.Tensor, c: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """G(x, c) in evaluation mode, in batches; returns CPU images in [-1, 1] of x's shape.

    x: (N, 3, H, W) in [-1, 1]; c: (N, n_c) labels as G takes them (see `generator_label`).
    Introduced in `notebooks/02_stargan_v1.ipynb`.
    """
    if len(x) != len(c):
        raise ConfigError(f"translate got {len(x)} images but {len(c)} labels; give one label per image")
    was_training = G.training
    G.eval()
    device = next(G.parameters()).device
    out = [G(x[i:i + batch_size].to(device), c[i:i + batch_size].to(device)).cpu()
           for i in range(0, len(x), batch_size)]
    G.train(was_training)
    return torch.cat(out) if out else x[:0].clone()
