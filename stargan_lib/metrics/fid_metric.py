"""Fréchet Inception Distance with pytorch-fid's FID InceptionV3 (the real, pretrained network).

Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`; used by the evaluation protocol
(`stargan_lib.metrics.protocol`, StarGAN v2 paper, Appendix C) and `stargan fid DIR_A DIR_B`.

FID (Heusel et al. 2017) fits a Gaussian to the 2048-d pool features of Inception-V3 of each image
set and measures

    FID = ||mu_1 - mu_2||^2 + Tr(Sigma_1 + Sigma_2 - 2 (Sigma_1 Sigma_2)^(1/2))

Lower is better; 0 for identical sets. The network is pytorch-fid's `InceptionV3([3])` (its FID
variant of Inception with the TensorFlow 2015-12-05 weights, found by `stargan_lib.metrics.weights`).
Images are fed as pytorch-fid feeds them: RGB in [0, 1], resized to 299x299 bilinearly
(align_corners=False) inside the network, then scaled to [-1, 1]. Float images are first rounded to
8-bit levels (`quantize=True`), so a tensor and the same images saved as PNG give the same FID.

Speed (`load_inception`, `inception_features`): the network that computes features has each batch
norm folded into the convolution before it (`fold_batch_norms`: in eval mode a batch norm is a fixed
affine map per channel), and on a CPU it runs on sub-batches of `CPU_SUB_BATCH` images, whose 147x147
feature maps stay in the cache. Both change the features by float32 rounding only (a few 1e-6
relative, FID ~1e-6; the tests compare with pytorch-fid's network as built) and together take about a sixth off the
evaluation's main cost (one core: 118 instead of 142 ms per image, 1,800 images per ablation
configuration at the course preset; `benchmarks/bench_eval.py`).

`frechet_distance` is pytorch-fid's `calculate_frechet_distance`. When one set has fewer images than
feature dimensions (every small-preset evaluation), `fid_from_stats` uses an exact identity instead
of the 2048x2048 matrix square root (seconds on a laptop CPU): with A the centred features of that
set (n x d, Sigma_1 = A^T A / (n-1)), the non-zero eigenvalues of Sigma_1 Sigma_2 are those of the
n x n PSD matrix A Sigma_2 A^T / (n-1), so Tr((Sigma_1 Sigma_2)^(1/2)) is the sum of their square
roots. The tests check that both give the same number.

Few images: with N < 2048 the covariance has rank at most N-1, so it is singular. FID then still
has a value, but it is biased upwards (strongly, for small N) and noisy, so it is only comparable
between evaluations with the same N. A `FIDSampleSizeWarning` says so.

Sets of different image sizes: both are resized to Inception's 299x299 input, so a 16 px set is
blurred far more than a 32 px one and FID measures the difference in resolution together with the
difference in content. `fid` warns (`FIDImageSizeWarning`) when it can see the sizes differ.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from tqdm.auto import tqdm

from stargan_lib.errors import DataError
from stargan_lib.metrics.images import ImageBatches, as_image_batches, quantize_8bit
from stargan_lib.metrics.weights import fid_inception_state, net_on_device
from stargan_lib.utils import atomic_write_bytes, cache_dir, params_key

FEATURE_DIM = 2048
DEFAULT_BATCH_SIZE = 50
# Images per network call on a CPU. Measured on one core of the course machine (AMD EPYC, batch norms
# folded): 115-121 ms per image for 2-20 images per call, 126 for 1, 132 for 50, 136 for 100 (larger
# calls spill the early layers' feature maps out of the cache). Features do not depend on it beyond rounding.
CPU_SUB_BATCH = 8
# Part of every cache key: statistics from another network are not the same statistics.
EXTRACTOR_ID = "pytorch-fid-0.3.0/FID-InceptionV3/pool3-2048/tf-2015-12-05"


class FIDSampleSizeWarning(UserWarning):
    """Fewer images than feature dimensions: the covariance is singular and FID is biased and noisy."""


class FIDImageSizeWarning(UserWarning):
    """The two sets have different image sizes: FID then mixes resolution with content."""


# --------------------------------------------------------------------------- the network

def build_fid_inception(state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """pytorch-fid's `InceptionV3([3])` (2048-d pool features) with the given FID Inception weights.

    pytorch-fid builds its network and loads the official file through `load_state_dict_from_url`;
    here that one call hands over `state` instead, so nothing is downloaded and pytorch-fid's own
    class (and strict key/shape check) builds the network. The 1008-class `fc` layer of the official
    file is not part of the returned network (only blocks 0-3 are kept); where `state` has no `fc`
    (the converted weights), zeros fill it for the strict load and are dropped with it.
    """
    import pytorch_fid.inception as pfi

    full = dict(state)
    full.setdefault("fc.weight", torch.zeros(1008, FEATURE_DIM))
    full.setdefault("fc.bias", torch.zeros(1008))
    with mock.patch.object(pfi, "load_state_dict_from_url", lambda *args, **kwargs: full):
        net = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]])
    return net.eval()


def fold_batch_norms(net: torch.nn.Module) -> torch.nn.Module:
    """Fold the batch norm of every conv -> BN -> ReLU block (torchvision's `BasicConv2d`, all 94 of
    the FID Inception's convolutions) into its convolution, in place; returns `net`, in eval mode.

    In eval mode BN(conv(x)) = conv'(x) with the weights scaled per output channel and a bias, so the
    block computes the same function with one pass over its output instead of two; the features
    change by float32 rounding only (a few 1e-6 relative). The BN module becomes an `nn.Identity`.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    from torchvision.models.inception import BasicConv2d

    net.eval()
    for block in net.modules():
        if isinstance(block, BasicConv2d) and isinstance(block.bn, torch.nn.BatchNorm2d):
            block.conv = fuse_conv_bn_eval(block.conv, block.bn)
            block.bn = torch.nn.Identity()
    return net


_INCEPTION: dict[str, torch.nn.Module] = {}


def load_inception(device: str | torch.device = "auto") -> torch.nn.Module:
    """The FID InceptionV3 on `device` (built once per process and device), batch norms folded
    (`fold_batch_norms`): the network `inception_features` runs."""
    # channels_last: ~1.4x faster on CPU (oneDNN), same features to ~1e-6 relative
    return net_on_device(_INCEPTION, device, lambda dev: fold_batch_norms(
        build_fid_inception(fid_inception_state()[0])).to(dev, memory_format=torch.channels_last))


@contextmanager
def exact_fp32():
    """Turn off TF32 convolutions / matmuls on CUDA for the duration (metric features in true fp32)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


# --------------------------------------------------------------------------- features and statistics

def inception_features(images: Any, batch_size: int = DEFAULT_BATCH_SIZE, device: str | torch.device = "auto",
                       progress: bool = True, quantize: bool = True, desc: str = "Inception features") -> np.ndarray:
    """(N, 2048) float32 pool features of `images` (any input `as_image_batches` accepts)."""
    source = as_image_batches(images, where=desc)
    net = load_inception(device)
    dev = next(net.parameters()).device
    total = None if source.count is None else -(-source.count // batch_size)
    feats = []
    with torch.inference_mode(), exact_fp32():
        for x in tqdm(source.iterate(batch_size), total=total, desc=desc, disable=not progress, leave=False):
            if quantize:
                x = quantize_8bit(x)
            x01 = (x.to(dev) + 1) / 2                       # pytorch-fid expects [0, 1]
            x01 = x01.contiguous(memory_format=torch.channels_last)
            parts = x01.split(CPU_SUB_BATCH) if dev.type == "cpu" else (x01,)   # see CPU_SUB_BATCH
            feats.extend(net(part)[0].flatten(1).cpu() for part in parts)      # (b, 2048) each
    if not feats:
        raise DataError(f"{source.description}: no images to compute FID features from")
    return torch.cat(feats).numpy()


def warn_if_few(n: int, where: str = "") -> None:
    """Warn (FIDSampleSizeWarning) when n images cannot give a full-rank 2048x2048 covariance."""
    if n <= FEATURE_DIM:
        warnings.warn(
            f"FID{' of ' + where if where else ''} from {n} images: fewer than the {FEATURE_DIM} feature "
            f"dimensions, so the covariance is singular (rank <= {n - 1}). FID is then biased upwards and "
            "unstable; compare only values computed with the same number of images (the StarGAN v2 paper "
            "uses thousands).", FIDSampleSizeWarning, stacklevel=3)


@dataclass
class FIDStats:
    """Gaussian fit of a set's Inception features; `features` kept for small sets (exact fast FID)."""

    mu: np.ndarray                    # (2048,) float64
    sigma: np.ndarray                 # (2048, 2048) float64
    count: int
    features: np.ndarray | None = None

    def to_bytes(self, meta: dict[str, Any] | None = None) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, mu=self.mu, sigma=self.sigma, count=np.int64(self.count),
                 meta=np.array(json.dumps(meta or {}, sort_keys=True, default=str)))
        return buf.getvalue()

    @classmethod
    def from_file(cls, path: str | Path) -> "FIDStats":
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["mu"], z["sigma"], int(z["count"]))
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"cannot read FID statistics {path}: {exc}; delete the file, it is recomputed") from exc


