"""Lab 02/03 checks: the reference passes, typical mistakes fail with a helpful sentence."""

import pytest
import torch
import torch.nn.functional as F

from stargan_lib.checks import (check_cls_losses, check_gradient_penalty, check_label_concat, check_masked_cls_loss,
                                check_unified_label)
from stargan_lib.data.datasets import make_unified_label
from stargan_lib.losses.gan import gradient_penalty
from stargan_lib.losses.stargan_v1 import classification_loss, masked_cls_loss
from stargan_lib.models.stargan_v1 import concat_label


def test_references_pass(capsys):
    check_label_concat(concat_label)
    check_gradient_penalty(gradient_penalty)
    check_cls_losses(classification_loss)
    check_unified_label(make_unified_label)
    check_masked_cls_loss(masked_cls_loss)
    assert capsys.readouterr().out.count("✓") == 5


def _maps(x, c):
    return c.view(c.size(0), c.size(1), 1, 1).expand(-1, -1, x.size(2), x.size(3))


@pytest.mark.parametrize("wrong, words", [
    (lambda x, c: torch.cat([_maps(x, c), x], 1), "before the image"),
    (lambda x, c: x, r"shape \(2, 7, 5, 6\)"),
    (lambda x, c: torch.cat([x, _maps(x, c) * torch.rand_like(_maps(x, c))], 1), "constant"),
    (lambda x, c: torch.cat([x, _maps(x, c.flip(0))], 1), "swapped between images"),
])
def test_wrong_label_concat_fails(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_label_concat(wrong)


def _grad4(d_out, x, create_graph=True):
    return torch.autograd.grad(d_out, x, torch.ones_like(d_out), create_graph=create_graph)[0]


def _grad(d_out, x, create_graph=True):
    return _grad4(d_out, x, create_graph).flatten(1)


@pytest.mark.parametrize("wrong, words", [
    (lambda d, x: ((_grad(d, x).pow(2).sum(1) - 1) ** 2).mean(), "squared gradient norm"),
    (lambda d, x: (_grad(d, x).norm(dim=1) - 1).abs().mean(), "forgot to square"),
    (lambda d, x: (_grad(d, x).norm() - 1) ** 2, "whole batch"),
    (lambda d, x: ((_grad(d, x, create_graph=False).norm(dim=1) - 1) ** 2).mean(), "create_graph"),
    (lambda d, x: ((_grad(d, x).norm(dim=1) - 1) ** 2), "single number"),
    # the common bug a shared-gradient test critic let through: average the norms, then square
    (lambda d, x: (_grad(d, x).norm(dim=1).mean() - 1) ** 2, "averaged the per-sample gradient norms"),
    (lambda d, x: ((_grad(d, x).norm(dim=1) - 1) ** 2).sum(), "summed over the batch"),
    (lambda d, x: ((_grad4(d, x).norm(dim=1) - 1) ** 2).mean(), "colour channels only"),
])
def test_wrong_gradient_penalty_fails(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_gradient_penalty(wrong)


def _bce_mean(logits, t, kind):
    return F.binary_cross_entropy_with_logits(logits, t.float()) if kind == "binary" else F.cross_entropy(logits, t)


def _softmax_for_all(logits, t, kind):
    return F.cross_entropy(logits, t.argmax(1) if kind == "binary" else t)


def _bce_for_all(logits, t, kind):
    if kind == "binary":
        return classification_loss(logits, t, kind)
    return F.binary_cross_entropy_with_logits(logits, F.one_hot(t, logits.size(1)).float(), reduction="sum") / len(t)


@pytest.mark.parametrize("wrong, words", [
    (_bce_mean, "SUM of their binary cross-entropies"),
    (_softmax_for_all, "softmax cross-entropy"),
    (_bce_for_all, "one-hot labels used binary cross-entropy"),
])
def test_wrong_cls_losses_fail(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_cls_losses(wrong)


def _no_mask(c, i, dims):
    return make_unified_label(c, i, dims)[:, :sum(dims)]


def _mask_reversed(c, i, dims):
    out = make_unified_label(c, i, dims)
    return torch.cat([out[:, :-2], out[:, -2:].flip(1)], 1)


def _unknown_ones(c, i, dims):
    out = make_unified_label(c, i, dims)
    other = slice(5, 13) if i == 0 else slice(0, 5)
    out[:, other] = 1.0
    return out


@pytest.mark.parametrize("wrong, words", [
    (_no_mask, "left out the mask vector"),
    (_mask_reversed, "mask vector m"),
    (_unknown_ones, "unknown"),
])
def test_wrong_unified_label_fails(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_unified_label(wrong)


def _all_outputs(logits, t, d, dims, kinds):
    return classification_loss(logits if kinds[d] == "domain" else logits[:, :5], t, kinds[d])


def _first_columns(logits, t, d, dims, kinds):
    return classification_loss(logits[:, :dims[d]], t, kinds[d])


def _gradient_leaks(logits, t, d, dims, kinds):
    # (almost) the same value, but the unknown outputs still receive gradient
    return masked_cls_loss(logits, t, d, dims, kinds) + 1e-12 * logits.pow(2).sum()


@pytest.mark.parametrize("wrong, words", [
    (_all_outputs, "all 13 outputs"),
    (_first_columns, "first 8 outputs"),
    (_gradient_leaks, "received a gradient"),
])
def test_wrong_masked_cls_loss_fails(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_masked_cls_loss(wrong)
