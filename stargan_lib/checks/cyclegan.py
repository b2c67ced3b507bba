"""Checks for lab 01 (CycleGAN): the cycle-consistency loss, the identity loss, the image pool.

Exercise signatures:
    cycle_loss(real, reconstructed) -> 0-dim tensor        mean |F(G(a)) - a|
    identity_loss(real, same) -> 0-dim tensor              mean |G(b) - b|
    ImagePool(size) with .query(images (B, 3, H, W)) -> (B, 3, H, W)
"""

from __future__ import annotations

from typing import Callable

import torch

from stargan_lib.checks._common import call, close, ok, scalar
from stargan_lib.losses.cyclegan import cycle_loss as ref_cycle_loss


def _check_l1(fn: Callable, name: str, meaning: str) -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
    other = (torch.rand(4, 3, 8, 8, generator=g) * 2 - 1).requires_grad_(True)
    out = scalar(call(fn, real, other, what=name), name)
    want = ref_cycle_loss(real, other)
    if not close(out, want):
        diff = other.detach() - real
        if close(out, diff.pow(2).mean()):
            raise AssertionError(f"{name} computed the squared error (L2). {meaning} uses the absolute "
                                 "error |x - y| (L1), which keeps sharper images: use .abs() instead of ** 2")
        if close(out, diff.abs().sum()) or close(out, diff.abs().sum() / real.size(0)):
            raise AssertionError(f"{name} sums the absolute errors; take the mean over all pixels and images "
                                 "(.mean()), so the loss does not grow with the image size")
        if close(out, diff.mean().abs()) or close(out, diff.mean()):
            raise AssertionError(f"{name} averages the signed differences, so positive and negative errors "
                                 "cancel out: take the absolute value of each difference first (.abs().mean())")
        if close(out, diff.abs().mean().sqrt()):
            raise AssertionError(f"{name} takes a square root; the L1 loss is just the mean absolute error")
        raise AssertionError(f"{name} gives {float(out):.5f} but the mean absolute error is {float(want):.5f}")
    if not out.requires_grad:
        raise AssertionError(f"{name} returns a number without gradient: keep the computation in torch "
                             "(no .item(), .detach() or numpy), otherwise the generators cannot learn from it")
    if not close(call(fn, real, real.clone(), what=name), 0.0):
        raise AssertionError(f"{name} of two identical images should be 0")
    ok(f"{name} matches the reference: mean absolute error, differentiable")


def check_cycle_loss(fn: Callable) -> None:
    """cycle_loss(real, reconstructed): the L1 distance between an image and its round trip (Eq. 2).

    Introduced in `labs/01_cyclegan_lab.ipynb`.
    """
    _check_l1(fn, "cycle_loss", "The cycle-consistency loss")


def check_identity_loss(fn: Callable) -> None:
    """identity_loss(real, same): the L1 distance between a target-domain image and G(that image).

    Introduced in `labs/01_cyclegan_lab.ipynb`.
    """
    _check_l1(fn, "identity_loss", "The identity loss")


def check_image_pool(cls: type, size: int = 5) -> None:
    """ImagePool(size).query(images): filling phase, then 50 % swaps, never more than `size` stored.

    Introduced in `labs/01_cyclegan_lab.ipynb`.
    """
    torch.manual_seed(0)

    def make(n: int, start: float) -> torch.Tensor:
        return (torch.arange(n, dtype=torch.float32) + start).view(n, 1, 1, 1).expand(n, 3, 2, 2).clone()

    # --- pool of size 0: a pass-through
    off = call(cls, 0, what="ImagePool(0)")
    x = make(3, 0)
    out = call(off.query, x, what="ImagePool(0).query")
    if not torch.is_tensor(out) or not torch.equal(out, x):
        raise AssertionError("with size 0 the pool is switched off: query(images) must return the images unchanged")

    # --- filling phase: new images are stored and returned as they are
    pool = call(cls, size, what=f"ImagePool({size})")
    first = make(size, 0)
    out = call(pool.query, first, what="query")
    if not torch.is_tensor(out) or out.shape != first.shape:
        raise AssertionError(f"query must return a tensor of the same shape as its input {tuple(first.shape)}, "
                             f"got {tuple(out.shape) if torch.is_tensor(out) else type(out).__name__}")
    if not torch.equal(out, first):
        raise AssertionError("while the pool is not yet full, query must store each new image and return it "
                             "unchanged (there is nothing older to return yet)")

    # --- full pool: each new image is returned (p = 1/2) or swapped with a stored one (p = 1/2)
    seen = {float(v) for v in first[:, 0, 0, 0]}
    swapped = kept = 0
    for step in range(100):
        new = make(2, 1000 + 2 * step).requires_grad_(True)
        out = call(pool.query, new, what="query")
        if not torch.is_tensor(out) or out.shape != new.shape:
            raise AssertionError("once the pool is full, query must still return one image per input image "
                                 f"(shape {tuple(new.shape)})")
        for i in range(2):
            value = float(out[i, 0, 0, 0].detach())
            if not torch.equal(out[i], out[i, :1, :1, :1].expand_as(out[i])):
                raise AssertionError("query returned an image that is neither the new image nor a stored one: "
                                     "return whole images (img.clone()), do not mix pixels")
            if value == float(new[i, 0, 0, 0].detach()):
                kept += 1
            elif value in seen:
                swapped += 1
            else:
                raise AssertionError("query returned an image that is neither the new image nor one stored in "
                                     "the pool")
            seen.add(float(new[i, 0, 0, 0].detach()))
        if out.requires_grad:
            raise AssertionError("the pool should hold detached images (images.detach()): D's update must not "
                                 "back-propagate into G")
    stored = getattr(pool, "images", None)
    if stored is not None and len(stored) > size:
        raise AssertionError(f"the pool holds {len(stored)} images but its size is {size}: replace a stored "
                             "image instead of appending once the pool is full")
    if swapped == 0:
        raise AssertionError("once the pool is full, query never returned an older image: with probability 1/2 "
                             "it should return a random stored image and store the new one in its place")
    if kept == 0:
        raise AssertionError("once the pool is full, query always returned an older image: with probability 1/2 "
                             "it should return the new image itself")
    if not 0.3 < swapped / (swapped + kept) < 0.7:
        raise AssertionError(f"older images were returned {swapped} times out of {swapped + kept}; that should "
                             "happen about half of the time (compare a random number with 0.5)")
    ok(f"ImagePool: fills up to {size} images, then returns an older image about half of the time "
       f"({swapped}/{swapped + kept})")