def statistics_from_features(features: np.ndarray, warn: bool = True, where: str = "",
                             keep_features: bool = True) -> FIDStats:
    """Mean and covariance (float64, like pytorch-fid) of (N, 2048) features."""
    features = np.asarray(features)
    n = features.shape[0]
    if n < 2:
        raise DataError(f"FID needs at least 2 images per set{' (' + where + ')' if where else ''}, got {n}")
    if warn:
        warn_if_few(n, where)
    mu = features.mean(axis=0, dtype=np.float64)
    sigma = np.cov(features, rowvar=False)
    small = keep_features and n <= features.shape[1]
    return FIDStats(mu, sigma, n, features if small else None)


def activation_statistics(images_or_loader: Any, batch_size: int = DEFAULT_BATCH_SIZE,
                          device: str | torch.device = "auto", progress: bool = True, warn: bool = True,
                          quantize: bool = True, desc: str = "Inception features") -> FIDStats:
    """FID statistics (mu, sigma) of a set of images (tensor, uint8 array, ImageSet, folder, loader)."""
    feats = inception_features(images_or_loader, batch_size, device, progress, quantize, desc)
    return statistics_from_features(feats, warn=warn, where=desc)


# --------------------------------------------------------------------------- the distance

def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """pytorch-fid's `calculate_frechet_distance` (matrix square root of Sigma_1 Sigma_2).

    SciPy's `sqrtm` warns "Matrix is singular" whenever Sigma_1 Sigma_2 has zero eigenvalues, which is
    the rule, not a fault, for features with units that never fire (the oracle's ReLU features: ten
    such warnings per course-runs table). The square root of a singular PSD product is still exact
    there: the tests compare it with the symmetric route Tr((Sigma_1 Sigma_2)^(1/2)) = sum sqrt(eig(
    Sigma_1^(1/2) Sigma_2 Sigma_1^(1/2))) on rank-deficient features (agreement ~1e-12), so that one
    warning is not shown; pytorch-fid's own check (non-finite result: eps on the diagonal) stays."""
    from pytorch_fid.fid_score import calculate_frechet_distance
    from scipy.linalg import LinAlgWarning

    with warnings.catch_warnings():  # SciPy deprecates the `disp` argument pytorch-fid passes to sqrtm
        warnings.filterwarnings("ignore", message=".*disp.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="Matrix is singular", category=LinAlgWarning)
        return float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=eps))


