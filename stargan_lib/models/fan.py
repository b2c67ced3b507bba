"""The face-alignment network (FAN) that StarGAN v2 uses on CelebA-HQ, and the high-pass masks made from it.

Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb` (the official demo on CelebA-HQ photos).

On CelebA-HQ the official StarGAN v2 generator adds high-pass filtered encoder features back into
its decoder (`w_hpf = 1`), but only where a face-landmark heatmap says there is an eye, a nose, a
mouth or the face outline: this keeps the identity of the source face. The heatmaps come from a
pretrained, frozen landmark detector of 98 points, released with the official code as `wing.ckpt`
(an hourglass network with CoordConv layers, trained with the adaptive wing loss; Wang et al., ICCV
2019). Its public names here are those of the official module, so that readers of the paper's code
find them:

- `FAN(num_modules=1, end_relu=False, num_landmarks=98, fname_pretrained=None)`: the network; with a
  file name it loads the released weights (safely: `weights_only=True`), without one it only builds
  the network (random initialisation);
- `FAN.forward(x)`: ([heatmaps (B, 99, 64, 64)], [boundary channels (B, 2, 64, 64)]) for an image
  (B, 3, 256, 256) with values in [0, 1]; the 99th heatmap is the face boundary;
- `FAN.get_heatmap(x, b_preprocess=True)`: for images in [-1, 1] of any size, the two masks of
  `preprocess` (B, 1, 256, 256) each, or the raw 98 landmark heatmaps (B, 98, 64, 64);
- `FAN.get_landmark(x)`: (B, 98, 2) landmark coordinates (x, y) in pixels of the input's size;
- `preprocess(heatmaps)`: from 98 landmark heatmaps to the two masks the generator uses (the first
  for its 32 px skip, the second, without face outline, mouth and eyebrows, for the larger ones).

Network (facts of the official `core/wing.py`): a CoordConv 7x7 stride-2 layer (input + x, y and
radius channels) to 64 channels, BatchNorm, ReLU; three bottleneck blocks (64 -> 128, average pool,
128 -> 128, 128 -> 256), each the concatenation of three pre-activated 3x3 convolutions (out/2,
out/4, out/4 channels) plus a shortcut; one hourglass of depth 4 (average-pool down, nearest-neighbour
up) behind a 1x1 CoordConv; a bottleneck block, a 1x1 conv, BatchNorm, ReLU and a 1x1 conv to 98 + 1
heatmaps at 64 x 64. 6,333,603 parameters, 336 state-dict entries (`tests/test_fan.py` checks both
against the released file's layout).

Deviation: `FAN.train(mode)` keeps the network in evaluation mode: it is pretrained and frozen, and its
BatchNorm layers must use their stored statistics even when the trainer switches everything else to
training mode (the official code achieves the same by never calling `train()`).
Deviation: `preprocess` replaces NaN by 0 in both masks (the official code clears them in the first
mask only); the outputs differ only for inputs containing NaN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from stargan_lib.configs_v2 import WING_DEFAULT, WING_RANDOM
from stargan_lib.models.stargan_v2_config import StarGANv2Config
from stargan_lib.errors import CheckpointError, ConfigError
from stargan_lib.utils import load_state_dict_checked, safe_torch_load

# WING_DEFAULT: where the official repository's `bash download.sh wing` puts the file (relative to where it runs).
WING_HELP = ("get it with the official StarGAN v2 repository's download script: `git clone "
             "https://github.com/clovaai/stargan-v2 && (cd stargan-v2 && bash download.sh wing)`, which saves it as "
             f"stargan-v2/{WING_DEFAULT}; move it to {WING_DEFAULT} (where the course looks by default, relative to "
             "the working directory) or pass its path")

HEATMAP_SIZE = 64   # the heatmaps' side: FAN sees 256 px images and works at a quarter of that


# ============================================================================ building blocks
class AddCoords(nn.Module):
    """Appends coordinate channels to a feature map: x (varies along rows), y (along columns), both in
    [-1, 1], the radius when `with_r`, and, when `with_boundary` and a heatmap is given, x and y where
    the boundary heatmap exceeds 0.05 (0 elsewhere). The coordinates are fixed for one map size."""

    def __init__(self, height: int, width: int, with_r: bool, with_boundary: bool):
        super().__init__()
        self.with_r, self.with_boundary = with_r, with_boundary
        rows = torch.arange(height, dtype=torch.float32)[:, None].expand(height, width) / (height - 1) * 2 - 1
        cols = torch.arange(width, dtype=torch.float32)[None, :].expand(height, width) / (width - 1) * 2 - 1
        coords = [rows, cols]
        if with_r:
            r = torch.sqrt(rows ** 2 + cols ** 2)
            coords.append(r / r.max())
        # Buffers (not saved: the released file has none) so that .to(device) moves them.
        self.register_buffer("coords", torch.stack(coords)[None], persistent=False)   # (1, 2|3, H, W)
        self.register_buffer("rows", rows.contiguous(), persistent=False)
        self.register_buffer("cols", cols.contiguous(), persistent=False)

    def forward(self, x: torch.Tensor, heatmap: torch.Tensor | None = None) -> torch.Tensor:
        parts = [x, self.coords.to(x.dtype).expand(x.size(0), -1, -1, -1)]
        if self.with_boundary and heatmap is not None:
            on = heatmap[:, -1:].clamp(0.0, 1.0) > 0.05                       # (B, 1, H, W)
            zero = torch.zeros((), dtype=x.dtype, device=x.device)
            parts += [torch.where(on, self.rows.to(x.dtype), zero), torch.where(on, self.cols.to(x.dtype), zero)]
        return torch.cat(parts, dim=1)


class CoordConvTh(nn.Module):
    """A convolution whose input carries the `AddCoords` channels (CoordConv). `first_one`: the layer
    never receives a boundary heatmap, so it has no boundary input channels. Returns the convolution
    and the last two channels of its input (the official "boundary channels")."""

    def __init__(self, height: int, width: int, with_r: bool, with_boundary: bool, in_channels: int,
                 first_one: bool = False, **conv_kwargs: Any):
        super().__init__()
        self.addcoords = AddCoords(height, width, with_r, with_boundary)
        extra = 2 + int(with_r) + (2 if with_boundary and not first_one else 0)
        self.conv = nn.Conv2d(in_channels + extra, **conv_kwargs)

    def forward(self, x: torch.Tensor, heatmap: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.addcoords(x, heatmap)
        return self.conv(x), x[:, -2:]


class ConvBlock(nn.Module):
    """Bottleneck block: three pre-activated (BN, ReLU) 3x3 convolutions of out/2, out/4, out/4 channels,
    their outputs concatenated (out channels) plus the input, through BN-ReLU-1x1 conv when in != out."""

    def __init__(self, in_planes: int, out_planes: int):
        super().__init__()
        half, quarter = out_planes // 2, out_planes // 4
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, half, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv2 = nn.Conv2d(half, quarter, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(quarter)
        self.conv3 = nn.Conv2d(quarter, quarter, 3, 1, 1, bias=False)
        self.downsample = None
        if in_planes != out_planes:
            self.downsample = nn.Sequential(nn.BatchNorm2d(in_planes), nn.ReLU(True),
                                            nn.Conv2d(in_planes, out_planes, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.conv1(F.relu(self.bn1(x)))
        b = self.conv2(F.relu(self.bn2(a)))
        c = self.conv3(F.relu(self.bn3(b)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.cat([a, b, c], dim=1) + shortcut


class HourGlass(nn.Module):
    """One hourglass of `depth` levels on 256 channels at 64 x 64, behind a 1x1 CoordConv.

    Level l: an upper branch b1_l at the current size; a lower branch that average-pools, runs b2_l,
    the next level (or, at level 1, b2_plus_1), then b3_l, and is upsampled (nearest) and added.
    """

    def __init__(self, num_modules: int, depth: int, num_features: int, first_one: bool = False):
        super().__init__()
        self.num_modules, self.depth, self.features = num_modules, depth, num_features
        self.coordconv = CoordConvTh(HEATMAP_SIZE, HEATMAP_SIZE, True, True, 256, first_one,
                                     out_channels=256, kernel_size=1, stride=1, padding=0)
        self._add_level(depth)

    def _add_level(self, level: int) -> None:
        # Registration order fixes the state-dict order of the released file.
        self.add_module(f"b1_{level}", ConvBlock(256, 256))
        self.add_module(f"b2_{level}", ConvBlock(256, 256))
        if level > 1:
            self._add_level(level - 1)
        else:
            self.add_module(f"b2_plus_{level}", ConvBlock(256, 256))
        self.add_module(f"b3_{level}", ConvBlock(256, 256))

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        upper = self._modules[f"b1_{level}"](x)
        low = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        low = self._level(level - 1, low) if level > 1 else self._modules[f"b2_plus_{level}"](low)
        low = self._modules[f"b3_{level}"](low)
        return upper + F.interpolate(low, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor, heatmap: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        x, boundary = self.coordconv(x, heatmap)
        return self._level(self.depth, x), boundary


# ============================================================================ the network
class FAN(nn.Module):
    """The 98-landmark face-alignment network of the official StarGAN v2 code (`wing.ckpt`).

    fname_pretrained: the released `wing.ckpt` (or any file of its layout) to load with
        `weights_only=True`; None builds the network with PyTorch's default initialisation and loads
        nothing. A file of another layout raises a CheckpointError that names it and where to get
        the right one. Used in notebook 05 and by the CelebA-HQ trainer (`w_hpf > 0`).
    """

    def __init__(self, num_modules: int = 1, end_relu: bool = False, num_landmarks: int = 98,
                 fname_pretrained: str | Path | None = None):
        super().__init__()
        self.num_modules, self.end_relu, self.num_landmarks = num_modules, end_relu, num_landmarks
        self.conv1 = CoordConvTh(256, 256, True, False, in_channels=3, out_channels=64,
                                 kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = ConvBlock(64, 128)
        self.conv3 = ConvBlock(128, 128)
        self.conv4 = ConvBlock(128, 256)
        self.add_module("m0", HourGlass(1, 4, 256, first_one=True))
        self.add_module("top_m_0", ConvBlock(256, 256))
        self.add_module("conv_last0", nn.Conv2d(256, 256, 1, 1, 0))
        self.add_module("bn_end0", nn.BatchNorm2d(256))
        self.add_module("l0", nn.Conv2d(256, num_landmarks + 1, 1, 1, 0))
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()
        if fname_pretrained is not None:
            self.load_pretrained_weights(fname_pretrained)

    def train(self, mode: bool = True) -> "FAN":
        """Always evaluation mode (frozen BatchNorm statistics); see the module's Deviation note."""
        return super().train(False)

    def load_pretrained_weights(self, fname: str | Path) -> None:
        """Load `wing.ckpt` (a dict with "state_dict", or a bare state dict) safely; errors name the file."""
        path = Path(fname).expanduser()
        if not path.is_file():
            raise CheckpointError(f"FAN weights {path} do not exist; {WING_HELP}")
        state = safe_torch_load(path)
        load_state_dict_checked(self, fan_state_dict(state, path), f"FAN weights {path}")

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """x (B, 3, 256, 256) in [0, 1] -> ([heatmaps (B, 99, 64, 64)], [boundary channels (B, 2, 64, 64)])."""
        x, _ = self.conv1(x)                                   # (B, 64, 128, 128)
        x = F.relu(self.bn1(x))
        x = F.avg_pool2d(self.conv2(x), 2, stride=2)           # (B, 128, 64, 64)
        x = self.conv4(self.conv3(x))                          # (B, 256, 64, 64)
        ll, boundary = self._modules["m0"](x, None)
        ll = self._modules["top_m_0"](ll)
        ll = F.relu(self._modules["bn_end0"](self._modules["conv_last0"](ll)))
        heatmaps = self._modules["l0"](ll)                     # (B, 99, 64, 64)
        if self.end_relu:
            heatmaps = F.relu(heatmaps)
        return [heatmaps], [boundary]

    @torch.no_grad()
    def get_heatmap(self, x: torch.Tensor, b_preprocess: bool = True):
        """Images x (B, 3, H, W) in [-1, 1] -> the two high-pass masks (B, 1, 256, 256) of `preprocess`,
        or with `b_preprocess=False` the 98 landmark heatmaps (B, 98, 64, 64). No gradient; always in
        float32, also inside a bf16 autocast region (the masks' thresholds need the precision)."""
        with torch.autocast(x.device.type, enabled=False):
            x = F.interpolate(x.float(), size=256, mode="bilinear")
            outputs, _ = self(x * 0.5 + 0.5)
            heatmaps = outputs[-1][:, :-1]                      # drop the boundary heatmap
            if b_preprocess:
                scale = x.size(2) // heatmaps.size(2)
                heatmaps = F.interpolate(heatmaps, scale_factor=scale, mode="bilinear", align_corners=True)
                return preprocess(heatmaps)
            return heatmaps

    @torch.no_grad()
    def get_landmark(self, x: torch.Tensor) -> torch.Tensor:
        """Images x (B, 3, H, W) in [-1, 1] -> landmarks (B, 98, 2), (column, row) in pixels of size H."""
        heatmaps = self.get_heatmap(x, b_preprocess=False)
        return landmarks_from_heatmaps(heatmaps.float().cpu()) * (x.size(2) // heatmaps.size(2))


def fan_state_dict(state: Any, path: Path | str) -> dict[str, torch.Tensor]:
    """The FAN state dict inside a loaded file: `state["state_dict"]` (the released layout) or the dict
    itself; a `module.` prefix is removed. A StarGAN v2 networks file is named as the wrong one."""
    if isinstance(state, Mapping) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not FAN weights; {WING_HELP}")
    if {"generator", "mapping_network", "style_encoder"} & set(state):
        raise CheckpointError(f"{path} is a StarGAN v2 networks file (nets_ema), not the face-alignment "
                              f"network's wing.ckpt; {WING_HELP}")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}


