"""L_ds (StarGAN v2 Eq. 3): the official computation (second output detached) is the default, and the
Eq. (3) form with the gradient through both outputs is one flag away (`ds_both_outputs`)."""

from __future__ import annotations

import torch

from stargan_lib.models.stargan_v2_config import make_config
from stargan_lib.losses.stargan_v2 import compute_g_loss
from stargan_lib.models.stargan_v2 import build_nets


def _batch(cfg, n: int = 4) -> dict:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 3, cfg.image_size, cfg.image_size, generator=g) * 2 - 1
    return {"x": x, "y": torch.tensor([0, 1, 2, 0]), "y_trg": torch.tensor([1, 2, 0, 2]),
            "z1": torch.randn(n, cfg.latent_dim, generator=g), "z2": torch.randn(n, cfg.latent_dim, generator=g),
            "x_ref": x.flip(0), "x_ref2": x.roll(1, 0), "alpha": torch.rand(n, 1, 1, 1, generator=g)}


def _g_loss_and_grad_calls(both: bool, guide: str):
    cfg = make_config("F", "smoke", "afhq", device="cpu", ds_both_outputs=both)
    torch.manual_seed(0)
    nets = build_nets(cfg)
    grad_modes: list[bool] = []
    nets["generator"].register_forward_hook(lambda *_: grad_modes.append(torch.is_grad_enabled()))
    loss, terms = compute_g_loss(nets, cfg, _batch(cfg), 0, guide)
    loss.backward()
    grads = {k: p.grad.clone() for k, p in nets["mapping_network"].named_parameters() if p.grad is not None}
    return terms, grad_modes, grads


def test_default_is_the_official_detached_second_output():
    assert make_config("F", "paper").ds_both_outputs is False
    for guide in ("latent", "reference"):
        terms, modes, _ = _g_loss_and_grad_calls(False, guide)
        # G(x, s̃1) and the cycle G(G(x, s̃1), ŝ) with gradients; G(x, s̃2) without
        assert modes == [True, False, True]
        assert terms["ds"] > 0


def test_eq3_form_keeps_the_gradient_through_both_outputs_with_equal_values():
    t_off, _, g_off = _g_loss_and_grad_calls(False, "latent")
    t_eq3, modes, g_eq3 = _g_loss_and_grad_calls(True, "latent")
    assert modes == [True, True, True]
    assert t_off == t_eq3                                   # same forward values, only the gradient differs
    assert any(not torch.allclose(g_off[k], g_eq3[k]) for k in g_off)
