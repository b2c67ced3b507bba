"""The official StarGAN v2 training augmentation (random resized crop with probability 0.5, then a
horizontal flip): the box statistics, the order of the operations on tensors and on files, and the
setting that turns it on at the paper preset only."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from stargan_lib.models.stargan_v2_config import make_config
from stargan_lib.data.augment import CROP_PROB, official_augment, random_resized_crop_box
from stargan_lib.errors import ConfigError

SAMPLES = Path(__file__).parent / "fixtures" / "samples"


def test_boxes_keep_80_to_100_percent_of_the_area_with_ratio_0_9_to_1_1():
    g = torch.Generator().manual_seed(0)
    for _ in range(500):
        left, top, w, h = random_resized_crop_box(200, 200, generator=g)
        assert 0 <= left and 0 <= top and left + w <= 200 and top + h <= 200
        assert 0.8 * 200 * 200 * 0.98 <= w * h <= 200 * 200
        assert 0.9 - 0.02 <= w / h <= 1.1 + 0.02


def test_box_falls_back_to_the_centred_image_when_nothing_fits():
    g = torch.Generator().manual_seed(0)
    assert random_resized_crop_box(100, 100, scale=(2.0, 3.0), generator=g) == (0, 0, 100, 100)
    # a wide image is cut to the widest allowed ratio, centred
    assert random_resized_crop_box(300, 100, scale=(2.0, 3.0), generator=g) == (95, 0, 110, 100)


def test_no_crop_no_flip_is_the_identity_and_flip_only_mirrors():
    x = torch.rand(3, 3, 16, 16)
    assert torch.equal(official_augment(x, prob=0.0, flip_prob=0.0), x)
    assert torch.equal(official_augment(x, prob=0.0, flip_prob=1.0), x.flip(-1))


def test_crop_then_flip_in_the_official_order_with_reproducible_draws():
    x = torch.rand(2, 3, 32, 32)
    out = official_augment(x, prob=1.0, flip_prob=1.0, generator=torch.Generator().manual_seed(3))
    # the same draws by hand: crop coin, box, flip coin, image by image; crop first, then flip
    g = torch.Generator().manual_seed(3)
    expected = []
    for img in x:
        torch.rand((), generator=g)
        left, top, w, h = random_resized_crop_box(32, 32, generator=g)
        crop = F.interpolate(img[None, :, top:top + h, left:left + w], size=(32, 32), mode="bilinear",
                             align_corners=False, antialias=True)[0] if (w, h) != (32, 32) else img
        torch.rand((), generator=g)
        expected.append(crop.flip(-1))
    assert torch.allclose(out, torch.stack(expected))
    assert out.shape == x.shape and not torch.equal(out, x.flip(-1))


def test_each_operation_happens_about_half_the_time():
    x = torch.rand(400, 3, 48, 48)
    out = official_augment(x, generator=torch.Generator().manual_seed(0))
    same = torch.isclose(out, x).all(dim=(1, 2, 3))
    mirrored = torch.isclose(out, x.flip(-1)).all(dim=(1, 2, 3))
    cropped = ~same & ~mirrored
    assert abs(mirrored.float().mean().item() + same.float().mean().item() - (1 - CROP_PROB)) < 0.08
    assert abs(mirrored.float().mean().item() - same.float().mean().item()) < 0.1   # flip: half of the rest
    assert abs(cropped.float().mean().item() - CROP_PROB) < 0.08


def test_real_loader_crops_the_file_before_the_resize_then_flips(tmp_path):
    """The folder loader with the official settings draws coin, box, flip coin from the global generator
    and applies them to the full-size file in the official order (crop, resize, flip)."""
    root = tmp_path / "afhq" / "train"
    for domain in ("cat", "dog"):
        shutil.copytree(SAMPLES / "afhq" / domain, root / domain)
    from stargan_lib.data.real import FolderDataset
    ds = FolderDataset(root, image_size=64, flip=True, random_crop_prob=1.0)
    torch.manual_seed(5)
    ours = np.array(ds.load_image(0))
    torch.manual_seed(5)
    img = Image.open(ds.files[0]).convert("RGB")
    torch.rand(())
    left, top, w, h = random_resized_crop_box(*img.size)
    img = img.crop((left, top, left + w, top + h)).resize((64, 64), Image.Resampling.BILINEAR)
    if float(torch.rand(())) < 0.5:
        img = ImageOps.mirror(img)
    assert np.array_equal(ours, np.array(img))
    assert img.size == (64, 64)


def test_official_augmentation_is_on_at_the_paper_preset_only():
    assert make_config("F", "paper", "afhq").augment == "official"
    assert make_config("F", "paper", "celeba_hq").augment == "official"
    assert make_config("F", "course").augment == "none"
    assert make_config("F", "smoke").augment == "none"


def test_unknown_augment_value_is_refused():
    with pytest.raises(ConfigError, match="augment='flip'"):
        make_config("F", "smoke", augment="flip")


def _afhq_folder(tmp_path):
    root = tmp_path / "afhq" / "train"
    for domain in ("cat", "dog", "wild"):
        shutil.copytree(SAMPLES / "afhq" / domain, root / domain)
    return root


def test_trainer_batches_are_augmented_and_sample_grids_are_not():
    from stargan_lib.train.stargan_v2 import DomainImages, StarGANv2Task, load_training_data
    cfg = make_config("F", "smoke", augment="official", batch_size=8)
    data = load_training_data(cfg, preset="smoke")
    plain = DomainImages(data, make_config("F", "smoke", batch_size=8))
    aug = DomainImages(data, cfg)
    torch.manual_seed(0)
    a = plain.sample(8, cfg.latent_dim)
    torch.manual_seed(0)
    b = aug.sample(8, cfg.latent_dim)
    assert torch.equal(a["y"], b["y"]) and torch.equal(a["z1"], b["z1"])     # same draws before the images
    for key in ("x", "x_ref", "x_ref2"):
        assert b[key].shape == a[key].shape and not torch.equal(a[key], b[key])
    torch.manual_seed(0)
    assert torch.equal(aug.sample(8, cfg.latent_dim)["x"], b["x"])            # reproducible from the seed
    trainer = StarGANv2Task(cfg, data)
    idx = torch.cat([d[:1] for d in trainer.data.by_domain])
    assert torch.equal(trainer._sample_src["x_src"], plain.images(idx))


def test_real_folder_batches_are_augmented_on_the_files(tmp_path):
    from stargan_lib.data.datasets import open_dataset
    from stargan_lib.train.stargan_v2 import DomainImages
    ds = open_dataset("afhq", "train", data_dir=_afhq_folder(tmp_path), image_size=16)
    images = DomainImages(ds, make_config("F", "smoke", augment="official"))
    idx = torch.arange(len(ds))
    torch.manual_seed(1)
    augmented = images.images(idx, augment=True)
    assert ds.flip is False and ds.random_crop_prob == 0.0                  # restored after the call
    plain = images.images(idx)
    assert augmented.shape == plain.shape and not torch.equal(augmented, plain)
    assert torch.equal(plain, images.images(idx))
