"""StarGAN v1 trainer: runs, resumes exactly, refuses other configurations, stops on NaN, checks labels;
joint training with the mask vector."""

import dataclasses

import numpy as np
import pytest
import torch

from stargan_lib.data.base import CELEBA_ATTRS, RAFD_EXPRESSIONS, ImageSet
from stargan_lib.data.datasets import fixed_batch
from stargan_lib.errors import CheckpointError, ConfigError, TrainingError
from stargan_lib.models.stargan_v1 import StarGANv1Config
from stargan_lib.train import stargan_v1 as T


def faces(n=24, size=16, seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 5)) > 0.5).astype(np.float32)
    return ImageSet("faces", "train", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), labels,
                    list(CELEBA_ATTRS), "binary")


def expressions(n=24, size=16, seed=1):
    rng = np.random.default_rng(seed)
    return ImageSet("expressions", "train", rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                    rng.integers(0, 8, n).astype(np.int64), list(RAFD_EXPRESSIONS), "domain")


def tiny(**kw):
    base = dict(image_size=16, g_conv_dim=4, d_conv_dim=4, g_repeat_num=1, d_repeat_num=3, batch_size=4,
                total_iters=4, decay_iters=2, n_critic=2, log_every=1, sample_every=2, ckpt_every=2, device="cpu")
    return StarGANv1Config(**{**base, **kw})


def same_weights(a, b):
    return all(torch.equal(a[k].state_dict()[n], b[k].state_dict()[n]) for k in a for n in a[k].state_dict())


def test_train_writes_checkpoint_samples_history(tmp_path):
    res = T.train(tiny(), tmp_path, faces(), progress=False)
    assert res.step == 4 and res.checkpoint.is_file()
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_000002.png", "step_000004.png"]
    assert res.history["step"] == [2, 3, 4]               # rows start at the first G update (n_critic = 2)
    for k in ("D/adv", "D/gp", "D/cls_r", "G/adv", "G/cls_f", "G/rec"):
        assert len(res.history[k]) == 3 and np.isfinite(res.history[k]).all()
    assert res.history["lr_G"][-1] < res.history["lr_G"][0]                              # linear decay


def test_resume_is_identical_to_a_straight_run(tmp_path):
    cfg = tiny()
    straight = T.train(cfg, tmp_path / "a", faces(), progress=False)
    first = T.train(cfg, tmp_path / "b", faces(), progress=False, stop_after=2)
    assert first.step == 2
    resumed = T.train(cfg, tmp_path / "b", faces(), progress=False)
    assert resumed.step == 4
    assert same_weights(straight.nets, resumed.nets)
    assert straight.history == resumed.history


def test_resume_with_another_configuration_is_refused(tmp_path):
    T.train(tiny(), tmp_path, faces(), progress=False, stop_after=2)
    with pytest.raises(CheckpointError, match=r"lambda_rec: checkpoint=10\.0 vs now=5\.0"):
        T.train(tiny(lambda_rec=5.0), tmp_path, faces(), progress=False)
    # a longer run is fine (total_iters may change on resume)
    assert T.train(tiny(total_iters=5), tmp_path, faces(), progress=False).step == 5


def test_nan_loss_stops_with_step_and_term(tmp_path):
    cfg = tiny()
    object.__setattr__(cfg, "lambda_gp", float("nan"))    # past the config's validation, which refuses a NaN weight
    with pytest.raises(TrainingError, match=r"step 1: \{'D/loss': nan\}"):
        T.train(cfg, tmp_path, faces(), progress=False)


def test_label_dimensions_that_do_not_match_the_model(tmp_path):
    with pytest.raises(ConfigError, match=r"5 binary labels .* c_dim=5"):
        T.train(tiny(c_dim=4), tmp_path, faces(), progress=False)
    with pytest.raises(ConfigError, match="8 domain labels"):
        T.train(tiny(), tmp_path, expressions(), progress=False)
    with pytest.raises(ConfigError, match="image_size=16"):
        T.train(tiny(), tmp_path, faces(size=32), progress=False)


def test_joint_training_alternates_datasets_and_resumes(tmp_path):
    cfg = tiny(datasets=("faces", "expressions"))
    sets = [faces(), expressions()]
    datasets = T.open_training_data(cfg, sets)
    from stargan_lib.data.datasets import JointLoader

    loader = JointLoader(datasets, cfg.batch_size, seed=0, dims=cfg.label_dims)
    order = [T.next_batch(cfg, loader) for _ in range(4)]
    assert [d for d, _, _ in order] == [0, 1, 0, 1]
    assert order[0][2].shape == (4, 5) and order[1][2].shape == (4,) and order[1][2].dtype == torch.int64
    straight = T.train(cfg, tmp_path / "a", sets, progress=False)
    T.train(cfg, tmp_path / "b", sets, progress=False, stop_after=2)
    assert same_weights(straight.nets, T.train(cfg, tmp_path / "b", sets, progress=False).nets)
    assert straight.nets["G"].label_dim == 5 + 8 + 2


def test_translation_grid_targets(tmp_path):
    cfg = tiny()
    res = T.train(tiny(total_iters=1, sample_every=0), tmp_path, faces(), progress=False)
    x, y = fixed_batch(T.open_training_data(cfg, faces())[0], 3)
    grid, names = T.translation_grid(res.nets["G"], cfg, x, y, [CELEBA_ATTRS])
    assert grid.shape == (3, 6, 3, 16, 16) and names == ["input"] + CELEBA_ATTRS
    assert torch.equal(grid[:, 0], x)
    targets = dict(T.translation_targets(cfg, torch.tensor([[1.0, 0, 0, 1, 0]]), [CELEBA_ATTRS]))
    assert torch.equal(targets["Blond_Hair"], torch.tensor([[0.0, 1, 0, 1, 0]]))     # hair set, others cleared
    assert torch.equal(targets["Male"], torch.tensor([[1.0, 0, 0, 0, 0]]))           # flipped
    joint = tiny(datasets=("faces", "expressions"))
    names = [n for n, _ in T.translation_targets(joint, torch.zeros(2, 5), [CELEBA_ATTRS, RAFD_EXPRESSIONS])]
    assert names == CELEBA_ATTRS + RAFD_EXPRESSIONS


def test_train_on_synthetic_smoke_data(tmp_path, tmp_cache):
    from stargan_lib.models.stargan_v1 import config_for

    cfg = dataclasses.replace(config_for("smoke"), total_iters=5, sample_every=0)      # n_critic 5: one G step
    res = T.train(cfg, tmp_path, preset="smoke", progress=False)
    assert res.step == 5 and res.history["step"] == [5] and np.isfinite(res.history["G/loss"]).all()