def landmarks_from_heatmaps(hm: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) heatmaps -> (B, C, 2) landmark (column, row) in heatmap pixels.

    The arg-max pixel (1-based), moved by a quarter pixel towards the higher neighbour in each
    direction when it is not on the border, minus one half (the official `get_preds_fromhm`).
    """
    b, c, h, w = hm.shape
    flat = hm.reshape(b, c, h * w)
    idx = flat.argmax(dim=2)                                  # (B, C)
    col, row = idx % w, idx // w
    preds = torch.stack([col, row], dim=2).float() + 1.0      # 1-based (column, row)
    inner = (col > 0) & (col < w - 1) & (row > 0) & (row < h - 1)
    cr = col.clamp(1, w - 2)
    rr = row.clamp(1, h - 2)

    def at(r: torch.Tensor, cc: torch.Tensor) -> torch.Tensor:
        return flat.gather(2, (r * w + cc).unsqueeze(2)).squeeze(2)

    dx = torch.sign(at(rr, cr + 1) - at(rr, cr - 1))
    dy = torch.sign(at(rr + 1, cr) - at(rr - 1, cr))
    preds = preds + torch.stack([dx, dy], dim=2) * 0.25 * inner.unsqueeze(2)
    return preds - 0.5


# ============================================================================ masks
# Landmark index ranges [start, end) of the 98-point layout (WFLW) that the masks use.
CHIN = (8, 25)
EYEBROWS = (33, 51)
EYEBROW_EDGES = (33, 46)
NOSE = (51, 55)
NOSTRILS = (55, 60)
EYES = (60, 76)
LIP_EDGES = (76, 82)
LIP_UPPER = (77, 82)
LIP_LOWER = (83, 88)
LIP_INNER = (88, 96)


def _normalize(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Min-max normalisation of each heatmap (per sample and channel) to [0, 1]."""
    flat = x.flatten(2)
    lo, hi = flat.min(dim=2, keepdim=True)[0], flat.max(dim=2, keepdim=True)[0]
    return ((flat - lo) / (hi - lo + eps)).view_as(x)