def _frechet_distance_lowrank(features1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The same distance when set 1 has n <= d images (see the module docstring)."""
    a = np.asarray(features1, dtype=np.float64)
    n = a.shape[0]
    mu1 = a.mean(axis=0)
    a = a - mu1                                           # centred features, (n, d)
    m = a @ sigma2 @ a.T / (n - 1)                         # (n, n), PSD
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = np.sqrt(np.clip(eig, 0, None)).sum()     # Tr((Sigma_1 Sigma_2)^(1/2))
    diff = mu1 - mu2
    tr1 = (a * a).sum() / (n - 1)                          # Tr(Sigma_1)
    return float(diff @ diff + tr1 + np.trace(sigma2) - 2 * tr_covmean)


def fid_from_stats(a: FIDStats, b: FIDStats) -> float:
    """FID between two sets' statistics (exact low-rank route when a set with features is small)."""
    if a.mu.shape != b.mu.shape:
        raise DataError(f"FID statistics of different feature sizes: {a.mu.shape} vs {b.mu.shape}")
    small = [s for s in (a, b) if s.features is not None and s.count <= s.mu.shape[0]]
    if small:
        low = min(small, key=lambda s: s.count)
        other = b if low is a else a
        return _frechet_distance_lowrank(low.features, other.mu, other.sigma)
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma)


def fid_from_features(features_a: np.ndarray, features_b: np.ndarray, warn: bool = True) -> float:
    """FID between two (N, D) feature arrays."""
    return fid_from_stats(statistics_from_features(features_a, warn, "set A"),
                          statistics_from_features(features_b, warn, "set B"))


