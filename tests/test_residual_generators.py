"""The course deviation `g_residual` of CycleGAN and StarGAN v1: G predicts a change of its input."""

import pytest
import torch

from stargan_lib.models import cyclegan, stargan_v1
from stargan_lib.models.common import residual_output


def test_residual_output_adds_twice_the_change_and_stays_in_range():
    x = torch.tensor([-1.0, 0.0, 0.5, 1.0]).view(1, 1, 2, 2)
    out = torch.tensor([0.0, 0.25, 0.5, -1.0]).view(1, 1, 2, 2)
    assert residual_output(x, out).flatten().tolist() == [-1.0, 0.5, 1.0, -1.0]


def _last_conv(G):
    return [m for m in G.modules() if isinstance(m, torch.nn.Conv2d)][-1]


def _zero_last_layer(G):
    with torch.no_grad():
        _last_conv(G).weight.zero_()
        if _last_conv(G).bias is not None:
            _last_conv(G).bias.zero_()


@pytest.mark.parametrize("make", [
    lambda r: stargan_v1.Generator(label_dim=5, conv_dim=8, repeat_num=1, residual=r),
    lambda r: cyclegan.ResnetGenerator(ngf=8, n_blocks=1, residual=r),
])
def test_residual_generator_is_the_identity_when_its_last_layer_is_zero(make):
    torch.manual_seed(0)
    G = make(True)
    _zero_last_layer(G)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    args = (x, torch.zeros(2, 5)) if isinstance(G, stargan_v1.Generator) else (x,)
    assert torch.equal(G(*args), x)
    plain = make(False)
    _zero_last_layer(plain)
    assert torch.equal(plain(*args), torch.zeros_like(x))        # the paper's G outputs tanh(0) = 0


def test_residual_flag_keeps_the_official_state_dict_layout():
    for cfg_fn, model in ((stargan_v1.config_for, stargan_v1), (cyclegan.config_for, cyclegan)):
        a = model.build_nets(cfg_fn("smoke", g_residual=False))
        b = model.build_nets(cfg_fn("smoke", g_residual=True))
        for name in a:
            sa, sb = a[name].state_dict(), b[name].state_dict()
            assert list(sa) == list(sb) and all(sa[k].shape == sb[k].shape for k in sa)


def test_paper_preset_keeps_the_papers_generators():
    assert stargan_v1.config_for("paper").g_residual is False
    assert cyclegan.config_for("paper").g_residual is False
