"""CycleGAN losses (Zhu et al., ICCV 2017) and the image pool, as pure functions.

Introduced in `notebooks/01_cyclegan_baseline.ipynb` (and rebuilt in lab 01).

Two generators G: A -> B, F: B -> A (here `G_AB`, `G_BA`), two discriminators D_A, D_B.

    L_GAN(G, D_B, A, B) = E_b[log D_B(b)] + E_a[log(1 - D_B(G(a)))]                   (1)
      replaced by least squares (Sec. 4, "Training details"): G minimises E_a[(D_B(G(a)) - 1)^2],
      D_B minimises E_b[(D_B(b) - 1)^2] + E_a[D_B(G(a))^2]
    L_cyc(G, F) = E_a[||F(G(a)) - a||_1] + E_b[||G(F(b)) - b||_1]                       (2)
    L(G, F, D_A, D_B) = L_GAN(G, D_B) + L_GAN(F, D_A) + λ L_cyc(G, F),  λ = 10            (3)
    L_identity(G, F) = E_b[||G(b) - b||_1] + E_a[||F(a) - a||_1], weight 0.5 λ
      (the paper adds it for photo generation from paintings, to keep colours; optional here)

While optimising D its objective is halved, so that D learns more slowly than G (Sec. 4), and D is
updated on a history of 50 generated images (the image pool) instead of only the newest ones,
which reduces oscillation.

Batches are dicts: `real_a` (B, 3, H, W), `real_b` (B, 3, H, W); optionally `fake_b` = G_AB(real_a)
and `fake_a` = G_BA(real_b) (for the D loss: pooled, detached fakes).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn as nn

from stargan_lib.losses.gan import lsgan_d_loss, lsgan_g_loss


# ============================================================================ loss terms
def cycle_loss(real: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """One direction of L_cyc (Eq. 2): mean absolute error ||F(G(a)) - a||_1 (per pixel)."""
    return (reconstructed - real).abs().mean()


def identity_loss(real: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """One direction of L_identity: ||G(b) - b||_1, mean over pixels (G should leave B images alone)."""
    return (same - real).abs().mean()


def translate(nets: Mapping[str, nn.Module], batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The two translations of a batch: fake_b = G_AB(real_a), fake_a = G_BA(real_b)."""
    return {"fake_b": nets["G_AB"](batch["real_a"]), "fake_a": nets["G_BA"](batch["real_b"])}


# ============================================================================ full objectives
def compute_g_loss(nets: Mapping[str, nn.Module], cfg: Any, batch: Mapping[str, torch.Tensor]
                   ) -> tuple[torch.Tensor, dict[str, float]]:
    """G_AB and G_BA's objective: L_GAN (least squares) both ways + λ L_cyc + λ_id λ L_identity (Eq. 3)."""
    real_a, real_b = batch["real_a"], batch["real_b"]
    fakes = batch if "fake_b" in batch else translate(nets, batch)
    fake_b, fake_a = fakes["fake_b"], fakes["fake_a"]                        # (B, 3, H, W) each
    # L_GAN(G, D_B) + L_GAN(F, D_A), generator side: E[(D(fake) - 1)^2]
    adv = lsgan_g_loss(nets["D_B"](fake_b)) + lsgan_g_loss(nets["D_A"](fake_a))
    # L_cyc: ||F(G(a)) - a||_1 + ||G(F(b)) - b||_1
    cyc = cycle_loss(real_a, nets["G_BA"](fake_b)) + cycle_loss(real_b, nets["G_AB"](fake_a))
    loss = adv + cfg.lambda_cyc * cyc
    logs = {"G/adv": adv.item(), "G/cyc": cyc.item()}
    if cfg.lambda_id > 0:
        # L_identity: ||G(b) - b||_1 + ||F(a) - a||_1, weighted λ_id * λ
        idt = identity_loss(real_b, nets["G_AB"](real_b)) + identity_loss(real_a, nets["G_BA"](real_a))
        loss = loss + cfg.lambda_id * cfg.lambda_cyc * idt
        logs["G/idt"] = idt.item()
    logs["G/loss"] = loss.item()
    return loss, logs


def compute_d_loss(nets: Mapping[str, nn.Module], cfg: Any, batch: Mapping[str, torch.Tensor]
                   ) -> tuple[torch.Tensor, dict[str, float]]:
    """D_A and D_B's objective: ½ (E[(D(real) - 1)^2] + E[D(fake)^2]) each, on pooled fakes.

    `batch["fake_a"]`, `batch["fake_b"]` should come from the image pools (detached); when absent
    they are made from the current generators without gradient.
    """
    real_a, real_b = batch["real_a"], batch["real_b"]
    if "fake_b" not in batch:
        with torch.no_grad():
            batch = {**batch, **translate(nets, batch)}
    # D_A judges domain A: real a vs F(b)
    d_a = 0.5 * lsgan_d_loss(nets["D_A"](real_a), nets["D_A"](batch["fake_a"].detach()))
    # D_B judges domain B: real b vs G(a)
    d_b = 0.5 * lsgan_d_loss(nets["D_B"](real_b), nets["D_B"](batch["fake_b"].detach()))
    loss = d_a + d_b
    return loss, {"D/adv_A": d_a.item(), "D/adv_B": d_b.item(), "D/loss": loss.item()}


# ============================================================================ image pool
class ImagePool:
    """A buffer of up to `size` generated images that D is trained on (CycleGAN Sec. 4).

    `query(images)` returns a batch of the same size: while the pool is filling, each new image is
    stored and returned; once full, each new image is, with probability 1/2, swapped with a random
    stored image (the stored one is returned, the new one takes its place), else returned as is.
    `size = 0` turns the pool off. Randomness comes from torch's global generator, so checkpoints
    that save the RNG state (and `state_dict()`) resume exactly.
    """

    def __init__(self, size: int = 50):
        self.size = int(size)
        self.images: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        images = images.detach()
        if self.size == 0:
            return images
        out = []
        for img in images:                                   # img: (3, H, W)
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand(()).item() < 0.5:
                i = int(torch.randint(len(self.images), ()).item())
                out.append(self.images[i].clone())
                self.images[i] = img.clone()
            else:
                out.append(img)
        return torch.stack(out)                              # (B, 3, H, W)

    def state_dict(self) -> dict[str, Any]:
        stored = torch.stack(self.images).cpu() if self.images else torch.empty(0)
        return {"size": self.size, "images": stored}

    def load_state_dict(self, state: Mapping[str, Any], device: str | torch.device = "cpu") -> None:
        self.size = int(state["size"])
        self.images = [img.to(device) for img in state["images"]] if state["images"].numel() else []
