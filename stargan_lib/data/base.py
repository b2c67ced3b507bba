"""What every dataset in the course looks like in memory, synthetic or real.

Introduced in `notebooks/00_setup_and_data.ipynb`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

# The five CelebA attributes of the StarGAN v1 paper (Sec. 4.2) and the eight RaFD expressions.
CELEBA_ATTRS = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
HAIR_ATTRS = CELEBA_ATTRS[:3]
RAFD_EXPRESSIONS = ["angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"]
AFHQ_DOMAINS = ["cat", "dog", "wild"]
CELEBA_HQ_DOMAINS = ["female", "male"]

LabelKind = Literal["binary", "domain"]


@dataclass
class ImageSet:
    """A labelled image set held in memory.

    images:  (N, H, W, 3) uint8
    labels:  (N, K) float32 of 0/1 when `label_kind == "binary"` (multi-attribute, CelebA-like),
             (N,) int64 domain indices when `label_kind == "domain"` (RaFD, AFHQ, CelebA-HQ-like)
    factors: every generative factor of a synthetic image, name -> (N,) or (N, k) array;
             empty for real data
    """

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    label_kind: LabelKind
    factors: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    @property
    def n_labels(self) -> int:
        return len(self.label_names)

    def subset(self, index: np.ndarray | slice) -> "ImageSet":
        """The same set restricted to `index` (factors included)."""
        return ImageSet(self.name, self.split, self.images[index], self.labels[index], list(self.label_names),
                        self.label_kind, {k: v[index] for k, v in self.factors.items()}, dict(self.params))

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Images as float (N, 3, H, W) in [-1, 1] and labels as float (binary) or long (domain)."""
        x = torch.from_numpy(self.images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        y = torch.from_numpy(self.labels)
        y = y.float() if self.label_kind == "binary" else y.long()
        return x, y


def to_tensor_image(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float in [-1, 1], the range every network in the course uses."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div(127.5).sub(1.0)


def to_uint8_image(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (B, 3, H, W) float in [-1, 1] -> (H, W, 3) / (B, H, W, 3) uint8."""
    x = x.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()
    return x.permute(*range(x.dim() - 3), -2, -1, -3).numpy()
