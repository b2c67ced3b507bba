"""StarGAN v1 losses (Choi et al., CVPR 2018), as pure functions named after the paper's terms.

Introduced in `notebooks/02_stargan_v1.ipynb`; the masked classification loss of joint training
in `notebooks/03_mask_vector_joint_training.ipynb`.

    L_adv     = E_x[D_src(x)] - E_{x,c}[D_src(G(x,c))] - λ_gp E_x̂[(||∇_x̂ D_src(x̂)||_2 - 1)^2]   (8)
    L_cls^r   = E_{x,c'}[-log D_cls(c'|x)]                                                 (2)
    L_cls^f   = E_{x,c}[-log D_cls(c|G(x,c))]                                              (3)
    L_rec     = E_{x,c,c'}[||x - G(G(x,c), c')||_1]                                        (4)
    L_D       = -L_adv + λ_cls L_cls^r                                                     (5)
    L_G       =  L_adv + λ_cls L_cls^f + λ_rec L_rec                                       (6)
    L_idt     = E_{x,c'}[||x - G(x, c')||_1]     (course deviation, λ_id = 0 in the paper)
    c̃         = [c_1, ..., c_n, m]   (unified label with mask vector m, joint training)     (7)

with λ_cls = 1, λ_rec = 10, λ_gp = 10 (Sec. 3.1, 4).

-log D_cls(c|x) for *binary* attributes (CelebA-like, several may be on at once) is the sum over
attributes of the binary cross-entropy with logits (the attributes are independent Bernoullis),
averaged over the batch; for *one-hot* labels (RaFD-like expressions, exactly one is on) it is the
softmax cross-entropy. In joint training (Sec. 3.2) D's classifier has outputs for the labels of
all datasets, and only the part of the dataset the image comes from is trained ("the
discriminator tries to minimize only the classification error associated to the known label").

A batch is a dict:
    x_real  (B, 3, H, W)  images in [-1, 1]
    c_org   (B, n_c)      original label c' as G takes it (c̃ with mask vector in joint training)
    c_trg   (B, n_c)      target label c as G takes it
    y_org   (B, k) float 0/1 (binary) or (B,) int64 (one-hot): the classifier target for c'
    y_trg   same, for c
    dataset int           index into cfg.datasets of the dataset the batch comes from (0 if single)
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from stargan_lib.errors import ConfigError
from stargan_lib.losses.gan import gradient_penalty, interpolate, wgan_d_loss, wgan_g_loss


# ============================================================================ classification
def classification_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """-log D_cls(target | x), averaged over the batch.

    kind "binary": logits (B, k), target (B, k) 0/1 -> Σ_k BCE-with-logits, mean over B.
    kind "domain": logits (B, k), target (B,) class indices -> softmax cross-entropy, mean over B.
    """
    if kind == "binary":
        if target.shape != logits.shape:
            raise ConfigError(f"binary attribute targets must have the shape of the logits {tuple(logits.shape)}, "
                              f"got {tuple(target.shape)}; give one 0/1 value per attribute")
        return F.binary_cross_entropy_with_logits(logits, target.float(), reduction="sum") / logits.size(0)
    if kind == "domain":
        if target.dim() != 1 or target.size(0) != logits.size(0):
            raise ConfigError(f"one-hot label targets must be class indices of shape ({logits.size(0)},), "
                              f"got {tuple(target.shape)}; convert one-hot vectors with .argmax(1)")
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= logits.size(1)):
            raise ConfigError(f"class index {int(target.max())} out of range for {logits.size(1)} classes")
        return F.cross_entropy(logits, target.long())
    raise ConfigError(f"unknown label kind {kind!r}; use 'binary' or 'domain'")


def cls_loss_r(out_cls_real: torch.Tensor, y_org: torch.Tensor, kind: str) -> torch.Tensor:
    """L_cls^r (Eq. 2): D learns to classify real images x into their original domain c'."""
    return classification_loss(out_cls_real, y_org, kind)


def cls_loss_f(out_cls_fake: torch.Tensor, y_trg: torch.Tensor, kind: str) -> torch.Tensor:
    """L_cls^f (Eq. 3): G learns to make G(x, c) classified as the target domain c."""
    return classification_loss(out_cls_fake, y_trg, kind)


def known_slice(dataset: int, label_dims: tuple[int, ...]) -> slice:
    """The columns of D_cls's output that belong to dataset `dataset` (its "known label")."""
    if not 0 <= dataset < len(label_dims):
        raise ConfigError(f"dataset index {dataset} out of range for {len(label_dims)} dataset(s)")
    start = sum(label_dims[:dataset])
    return slice(start, start + label_dims[dataset])


