"""StarGAN v2's objective (Sec. 2.2, Eq. 1–5) and the ablation variants of Table 1, as pure functions.

Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` and `notebooks/05_stargan_v2_D_to_F.ipynb`.

    (1) L_adv = E_{x,y}[log D_y(x)] + E_{x,ỹ,z}[log(1 − D_ỹ(G(x, s̃)))],     s̃ = F_ỹ(z)
    (2) L_sty = E_{x,ỹ,z}[ ||s̃ − E_ỹ(G(x, s̃))||_1 ]
    (3) L_ds  = E_{x,ỹ,z1,z2}[ ||G(x, s̃1) − G(x, s̃2)||_1 ],                s̃i = F_ỹ(zi)
    (4) L_cyc = E_{x,y,ỹ,z}[ ||x − G(G(x, s̃), ŝ)||_1 ],                      ŝ = E_y(x)
    (5) min_{G,F,E} max_D  L_adv + λ_sty L_sty − λ_ds L_ds + λ_cyc L_cyc

with the non-saturating form of (1) and R1 = (γ/2) E_x[||∇_x D_y(x)||²] (γ = 1) on D (Appendix B).
The same terms are also trained with reference images: s̃ = E_ỹ(x_ref) (and s̃2 = E_ỹ(x_ref2)).

The ablation (Sec. 3.1) swaps terms in and out:
    A, B: WGAN-GP, StarGAN v1 Eq. (8): D: −D(x) + D(G(x, c)) + λ_gp (||∇_x̂ D(x̂)||_2 − 1)²;
          A adds the ACGAN classification terms (v1 Eq. 2–3): L_cls^r = −log D_cls(y|x) for D,
          L_cls^f = −log D_cls(ỹ|G(x, ỹ)) for G; B scores with the multi-task head D_ỹ instead.
    C:    non-saturating + R1, AdaIN of the domain embedding e_ỹ.
    D:    L_lat = E[ ||z − E(G(x, [e_ỹ ; z]))||_1 ] replaces L_sty.
    E, F: Eq. (1)–(5); F has λ_ds > 0.

`compute_d_loss(nets, cfg, batch, step, guide)` and `compute_g_loss(...)` return (loss, {term: float});
the terms are named adv, r1, gp, cls_r, cls_f, sty, ds, cyc, lat. `nets` maps the official network
names to callables (plain modules or DistributedDataParallel wrappers). All randomness (target
domains, latents, references, the WGAN-GP interpolation weights) is drawn beforehand into `batch`, so
the losses are deterministic functions of (nets, batch, step):

    batch = {"x": (B,3,H,W), "y": (B,), "y_trg": (B,), "z1": (B,L), "z2": (B,L),
             "x_ref": (B,3,H,W), "x_ref2": (B,3,H,W), "alpha": (B,1,1,1)}

x_ref and x_ref2 are two images of domain y_trg (the reference pair).

L_ds follows the official code by default: the second output G(x, s̃2) is computed without gradient,
so only G(x, s̃1) is pushed away from it (one backward pass through G and F/E fewer). With
`cfg.ds_both_outputs` (Deviation from the official code, the reading of Eq. (3) as written) the gradient
flows through both outputs; notebook 05 compares the two.

With the CelebA-HQ high-pass skip (`cfg.w_hpf > 0`, as the official code): G receives the masks of the
face-alignment network (FAN, `nets["fan"]`, frozen) on its input image. For the source x they are
`batch["masks"]` when the trainer computed them once for the iteration, else FAN(x); the cycle's second
translation G(G(x, s̃), ŝ) uses FAN on the translated image. FAN runs without gradient.

Deviation: for B the WGAN-GP penalty is taken on the target domain's head D_ỹ at the
interpolates between a real image and its translation (the paper does not say which head).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from stargan_lib.models.stargan_v2_config import StarGANv2Config, guides, lambda_ds
from stargan_lib.errors import ConfigError
from stargan_lib.losses.gan import d_adv_loss, g_adv_loss, gradient_penalty
from stargan_lib.models.stargan_v2 import label_code, latent_code, reference_code, source_code

Nets = Mapping[str, Any]


def _check_guide(cfg: StarGANv2Config, guide: str) -> None:
    if guide not in guides(cfg):
        raise ConfigError(f"configuration {cfg.config} trains the guides {guides(cfg)}, not {guide!r}")


def source_masks(nets: Nets, cfg: StarGANv2Config, batch: Mapping[str, torch.Tensor]):
    """The high-pass masks of the source images: None without the skip (w_hpf = 0), else
    `batch["masks"]` or FAN's masks of `batch["x"]` (notebook 05)."""
    if cfg.w_hpf <= 0:
        return None
    if "masks" in batch:
        return batch["masks"]
    return face_masks(nets, cfg, batch["x"])


