"""LPIPS distance and the StarGAN v2 diversity score, with the `lpips` package's AlexNet v0.1.

Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb` (diversity of latent- and reference-guided
outputs); used by the evaluation protocol and `stargan lpips IMG_A IMG_B`.

LPIPS (Zhang et al. 2018) compares two images through a pretrained network: for each of AlexNet's
five ReLU layers l, the features are unit-normalised along channels, their squared difference is
weighted per channel by a learned linear head w_l, averaged over positions, and summed over layers:

    d(x, y) = sum_l mean_{h,w} || w_l * (f_l(x) - f_l(y)) ||^2,  f_l unit-normalised along channels

Inputs are RGB in [-1, 1]. The network is `lpips.LPIPS(net='alex', version='0.1')`, built without
a download (`pnet_rand=True`) and given the real ImageNet AlexNet trunk from
`stargan_lib.metrics.weights` (the linear heads ship inside `lpips`).

Diversity (StarGAN v2 paper, Appendix C): for each source image, 10 outputs (10 latent codes or 10
references), the mean LPIPS over the 45 pairs, averaged over sources. The official code runs the
network once per pair (90 AlexNet passes per source); `diversity_lpips` runs it once per image
(10 passes) and takes all 45 distances from those features. The linear head of layer l is a 1x1
convolution without bias, i.e. channel weights w_c >= 0, so per layer

    mean_hw sum_c w_c (a_c - b_c)^2 = (Q(a) + Q(b) - 2 <a, b>_w) / HW,   Q(a) = <a, a>_w

and all 45 distances of a source come from one weighted Gram matrix of its 10 normalised feature
maps (in float64, so the subtraction loses nothing). `naive_diversity_lpips` is the per-pair way,
kept for the tests and `benchmarks/bench_lpips_pairwise.py`; both agree to ~1e-8.

Deviation: AlexNet's first layers need inputs of at least 31 px; smaller images (the smoke preset's
16 px) are upsampled bilinearly to 32 px before `lpips_distance`. Values at such sizes are not
comparable with published LPIPS numbers (neither are any numbers on synthetic 32 px images).

Deviation (diversity): `diversity_lpips` upsamples outputs smaller than `DIVERSITY_SIZE` = 256 px
(the resolution of the paper's evaluation) bilinearly to 256 px first. On a 32 px image AlexNet's
first layer gives a 7x7 map and its last three layers a 1x1 map, so the score would see little
more than each output's mean colours: at the course preset it ranked configurations E and F of
Table 1 equal (0.200 vs 0.199 over 360 sources) although F's outputs differ more in every pixel
(mean L1 0.356 vs 0.317); at 256 px it reads D 0.38 < E 0.44 <= F 0.44. Pass `size=None` for
the images as they are.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from stargan_lib.errors import DataError
from stargan_lib.metrics.fid_metric import exact_fp32
from stargan_lib.metrics.images import as_image_batches, load_image_tensor
from stargan_lib.metrics.weights import ALEXNET_CONV_INDICES, alexnet_features_state, net_on_device

MIN_LPIPS_SIZE = 32
DIVERSITY_SIZE = 256
DEFAULT_BATCH_SIZE = 50

# lpips' AlexNet wrapper splits torchvision's `features` into slices: conv index -> slice number.
_SLICE_OF_CONV = dict(zip(ALEXNET_CONV_INDICES, range(1, 6)))


def build_lpips(trunk_state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """`lpips.LPIPS(net='alex', version='0.1')` with the given torchvision AlexNet trunk (`features.*`).

    Built with `pnet_rand=True` (no download; lpips' verbose print and torchvision's `pretrained`
    deprecation warning suppressed), then every trunk parameter is loaded strictly, so no random
    weight survives.
    """
    import lpips

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(pretrained|weights).*", category=UserWarning)
        net = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    mapped = {}
    for key, value in trunk_state.items():
        _, idx, kind = key.split(".")
        mapped[f"slice{_SLICE_OF_CONV[int(idx)]}.{idx}.{kind}"] = value
    net.net.load_state_dict(mapped, strict=True)
    return net.eval()


_LPIPS: dict[str, torch.nn.Module] = {}


def load_lpips(device: str | torch.device = "auto") -> torch.nn.Module:
    """The LPIPS network (AlexNet v0.1) on `device`, built once per process and device."""
    return net_on_device(_LPIPS, device, lambda dev: build_lpips(alexnet_features_state()[0]).to(dev))


def _prepare(x: torch.Tensor, device: torch.device, min_size: int | None = MIN_LPIPS_SIZE) -> torch.Tensor:
    """Float (B, 3, H, W) in [-1, 1] on `device`, upsampled bilinearly so that its short side is at
    least `min_size` (and never below AlexNet's 32 px; see the Deviations)."""
    x = x.to(device)
    short = min(x.shape[-2:])
    min_size = max(min_size or 0, MIN_LPIPS_SIZE)
    if short < min_size:
        scale = min_size / short
        size = (round(x.shape[-2] * scale), round(x.shape[-1] * scale))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return x


def _as_tensor(x: Any, where: str) -> tuple[torch.Tensor, bool]:
    """Images (tensor, array, file path, folder) -> float (B, 3, H, W), and whether it was one image."""
    from pathlib import Path

    if isinstance(x, (str, Path)) and Path(x).is_file():
        return load_image_tensor(x)[None], True
    single = isinstance(x, (torch.Tensor, np.ndarray)) and x.ndim == 3
    source = as_image_batches(x, where=where)
    batches = list(source.iterate(1 << 30))
    return torch.cat(batches), single


# --------------------------------------------------------------------------- features and distances

def lpips_features(net: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The five unit-normalised AlexNet feature maps of `x` (B, 3, H, W) in [-1, 1], as LPIPS uses them."""
    import lpips

    outs = net.net(net.scaling_layer(x))
    return [lpips.normalize_tensor(f) for f in outs]            # each (B, C_l, H_l, W_l)


def _channel_weights(lin: torch.nn.Module) -> torch.Tensor:
    """The (C,) weights of an LPIPS linear head (dropout, then a bias-free 1x1 conv to 1 channel)."""
    conv = lin.model[-1]
    if not isinstance(conv, torch.nn.Conv2d) or conv.bias is not None or conv.weight.shape[0] != 1 \
            or conv.weight.shape[2:] != (1, 1):
        raise TypeError(f"unexpected LPIPS linear head {lin}; the pairwise formula needs a bias-free 1x1 conv")
    if (conv.weight < 0).any():
        raise ValueError(f"LPIPS linear head {lin} has negative channel weights; the pairwise formula needs w_c >= 0")
    return conv.weight.flatten()


def pairwise_distances_from_features(net: torch.nn.Module, feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """(K, K) LPIPS distances between all K images whose `lpips_features` are `feats`."""
    k = feats[0].shape[0]
    total = torch.zeros(k, k, dtype=torch.float64, device=feats[0].device)
    for lin, f in zip(net.lins, feats):
        root_w = _channel_weights(lin).double().sqrt()           # (C,), w_c >= 0
        hw = f.shape[2] * f.shape[3]
        fs = (f.flatten(2) * root_w[None, :, None]).flatten(1)  # (K, C HW): sqrt(w_c) f, in float64
        gram = fs @ fs.T                                         # (K, K)  <f_i, f_j>_w
        q = gram.diagonal()                                      # (K,)    <f_i, f_i>_w
        total += (q[:, None] + q[None, :] - 2 * gram) / hw       # spatial mean
    return total.clamp_min(0)


def lpips_distance(x: Any, y: Any, device: str | torch.device = "auto",
                   batch_size: int = DEFAULT_BATCH_SIZE) -> float | torch.Tensor:
    """LPIPS between x and y: image files, (3, H, W) / (B, 3, H, W) tensors in [-1, 1] or uint8 arrays.

    One pair gives a float, B pairs a (B,) tensor (a single image is compared with each of the other's).
    """
    xa, single_a = _as_tensor(x, "LPIPS image A")
    xb, single_b = _as_tensor(y, "LPIPS image B")
    if xa.shape[-2:] != xb.shape[-2:]:
        raise DataError(f"LPIPS needs images of the same size: {x if single_a else 'A'} is "
                        f"{tuple(xa.shape[-2:])}, {y if single_b else 'B'} is {tuple(xb.shape[-2:])} (H, W); "
                        "resize one of them")
    if len(xa) != len(xb) and 1 not in (len(xa), len(xb)):
        raise DataError(f"LPIPS pairs images row by row: got {len(xa)} and {len(xb)} images")
    n = max(len(xa), len(xb))
    xa, xb = xa.expand(n, -1, -1, -1), xb.expand(n, -1, -1, -1)
    net = load_lpips(device)
    dev = next(net.parameters()).device
    out = []
    with torch.inference_mode(), exact_fp32():
        for s in range(0, n, batch_size):
            out.append(net(_prepare(xa[s:s + batch_size], dev), _prepare(xb[s:s + batch_size], dev)).flatten().cpu())
    d = torch.cat(out)
    return float(d[0]) if (single_a and single_b) else d


def _groups(outputs: Any) -> list[torch.Tensor]:
    """(S, K, 3, H, W) tensor, (K, 3, H, W) tensor or list of (K, 3, H, W) -> list of float groups."""
    if isinstance(outputs, np.ndarray):
        outputs = torch.from_numpy(outputs)
    if isinstance(outputs, torch.Tensor):
        if outputs.dim() == 4:
            outputs = outputs[None]
        if outputs.dim() != 5:
            raise DataError(f"diversity LPIPS expects outputs (S, K, 3, H, W) or (K, 3, H, W), got "
                            f"{tuple(outputs.shape)}")
        outputs = list(outputs)
    groups = []
    for i, g in enumerate(outputs):
        g = torch.cat(list(as_image_batches(g, where=f"outputs of source {i}").iterate(1 << 30)))
        if len(g) < 2:
            raise DataError(f"diversity LPIPS needs at least 2 outputs per source; source {i} has {len(g)}")
        groups.append(g)
    if not groups:
        raise DataError("diversity LPIPS got no outputs")
    return groups


def _per_source_scores(outputs: Any, device: str | torch.device, progress: bool, desc: str,
                       score: Callable[[torch.nn.Module, torch.device, torch.Tensor], float]) -> np.ndarray:
    """`score(net, device, g)` for each source's outputs `g` (see `_groups`), with the LPIPS network on
    `device`, in inference mode and exact float32: the (S,) per-source diversities."""
    groups = _groups(outputs)
    net = load_lpips(device)
    dev = next(net.parameters()).device
    with torch.inference_mode(), exact_fp32():
        return np.array([score(net, dev, g) for g in tqdm(groups, desc=desc, disable=not progress, leave=False)])


def diversity_lpips(outputs: Any, device: str | torch.device = "auto", batch_size: int = DEFAULT_BATCH_SIZE,
                    progress: bool = False, per_source: bool = False, size: int | None = DIVERSITY_SIZE
                    ) -> float | tuple[float, np.ndarray]:
    """StarGAN v2 diversity: mean over sources of the mean LPIPS over all pairs of that source's outputs.

    `outputs`: (S, K, 3, H, W) (S sources, K outputs each; the paper uses K = 10, so 45 pairs) or one
    source's (K, 3, H, W), in [-1, 1]. Outputs smaller than `size` px are upsampled to it first (see
    the Deviation; None: as they are). AlexNet runs once per image; the pairwise distances come from
    the features. With `per_source`, also returns the (S,) per-source means.
    """
    def mean_pair_distance(net: torch.nn.Module, dev: torch.device, g: torch.Tensor) -> float:
        feats = [torch.cat(parts) for parts in zip(*(
            lpips_features(net, _prepare(g[s:s + batch_size], dev, size)) for s in range(0, len(g), batch_size)))]
        dist = pairwise_distances_from_features(net, feats)     # (K, K)
        i, j = torch.triu_indices(len(g), len(g), offset=1)     # all K (K-1) / 2 pairs
        return float(dist[i, j].mean())

    per_arr = _per_source_scores(outputs, device, progress, "diversity LPIPS", mean_pair_distance)
    return (float(per_arr.mean()), per_arr) if per_source else float(per_arr.mean())


def naive_diversity_lpips(outputs: Any, device: str | torch.device = "auto", progress: bool = False,
                          size: int | None = DIVERSITY_SIZE) -> float:
    """The same score computed as the official StarGAN v2 code does: the LPIPS network on each pair."""
    def mean_pair_distance(net: torch.nn.Module, dev: torch.device, g: torch.Tensor) -> float:
        g = _prepare(g, dev, size)
        return float(np.mean([float(net(g[a:a + 1], g[b:b + 1])) for a, b in itertools.combinations(range(len(g)), 2)]))

    return float(np.mean(_per_source_scores(outputs, device, progress, "diversity LPIPS (per pair)",
                                            mean_pair_distance)))
