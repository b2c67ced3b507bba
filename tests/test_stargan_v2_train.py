"""StarGAN v2 losses and trainer: the terms of each configuration, λ_ds, exact resume, memory options,
sample grids, bad data and checkpoints of another configuration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stargan_lib.configs_v2 import LETTERS
from stargan_lib.models.stargan_v2_config import guides, lambda_ds, make_config
from stargan_lib.data.base import ImageSet
from stargan_lib.errors import CheckpointError, DataError, TrainingError
from stargan_lib.losses.stargan_v2 import compute_d_loss, compute_g_loss, expected_terms
from stargan_lib.models.stargan_v2 import build_nets, set_grad_checkpointing
from stargan_lib.train.engine import Engine
from stargan_lib.train.stargan_v2 import StarGANv2Task, train


def toy_data(n: int = 24, size: int = 16, k: int = 3, seed: int = 0) -> ImageSet:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return ImageSet("toy", "train", images, np.arange(n) % k, [f"d{i}" for i in range(k)], "domain")


def smoke(letter: str = "F", **kw):
    return make_config(letter, "smoke", "afhq", device="cpu", **kw)


EXPECTED = {   # (D terms, G terms) per configuration, Table 1
    "A": ({"adv", "gp", "cls_r"}, {"adv", "cls_f", "cyc"}),
    "B": ({"adv", "gp"}, {"adv", "cyc"}),
    "C": ({"adv", "r1"}, {"adv", "cyc"}),
    "D": ({"adv", "r1"}, {"adv", "lat", "cyc"}),
    "E": ({"adv", "r1"}, {"adv", "sty", "cyc"}),
    "F": ({"adv", "r1"}, {"adv", "sty", "ds", "cyc"}),
}


@pytest.mark.parametrize("letter", LETTERS)
def test_each_configuration_takes_a_d_and_a_g_step_with_its_terms(letter):
    cfg = smoke(letter)
    torch.manual_seed(0)
    trainer = StarGANv2Task(cfg, toy_data())
    before = {k: v.detach().clone() for k, v in trainer.nets["generator"].state_dict().items()}
    d_before = trainer.nets["discriminator"].main[0].weight.detach().clone()
    logs = Engine(trainer, progress=False).iteration()
    d_terms, g_terms = EXPECTED[letter]
    assert expected_terms(cfg) == (d_terms, g_terms)
    for guide in guides(cfg):
        assert {k.split("/")[2] for k in logs if k.startswith(f"D/{guide}/")} == d_terms
        assert {k.split("/")[2] for k in logs if k.startswith(f"G/{guide}/")} == g_terms
    assert all(np.isfinite(v) for v in logs.values())
    assert not torch.equal(d_before, trainer.nets["discriminator"].main[0].weight)
    assert any(not torch.equal(v, trainer.nets["generator"].state_dict()[k]) for k, v in before.items())
    assert guides(cfg) == {"A": ("det",), "B": ("det",), "C": ("det",), "D": ("latent",),
                           "E": ("latent", "reference"), "F": ("latent", "reference")}[letter]


def _batch(cfg, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, cfg.image_size, cfg.image_size, generator=g) * 2 - 1
    return {"x": x, "y": torch.tensor([0, 1, 2, 0])[:n], "y_trg": torch.tensor([1, 2, 0, 2])[:n],
            "z1": torch.randn(n, cfg.latent_dim, generator=g), "z2": torch.randn(n, cfg.latent_dim, generator=g),
            "x_ref": x.flip(0), "x_ref2": x.roll(1, 0), "alpha": torch.rand(n, 1, 1, 1, generator=g)}


def test_losses_are_pure_functions_of_the_batch_and_step():
    cfg = smoke("F")
    torch.manual_seed(0)
    nets = build_nets(cfg)
    batch = _batch(cfg)
    d1, t1 = compute_d_loss(nets, cfg, batch, 0, "latent")
    d2, t2 = compute_d_loss(nets, cfg, batch, 0, "latent")
    assert t1 == t2 and torch.equal(d1, d2)
    g0, tg0 = compute_g_loss(nets, cfg, batch, 0, "reference")
    g3, tg3 = compute_g_loss(nets, cfg, batch, 3, "reference")
    assert tg0 == tg3
    # L = adv + λ_sty sty − λ_ds(step) ds + λ_cyc cyc, with λ_ds(0) = 2, λ_ds(3) = 0.5 (decay over 4)
    expect0 = tg0["adv"] + tg0["sty"] - 2.0 * tg0["ds"] + tg0["cyc"]
    expect3 = tg0["adv"] + tg0["sty"] - 0.5 * tg0["ds"] + tg0["cyc"]
    assert float(g0.detach()) == pytest.approx(expect0, rel=1e-5)
    assert float(g3.detach()) == pytest.approx(expect3, rel=1e-5)


def test_r1_is_half_gamma_times_the_squared_gradient_norm():
    cfg = smoke("C")
    torch.manual_seed(0)
    nets = build_nets(cfg)
    batch = _batch(cfg)
    loss, terms = compute_d_loss(nets, cfg, batch, 0, "det")
    x = batch["x"].clone().requires_grad_(True)
    out, _ = nets["discriminator"](x, batch["y"])
    (grad,) = torch.autograd.grad(out.sum(), x)
    r1 = grad.pow(2).flatten(1).sum(1).mean()
    assert terms["r1"] == pytest.approx(float(r1), rel=1e-4)
    assert float(loss.detach()) == pytest.approx(terms["adv"] + 0.5 * cfg.r1_gamma * terms["r1"], rel=1e-5)


def test_lambda_ds_decays_linearly_to_zero():
    cfg = make_config("F", "paper", "afhq")
    assert lambda_ds(cfg, 0) == 2.0
    assert lambda_ds(cfg, 50_000) == pytest.approx(1.0)
    assert lambda_ds(cfg, 100_000) == 0.0 and lambda_ds(cfg, 150_000) == 0.0
    assert lambda_ds(make_config("E", "paper", "afhq"), 0) == 0.0


def test_resume_continues_exactly_including_lambda_ds(tmp_path):
    cfg = smoke("F", total_iters=4, ds_decay_iters=4)
    straight = train(cfg, None, toy_data(), progress=False)

    first = train(cfg, tmp_path, toy_data(), progress=False, stop_after=2)
    assert first.step == 2 and first.iters_run == 2
    torch.manual_seed(12345)                      # the checkpoint's RNG state must win over this
    resumed = train(cfg, tmp_path, toy_data(), progress=False)
    assert resumed.step == 4 and resumed.iters_run == 2

    for name in straight.nets:
        for k, v in straight.nets[name].state_dict().items():
            assert torch.equal(v, resumed.nets[name].state_dict()[k]), f"{name}.{k}"
    for name in straight.ema:
        for k, v in straight.ema[name].state_dict().items():
            assert torch.equal(v, resumed.ema[name].state_dict()[k]), f"ema {name}.{k}"
    assert resumed.history == straight.history
    # λ_ds continued (2, 1.5, | 1, 0.5) instead of restarting at 2 after the resume
    assert resumed.history["lambda_ds"] == [2.0, 1.5, 1.0, 0.5]
    assert (tmp_path / "checkpoint.pt").is_file() and (tmp_path / "nets_ema.ckpt").is_file()
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["000002_latent.png", "000002_reference.png",
                                                                       "000004_latent.png", "000004_reference.png"]


def test_checkpoint_of_another_configuration_is_refused(tmp_path):
    Engine(StarGANv2Task(smoke("E"), toy_data()), tmp_path, progress=False).save()
    other = Engine(StarGANv2Task(smoke("F"), toy_data()), tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"config: checkpoint='E' vs now='F'.*lambda_ds"):
        other.resume()


def test_data_with_another_domain_count_or_size_is_refused():
    with pytest.raises(DataError, match=r"num_domains=3 but .* has 2 domains"):
        StarGANv2Task(smoke("F"), toy_data(k=2))
    with pytest.raises(DataError, match="32 px images but image_size=16"):
        StarGANv2Task(smoke("F"), toy_data(size=32))


def test_nan_guard_stops_with_the_step_and_term():
    trainer = StarGANv2Task(smoke("C"), toy_data())
    with torch.no_grad():
        trainer.nets["discriminator"].main[0].weight.fill_(float("nan"))
    with pytest.raises(TrainingError, match="step 0.*D/det/adv"):
        Engine(trainer, progress=False).iteration()


def test_gradient_checkpointing_gives_the_same_gradients():
    cfg = smoke("F")
    torch.manual_seed(0)
    nets = build_nets(cfg)
    batch = _batch(cfg)
    grads = []
    for enabled in (False, True):
        set_grad_checkpointing(nets, enabled)
        nets.zero_grad(set_to_none=True)
        d_loss, _ = compute_d_loss(nets, cfg, batch, 0, "latent")     # R1: double backward through D
        g_loss, _ = compute_g_loss(nets, cfg, batch, 0, "latent")
        (d_loss + g_loss).backward()
        grads.append({k: p.grad.clone() for k, p in nets.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for k in grads[0]:
        torch.testing.assert_close(grads[1][k], grads[0][k], rtol=1e-4, atol=1e-6, msg=k)


def test_bf16_autocast_and_channels_last_run_on_cpu():
    trainer = StarGANv2Task(smoke("F", amp_bf16=True, channels_last=True), toy_data())
    logs = trainer.train_step(0)
    assert all(np.isfinite(v) for v in logs.values())


def test_train_returns_ema_nets_history_and_grids(tmp_path):
    result = train(smoke("C", total_iters=2), tmp_path, toy_data(), progress=False)
    assert result.step == 2 and result.history["step"] == [1.0, 2.0]
    assert set(result.ema) == {"generator", "domain_embedding"}
    grids = result.extra["task"].grids()
    imgs, nrow = grids["det"]
    assert nrow == 4 and imgs.shape == (3 * 4, 3, 16, 16)      # 3 sources x (source + 3 domains)
    # resuming a finished run does nothing more
    again = train(smoke("C", total_iters=2), tmp_path, toy_data(), progress=False)
    assert again.step == 2 and again.history == result.history
    ema_file = torch.load(tmp_path / "nets_ema.ckpt", weights_only=True)
    assert set(ema_file) == {"generator", "domain_embedding"}
    assert set(ema_file["generator"]) == set(result.ema["generator"].state_dict())
