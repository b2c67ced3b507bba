"""CycleGAN model and losses: reference parameter counts, shapes, LSGAN / cycle / identity losses by
hand, the image pool."""

import pytest
import torch
import torch.nn as nn

from stargan_lib.errors import ConfigError
from stargan_lib.losses import cyclegan as L
from stargan_lib.models import cyclegan as M


def test_paper_parameter_counts():
    cfg = M.CycleGANConfig()
    assert (cfg.ngf, cfg.ndf, cfg.n_blocks, cfg.n_layers_d) == (64, 64, 9, 3)
    assert M.param_counts(cfg) == {"G": 11_378_179, "D": 2_764_737, "total": 2 * (11_378_179 + 2_764_737)}


def test_paper_defaults():
    cfg = M.CycleGANConfig()
    assert (cfg.lambda_cyc, cfg.lambda_id, cfg.pool_size, cfg.lr, cfg.beta1, cfg.batch_size) == (10, 0.5, 50, 2e-4, 0.5, 1)


def test_shapes_and_70x70_patch_map():
    G, D = M.ResnetGenerator(ngf=8, n_blocks=2), M.PatchDiscriminator(ndf=8, n_layers=3)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y = G(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert D(x).shape == (2, 1, 2, 2)
    assert M.PatchDiscriminator(ndf=4)(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    # reflection padding and instance norm without parameters, as in the reference
    assert isinstance(G.model[0], nn.ReflectionPad2d)
    norms = [m for m in G.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not n.affine and not n.track_running_stats for n in norms)


def test_receptive_field_is_70():
    """Each output of the 3-layer PatchGAN depends on a 70x70 input patch (instance norm, which
    mixes all positions through its statistics, replaced by identity to see the convolutions' reach)."""
    D = M.PatchDiscriminator(ndf=2, n_layers=3)
    D.model = nn.Sequential(*[nn.Identity() if isinstance(m, nn.InstanceNorm2d) else m for m in D.model])
    x = torch.zeros(1, 3, 140, 140, requires_grad=True)
    D(x)[0, 0, 5, 5].backward()
    rows = x.grad.abs().sum(dim=(0, 1, 3)).nonzero()
    assert int(rows.max() - rows.min() + 1) == 70


def test_bad_config():
    with pytest.raises(ConfigError, match="too small"):
        M.CycleGANConfig(image_size=16, n_layers_d=3)
    with pytest.raises(ConfigError, match="two different"):
        M.CycleGANConfig(domain_a="Male", domain_b="Male")


class _Shift(nn.Module):
    def __init__(self, v):
        super().__init__()
        self.v = v

    def forward(self, x):
        return x + self.v


class _MeanD(nn.Module):
    def forward(self, x):
        return x.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1)


def test_losses_by_hand():
    assert L.cycle_loss(torch.zeros(1, 1, 1, 2), torch.tensor([[[[1.0, -3.0]]]])).item() == pytest.approx(2.0)
    assert L.identity_loss(torch.ones(2, 1), torch.zeros(2, 1)).item() == pytest.approx(1.0)
    cfg = M.CycleGANConfig()
    nets = {"G_AB": _Shift(1.0), "G_BA": _Shift(-0.5), "D_A": _MeanD(), "D_B": _MeanD()}
    batch = {"real_a": torch.zeros(1, 3, 2, 2), "real_b": torch.ones(1, 3, 2, 2)}
    loss, logs = L.compute_g_loss(nets, cfg, batch)
    # fake_b = 1 -> D_B = 1 -> (1-1)^2 = 0 ; fake_a = 0.5 -> D_A = 0.5 -> 0.25
    assert logs["G/adv"] == pytest.approx(0.25)
    # a -> 1 -> 0.5: |0.5 - 0| ; b -> 0.5 -> 1.5: |1.5 - 1|
    assert logs["G/cyc"] == pytest.approx(1.0)
    # G_AB(b) = 2: |2 - 1| ; G_BA(a) = -0.5: 0.5
    assert logs["G/idt"] == pytest.approx(1.5)
    assert loss.item() == pytest.approx(0.25 + 10 * 1.0 + 0.5 * 10 * 1.5)
    _, no_idt = L.compute_g_loss(nets, M.CycleGANConfig(lambda_id=0), batch)
    assert "G/idt" not in no_idt and no_idt["G/loss"] == pytest.approx(10.25)
    d_loss, d = L.compute_d_loss(nets, cfg, {**batch, "fake_a": torch.full((1, 3, 2, 2), 2.0),
                                             "fake_b": torch.zeros(1, 3, 2, 2)})
    # D_A: ½((0-1)^2 + 2^2) = 2.5 ; D_B: ½((1-1)^2 + 0^2) = 0
    assert d["D/adv_A"] == pytest.approx(2.5) and d["D/adv_B"] == pytest.approx(0.0)
    assert d_loss.item() == pytest.approx(2.5)


def test_image_pool_fills_then_swaps_half_the_time():
    torch.manual_seed(0)
    pool = L.ImagePool(3)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and len(pool) == 3        # filling: returned as is
    returned, swapped = [], 0
    for i in range(200):
        new = torch.full((1, 1, 1, 1), 100.0 + i)
        out = pool.query(new)
        swapped += int(out.item() != 100.0 + i)
        returned.append(out.item())
    assert len(pool) == 3
    assert 70 < swapped < 130                                               # about half
    stored = {v.item() for v in pool.images}
    assert all(v >= 100 for v in stored)                                    # old images were swapped out
    assert torch.equal(L.ImagePool(0).query(first), first)                  # size 0: off


def test_image_pool_state_roundtrip():
    pool = L.ImagePool(4)
    pool.query(torch.randn(3, 3, 2, 2))
    other = L.ImagePool(1)
    other.load_state_dict(pool.state_dict())
    assert other.size == 4 and all(torch.equal(a, b) for a, b in zip(pool.images, other.images))
    empty = L.ImagePool(5)
    empty.load_state_dict(L.ImagePool(5).state_dict())
    assert len(empty) == 0
