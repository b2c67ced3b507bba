"""Tiny datasets and configs shared by the training-engine tests (test_engine, test_hardening2_engine)."""

from __future__ import annotations

import csv

import numpy as np

from stargan_lib.data.base import CELEBA_ATTRS, ImageSet
from stargan_lib.models.cyclegan import CycleGANConfig
from stargan_lib.models.stargan_v1 import StarGANv1Config


def faces(n=24, size=16, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros((n, 5), np.float32)
    labels[: n // 2, 0] = 1
    labels[n // 2:, 1] = 1
    labels[:, 3] = rng.random(n) > 0.5
    return ImageSet("faces", "train", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), labels,
                    list(CELEBA_ATTRS), "binary")


def domains(n=24, size=16, k=3):
    rng = np.random.default_rng(0)
    return ImageSet("toy", "train", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), np.arange(n) % k,
                    [f"d{i}" for i in range(k)], "domain")


def cyclegan_cfg(**kw):
    base = dict(image_size=16, ngf=4, ndf=4, n_blocks=1, n_layers_d=2, batch_size=2, pool_size=3, total_iters=6,
                decay_iters=3, log_every=1, sample_every=0, ckpt_every=2, device="cpu")
    return CycleGANConfig(**{**base, **kw})


def v1_cfg(**kw):
    base = dict(image_size=16, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1, d_repeat_num=3, batch_size=4,
                total_iters=4, decay_iters=2, n_critic=2, log_every=1, sample_every=0, ckpt_every=2, device="cpu")
    return StarGANv1Config(**{**base, **kw})


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))
