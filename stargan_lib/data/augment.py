"""The training augmentation of the official StarGAN v2 code, as a data-level transform.

Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb` (the paper preset's settings); the StarGAN v2
trainer applies it when its configuration has `augment="official"` (the paper preset; the course and
smoke presets train without it).

The official training loader (facts of its `core/data_loader.py`) transforms every source and
reference image, independently, in this order:
  1. with probability 0.5, a random resized crop: a box of 80-100 % of the image's area with aspect
     ratio (width / height) between 0.9 and 1.1 (log-uniform, as torchvision's `RandomResizedCrop`;
     after 10 boxes that do not fit, the whole image, for square images), resized to the image size;
  2. a resize to the training size;
  3. a horizontal flip with probability 0.5.
The paper does not describe this augmentation.

Two ways to apply it, with the same random draws per image (crop coin, box, flip coin) from the global
torch generator (or the one passed), so a seeded run is reproducible:
- on files, before they are resized (`stargan_lib.data.real.RealImageDataset` with
  `random_crop_prob=CROP_PROB, flip=True`): exactly the official order;
- `official_augment(x)` on a batch of images already at the training size (the in-memory synthetic
  sets). Deviation: there the crop is resized back to the same size, so a cropped image is resampled
  once more than in the official pipeline, which crops the larger file.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator

import torch
import torch.nn.functional as F

CROP_PROB = 0.5            # probability of the random resized crop
CROP_SCALE = (0.8, 1.0)    # fraction of the area kept
CROP_RATIO = (0.9, 1.1)    # aspect ratio (width / height) of the box
FLIP_PROB = 0.5            # probability of the horizontal flip


def _uniform(lo: float, hi: float, generator: torch.Generator | None) -> float:
    return float(torch.empty(()).uniform_(lo, hi, generator=generator))


def random_resized_crop_box(width: int, height: int, scale: tuple[float, float] = CROP_SCALE,
                            ratio: tuple[float, float] = CROP_RATIO,
                            generator: torch.Generator | None = None) -> tuple[int, int, int, int]:
    """A random box (left, top, box_width, box_height) of `scale` of the area and aspect ratio in `ratio`.

    Up to 10 tries (area uniform in scale, ratio log-uniform); if none fits, the centred box of the
    whole image (clipped to the ratio range). Used by `official_augment` and the real-data loaders.
    """
    area = width * height
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * _uniform(scale[0], scale[1], generator)
        aspect = math.exp(_uniform(log_lo, log_hi, generator))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            return left, top, w, h
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        w, h = int(round(height * max(ratio))), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def official_augment(x: torch.Tensor, prob: float = CROP_PROB, flip_prob: float = FLIP_PROB,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """The official training augmentation on a batch x (B, C, H, W): per image, with probability `prob`
    a random resized crop (`random_resized_crop_box`, resized back to H x W, bilinear), then a
    horizontal flip with probability `flip_prob`. Returns a new tensor; x is not changed.
    Used by the StarGAN v2 trainer when `augment="official"` (notebook 05).
    """
    if x.dim() != 4:
        raise ValueError(f"official_augment expects a batch (B, C, H, W), got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    out = []
    for img in x:
        if float(torch.rand((), generator=generator)) < prob:
            left, top, bw, bh = random_resized_crop_box(w, h, generator=generator)
            if (bw, bh) != (w, h):
                crop = img[None, :, top:top + bh, left:left + bw].float()
                img = F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False,
                                    antialias=True)[0].to(x.dtype)
        if float(torch.rand((), generator=generator)) < flip_prob:
            img = img.flip(-1)
        out.append(img)
    return torch.stack(out)


@contextlib.contextmanager
def file_augmentation(dataset: Any, on: bool) -> Iterator[None]:
    """Within the block, a real-data loader (`RealImageDataset`: attributes `flip`, `random_crop_prob`)
    applies the official augmentation to the files it reads (on) or none (off); restored afterwards.
    Used by the StarGAN v2 trainer, so that training batches are augmented and sample grids are not."""
    saved = dataset.flip, dataset.random_crop_prob
    dataset.flip, dataset.random_crop_prob = (True, CROP_PROB) if on else (False, 0.0)
    try:
        yield
    finally:
        dataset.flip, dataset.random_crop_prob = saved