def masked_cls_loss(logits: torch.Tensor, target: torch.Tensor, dataset: int,
                    label_dims: tuple[int, ...], label_kinds: tuple[str, ...]) -> torch.Tensor:
    """Classification loss on the known part only (Sec. 3.2): logits (B, Σ label_dims), target for
    dataset `dataset`; the other datasets' outputs receive no gradient."""
    if logits.size(1) != sum(label_dims):
        raise ConfigError(f"D_cls has {logits.size(1)} outputs but the datasets have {sum(label_dims)} labels "
                          f"{tuple(label_dims)}; build D with n_classes = sum of the label counts")
    return classification_loss(logits[:, known_slice(dataset, label_dims)], target, label_kinds[dataset])


# ============================================================================ reconstruction
def rec_loss(x_real: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """L_rec (Eq. 4): mean absolute error between x and G(G(x, c), c')."""
    return (x_real - x_rec).abs().mean()


# ============================================================================ full objectives
def compute_d_loss(nets: Mapping[str, nn.Module], cfg: Any, batch: Mapping[str, Any]
                   ) -> tuple[torch.Tensor, dict[str, float]]:
    """L_D = -L_adv + λ_cls L_cls^r (Eq. 5) with L_adv of Eq. 8 (WGAN-GP). G is not updated."""
    G, D = nets["G"], nets["D"]
    x_real, dataset = batch["x_real"], int(batch.get("dataset", 0))
    out_src, out_cls = D(x_real)                                             # (B,1,h',w'), (B, n_d)
    with torch.no_grad():
        x_fake = G(x_real, batch["c_trg"])                                   # (B, 3, H, W)
    out_src_fake, _ = D(x_fake)
    x_hat = interpolate(x_real, x_fake)                                      # (B, 3, H, W)
    out_src_hat, _ = D(x_hat)
    # -L_adv, first two terms: -E[D_src(x)] + E[D_src(G(x, c))]
    adv = wgan_d_loss(out_src, out_src_fake)
    # λ_gp E[(||∇_x̂ D_src(x̂)||_2 - 1)^2]
    gp = gradient_penalty(out_src_hat, x_hat, target=1.0)
    # L_cls^r = E[-log D_cls(c'|x)], on the known labels only
    cls_r = masked_cls_loss(out_cls, batch["y_org"], dataset, cfg.label_dims, cfg.label_kinds)
    loss = adv + cfg.lambda_gp * gp + cfg.lambda_cls * cls_r
    return loss, {"D/adv": adv.item(), "D/gp": gp.item(), "D/cls_r": cls_r.item(), "D/loss": loss.item()}


def compute_g_loss(nets: Mapping[str, nn.Module], cfg: Any, batch: Mapping[str, Any]
                   ) -> tuple[torch.Tensor, dict[str, float]]:
    """L_G = L_adv + λ_cls L_cls^f + λ_rec L_rec (Eq. 6). D's weights get gradients but are not stepped.

    Deviation (course, `lambda_id` > 0; the paper has no such term): + λ_id L_idt, the identity loss
    CycleGAN uses, here G(x, c') with the image's own label c' must return x.
    """
    G, D = nets["G"], nets["D"]
    x_real, dataset = batch["x_real"], int(batch.get("dataset", 0))
    x_fake = G(x_real, batch["c_trg"])                                       # (B, 3, H, W)
    out_src, out_cls = D(x_fake)
    x_rec = G(x_fake, batch["c_org"])                                        # (B, 3, H, W)
    # L_adv for G: -E[D_src(G(x, c))]
    adv = wgan_g_loss(out_src)
    # L_cls^f = E[-log D_cls(c|G(x, c))]
    cls_f = masked_cls_loss(out_cls, batch["y_trg"], dataset, cfg.label_dims, cfg.label_kinds)
    # L_rec = E[||x - G(G(x, c), c')||_1]
    rec = rec_loss(x_real, x_rec)
    loss = adv + cfg.lambda_cls * cls_f + cfg.lambda_rec * rec
    logs = {"G/adv": adv.item(), "G/cls_f": cls_f.item(), "G/rec": rec.item()}
    if cfg.lambda_id > 0:
        # L_idt = E[||x - G(x, c')||_1]: asked for its own label, G returns its input (course deviation)
        idt = rec_loss(x_real, G(x_real, batch["c_org"]))
        loss = loss + cfg.lambda_id * idt
        logs["G/idt"] = idt.item()
    return loss, {**logs, "G/loss": loss.item()}