def face_masks(nets: Nets, cfg: StarGANv2Config, x: torch.Tensor):
    """FAN's two high-pass masks of images x (no gradient), or None when w_hpf = 0."""
    if cfg.w_hpf <= 0:
        return None
    if "fan" not in nets:
        raise ConfigError(f"w_hpf={cfg.w_hpf}: the generator's high-pass skip needs the face-alignment network "
                          "as nets['fan'] (stargan_lib.models.fan.build_fan(cfg)), or set w_hpf=0")
    return nets["fan"].get_heatmap(x)


def target_code(nets: Nets, cfg: StarGANv2Config, batch: Mapping[str, torch.Tensor], guide: str,
                second: bool = False) -> torch.Tensor:
    """s̃: the code of the target domain ỹ for this guide (`second` gives s̃2 from z2 / x_ref2)."""
    y = batch["y_trg"]
    if guide == "det":
        return label_code(nets, cfg, y)
    if guide == "latent":
        return latent_code(nets, cfg, y, batch["z2" if second else "z1"])
    return reference_code(nets, cfg, batch["x_ref2" if second else "x_ref"], y)


def compute_d_loss(nets: Nets, cfg: StarGANv2Config, batch: Mapping[str, torch.Tensor], step: int = 0,
                   guide: str = "latent") -> tuple[torch.Tensor, dict[str, float]]:
    """D's loss for one guide: adversarial real/fake terms, R1 (C–F) or WGAN-GP (A, B), and the
    real-image classification term of the ACGAN discriminator (A). `step` is unused (no D schedule)."""
    _check_guide(cfg, guide)
    G, D = nets["generator"], nets["discriminator"]
    x, y, y_trg = batch["x"], batch["y"], batch["y_trg"]
    x = x.detach().requires_grad_(cfg.adversarial == "nonsat")   # R1 differentiates D(x) w.r.t. x
    out_real, cls_real = D(x, y)                                  # (B,), (B, K) or None
    masks = source_masks(nets, cfg, batch)                        # None unless w_hpf > 0
    with torch.no_grad():
        x_fake = G(batch["x"], target_code(nets, cfg, batch, guide), masks)   # (B, 3, H, W)
    out_fake, _ = D(x_fake, y_trg)
    terms: dict[str, torch.Tensor] = {}
    # L_adv (Eq. 1, D maximises it): non-saturating, or the WGAN critic of StarGAN v1 Eq. (8)
    terms["adv"] = d_adv_loss(cfg.adversarial, out_real.float(), out_fake.float())
    loss = terms["adv"]
    if cfg.adversarial == "nonsat":
        # R1 = (γ/2) E[||∇_x D_y(x)||²] on real images
        terms["r1"] = gradient_penalty(out_real.float(), x, target=0.0)
        loss = loss + 0.5 * cfg.r1_gamma * terms["r1"]
    else:
        # L_gp = E[(||∇_x̂ D(x̂)||_2 − 1)²], x̂ = α x + (1 − α) G(x, c)
        alpha = batch["alpha"].to(batch["x"].dtype)
        x_hat = (alpha * batch["x"] + (1 - alpha) * x_fake).detach().requires_grad_(True)
        out_hat, _ = D(x_hat, y_trg)
        terms["gp"] = gradient_penalty(out_hat.float(), x_hat, target=1.0)
        loss = loss + cfg.lambda_gp * terms["gp"]
    if cls_real is not None:
        # L_cls^r = E[−log D_cls(y | x)]
        terms["cls_r"] = F.cross_entropy(cls_real.float(), y)
        loss = loss + cfg.lambda_cls * terms["cls_r"]
    return loss, {k: float(v.detach()) for k, v in terms.items()}


