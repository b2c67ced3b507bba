"""CycleGAN trainer: domain split, runs, resumes exactly (image pools included), refuses other
configurations, stops on NaN."""

import dataclasses

import numpy as np
import pytest
import torch

from stargan_lib.data.base import CELEBA_ATTRS, ImageSet
from stargan_lib.data.datasets import pair_indices
from stargan_lib.errors import CheckpointError, ConfigError, TrainingError
from stargan_lib.models.cyclegan import CycleGANConfig
from stargan_lib.train import cyclegan as T


def faces(n=24, size=16, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros((n, 5), np.float32)
    labels[: n // 2, 0] = 1                      # Black_Hair
    labels[n // 2:, 1] = 1                       # Blond_Hair
    labels[:, 3] = rng.random(n) > 0.5
    labels[0, 1] = 1                             # image 0 has both: in neither domain
    return ImageSet("faces", "train", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), labels,
                    list(CELEBA_ATTRS), "binary")


def tiny(**kw):
    base = dict(image_size=16, ngf=4, ndf=4, n_blocks=1, n_layers_d=2, batch_size=2, pool_size=3, total_iters=4,
                decay_iters=2, log_every=1, sample_every=2, ckpt_every=2, device="cpu")
    return CycleGANConfig(**{**base, **kw})


def same_weights(a, b):
    return all(torch.equal(a[k].state_dict()[n], b[k].state_dict()[n]) for k in a for n in a[k].state_dict())


def test_domain_split():
    ds = faces()
    a = pair_indices(ds.labels, ds.label_names, "binary", "Black_Hair", "Blond_Hair")
    b = pair_indices(ds.labels, ds.label_names, "binary", "Blond_Hair", "Black_Hair")
    assert list(a) == list(range(1, 12)) and list(b) == list(range(12, 24))
    assert list(pair_indices(np.array([0, 2, 1, 2]), ["x", "y", "z"], "domain", "z", "x")) == [1, 3]
    with pytest.raises(ConfigError, match="Red_Hair"):
        pair_indices(ds.labels, ds.label_names, "binary", "Red_Hair", "Male")


def test_train_writes_checkpoint_samples_history(tmp_path):
    res = T.train(tiny(), tmp_path, faces(), progress=False)
    assert res.step == 4 and res.checkpoint.is_file()
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_000002.png", "step_000004.png"]
    for k in ("G/adv", "G/cyc", "G/idt", "D/adv_A", "D/adv_B"):
        assert len(res.history[k]) == 4 and np.isfinite(res.history[k]).all()
    assert res.history["lr"][-1] < res.history["lr"][0]


def test_resume_is_identical_to_a_straight_run(tmp_path):
    cfg = tiny(total_iters=6, decay_iters=3)      # the pools (size 3) fill and start swapping
    straight = T.train(cfg, tmp_path / "a", faces(), progress=False)
    T.train(cfg, tmp_path / "b", faces(), progress=False, stop_after=2)
    resumed = T.train(cfg, tmp_path / "b", faces(), progress=False)
    assert same_weights(straight.nets, resumed.nets)
    assert straight.history == resumed.history


def test_resume_with_another_configuration_is_refused(tmp_path):
    T.train(tiny(), tmp_path, faces(), progress=False, stop_after=1)
    with pytest.raises(CheckpointError, match=r"ngf: checkpoint=4 vs now=8"):
        T.train(tiny(ngf=8), tmp_path, faces(), progress=False)


def test_nan_loss_stops_with_step_and_term(tmp_path):
    cfg = tiny()
    object.__setattr__(cfg, "lambda_cyc", float("nan"))   # past the config's validation, which refuses a NaN weight
    with pytest.raises(TrainingError, match=r"step 1: \{'G/loss': nan\}"):
        T.train(cfg, tmp_path, faces(), progress=False)


def test_bad_data(tmp_path):
    with pytest.raises(ConfigError, match="fewer than one batch"):
        T.train(tiny(batch_size=16), tmp_path, faces(), progress=False)
    with pytest.raises(ConfigError, match="image_size=16"):
        T.train(tiny(), tmp_path, faces(size=32), progress=False)
    with pytest.raises(ConfigError, match="two domains"):
        T.train(tiny(), tmp_path, [faces()], progress=False)


def test_train_on_synthetic_smoke_data(tmp_path, tmp_cache):
    from stargan_lib.models.cyclegan import config_for

    cfg = dataclasses.replace(config_for("smoke"), total_iters=2, sample_every=0)
    res = T.train(cfg, tmp_path, preset="smoke", progress=False)
    assert res.step == 2