def warn_if_sizes_differ(a: ImageBatches, b: ImageBatches) -> None:
    """Warn (FIDImageSizeWarning) when both sets' image sizes are known and differ."""
    if a.size is None or b.size is None or a.size == b.size:
        return
    (ha, wa), (hb, wb) = a.size, b.size
    warnings.warn(
        f"the two sets have different image sizes: {a.description} is {wa}x{ha} px, {b.description} is {wb}x{hb} px "
        "(width x height). Both are resized to Inception's 299x299 input, the smaller set with more blur, so this "
        "FID mixes the difference in resolution with the difference in content; resize one set to the other's "
        "size first to compare content alone.", FIDImageSizeWarning, stacklevel=3)


def fid(a: Any, b: Any, batch_size: int = DEFAULT_BATCH_SIZE, device: str | torch.device = "auto",
        progress: bool = True, quantize: bool = True, on_bad: str = "error") -> float:
    """FID between two image sets (tensors in [-1, 1], uint8 arrays, ImageSets, folders or loaders).

    on_bad: for folders and file lists, "error" (default) or "skip" unreadable files with a warning.
    Sets of different image sizes give a `FIDImageSizeWarning` (see the module docstring).
    """
    source_a = as_image_batches(a, where="set A", on_bad=on_bad)
    source_b = as_image_batches(b, where="set B", on_bad=on_bad)
    warn_if_sizes_differ(source_a, source_b)
    sa = activation_statistics(source_a, batch_size, device, progress, quantize=quantize, desc="set A")
    sb = activation_statistics(source_b, batch_size, device, progress, quantize=quantize, desc="set B")
    return fid_from_stats(sa, sb)


# --------------------------------------------------------------------------- cached real-data statistics

def fingerprint(images: Any) -> str | None:
    """A short content hash of in-memory images or a folder listing (None for loaders)."""
    import hashlib

    from stargan_lib.data.base import ImageSet

    if isinstance(images, ImageSet):
        images = images.images
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().contiguous().numpy()
    if isinstance(images, np.ndarray):
        h = hashlib.sha256(str((images.shape, images.dtype)).encode())
        h.update(np.ascontiguousarray(images).tobytes())
        return h.hexdigest()[:16]
    if isinstance(images, (str, Path)) and Path(images).is_dir():
        h = hashlib.sha256()
        for p in sorted(Path(images).iterdir()):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
        return h.hexdigest()[:16]
    return None


def stats_cache_path(key: dict[str, Any]) -> Path:
    """cache_dir("fid_stats")/<dataset>_<split>[_<domain>]_<size>px_<count>_<hash>.npz."""
    parts = [key["dataset"], key["split"]] + ([str(key["domain"])] if key.get("domain") is not None else [])
    parts += [f"{key['image_size']}px", str(key["count"])]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(parts))
    return cache_dir("fid_stats") / f"{slug}_{params_key(key)}.npz"


def cached_statistics(images: Any, *, dataset: str, split: str, image_size: int | None = None,
                      domain: str | None = None, params: dict[str, Any] | None = None,
                      batch_size: int = DEFAULT_BATCH_SIZE, device: str | torch.device = "auto",
                      progress: bool = True, warn: bool = True, use_cache: bool = True) -> FIDStats:
    """FID statistics of a real set, cached on disk (atomic) and reused by later evaluations.

    The key holds the dataset, split, domain, image size, number of images, the feature extractor,
    optional dataset `params`, and a content fingerprint of the images (so regenerated data with the
    same name is not mistaken for the old one).
    """
    source = as_image_batches(images, where=f"{dataset}/{split}")
    if image_size is None:
        image_size = _image_size(images)
    key = {"dataset": dataset, "split": split, "domain": domain, "image_size": image_size,
           "count": source.count, "extractor": EXTRACTOR_ID, "params": params or {},
           "fingerprint": fingerprint(images)}
    path = stats_cache_path(key)
    if use_cache and path.is_file():
        stats = FIDStats.from_file(path)
        if warn:
            warn_if_few(stats.count, f"{dataset}/{split}" + (f"/{domain}" if domain else ""))
        return stats
    stats = activation_statistics(images, batch_size, device, progress, warn=warn,
                                  desc=f"FID stats {dataset}/{split}" + (f"/{domain}" if domain else ""))
    stats.features = None  # real sets are summarised by (mu, sigma) alone
    if use_cache:
        atomic_write_bytes(path, stats.to_bytes(key))
    return stats


def _image_size(images: Any) -> int | None:
    from stargan_lib.data.base import ImageSet

    if isinstance(images, ImageSet):
        return images.image_size
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return int(images.shape[1] if images.shape[-1] in (1, 3, 4) else images.shape[-1])
    if isinstance(images, torch.Tensor) and images.dim() == 4:
        return int(images.shape[-1])
    return None
