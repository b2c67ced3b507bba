"""Lab 04/05 checks (stargan_lib.checks.stargan_v2): the library's reference passes, typical mistakes fail
with a sentence that names the mistake."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from stargan_lib.checks.stargan_v2 import (check_adain, check_diversity_loss, check_head_selection,
                                           check_lambda_ds, check_mapping_network, check_r1_penalty,
                                           check_style_reconstruction)
from stargan_lib.models.stargan_v2_config import lambda_ds, make_config
from stargan_lib.losses.gan import gradient_penalty
from stargan_lib.models.stargan_v2 import AdaIN, MappingNetwork


# ----------------------------------------------------------------------------- references
def ref_adain(x, s, fc):
    ada = AdaIN(s.size(1), x.size(1))
    ada.fc = fc
    return ada(x, s)


def ref_select(out, y):
    return out[torch.arange(len(y)), y]


def ref_r1(d_out, x, gamma):
    return 0.5 * gamma * gradient_penalty(d_out, x, target=0.0)


def ref_sty(E, x_fake, y_trg, s_trg):
    return (E(x_fake, y_trg) - s_trg).abs().mean()


def ref_ds(G, x, s1, s2):
    return (G(x, s1) - G(x, s2)).abs().mean()


def ref_lambda(step, lam0, decay):
    return lambda_ds(make_config("F", None, "afhq", lambda_ds=lam0, ds_decay_iters=decay), step)


def test_references_pass(capsys):
    check_adain(ref_adain)
    check_head_selection(ref_select)
    check_r1_penalty(ref_r1)
    check_mapping_network(MappingNetwork)
    check_style_reconstruction(ref_sty)
    check_diversity_loss(ref_ds)
    check_lambda_ds(ref_lambda)
    assert capsys.readouterr().out.count("✓") == 7


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    check_head_selection(ref_select)
    check_mapping_network(MappingNetwork)
    check_style_reconstruction(ref_sty)
    assert torch.equal(before, torch.get_rng_state())


def test_unimplemented_exercise_says_so():
    def todo(*args):
        raise NotImplementedError()
    with pytest.raises(AssertionError, match="not implemented yet"):
        check_adain(todo)

    class Todo(nn.Module):
        def __init__(self, **kw):
            super().__init__()
            raise NotImplementedError()
    with pytest.raises(AssertionError, match="not implemented yet"):
        check_mapping_network(Todo)


# ----------------------------------------------------------------------------- AdaIN
def _inorm(x, dims=(2, 3), unbiased=False):
    return (x - x.mean(dims, keepdim=True)) / torch.sqrt(x.var(dims, unbiased=unbiased, keepdim=True) + 1e-5)


def _gb(s, fc):
    g, b = fc(s).chunk(2, 1)
    return g[:, :, None, None], b[:, :, None, None]


@pytest.mark.parametrize("wrong, words", [
    (lambda x, s, fc: _gb(s, fc)[0] * _inorm(x) + _gb(s, fc)[1], r"instead of \(1 \+ γ\)"),
    (lambda x, s, fc: (1 + _gb(s, fc)[1]) * _inorm(x) + _gb(s, fc)[0], "swapped"),
    (lambda x, s, fc: (1 + _gb(s, fc)[0]) * x + _gb(s, fc)[1], "forgot to normalise"),
    (lambda x, s, fc: (1 + _gb(s, fc)[0]) * _inorm(x, (0, 2, 3)) + _gb(s, fc)[1], "batch statistics"),
    (lambda x, s, fc: (1 + _gb(s, fc)[0]) * _inorm(x, (1, 2, 3)) + _gb(s, fc)[1], "layer norm"),
    (lambda x, s, fc: (1 + _gb(s, fc)[0]) * _inorm(x, unbiased=True) + _gb(s, fc)[1], "unbiased"),
    (lambda x, s, fc: ((1 + _gb(s, fc)[0]) * _inorm(x) + _gb(s, fc)[1]).detach(), "no gradient"),
    (lambda x, s, fc: (1 + fc(s).chunk(2, 1)[0]) * _inorm(x).mean((2, 3)), "shaped like x"),
    # γ, β reshaped onto the wrong axis: with distinct C, H, W this cannot broadcast silently
    (lambda x, s, fc: (1 + _gb(s, fc)[0].squeeze()[:, None, None, :]) * _inorm(x), "raised RuntimeError"),
])
def test_wrong_adain_fails(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_adain(wrong)


# ----------------------------------------------------------------------------- head selection
@pytest.mark.parametrize("wrong, words", [
    (lambda out, y: out[:, y], "B x B"),
    (lambda out, y: out.gather(1, y[:, None]), "Squeeze"),
    (lambda out, y: out.max(1).values, "largest output"),
    (lambda out, y: out.mean(1), "combined all heads"),
    (lambda out, y: out[:, y[0]], "FIRST image"),
    (lambda out, y: out[torch.arange(len(y)), y].detach(), "no gradient"),
    (lambda out, y: out[torch.arange(len(y)), (y + 1) % 3], "wrong entries"),
])
def test_wrong_head_selection_fails(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_head_selection(wrong)


# ----------------------------------------------------------------------------- R1
def _g(d, x, create_graph=True):
    return torch.autograd.grad(d.sum(), x, create_graph=create_graph)[0].flatten(1)


@pytest.mark.parametrize("wrong, words", [
    (lambda d, x, gm: _g(d, x).pow(2).sum(1).mean(), "without the factor γ/2"),
    (lambda d, x, gm: gm * _g(d, x).pow(2).sum(1).mean(), "multiplied by γ"),
    (lambda d, x, gm: 0.5 * gm * _g(d, x).norm(dim=1).mean(), "gradient norm"),
    (lambda d, x, gm: 0.5 * gm * ((_g(d, x).norm(dim=1) - 1) ** 2).mean(), "WGAN-GP"),
    (lambda d, x, gm: 0.5 * gm * _g(d, x).pow(2).sum(), "summed over the batch"),
    (lambda d, x, gm: 0.5 * gm * _g(d, x).pow(2).mean(), "averaged over the pixels"),
    (lambda d, x, gm: 0.5 * gm * _g(d, x, create_graph=False).pow(2).sum(1).mean(), "create_graph"),
    (lambda d, x, gm: 0.5 * gm * _g(d, x).pow(2).sum(1), "single number"),
    (lambda d, x, gm: 0.5 * gm * _g(d, x).norm(dim=1).mean() ** 2, "averaged the per-sample gradient norms"),
])
def test_wrong_r1_fails(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_r1_penalty(wrong)


# ----------------------------------------------------------------------------- mapping network
def _mapping(head_fn=None, forward_fn=None):
    class Student(MappingNetwork):
        def __init__(self, latent_dim, style_dim, num_domains, hidden_dim, n_shared, n_unshared):
            super().__init__(latent_dim, style_dim, num_domains, hidden_dim, n_shared, n_unshared)
            if head_fn is not None:
                self.unshared = head_fn(style_dim, num_domains, hidden_dim, n_unshared)

        def forward(self, z, y):
            if forward_fn is None:
                return super().forward(z, y)
            return forward_fn(self, z, y)
    return Student


def _head(style_dim, hidden, n_unshared, final_relu=False):
    layers = []
    for _ in range(n_unshared - 1):
        layers += [nn.Linear(hidden, hidden), nn.ReLU()]
    layers.append(nn.Linear(hidden, style_dim))
    if final_relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _all_heads(net, z):
    h = net.shared(z)
    return torch.stack([hd(h) for hd in net.unshared], 1)


@pytest.mark.parametrize("student, words", [
    (_mapping(head_fn=lambda s, k, h, n: nn.ModuleList([_head(s, h, n)] * k)), "share their weights"),
    (_mapping(head_fn=lambda s, k, h, n: nn.ModuleList()), "no per-domain heads"),
    (_mapping(head_fn=lambda s, k, h, n: nn.ModuleList(
        nn.Sequential(*[nn.Linear(h, h) for _ in range(n - 1)], nn.Linear(h, s)) for _ in range(k))),
     "parameter names differ"),
    (_mapping(forward_fn=lambda self, z, y: _all_heads(self, z)), "every head's code"),
    (_mapping(forward_fn=lambda self, z, y: _all_heads(self, z)[:, int(y[0])]), "first sample's domain"),
    (_mapping(head_fn=lambda s, k, h, n: nn.ModuleList(_head(s, h, n, final_relu=True) for _ in range(k))),
     "followed by a ReLU"),
    (_mapping(forward_fn=lambda self, z, y: _all_heads(self, z).mean(1)), "combined all heads"),
    # shapes: each wrong axis is named (the check's batch, K, style_dim and hidden_dim all differ)
    (_mapping(forward_fn=lambda self, z, y: _all_heads(self, z).transpose(0, 1)),
     r"\(domains K=3, batch B=7, style_dim=6\).*stacked along the first axis"),
    (_mapping(forward_fn=lambda self, z, y: _all_heads(self, z)[:, y]), r"batch B=7, batch B=7, style_dim=6.*y\[i\]"),
    (_mapping(forward_fn=lambda self, z, y: self.shared(z)), "last axis is hidden_dim"),
    (_mapping(forward_fn=lambda self, z, y: _all_heads(self, z)[0]), "first axis must be the batch"),
])
def test_wrong_mapping_network_fails(student, words):
    with pytest.raises(AssertionError, match=words):
        check_mapping_network(student)


# ----------------------------------------------------------------------------- style reconstruction
@pytest.mark.parametrize("wrong, words", [
    (lambda E, x, y, s: (E(x, y) - s).pow(2).mean(), "squared"),
    (lambda E, x, y, s: (E(x, y) - s).abs().sum(1).mean(), "over the code's dimensions"),
    (lambda E, x, y, s: (E(x, y) - s).abs().sum(), "summed over the batch"),
    (lambda E, x, y, s: (E(x, y) - s).mean().abs(), "before averaging"),
    (lambda E, x, y, s: (E(x, torch.tensor([0, 1, 2, 0])) - s).abs().mean(), "SOURCE domain's head"),
    (lambda E, x, y, s: (E(x.detach(), y) - s).abs().mean(), "fake images"),
    (lambda E, x, y, s: (E(x, y) - s.detach()).abs().mean(), "target style code"),
    (lambda E, x, y, s: (E(x) - s).abs().mean(), "raised ConfigError"),
])
def test_wrong_style_reconstruction_fails(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_style_reconstruction(wrong)


# ----------------------------------------------------------------------------- diversity
@pytest.mark.parametrize("wrong, words", [
    (lambda G, x, s1, s2: -(G(x, s1) - G(x, s2)).abs().mean(), "returned −L_ds"),
    (lambda G, x, s1, s2: (G(x, s1) - G(x, s2)).pow(2).mean(), "squared"),
    (lambda G, x, s1, s2: (G(x, s1) - G(x, s2)).abs().sum(), "summed"),
    (lambda G, x, s1, s2: (G(x, s1) - G(x, s1)).abs().mean(), "same style code"),
    (lambda G, x, s1, s2: (G(x, s1) - G(x, s2).detach()).abs().mean(), "no gradient flows"),
])
def test_wrong_diversity_loss_fails(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_diversity_loss(wrong)


@pytest.mark.parametrize("wrong, words", [
    (lambda step, lam, n: lam * (1 - step / n), "negative"),
    (lambda step, lam, n: lam * min(step, n) / n, "grows from 0"),
    (lambda step, lam, n: lam * (1 - min(step + 1, n) / n), "one step ahead"),
    (lambda step, lam, n: lam, "should be"),
    (lambda step, lam, n: "2", "should be"),
])
def test_wrong_lambda_ds_fails(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_lambda_ds(wrong)


def test_fused_diversity_with_functional_l1_passes():
    """Another correct way of writing it (F.l1_loss) passes too."""
    check_diversity_loss(lambda G, x, s1, s2: F.l1_loss(G(x, s1), G(x, s2)))