def compute_g_loss(nets: Nets, cfg: StarGANv2Config, batch: Mapping[str, torch.Tensor], step: int = 0,
                   guide: str = "latent") -> tuple[torch.Tensor, dict[str, float]]:
    """The generator side of Eq. (5) for one guide (latent, reference, or det for A–C):
    adv, cls_f (A), sty (E, F), lat (D), ds (F, weighted by λ_ds(step)), cyc."""
    _check_guide(cfg, guide)
    G, D = nets["generator"], nets["discriminator"]
    x, y, y_trg = batch["x"], batch["y"], batch["y_trg"]
    s_trg = target_code(nets, cfg, batch, guide)                  # s̃
    masks = source_masks(nets, cfg, batch)                        # None unless w_hpf > 0
    x_fake = G(x, s_trg, masks)                                    # G(x, s̃)  (B, 3, H, W)
    out_fake, cls_fake = D(x_fake, y_trg)
    terms: dict[str, torch.Tensor] = {}
    # L_adv (Eq. 1), G's side: −log D_ỹ(G(x, s̃)) (non-saturating) or −D(G(x, c)) (WGAN)
    terms["adv"] = g_adv_loss(cfg.adversarial, out_fake.float())
    loss = terms["adv"]
    if cls_fake is not None:
        # L_cls^f = E[−log D_cls(ỹ | G(x, ỹ))]
        terms["cls_f"] = F.cross_entropy(cls_fake.float(), y_trg)
        loss = loss + cfg.lambda_cls * terms["cls_f"]
    if cfg.style == "style_code":
        # L_sty = E[||s̃ − E_ỹ(G(x, s̃))||_1]  (Eq. 2)
        s_pred = nets["style_encoder"](x_fake, y_trg)
        terms["sty"] = (s_pred.float() - s_trg.float()).abs().mean()
        loss = loss + cfg.lambda_sty * terms["sty"]
    elif cfg.style == "latent":
        # L_lat = E[||z − E(G(x, z, ỹ))||_1]  (Sec. 3.1, configuration D)
        z_pred = nets["style_encoder"](x_fake)
        terms["lat"] = (z_pred.float() - batch["z1"].float()).abs().mean()
        loss = loss + cfg.lambda_lat * terms["lat"]
    lam_ds = lambda_ds(cfg, step)
    if cfg.lambda_ds > 0 and cfg.style == "style_code":
        # L_ds = E[||G(x, s̃1) − G(x, s̃2)||_1]  (Eq. 3), subtracted with weight λ_ds(step)
        if cfg.ds_both_outputs:
            x_fake2 = G(x, target_code(nets, cfg, batch, guide, second=True), masks)
        else:                                                      # official: G(x, s̃2) is a constant
            with torch.no_grad():
                x_fake2 = G(x, target_code(nets, cfg, batch, guide, second=True), masks)
        terms["ds"] = (x_fake.float() - x_fake2.float()).abs().mean()
        loss = loss - lam_ds * terms["ds"]
    # L_cyc = E[||x − G(G(x, s̃), ŝ)||_1], ŝ = E_y(x)  (Eq. 4; the source label for A–C)
    s_src = source_code(nets, cfg, x, y)
    x_rec = G(x_fake, s_src, face_masks(nets, cfg, x_fake))      # masks of the translated image
    terms["cyc"] = (x_rec.float() - x.float()).abs().mean()
    loss = loss + cfg.lambda_cyc * terms["cyc"]
    return loss, {k: float(v.detach()) for k, v in terms.items()}


def expected_terms(cfg: StarGANv2Config) -> tuple[set[str], set[str]]:
    """The names compute_d_loss and compute_g_loss return for `cfg` (documentation and tests)."""
    d = {"adv", "r1" if cfg.adversarial == "nonsat" else "gp"}
    g = {"adv", "cyc"}
    if cfg.discriminator == "acgan":
        d.add("cls_r")
        g.add("cls_f")
    if cfg.style == "style_code":
        g.add("sty")
        if cfg.lambda_ds > 0:
            g.add("ds")
    elif cfg.style == "latent":
        g.add("lat")
    return d, g
