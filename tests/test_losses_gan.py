"""stargan_lib.losses.gan: adversarial losses and the shared gradient penalty, against hand computations."""

import math

import pytest
import torch

from stargan_lib.errors import ConfigError
from stargan_lib.losses import gan


def _linear_critic(a):
    """D(x) = <a, x> per sample: its gradient w.r.t. x is `a` everywhere, so ||∇|| = ||a||."""
    return lambda x: (x * a).flatten(1).sum(1)


def test_gradient_penalty_wgan_gp_known_norm():
    torch.manual_seed(0)
    a = torch.randn(1, 3, 4, 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    gp = gan.gradient_penalty(_linear_critic(a)(x), x, target=1.0)
    expected = (a.norm() - 1) ** 2
    assert torch.allclose(gp, expected, rtol=1e-5)


def test_gradient_penalty_r1_known_norm_and_scaled_input():
    a = torch.full((1, 2, 3, 3), 0.5)       # ||a||^2 = 18 * 0.25 = 4.5
    x = torch.randn(4, 2, 3, 3, requires_grad=True)
    r1 = gan.gradient_penalty(_linear_critic(a)(x), x, target=0)
    assert math.isclose(r1.item(), 4.5, rel_tol=1e-6)
    # D(x) = ||x||^2 / 2 has gradient x, so the penalty is the mean of ||x_i||^2
    x2 = torch.randn(3, 1, 2, 2, requires_grad=True)
    d = 0.5 * x2.pow(2).flatten(1).sum(1)
    r1b = gan.gradient_penalty(d, x2, target=0)
    assert torch.allclose(r1b, x2.detach().pow(2).flatten(1).sum(1).mean())


def test_gradient_penalty_patch_output_and_backprop_into_weights():
    # a PatchGAN-like output (B, 1, 2, 2): the gradient of each sample's summed patches
    w = torch.tensor(2.0, requires_grad=True)
    x = torch.randn(2, 1, 2, 2, requires_grad=True)
    d_out = w * x                                   # each patch = w * pixel: grad of sum = w everywhere
    gp = gan.gradient_penalty(d_out, x, target=1.0)
    expected = (2.0 * 2 - 1) ** 2                   # ||(w,w,w,w)|| = 2w = 4
    assert math.isclose(gp.item(), expected, rel_tol=1e-6)
    gp.backward()                                    # d/dw (2w - 1)^2 = 4 (2w - 1) = 12
    assert math.isclose(w.grad.item(), 12.0, rel_tol=1e-6)


def test_gradient_penalty_r1_zero_gradient_is_finite():
    x = torch.randn(2, 1, 2, 2, requires_grad=True)
    w = torch.tensor(0.0, requires_grad=True)
    r1 = gan.gradient_penalty(w * x, x, target=0)
    r1.backward()
    assert r1.item() == 0 and torch.isfinite(w.grad)


def test_gradient_penalty_needs_grad():
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match="requires_grad"):
        gan.gradient_penalty(x.sum(1), x)


def test_interpolate_lies_on_segment():
    torch.manual_seed(1)
    real, fake = torch.zeros(6, 1, 2, 2), torch.ones(6, 1, 2, 2)
    x_hat = gan.interpolate(real, fake)
    assert x_hat.requires_grad
    # every sample is a constant image 1 - α with α in [0, 1]
    per = x_hat.detach().flatten(1)
    assert torch.all(per.max(1).values == per.min(1).values)
    assert torch.all((per >= 0) & (per <= 1))


def test_adversarial_losses_by_hand():
    real = torch.tensor([1.0, 3.0])
    fake = torch.tensor([0.0, -2.0])
    # WGAN: -mean(real) + mean(fake) = -2 + -1
    assert gan.wgan_d_loss(real, fake).item() == pytest.approx(-3.0)
    assert gan.wgan_g_loss(fake).item() == pytest.approx(1.0)
    # LSGAN: mean((r-1)^2) + mean(f^2) = (0 + 4)/2 + (0 + 4)/2
    assert gan.lsgan_d_loss(real, fake).item() == pytest.approx(4.0)
    assert gan.lsgan_g_loss(fake).item() == pytest.approx((1 + 9) / 2)
    # non-saturating: softplus(-r) + softplus(f)
    sp = lambda v: math.log1p(math.exp(v))
    assert gan.nonsat_d_loss(real, fake).item() == pytest.approx(
        (sp(-1) + sp(-3)) / 2 + (sp(0) + sp(-2)) / 2, rel=1e-6)
    assert gan.nonsat_g_loss(fake).item() == pytest.approx((sp(0) + sp(2)) / 2, rel=1e-6)
    assert gan.d_adv_loss("lsgan", real, fake).item() == pytest.approx(4.0)
    assert gan.g_adv_loss("wgan", fake).item() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="hinge"):
        gan.g_adv_loss("hinge", fake)
