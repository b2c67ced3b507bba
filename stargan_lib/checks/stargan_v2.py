"""Checks for labs 04 (StarGAN v2, configurations A–C) and 05 (configurations D–F).

Used in the check cells of `solutions/`/`labs/` 04_stargan_v2_A_to_C_lab and 05_stargan_v2_D_to_F_lab
(the lab versions of notebooks 04_stargan_v2_A_to_C and 05_stargan_v2_D_to_F).
Each check runs the student's code and the library's reference (`stargan_lib.models.stargan_v2`,
`stargan_lib.losses`) on the same random inputs, prints a line starting with "✓" when they agree and
raises `AssertionError` with a sentence saying what is wrong otherwise.

Exercise signatures:
    adain(x (B, C, H, W), s (B, D), fc: nn.Linear(D, 2C)) -> (B, C, H, W)   (1 + γ) · IN(x) + β, [γ, β] = fc(s)
    select_domain_output(out (B, K), y (B,)) -> (B,)                        D_y(x): the head of each sample's domain
    r1_penalty(d_out (B,), x_real (B, 3, H, W), gamma) -> 0-dim tensor      (γ/2) E[||∇_x D_y(x)||²]
    MappingNetwork(latent_dim, style_dim, num_domains, hidden_dim, n_shared, n_unshared)
        .forward(z (B, L), y (B,)) -> (B, style_dim)                        s = F_y(z)
    style_reconstruction_loss(style_encoder, x_fake, y_trg, s_trg) -> 0-dim  E[|s̃ − E_ỹ(G(x, s̃))|]
    diversity_loss(generator, x, s1, s2) -> 0-dim tensor                    E[|G(x, s̃1) − G(x, s̃2)|]
    lambda_ds_at(step, lambda_ds0, decay_iters) -> float                    λ_ds decayed linearly to 0

Like the released code (and the library), the L1 "norms" of Eq. (2)–(4) are means over every number
(torch.mean(torch.abs(...))), i.e. the L1 norm divided by the number of entries.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from stargan_lib.checks._common import call, close, ok, scalar
from stargan_lib.models.stargan_v2_config import lambda_ds as ref_lambda_ds
from stargan_lib.models.stargan_v2_config import make_config
from stargan_lib.losses.gan import gradient_penalty
from stargan_lib.losses.stargan_v2 import compute_g_loss
from stargan_lib.models.stargan_v2 import AdaIN, Discriminator, MappingNetwork, build_nets


def _shape(out: object) -> str:
    return str(tuple(out.shape)) if torch.is_tensor(out) else type(out).__name__


def _same(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-4) -> bool:
    return torch.is_tensor(a) and a.shape == b.shape and bool(torch.allclose(a.double(), b.double(),
                                                                                    rtol=tol, atol=tol))


# ============================================================================ AdaIN (lab 04)
def check_adain(fn: Callable) -> None:
    """adain(x, s, fc): instance-normalise x, then scale by (1 + γ) and shift by β, [γ, β] = fc(s)."""
    g = torch.Generator().manual_seed(0)
    b, c, h, w, d = 3, 4, 5, 6, 7        # all different: γ, β on the wrong axis cannot broadcast by accident
    x = torch.randn(b, c, h, w, generator=g) * 2 + 1.5          # non-zero mean and spread per channel
    s = torch.randn(b, d, generator=g)
    ref = AdaIN(d, c)
    with torch.no_grad():
        ref.fc.weight.copy_(torch.randn(2 * c, d, generator=g) * 0.5)
        ref.fc.bias.copy_(torch.randn(2 * c, generator=g) * 0.3)
    want = ref(x, s)
    out = call(fn, x, s, ref.fc, what="adain")
    if not torch.is_tensor(out) or out.shape != want.shape:
        raise AssertionError(f"adain should return a tensor shaped like x, {tuple(want.shape)} (B, C, H, W), got "
                             f"{_shape(out)}. Reshape γ and β from (B, C) to (B, C, 1, 1) so they broadcast over "
                             "the pixels")
    if _same(out, want):
        if not out.requires_grad:
            raise AssertionError("adain's output has no gradient: keep everything in torch (no .detach(), "
                                 ".item() or numpy) so that the style code and the affine map can learn")
        ok("adain: instance norm per sample and channel, then (1 + γ(s)) · IN(x) + β(s)")
        return
    with torch.no_grad():
        gamma, beta = ref.fc(s).chunk(2, dim=1)
        gamma, beta = gamma[:, :, None, None], beta[:, :, None, None]
        mean_i, var_i = x.mean((2, 3), keepdim=True), x.var((2, 3), unbiased=False, keepdim=True)
        norm_i = (x - mean_i) / torch.sqrt(var_i + 1e-5)
        mean_b, var_b = x.mean((0, 2, 3), keepdim=True), x.var((0, 2, 3), unbiased=False, keepdim=True)
        norm_b = (x - mean_b) / torch.sqrt(var_b + 1e-5)
        mean_l, var_l = x.mean((1, 2, 3), keepdim=True), x.var((1, 2, 3), unbiased=False, keepdim=True)
        norm_l = (x - mean_l) / torch.sqrt(var_l + 1e-5)
        norm_u = (x - mean_i) / torch.sqrt(x.var((2, 3), unbiased=True, keepdim=True) + 1e-5)
    if _same(out, gamma * norm_i + beta):
        raise AssertionError("adain scales by γ instead of (1 + γ): the affine map starts near zero, so with γ "
                             "alone every feature would be multiplied by ~0 at initialisation. Use "
                             "(1 + gamma) * IN(x) + beta")
    if _same(out, (1 + beta) * norm_i + gamma):
        raise AssertionError("γ and β are swapped: fc(s) holds [γ, β] in that order, so take "
                             "gamma, beta = h.chunk(2, dim=1) (the first half scales, the second half shifts)")
    if _same(out, (1 + gamma) * x + beta):
        raise AssertionError("adain forgot to normalise x: subtract each sample's per-channel mean and divide by "
                             "its per-channel standard deviation first (nn.InstanceNorm2d(C, affine=False))")
    if _same(out, (1 + gamma) * norm_b + beta):
        raise AssertionError("adain normalised with batch statistics (mean over dims 0, 2, 3); instance "
                             "normalisation uses each sample's own statistics: mean and variance over H, W "
                             "only (dims 2, 3)")
    if _same(out, (1 + gamma) * norm_l + beta):
        raise AssertionError("adain normalised over channels and pixels together (layer norm); instance norm "
                             "takes one mean and variance per sample AND channel, over H and W only")
    if _same(out, (1 + gamma) * norm_u + beta, tol=1e-3):
        raise AssertionError("adain used the unbiased variance (divide by HW - 1); instance norm divides by HW: "
                             "x.var(dim=(2, 3), unbiased=False) or nn.InstanceNorm2d")
    raise AssertionError(f"adain disagrees with the reference (largest difference "
                         f"{float((out - want).abs().max()):.4f}): compute h = fc(s), split it into γ, β with "
                         "chunk(2, dim=1), reshape both to (B, C, 1, 1) and return (1 + γ) · IN(x) + β")


# ============================================================================ multi-task D (lab 04)
def check_head_selection(fn: Callable) -> None:
    """select_domain_output(out, y): from D's K outputs per image keep the one of the image's domain."""
    g = torch.Generator().manual_seed(0)
    k, b = 3, 6
    y = torch.tensor([2, 0, 1, 1, 2, 0])
    # 1. a table of K logits per image with clearly different values: out[i, y[i]] and nothing else
    table = (torch.randn(b, k, generator=g) * 2).requires_grad_(True)
    want = table[torch.arange(b), y]
    out = call(fn, table, y, what="select_domain_output")
    if not torch.is_tensor(out) or out.shape != want.shape:
        hint = ""
        if torch.is_tensor(out) and out.shape == (b, b):
            hint = (" out[:, y] picks columns y for EVERY image (a B x B table); pair row i with column y[i]: "
                    "out[torch.arange(B), y]")
        elif torch.is_tensor(out) and out.shape == (b, 1):
            hint = " Squeeze the last dimension (gather returns (B, 1))."
        raise AssertionError(f"select_domain_output should return one logit per image, shape {tuple(want.shape)}, "
                             f"got {_shape(out)}.{hint}")
    if not _same(out, want):
        if _same(out, table.max(1).values):
            raise AssertionError("select_domain_output took the largest output; D must answer the question for the "
                                 "image's (or target's) domain y, whatever the other heads say: out[arange(B), y]")
        if _same(out, table.mean(1)) or _same(out, table.sum(1)):
            raise AssertionError("select_domain_output combined all heads; a multi-task D uses only the head of "
                                 "domain y for each image (the others get no gradient from that image)")
        if _same(out, table[:, y[0]]):
            raise AssertionError("every image used the head of the FIRST image's domain; images of one batch have "
                                 "different domains: pair row i with head y[i]")
        raise AssertionError("select_domain_output picked the wrong entries: row i of out must give out[i, y[i]] "
                             "(out[torch.arange(len(y)), y] or out.gather(1, y[:, None]).squeeze(1))")
    if not out.requires_grad:
        raise AssertionError("the selected outputs have no gradient: index the tensor (no .detach(), .item() "
                             "or numpy) so that D's heads can learn")
    (grad,) = torch.autograd.grad(out.sum(), table)
    if not torch.equal(grad, F.one_hot(y, k).float()):
        raise AssertionError("the gradient reaches other heads than each image's own domain head")
    # 2. the same on a real multi-task discriminator: the library's D(x, y) must agree
    with torch.random.fork_rng():                      # leave the notebook's random state alone
        torch.manual_seed(0)
        disc = Discriminator(image_size=8, num_domains=k, base_dim=4, max_conv_dim=8, n_down=2, kind="multitask")
    x = torch.rand(b, 3, 8, 8, generator=g) * 2 - 1
    out_all = disc.main(x).flatten(1)                  # (B, K): every domain's real/fake logit
    want, _ = disc(x, y)                               # the library's D_y(x)
    out = call(fn, out_all, y, what="select_domain_output")
    if not _same(out, want):
        raise AssertionError("on a real discriminator's outputs (B, K) your selection differs from D_y(x); make "
                             "sure it works for any B x K table: out[torch.arange(len(y)), y]")
    ok("select_domain_output: each image is judged by the head of its own domain, D_y(x)")


# ============================================================================ R1 (lab 04)
def check_r1_penalty(fn: Callable) -> None:
    """r1_penalty(d_out, x_real, gamma): (γ/2) · mean over samples of ||∇_x D(x)||², differentiable."""
    g = torch.Generator().manual_seed(0)
    b = 4
    a = torch.randn(b, 3, 4, 4, generator=g) * 0.3        # D(x)_i = w <a_i, x_i>: gradient w a_i per sample
    w = torch.tensor(1.0, requires_grad=True)
    x = torch.randn(b, 3, 4, 4, generator=g).requires_grad_(True)
    gamma = 3.0
    d_out = w * (x * a).flatten(1).sum(1)                 # (B,)
    want = (0.5 * gamma * gradient_penalty(d_out, x, target=0.0)).detach()   # before the student frees the graph
    out = scalar(call(fn, d_out, x, gamma, what="r1_penalty"), "r1_penalty")
    sq = a.flatten(1).pow(2).sum(1)                       # ||∇||² per sample
    if not close(out, want):
        if close(out, sq.mean()):
            raise AssertionError("r1_penalty returned E[||∇||²] without the factor γ/2: the penalty is "
                                 "(gamma / 2) * E[||∇_x D(x)||²]")
        if close(out, gamma * sq.mean()):
            raise AssertionError("r1_penalty multiplied by γ; R1 is (γ/2) E[||∇||²]: multiply by gamma / 2")
        if close(out, 0.5 * gamma * sq.sqrt().mean() ** 2):
            raise AssertionError("r1_penalty averaged the per-sample gradient norms before squaring; square each "
                                 "sample's gradient first: grad.pow(2) summed over C, H, W, then the mean over "
                                 "the batch")
        if close(out, 0.5 * gamma * sq.sqrt().mean()):
            raise AssertionError("r1_penalty used the gradient norm ||∇||; R1 penalises its square: "
                                 "grad.pow(2).sum over C, H, W, then the mean over the batch")
        if close(out, 0.5 * gamma * (sq.sqrt() - 1).pow(2).mean()):
            raise AssertionError("r1_penalty pushed the gradient norm towards 1 (the WGAN-GP form); R1 pushes "
                                 "it towards 0 on real images: E[||∇||²]")
        if close(out, 0.5 * gamma * sq.sum()):
            raise AssertionError("r1_penalty summed over the batch; take the mean over the samples (the sum of "
                                 "squares goes over C, H, W of each sample only)")
        if close(out, 0.5 * gamma * sq.mean() / a[0].numel()):
            raise AssertionError("r1_penalty averaged over the pixels too; sum the squared gradient over C, H, W "
                                 "of each sample, then average over the batch")
        raise AssertionError(f"for D(x) = <a, x> the penalty should be {float(want):.5f}, got {float(out):.5f}. "
                             "Use torch.autograd.grad(d_out.sum(), x_real, create_graph=True), square, sum per "
                             "sample, average, times gamma / 2")
    if not out.requires_grad:
        raise AssertionError("the penalty has no gradient with respect to D's weights: call torch.autograd.grad "
                             "with create_graph=True, so that D can be trained to keep its gradients small")
    (gw,) = torch.autograd.grad(out, w)
    if not close(gw, gamma * sq.mean()):                   # d/dw (γ/2) w² E||a||² at w = 1
        raise AssertionError("the penalty's gradient with respect to D's weights is wrong; compute the gradient "
                             "with create_graph=True and do not detach it")
    ok("r1_penalty: (γ/2) E[||∇_x D(x)||²] on real images, differentiable w.r.t. D")


# ============================================================================ mapping network (lab 05)
def check_mapping_network(cls: Callable) -> None:
    """MappingNetwork(latent_dim, style_dim, num_domains, hidden_dim, n_shared, n_unshared): shared MLP,
    one head per domain, s = F_y(z); parameter names as in the released checkpoints."""
    # every size different (and the batch, 7, too), so a shape names its axes without ambiguity
    dims = dict(latent_dim=4, style_dim=6, num_domains=3, hidden_dim=8, n_shared=2, n_unshared=3)
    with torch.random.fork_rng():                      # leave the notebook's random state alone
        torch.manual_seed(0)
        ref = MappingNetwork(**dims)
        net = call(lambda: cls(**dims), what="MappingNetwork(latent_dim=4, style_dim=6, num_domains=3, "
                                             "hidden_dim=8, n_shared=2, n_unshared=3)")
    if not isinstance(net, nn.Module):
        raise AssertionError(f"MappingNetwork(...) should build an nn.Module, got {type(net).__name__}")
    n_ref = sum(p.numel() for p in ref.parameters())
    n_net = sum(p.numel() for p in net.parameters())
    head = sum(p.numel() for p in ref.unshared[0].parameters())
    if n_net != n_ref:
        if n_net == n_ref - 2 * head:
            raise AssertionError("the heads share their weights: [head] * num_domains repeats ONE module; build a "
                                 "new nn.Sequential for every domain inside the loop")
        if n_net == n_ref - 3 * head:
            raise AssertionError("the mapping network has no per-domain heads (self.unshared holds no "
                                 "parameters); add one head (an nn.Sequential) per domain to self.unshared")
        raise AssertionError(f"the mapping network has {n_net} parameters but should have {n_ref} with these sizes: "
                             f"each of the 3 heads has (n_unshared - 1) = 2 layers hidden_dim -> hidden_dim with "
                             "ReLU, then one layer hidden_dim -> style_dim")
    keys, want_keys = set(net.state_dict()), set(ref.state_dict())
    if keys != want_keys:
        missing, extra = sorted(want_keys - keys)[:4], sorted(keys - want_keys)[:4]
        raise AssertionError(f"the parameter names differ from the released networks' (needed to load the official "
                             f"weights): missing {missing}, unexpected {extra}. Keep `self.unshared` an "
                             "nn.ModuleList of nn.Sequential heads, each [Linear, ReLU] * (n_unshared - 1) + [Linear]")
    net.load_state_dict(ref.state_dict())
    g = torch.Generator().manual_seed(1)
    b = 7
    z = torch.randn(b, dims["latent_dim"], generator=g)
    y = torch.tensor([0, 2, 1, 1, 0, 2, 1])
    want = ref(z, y)
    out = call(net, z, y, what="MappingNetwork.forward(z, y)")
    if not torch.is_tensor(out) or out.shape != want.shape:
        raise AssertionError(f"F(z, y) should return one style code per sample, shape (B, style_dim) = "
                             f"{tuple(want.shape)}, got {_shape(out)}. {_mapping_shape_hint(out, b, dims)}")
    if _same(out, want):
        ok("MappingNetwork: shared layers, one head per domain, s = F_y(z) picks each sample's head")
        return
    with torch.no_grad():
        h = ref.shared(z)
        all_heads = torch.stack([hd(h) for hd in ref.unshared], 1)
    if _same(out, all_heads[:, int(y[0])]):
        raise AssertionError("every sample used the head of the first sample's domain; sample i needs head y[i] "
                             "(stack the heads' outputs to (B, K, D) and index [torch.arange(B), y])")
    if _same(out, torch.relu(want)):
        raise AssertionError("the last layer of each head is followed by a ReLU; style codes must be able to be "
                             "negative, so a head ends with a plain Linear(hidden_dim, style_dim)")
    if _same(out, all_heads.mean(1)) or _same(out, all_heads.sum(1)):
        raise AssertionError("F combined all heads; the style code of domain y comes from head y alone")
    raise AssertionError("F(z, y) disagrees with the reference: run the shared layers on z, every head on the "
                         "result, then keep head y[i] for sample i")


def _mapping_shape_hint(out: object, b: int, dims: dict) -> str:
    """Name the axes of a wrongly shaped mapping-network output (the check's sizes are all different)."""
    if not torch.is_tensor(out):
        return "Return a tensor."
    k, d, hdim, ldim = dims["num_domains"], dims["style_dim"], dims["hidden_dim"], dims["latent_dim"]
    names = {b: "batch B", k: "domains K", d: "style_dim", hdim: "hidden_dim", ldim: "latent_dim"}
    axes = ", ".join(f"{names.get(n, '?')}={n}" for n in out.shape)
    shape = tuple(out.shape)
    if shape == (b, k, d):
        hint = "You returned every head's code (B, K, style_dim); keep only head y[i] for sample i."
    elif shape == (k, b, d):
        hint = ("The heads are stacked along the first axis (K, B, style_dim); stack them along dim=1 and keep "
                "head y[i] for sample i: torch.stack(outs, dim=1)[torch.arange(B), y].")
    elif shape == (b, b, d):
        hint = ("Indexing the stacked heads with y alone pairs every sample with every head y[j]; pair sample i "
                "with head y[i]: out[torch.arange(B), y].")
    elif out.dim() == 2 and shape[0] == b and shape[1] == hdim:
        hint = ("The last axis is hidden_dim: each head must end with Linear(hidden_dim, style_dim), "
                "so the style code has style_dim numbers.")
    elif out.dim() >= 1 and shape[0] != b:
        hint = f"The first axis must be the batch (B={b}), one style code per latent code z."
    elif out.dim() != 2:
        hint = "The result must have two axes, (B, style_dim)."
    else:
        hint = f"The last axis must be style_dim={d}."
    return f"Your axes read as ({axes}). {hint}"


# ============================================================================ objective (lab 05)
def _small_f_setup(seed: int = 0):
    """Tiny configuration-F networks and a batch, for comparing with `compute_g_loss`."""
    cfg = make_config("F", "smoke", "afhq", device="cpu", seed=seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        nets = build_nets(cfg)
    g = torch.Generator().manual_seed(seed)
    b, size, k = 4, cfg.image_size, cfg.num_domains
    x = torch.rand(b, 3, size, size, generator=g) * 2 - 1
    batch = {"x": x, "y": torch.tensor([0, 1, 2, 0]), "y_trg": torch.tensor([1, 2, 0, 2]),
             "z1": torch.randn(b, cfg.latent_dim, generator=g), "z2": torch.randn(b, cfg.latent_dim, generator=g),
             "x_ref": torch.rand(b, 3, size, size, generator=g) * 2 - 1,
             "x_ref2": torch.rand(b, 3, size, size, generator=g) * 2 - 1,
             "alpha": torch.rand(b, 1, 1, 1, generator=g)}
    assert k == 3
    return cfg, nets, batch


def check_style_reconstruction(fn: Callable) -> None:
    """style_reconstruction_loss(style_encoder, x_fake, y_trg, s_trg): E[|s̃ − E_ỹ(G(x, s̃))|] (Eq. 2)."""
    cfg, nets, batch = _small_f_setup()
    _, terms = compute_g_loss(nets, cfg, batch, step=0, guide="latent")
    want = terms["sty"]
    s_trg = nets["mapping_network"](batch["z1"], batch["y_trg"])
    x_fake = nets["generator"](batch["x"], s_trg)
    E = nets["style_encoder"]
    out = scalar(call(fn, E, x_fake, batch["y_trg"], s_trg, what="style_reconstruction_loss"),
                 "style_reconstruction_loss")
    if not close(out, want):
        with torch.no_grad():
            diff = E(x_fake, batch["y_trg"]) - s_trg
            wrong_head = E(x_fake, batch["y"]) - s_trg
        if close(out, diff.pow(2).mean()) or close(out, diff.pow(2).sum(1).mean()):
            raise AssertionError("style_reconstruction_loss is squared (L2); Eq. (2) uses the L1 distance: "
                                 "torch.mean(torch.abs(s_pred - s_trg))")
        if close(out, diff.abs().sum(1).mean()):
            raise AssertionError("you summed |s̃ − E(G(x, s̃))| over the code's dimensions (the L1 norm as Eq. 2 "
                                 "writes it); the course, like the released code, takes the mean over every "
                                 "number (torch.mean(torch.abs(...))) — the same minimum, on the scale λ_sty = 1 "
                                 "was tuned for")
        if close(out, diff.abs().sum()):
            raise AssertionError("style_reconstruction_loss summed over the batch; take the mean of |s̃ − E(G(x, s̃))|")
        if close(out, diff.mean().abs()) or close(out, diff.mean()):
            raise AssertionError("the absolute value must be taken per number, before averaging: "
                                 "torch.mean(torch.abs(s_pred - s_trg)); otherwise errors of opposite sign cancel")
        if close(out, wrong_head.abs().mean()):
            raise AssertionError("E read the fake images with the SOURCE domain's head; G(x, s̃) belongs to the "
                                 "target domain ỹ, so use E(x_fake, y_trg)")
        raise AssertionError(f"style_reconstruction_loss gives {float(out):.5f}, the library {want:.5f}: encode "
                             "the fake images with the target domain's head, s_pred = style_encoder(x_fake, y_trg), "
                             "and return torch.mean(torch.abs(s_pred - s_trg))")
    s_leaf = s_trg.detach().requires_grad_(True)
    x_leaf = x_fake.detach().requires_grad_(True)
    out = call(fn, E, x_leaf, batch["y_trg"], s_leaf, what="style_reconstruction_loss")
    if not out.requires_grad:
        raise AssertionError("the loss has no gradient: keep it in torch (no .item(), numpy or .detach())")
    g_s, g_x = torch.autograd.grad(out, [s_leaf, x_leaf], allow_unused=True)
    if g_x is None or float(g_x.abs().sum()) == 0:
        raise AssertionError("no gradient reaches the fake images: do not detach x_fake (or run E under "
                             "torch.no_grad()); the loss must teach G to put the style into the image")
    if g_s is None or float(g_s.abs().sum()) == 0:
        raise AssertionError("no gradient reaches the target style code s̃: do not detach s_trg; the mapping "
                             "network learns from this loss too")
    ok("style_reconstruction_loss: mean |s̃ − E_ỹ(G(x, s̃))| with the target domain's head, gradients to G, E and F")


def check_diversity_loss(fn: Callable) -> None:
    """diversity_loss(generator, x, s1, s2): E[|G(x, s̃1) − G(x, s̃2)|] (Eq. 3), gradients through both."""
    cfg, nets, batch = _small_f_setup(seed=1)
    _, terms = compute_g_loss(nets, cfg, batch, step=0, guide="latent")
    want = terms["ds"]
    M, G = nets["mapping_network"], nets["generator"]
    s1, s2 = M(batch["z1"], batch["y_trg"]), M(batch["z2"], batch["y_trg"])
    out = scalar(call(fn, G, batch["x"], s1, s2, what="diversity_loss"), "diversity_loss")
    if not close(out, want):
        with torch.no_grad():
            diff = G(batch["x"], s1) - G(batch["x"], s2)
        if close(out, -torch.tensor(want)):
            raise AssertionError("diversity_loss returned −L_ds; return L_ds itself (a positive distance). The "
                                 "minus sign belongs to the full objective (Eq. 5): loss_G = ... − λ_ds · L_ds")
        if close(out, diff.pow(2).mean()):
            raise AssertionError("diversity_loss is squared (L2); Eq. (3) uses the L1 distance: "
                                 "torch.mean(torch.abs(x1 - x2))")
        if close(out, diff.abs().sum()) or close(out, diff.abs().flatten(1).sum(1).mean()):
            raise AssertionError("diversity_loss summed |G(x, s̃1) − G(x, s̃2)| over pixels or the batch; the "
                                 "course, like the released code, takes the mean over every number")
        if close(out, 0.0):
            raise AssertionError("diversity_loss is 0: both outputs came from the same style code; use s1 for "
                                 "one and s2 for the other")
        raise AssertionError(f"diversity_loss gives {float(out):.5f}, the library {want:.5f}: generate "
                             "x1 = generator(x, s1) and x2 = generator(x, s2) and return torch.mean(torch.abs(x1 - x2))")
    s1_leaf, s2_leaf = s1.detach().requires_grad_(True), s2.detach().requires_grad_(True)
    out = call(fn, G, batch["x"], s1_leaf, s2_leaf, what="diversity_loss")
    if not out.requires_grad:
        raise AssertionError("the loss has no gradient: keep it in torch (no .item(), numpy or .detach())")
    g1, g2 = torch.autograd.grad(out, [s1_leaf, s2_leaf], allow_unused=True)
    for grad, name in ((g1, "G(x, s̃1)"), (g2, "G(x, s̃2)")):
        if grad is None or float(grad.abs().sum()) == 0:
            raise AssertionError(f"no gradient flows through {name}: Eq. (3) depends on both outputs, so do not "
                                 "detach either (the released code detaches the second one as a shortcut; the "
                                 "course follows the equation)")
    ok("diversity_loss: mean |G(x, s̃1) − G(x, s̃2)|, differentiable through both outputs")


def check_lambda_ds(fn: Callable) -> None:
    """lambda_ds_at(step, lambda_ds0, decay_iters): λ_ds0 · (1 − step / decay_iters), never below 0."""
    cases = [(0, 2.0, 100), (25, 2.0, 100), (50, 2.0, 100), (99, 2.0, 100), (100, 2.0, 100), (150, 2.0, 100),
             (3, 1.0, 4), (0, 0.0, 10)]
    for step, lam0, decay in cases:
        cfg = make_config("F", None, "afhq", lambda_ds=lam0, ds_decay_iters=decay)
        want = ref_lambda_ds(cfg, step)
        out = call(fn, step, lam0, decay, what=f"lambda_ds_at({step}, {lam0}, {decay})")
        try:
            value = float(out)
        except (TypeError, ValueError):
            raise AssertionError(f"lambda_ds_at should return a number, got {type(out).__name__}") from None
        if abs(value - want) > 1e-6:
            if step > decay and value < 0:
                raise AssertionError(f"lambda_ds_at({step}, {lam0}, {decay}) = {value:g} is negative: after "
                                     "decay_iters the weight stays at 0 (clamp the fraction at 1), otherwise the "
                                     "diversity term would start to punish diverse outputs")
            if step == 0 and lam0 and value == 0:
                raise AssertionError("λ_ds must start at its initial value λ_ds0 at step 0 and decrease to 0; yours "
                                     "grows from 0")
            if abs(value - lam0 * (1 - (step + 1) / decay)) < 1e-6:
                raise AssertionError("lambda_ds_at is one step ahead: at step 0 the weight is exactly λ_ds0 "
                                     "(use step, not step + 1)")
            raise AssertionError(f"lambda_ds_at({step}, {lam0}, {decay}) should be {want:g}, got {value:g}: "
                                 "λ_ds0 · (1 − min(step, decay_iters) / decay_iters)")
    ok("lambda_ds_at: λ_ds decays linearly from its initial value to 0 and stays there")


__all__ = ["check_adain", "check_head_selection", "check_r1_penalty", "check_mapping_network",
           "check_style_reconstruction", "check_diversity_loss", "check_lambda_ds"]