def _shift(x: torch.Tensor, n: int) -> torch.Tensor:
    """Move the heatmaps n rows up (n > 0) or down (n < 0), wrapping around."""
    return torch.roll(x, shifts=-n, dims=2)


def preprocess(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """98 landmark heatmaps (B, 98, H, W) -> two masks (B, 1, H, W) in [0, 1] for the high-pass skip.

    Each heatmap is cleared below 0.1 and min-max normalised. Facial parts are then moved (rows, with
    wrap-around; the distances scale with H / 256) and sharpened (raised to a power) so that the sum
    covers them: chin line ^3; eyebrows 7 rows down, ^2; nostrils 8 up, ^4; upper lip 8 down, ^4; lower
    lip 8 up, ^4; inner lip 2 down, ^3. The outline's ends, the eyebrows' first and last points and the
    lip corners are removed; the nose below its bridge moves 4 rows up; each eye point becomes
    (8 rows down)^3 plus (24 rows down). Mask 1 is the sum of all; mask 2 leaves out chin line, mouth
    and eyebrows. Both are clipped to
    [0, 1]. (Facts of the official `core/wing.py`; used by `FAN.get_heatmap`, notebook 05.)
    """
    x = torch.where(heatmaps < 0.1, torch.zeros_like(heatmaps), heatmaps)
    x = _normalize(x).clone()
    sw = x.size(2) // 256
    for (start, end), n, power in ((CHIN, 0, 3), (EYEBROWS, -7 * sw, 2), (NOSTRILS, 8 * sw, 4),
                                   (LIP_UPPER, -8 * sw, 4), (LIP_LOWER, 8 * sw, 4), (LIP_INNER, -2 * sw, 3)):
        x[:, start:end] = _shift(x[:, start:end], n) ** power
    cleared = list(range(0, CHIN[0])) + list(range(CHIN[1], 33)) + [EYEBROW_EDGES[0], EYEBROW_EDGES[1],
                                                                      LIP_EDGES[0], LIP_EDGES[1]]
    x[:, cleared] = 0
    x[:, NOSE[0] + 1:NOSE[1]] = _shift(x[:, NOSE[0] + 1:NOSE[1]], 4 * sw)
    eyes = x[:, EYES[0]:EYES[1]]
    x[:, EYES[0]:EYES[1]] = _shift(eyes, -8) ** 3 + _shift(eyes, -24)
    x2 = x.clone()
    for start, end in (CHIN, (LIP_EDGES[0], LIP_INNER[1]), EYEBROWS):
        x2[:, start:end] = 0
    mask1, mask2 = x.sum(dim=1, keepdim=True), x2.sum(dim=1, keepdim=True)
    mask1, mask2 = torch.nan_to_num(mask1, nan=0.0), torch.nan_to_num(mask2, nan=0.0)
    return mask1.clamp(0, 1), mask2.clamp(0, 1)


# ============================================================================ for a configuration
def build_fan(cfg: StarGANv2Config) -> FAN | None:
    """The frozen FAN that a run of `cfg` needs (on the CPU), or None when `cfg.w_hpf == 0`.

    `cfg.wing_path` is the released `wing.ckpt`; when it is absent, a ConfigError names the setting,
    the download command and where the file goes. `wing_path="random"` builds FAN with weights drawn
    from `cfg.seed` (without touching the global random state): for tests at a small size only, its
    masks mean nothing. Used by the StarGAN v2 trainer and evaluation (notebook 05).
    """
    if cfg.w_hpf <= 0:
        return None
    if cfg.wing_path == WING_RANDOM:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            return FAN()
    return FAN(fname_pretrained=check_fan_weights(cfg))


def check_fan_weights(cfg: StarGANv2Config) -> Path | None:
    """The path of the FAN weights a run of `cfg` needs (None: no FAN or seeded random weights); a
    ConfigError that says where to get `wing.ckpt` when it is absent. Cheap: run it before loading data."""
    if cfg.w_hpf <= 0 or cfg.wing_path == WING_RANDOM:
        return None
    path = Path(cfg.wing_path).expanduser()
    if not path.is_file():
        raise ConfigError(f"w_hpf={cfg.w_hpf} (the CelebA-HQ high-pass skip) needs the face-alignment network's "
                          f"weights, but wing_path={cfg.wing_path!r} ({path.resolve()}) does not exist; {WING_HELP} "
                          "(--wing-path), or set w_hpf=0 (--w-hpf 0) to train without the skip")
    return path
