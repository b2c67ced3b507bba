"""Checks for labs 02 (StarGAN v1) and 03 (mask vector).

Exercise signatures:
    concat_label(x (B, 3, H, W), c (B, n)) -> (B, 3 + n, H, W)       depth-wise concatenation
    gradient_penalty(d_out, inputs) -> 0-dim tensor                   E[(||∇ d_out||_2 - 1)^2]
    classification_loss(logits (B, k), target, kind) -> 0-dim tensor  "binary": Σ_k BCE, mean over B;
                                                                      "domain": cross-entropy
    make_unified_label(c, dataset_index, dims) -> (B, Σ dims + n)     c̃ = [c1, ..., cn, m]
    masked_cls_loss(logits, target, dataset, label_dims, label_kinds) -> 0-dim tensor
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from stargan_lib.checks._common import call, close, ok, scalar
from stargan_lib.data.datasets import make_unified_label as ref_unified_label
from stargan_lib.losses.stargan_v1 import classification_loss as ref_cls_loss
from stargan_lib.losses.stargan_v1 import masked_cls_loss as ref_masked_cls_loss
from stargan_lib.models.stargan_v1 import concat_label as ref_concat_label


# ============================================================================ label concatenation
def check_label_concat(fn: Callable) -> None:
    """concat_label(x, c): the label replicated over the image plane, stacked after the RGB channels.

    Introduced in `labs/02_stargan_v1_lab.ipynb`.
    """
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 5, 6, generator=g) * 2 - 1
    c = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0]])
    out = call(fn, x, c, what="concat_label")
    want = ref_concat_label(x, c)
    if not torch.is_tensor(out) or out.shape != want.shape:
        got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise AssertionError(f"concat_label should return shape {tuple(want.shape)} (B, 3 + n_labels, H, W), got "
                             f"{got}. Replicate c of shape (B, n) to (B, n, H, W), then torch.cat along dim=1")
    if torch.allclose(out[:, :4], c.view(2, 4, 1, 1).expand(2, 4, 5, 6)) and torch.allclose(out[:, 4:], x):
        raise AssertionError("concat_label put the label maps before the image: the image channels come first, "
                             "then the label maps (torch.cat([x, c_map], dim=1)); the order matters for "
                             "loading the official weights")
    if not torch.allclose(out[:, :3], x):
        raise AssertionError("the first three channels of the result must be the image x, unchanged")
    maps = out[:, 3:]
    if not torch.allclose(maps, maps[:, :, :1, :1].expand_as(maps)):
        raise AssertionError("each label map must be constant over the image: value c[b, i] at every pixel "
                             "(c.view(B, n, 1, 1).expand(B, n, H, W))")
    if torch.allclose(maps[:, :, 0, 0], c.flip(0)):
        raise AssertionError("the label maps are swapped between images of the batch: image b gets label c[b]")
    if not torch.allclose(out, want):
        raise AssertionError("label map i of image b must hold c[b, i]; check the order of the label channels")
    ok("concat_label: image channels, then one constant map per label value")


# ============================================================================ gradient penalty
def check_gradient_penalty(fn: Callable) -> None:
    """gradient_penalty(d_out, inputs): mean over samples of (||∇_inputs d_out||_2 - 1)^2, differentiable.

    Introduced in `labs/02_stargan_v1_lab.ipynb`.
    """
    g = torch.Generator().manual_seed(0)
    b = 4
    # D(x)_i = w <a_i, x_i>: the gradient of sample i is w a_i. The samples' gradient norms differ, two
    # below 1 and two above, so that averaging the norms before squaring, or one norm for the whole batch,
    # give other numbers than the per-sample penalty.
    norms = torch.tensor([0.3, 0.8, 1.5, 2.5])
    a = torch.randn(b, 3, 5, 6, generator=g)
    a = a / a.flatten(1).norm(dim=1).view(b, 1, 1, 1) * norms.view(b, 1, 1, 1)
    w = torch.tensor(1.0, requires_grad=True)
    x = torch.randn(b, 3, 5, 6, generator=g).requires_grad_(True)
    d_out = w * (x * a).flatten(1).sum(1)
    out = scalar(call(fn, d_out, x, what="gradient_penalty"), "gradient_penalty")
    want = float(((norms - 1) ** 2).mean())
    if not close(out, want):
        if close(out, ((norms ** 2 - 1) ** 2).mean()):
            raise AssertionError("gradient_penalty uses the squared gradient norm ||∇||^2; use the norm itself "
                                 "(grad.norm(2, dim=1)) before subtracting 1")
        if close(out, (norms - 1).abs().mean()):
            raise AssertionError("gradient_penalty forgot to square: the penalty is (||∇|| - 1)^2")
        if close(out, (norms ** 2).mean()):
            raise AssertionError("gradient_penalty returned ||∇||^2 (the R1 form, target 0); WGAN-GP pushes the "
                                 "norm towards 1: (||∇|| - 1)^2")
        if close(out, (norms.mean() - 1) ** 2):
            raise AssertionError("gradient_penalty averaged the per-sample gradient norms before subtracting 1 and "
                                 "squaring; the penalty is the mean of the squares: ((norm - 1) ** 2).mean(), with "
                                 "one norm per sample")
        if close(out, (norms.pow(2).sum().sqrt() - 1) ** 2):
            raise AssertionError("gradient_penalty took one norm over the whole batch; flatten per sample "
                                 "(grad.view(B, -1)) and take the norm of each sample (dim=1)")
        if close(out, ((norms - 1) ** 2).sum()):
            raise AssertionError("gradient_penalty summed over the batch; take the mean over the samples")
        per_channel = ((a.norm(dim=1) - 1) ** 2).mean()              # grad.norm(dim=1) on the 4-d gradient
        if close(out, per_channel):
            raise AssertionError("gradient_penalty took the norm over the colour channels only (grad.norm(dim=1) "
                                 "on the (B, C, H, W) gradient); flatten each sample first, grad.view(B, -1), "
                                 "then take the norm over dim=1")
        raise AssertionError(f"for D(x)_i = <a_i, x_i> the gradient norms are ||a_i|| = {norms.tolist()}, so the "
                             f"penalty should be {want:.5f}; got {float(out):.5f}. Use torch.autograd.grad(d_out, "
                             "inputs, grad_outputs=torch.ones_like(d_out), create_graph=True)")
    if not out.requires_grad:
        raise AssertionError("the penalty has no gradient with respect to D's weights: call torch.autograd.grad "
                             "with create_graph=True so that the penalty itself can be back-propagated")
    (gw,) = torch.autograd.grad(out, w)
    if not close(gw, (2 * (norms - 1) * norms).mean()):        # d/dw mean_i (w ||a_i|| - 1)^2 at w = 1
        raise AssertionError("the penalty's gradient with respect to D's weights is wrong; compute the gradient "
                             "with create_graph=True and do not detach it")
    x2 = torch.randn(2, 1, 3, 3, generator=g).requires_grad_(True)
    out2 = call(fn, (x2 * 0.5).flatten(1).sum(1).view(2, 1, 1, 1), x2, what="gradient_penalty")
    if not close(out2, (0.5 * 3 - 1) ** 2):
        raise AssertionError("gradient_penalty must accept a D output map of any shape (e.g. (B, 1, h, w) from a "
                             "PatchGAN): differentiate d_out with grad_outputs=torch.ones_like(d_out)")
    ok("gradient_penalty: (||∇ D(x̂)||_2 - 1)^2 per sample, averaged, differentiable w.r.t. D")


# ============================================================================ classification losses
def check_cls_losses(fn: Callable) -> None:
    """classification_loss(logits, target, kind): binary attributes vs one-hot domains (Eqs. 2, 3).

    Introduced in `labs/02_stargan_v1_lab.ipynb`.
    """
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 5, generator=g) * 2
    attrs = (torch.rand(4, 5, generator=g) > 0.5).float()
    out = scalar(call(fn, logits, attrs, "binary", what='classification_loss(..., "binary")'), "classification_loss")
    want = ref_cls_loss(logits, attrs, "binary")
    if not close(out, want):
        if close(out, F.binary_cross_entropy_with_logits(logits, attrs)):
            raise AssertionError("binary loss averaged over the attributes too; -log D_cls(c'|x) of several "
                                 "independent attributes is the SUM of their binary cross-entropies, averaged over "
                                 "the batch only (reduction='sum', then divide by the batch size)")
        if close(out, F.cross_entropy(logits, attrs)) or close(out, F.cross_entropy(logits, attrs.argmax(1))):
            raise AssertionError("binary attributes used a softmax cross-entropy: several attributes can be on at "
                                 "once (black hair AND male), so each needs its own sigmoid / binary cross-entropy "
                                 "(F.binary_cross_entropy_with_logits)")
        if close(out, F.binary_cross_entropy(torch.sigmoid(torch.sigmoid(logits)), attrs, reduction="sum") / 4):
            raise AssertionError("binary loss applied the sigmoid twice: binary_cross_entropy_with_logits takes "
                                 "raw logits")
        raise AssertionError(f"binary classification loss gives {float(out):.5f}, expected {float(want):.5f} "
                             "(sum of BCE-with-logits over attributes, mean over the batch)")
    idx = torch.tensor([0, 4, 2, 2])
    out = scalar(call(fn, logits, idx, "domain", what='classification_loss(..., "domain")'), "classification_loss")
    want = ref_cls_loss(logits, idx, "domain")
    if not close(out, want):
        one_hot = F.one_hot(idx, 5).float()
        if close(out, F.binary_cross_entropy_with_logits(logits, one_hot, reduction="sum") / 4) or \
                close(out, F.binary_cross_entropy_with_logits(logits, one_hot)):
            raise AssertionError("one-hot labels used binary cross-entropy; exactly one domain is right, so use "
                                 "the softmax cross-entropy over the domains (F.cross_entropy(logits, target))")
        if close(out, F.nll_loss(logits, idx)):
            raise AssertionError("domain loss used nll_loss on raw logits; use F.cross_entropy, which applies the "
                                 "log-softmax for you")
        raise AssertionError(f"domain classification loss gives {float(out):.5f}, expected {float(want):.5f} "
                             "(F.cross_entropy of the logits and the class indices)")
    out = call(fn, logits.clone().requires_grad_(True), idx, "domain", what="classification_loss")
    if not out.requires_grad:
        raise AssertionError("the loss has no gradient: keep the computation in torch (no .item(), numpy or "
                             ".detach()) so that D and G can learn from it")
    ok("classification losses: Σ BCE over binary attributes, cross-entropy over one-hot domains")


# ============================================================================ mask vector
def check_unified_label(fn: Callable) -> None:
    """make_unified_label(c, dataset_index, dims): c̃ = [c1, c2, m] (Eq. 7).

    Introduced in `labs/03_mask_vector_lab.ipynb`.
    """
    dims = (5, 8)
    attrs = torch.tensor([[1.0, 0, 0, 1, 1], [0, 1, 0, 0, 1]])
    out = call(fn, attrs, 0, dims, what="make_unified_label(attributes, 0, (5, 8))")
    want = ref_unified_label(attrs, 0, dims)
    if not torch.is_tensor(out) or out.shape != want.shape:
        got = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        hint = (" You left out the mask vector m (one entry per dataset) at the end."
                if torch.is_tensor(out) and out.shape[-1] == sum(dims) else "")
        raise AssertionError(f"the unified label for dims {dims} has 5 + 8 + 2 = 15 numbers per image: shape "
                             f"{tuple(want.shape)}, got {got}.{hint}")
    if not torch.allclose(out[:, :5], attrs):
        raise AssertionError("for a batch of dataset 0 the first 5 numbers are its own (known) labels c1")
    if not torch.all(out[:, 5:13] == 0):
        raise AssertionError("the labels of the other dataset are unknown: set them to zero")
    if not torch.allclose(out[:, 13:], want[:, 13:]):
        raise AssertionError(f"the mask vector m (last 2 numbers) should be one-hot for the known dataset: "
                             f"[1, 0] for dataset 0, got {out[0, 13:].tolist()}")
    idx = torch.tensor([3, 7])
    out = call(fn, idx, 1, dims, what="make_unified_label(class indices, 1, (5, 8))")
    want = ref_unified_label(idx, 1, dims)
    if not torch.is_tensor(out) or out.shape != want.shape:
        raise AssertionError("with class indices (B,) of a one-hot dataset, turn them into one-hot vectors "
                             f"(F.one_hot(c, dims[i])) first: expected shape {tuple(want.shape)}")
    if not torch.all(out[:, :5] == 0):
        raise AssertionError("for a batch of dataset 1 the labels of dataset 0 are unknown: zeros")
    if not torch.allclose(out[:, 5:13], want[:, 5:13]):
        raise AssertionError("for dataset 1 the middle 8 numbers are the one-hot expression label c2")
    if not torch.allclose(out, want):
        raise AssertionError(f"the mask vector m should be [0, 1] for dataset 1, got {out[0, 13:].tolist()}")
    ok("make_unified_label: [c1, c2, m] with zeros for the unknown labels and a one-hot mask")


def check_masked_cls_loss(fn: Callable) -> None:
    """masked_cls_loss(logits, target, dataset, label_dims, label_kinds): only the known part is classified.

    Introduced in `labs/03_mask_vector_lab.ipynb`.
    """
    g = torch.Generator().manual_seed(0)
    dims, kinds = (5, 8), ("binary", "domain")
    logits = (torch.randn(4, 13, generator=g) * 2).requires_grad_(True)
    attrs = (torch.rand(4, 5, generator=g) > 0.5).float()
    expr = torch.tensor([0, 7, 3, 3])
    for dataset, target, name in ((0, attrs, "faces (binary attributes)"), (1, expr, "expressions (one-hot)")):
        out = scalar(call(fn, logits, target, dataset, dims, kinds, what="masked_cls_loss"), "masked_cls_loss")
        want = ref_masked_cls_loss(logits, target, dataset, dims, kinds)
        if not close(out, want):
            if dataset == 1 and close(out, F.cross_entropy(logits, expr)):
                raise AssertionError("for an expressions batch the loss used all 13 outputs; take only the 8 "
                                     "expression outputs (columns 5..12) before the cross-entropy")
            if dataset == 1 and close(out, F.cross_entropy(logits[:, :8], expr)):
                raise AssertionError("for an expressions batch the loss used the first 8 outputs; the expression "
                                     "outputs come after the 5 face attributes: logits[:, 5:13]")
            if dataset == 0 and close(out, ref_cls_loss(logits[:, 8:], attrs, "binary")):
                raise AssertionError("for a faces batch use the first 5 outputs (logits[:, :5]), not the last 5")
            raise AssertionError(f"masked_cls_loss on a {name} batch gives {float(out):.5f}, expected "
                                 f"{float(want):.5f}: slice the known dataset's outputs, then use its loss kind")
        (grad,) = torch.autograd.grad(out, logits)
        unknown = list(range(5, 13)) if dataset == 0 else list(range(0, 5))
        if grad[:, unknown].abs().sum() > 0:
            raise AssertionError(f"on a {name} batch the outputs of the other dataset received a gradient: D must "
                                 "be trained only on the known labels (the other labels are unknown, not 'off')")
    ok("masked_cls_loss: only the known dataset's outputs are classified, with that dataset's loss")
