"""CycleGAN experiment of notebook 01: both translation directions measured with the faces oracle.

Introduced in `notebooks/01_cyclegan_baseline.ipynb`. Training is `stargan_lib.train.cyclegan.train`;
the pure oracle scores (`score_edit`) are in `stargan_lib.metrics.oracle_metrics`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from stargan_lib.data.base import ImageSet
from stargan_lib.data.datasets import pair_indices
from stargan_lib.errors import ConfigError
from stargan_lib.metrics.oracle_metrics import score_edit
from stargan_lib.models.cyclegan import CycleGANConfig, translate


@torch.no_grad()
def evaluate_cyclegan(nets: dict[str, nn.Module], cfg: CycleGANConfig, imageset: ImageSet, oracle: Any,
                      batch_size: int = 256, seed: int = 0) -> dict[str, dict[str, float]]:
    """Oracle scores of both directions on held-out images of a binary-attribute set (faces).

    "A->B": the images of domain A (see `pair_indices`) translated by G_AB, whose target is the
    same labels with domain_a switched off and domain_b on; "B->A" likewise with G_BA.
    Each entry is a `score_edit` dict. Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """
    if imageset.label_kind != "binary":
        raise ConfigError(f"evaluate_cyclegan scores attribute edits; {imageset.name!r} has {imageset.label_kind} "
                          "labels")
    names = list(imageset.label_names)
    out = {}
    directions = (("A->B", cfg.domain_a, cfg.domain_b, "G_AB"), ("B->A", cfg.domain_b, cfg.domain_a, "G_BA"))
    for key, src, dst, gen in directions:
        idx = pair_indices(imageset.labels, names, "binary", src, dst)
        if len(idx) == 0:
            continue
        x, y = imageset.subset(idx).tensors()
        y_trg = y.clone()
        y_trg[:, names.index(src)], y_trg[:, names.index(dst)] = 0.0, 1.0
        x_fake = translate(nets[gen], x, batch_size)
        out[key] = score_edit(oracle, x, x_fake, y, y_trg, seed=seed)
    return out
