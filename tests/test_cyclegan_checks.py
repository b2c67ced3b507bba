"""Lab 01 checks: the reference passes, typical mistakes fail with a helpful sentence."""

import random

import pytest
import torch

from stargan_lib.checks import check_cycle_loss, check_identity_loss, check_image_pool
from stargan_lib.losses.cyclegan import ImagePool, cycle_loss, identity_loss


def test_reference_passes(capsys):
    check_cycle_loss(cycle_loss)
    check_identity_loss(identity_loss)
    check_image_pool(ImagePool)
    out = capsys.readouterr().out
    assert out.count("✓") == 3


@pytest.mark.parametrize("wrong, words", [
    (lambda r, x: (r - x).pow(2).mean(), "squared error"),
    (lambda r, x: (r - x).abs().sum(), "sums"),
    (lambda r, x: (r - x).mean(), "cancel"),
    (lambda r, x: (r - x).abs().mean(dim=(1, 2, 3)), "single number"),
    (lambda r, x: (r - x).abs().mean().item(), "torch tensor"),
    (lambda r, x: (r - x).abs().mean().detach(), "without gradient"),
])
def test_wrong_cycle_losses_fail(wrong, words):
    with pytest.raises(AssertionError, match=words):
        check_cycle_loss(wrong)


def test_not_implemented_says_so():
    def todo(real, rec):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented yet"):
        check_cycle_loss(todo)


class AlwaysNew:
    def __init__(self, size):
        self.size = size

    def query(self, images):
        return images.detach()


class AlwaysOld(ImagePool):
    def query(self, images):
        images = images.detach()
        if self.size == 0:
            return images
        out = []
        for img in images:
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            else:
                i = random.randrange(len(self.images))
                out.append(self.images[i].clone())
                self.images[i] = img.clone()
        return torch.stack(out)


class Grows(ImagePool):
    def query(self, images):
        out = super().query(images)
        self.images.append(images[0].detach().clone())
        return out


class NoDetach(ImagePool):
    def query(self, images):
        if self.size == 0:
            return images
        return torch.stack([img for img in images])


@pytest.mark.parametrize("cls, words", [
    (AlwaysNew, "never returned an older image"),
    (AlwaysOld, "always returned an older image"),
    (Grows, "holds"),
    (NoDetach, "detached"),
])
def test_wrong_image_pools_fail(cls, words):
    with pytest.raises(AssertionError, match=words):
        check_image_pool(cls)
