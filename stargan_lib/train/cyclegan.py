"""The CycleGAN trainer: two generators and two least-squares PatchGAN discriminators, image pools,
cycle and identity losses, linear LR decay.

Introduced in `notebooks/01_cyclegan_baseline.ipynb`; from a shell:
`stargan train cyclegan --preset course --out runs/cyclegan`.

Each iteration: translate a batch of each domain, update both generators on
L_GAN + λ L_cyc (+ λ_id λ L_identity), then both discriminators on fakes drawn from the image pools
(`stargan_lib.losses.cyclegan`). The learning rate is constant, then falls linearly to 0 over the
last `decay_iters` iterations.

A run lives in `out_dir`: `checkpoint.pt` (nets, optimisers, step, RNG, loader positions, image
pools, history) and `samples/step_XXXXXX.png` (rows: real A, G_AB(A), G_BA(G_AB(A)); then the same
for B). Calling `train` again with the same `out_dir` resumes.

`TrainResult` and the small helpers `fixed_batch`, `save_grid`, `set_lr` are reused by the StarGAN
v1 trainer.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset, Subset
from tqdm.auto import tqdm

from stargan_lib.data.base import ImageSet
from stargan_lib.errors import ConfigError
from stargan_lib.losses.cyclegan import ImagePool, compute_d_loss, compute_g_loss, translate
from stargan_lib.models.cyclegan import CycleGANConfig, build_nets
from stargan_lib.train.common import check_finite, linear_decay, load_checkpoint, save_checkpoint
from stargan_lib.utils import resolve_device, seed_everything

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainResult:
    """What a training call returns: the networks (in train mode), the loss history and where it wrote."""

    nets: dict[str, nn.Module]
    history: dict[str, list[float]]
    step: int
    out_dir: Path
    checkpoint: Path
    seconds_per_iter: float = float("nan")          # measured over this call's iterations
    label_names: list[list[str]] = field(default_factory=list)


# ============================================================================ data
def domain_indices(labels: np.ndarray, label_names: Sequence[str], label_kind: str,
                   domain: str, other: str) -> np.ndarray:
    """Indices of the images of `domain`: for binary attributes, those with `domain` on and `other`
    off (so the two domains do not overlap); for one-hot labels, those of class `domain`."""
    names = list(label_names)
    for d in (domain, other):
        if d not in names:
            raise ConfigError(f"domain {d!r} is not a label of this dataset; choose domain_a/domain_b from {names}")
    labels = np.asarray(labels)
    if label_kind == "binary":
        return np.flatnonzero((labels[:, names.index(domain)] > 0.5) & (labels[:, names.index(other)] < 0.5))
    return np.flatnonzero(labels == names.index(domain))


def open_domains(cfg: CycleGANConfig, data: Dataset | ImageSet | Sequence[Dataset | ImageSet] | None = None, *,
                 preset: str | None = None, data_dir: str | Path | None = None) -> tuple[Dataset, Dataset]:
    """The two domain datasets (A, B).

    `data`: a pair (A, B) of ImageSets/Datasets, or one labelled set split into `cfg.domain_a` and
    `cfg.domain_b`; by default the synthetic `cfg.dataset` of `preset` (or the real one in `data_dir`).
    """
    from stargan_lib.data.datasets import ImageSetDataset, open_dataset

    if data is None:
        data = open_dataset(cfg.dataset, "train", data_dir=data_dir, image_size=cfg.image_size, flip=cfg.hflip,
                            preset=preset)
    if isinstance(data, (list, tuple)):
        if len(data) != 2:
            raise ConfigError(f"CycleGAN needs two domains (A, B); got {len(data)} datasets")
        pair = [ImageSetDataset(d, flip=cfg.hflip) if isinstance(d, ImageSet) else d for d in data]
    else:
        full = ImageSetDataset(data, flip=cfg.hflip) if isinstance(data, ImageSet) else data
        kind = getattr(full, "label_kind", "binary")
        pair = [Subset(full, domain_indices(full.labels, full.label_names, kind, a, b).tolist())
                for a, b in ((cfg.domain_a, cfg.domain_b), (cfg.domain_b, cfg.domain_a))]
    for name, ds in zip((cfg.domain_a, cfg.domain_b), pair):
        if len(ds) < cfg.batch_size:
            raise ConfigError(f"domain {name!r} has {len(ds)} images, fewer than one batch of {cfg.batch_size}; "
                              "use more data, a smaller batch_size or other domains")
        x0 = ds[0][0]
        if tuple(x0.shape) != (3, cfg.image_size, cfg.image_size):
            raise ConfigError(f"domain {name!r} has images of shape {tuple(x0.shape)} but image_size="
                              f"{cfg.image_size}; render/load the data at {cfg.image_size} px")
    return pair[0], pair[1]


def _base(dataset: Dataset) -> Dataset:
    return dataset.dataset if isinstance(dataset, Subset) else dataset


def fixed_batch(dataset: Dataset, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` images and labels of `dataset`, without augmentation (for sample grids)."""
    base = _base(dataset)
    flip = getattr(base, "flip", False)
    try:
        if flip:
            base.flip = False
        items = [dataset[i] for i in range(min(n, len(dataset)))]
    finally:
        if flip:
            base.flip = flip
    return torch.stack([x for x, _ in items]), torch.stack([torch.as_tensor(y) for _, y in items])


def save_grid(grid: torch.Tensor, path: str | Path) -> Path:
    """Save a (N, T, 3, H, W) grid of images in [-1, 1] as one PNG: N rows of T images."""
    from torchvision.utils import save_image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid.flatten(0, 1).mul(0.5).add(0.5).clamp(0, 1), path, nrow=grid.shape[1], padding=1)
    return path


def set_lr(optims: dict[str, torch.optim.Optimizer], base: dict[str, float], factor: float) -> None:
    """Set every optimiser's learning rate to its base rate times `factor` (the schedule at this step)."""
    for name, opt in optims.items():
        for group in opt.param_groups:
            group["lr"] = base[name] * factor


# ============================================================================ grids
@torch.no_grad()
def cycle_grid(nets: dict[str, nn.Module], x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
    """(N_a + N_b, 3, 3, H, W): rows [a, G_AB(a), G_BA(G_AB(a))] then [b, G_BA(b), G_AB(G_BA(b))]."""
    device = next(nets["G_AB"].parameters()).device
    x_a, x_b = x_a.to(device), x_b.to(device)
    fake_b, fake_a = nets["G_AB"](x_a), nets["G_BA"](x_b)
    rows_a = torch.stack([x_a, fake_b, nets["G_BA"](fake_b)], dim=1)
    rows_b = torch.stack([x_b, fake_a, nets["G_AB"](fake_a)], dim=1)
    return torch.cat([rows_a, rows_b]).cpu()


# ============================================================================ training
def _requires_grad(nets: Sequence[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def train(cfg: CycleGANConfig, out_dir: str | Path,
          data: Dataset | ImageSet | Sequence[Dataset | ImageSet] | None = None, *,
          preset: str | None = None, data_dir: str | Path | None = None, progress: bool = True,
          n_fixed: int = 4, stop_after: int | None = None):
    """Train (or resume) CycleGAN for `cfg.total_iters` iterations in `out_dir`; see the module doc.

    Returns a `TrainResult` (nets, history, step, paths, seconds per iteration).
    """
    from stargan_lib.data.datasets import InfiniteLoader

    out_dir = Path(out_dir)
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    set_a, set_b = open_domains(cfg, data, preset=preset, data_dir=data_dir)
    (xa_fixed, _), (xb_fixed, _) = fixed_batch(set_a, n_fixed), fixed_batch(set_b, n_fixed)

    nets = {k: v.to(device) for k, v in build_nets(cfg).items()}
    betas = (cfg.beta1, cfg.beta2)
    optims = {"G": torch.optim.Adam(list(nets["G_AB"].parameters()) + list(nets["G_BA"].parameters()), cfg.lr,
                                    betas=betas),
              "D": torch.optim.Adam(list(nets["D_A"].parameters()) + list(nets["D_B"].parameters()), cfg.lr,
                                    betas=betas)}
    base_lr = {"G": cfg.lr, "D": cfg.lr}
    loaders = {"A": InfiniteLoader(set_a, cfg.batch_size, seed=cfg.seed),
               "B": InfiniteLoader(set_b, cfg.batch_size, seed=cfg.seed + 1)}
    pools = {"A": ImagePool(cfg.pool_size), "B": ImagePool(cfg.pool_size)}

    step, history = 0, defaultdict(list)
    ckpt = out_dir / CHECKPOINT
    if ckpt.exists():
        state = load_checkpoint(ckpt, cfg=cfg, nets=nets, optims=optims, map_location=device)
        step = int(state["step"])
        history.update({k: list(v) for k, v in state["history"].items()})
        for k in ("A", "B"):
            loaders[k].load_state_dict(state["extra"]["loaders"][k])
            pools[k].load_state_dict(state["extra"]["pools"][k], device)

    def checkpoint(at: int) -> None:
        save_checkpoint(ckpt, step=at, cfg=cfg, nets=nets, optims=optims, history=dict(history),
                        extra={"loaders": {k: v.state_dict() for k, v in loaders.items()},
                               "pools": {k: v.state_dict() for k, v in pools.items()}})

    window: dict[str, list[float]] = defaultdict(list)
    start, t0 = step, time.perf_counter()
    bar = tqdm(total=cfg.total_iters, initial=step, desc="CycleGAN", disable=not progress, dynamic_ncols=True)
    end = cfg.total_iters if stop_after is None else min(cfg.total_iters, stop_after)
    for step in range(start, end):
        it = step + 1
        batch = {"real_a": next(loaders["A"])[0].to(device), "real_b": next(loaders["B"])[0].to(device)}
        set_lr(optims, base_lr, linear_decay(step, cfg.total_iters, cfg.total_iters - cfg.decay_iters))
        # ------------------------------------------------------------------ generators
        _requires_grad([nets["D_A"], nets["D_B"]], False)          # D only passes gradients through
        fakes = translate(nets, batch)
        g_loss, logs = compute_g_loss(nets, cfg, {**batch, **fakes})
        check_finite(it, logs)
        optims["G"].zero_grad(set_to_none=True)
        g_loss.backward()
        optims["G"].step()
        _requires_grad([nets["D_A"], nets["D_B"]], True)
        # ------------------------------------------------------------------ discriminators, on pooled fakes
        d_batch = {**batch, "fake_a": pools["A"].query(fakes["fake_a"]), "fake_b": pools["B"].query(fakes["fake_b"])}
        d_loss, d_logs = compute_d_loss(nets, cfg, d_batch)
        check_finite(it, d_logs)
        optims["D"].zero_grad(set_to_none=True)
        d_loss.backward()
        optims["D"].step()
        logs.update(d_logs)
        # ------------------------------------------------------------------ bookkeeping
        for k, v in logs.items():
            window[k].append(v)
        if it % cfg.log_every == 0 or it == cfg.total_iters:
            history["step"].append(it)
            history["lr"].append(optims["G"].param_groups[0]["lr"])
            for k, vals in window.items():
                history[k].append(sum(vals) / len(vals))
            bar.set_postfix({k: f"{history[k][-1]:.3g}" for k in ("G/adv", "G/cyc", "D/loss") if k in window})
            window.clear()
        if cfg.sample_every and it % cfg.sample_every == 0:
            save_grid(cycle_grid(nets, xa_fixed, xb_fixed), out_dir / "samples" / f"step_{it:06d}.png")
        if it % cfg.ckpt_every == 0 or it == end:
            checkpoint(it)
        bar.update(1)
    bar.close()
    done = max(end, start)
    n_run = done - start
    return TrainResult(nets=nets, history=dict(history), step=done, out_dir=out_dir, checkpoint=ckpt,
                       seconds_per_iter=(time.perf_counter() - t0) / n_run if n_run else float("nan"),
                       label_names=[[cfg.domain_a, cfg.domain_b]])


def load_trained(path: str | Path, device: str = "cpu") -> tuple[CycleGANConfig, dict[str, nn.Module], dict]:
    """Rebuild the config and the four networks of a course CycleGAN checkpoint (eval mode)."""
    from stargan_lib.errors import CheckpointError
    from stargan_lib.train.common import load_state_dict_checked
    from stargan_lib.utils import safe_torch_load

    state = safe_torch_load(path)
    if not isinstance(state, dict) or state.get("config_class") != CycleGANConfig.__name__:
        raise CheckpointError(f"{path} is not a CycleGAN training checkpoint (config class "
                              f"{state.get('config_class') if isinstance(state, dict) else None!r})")
    cfg = CycleGANConfig(**state["config"])
    nets = build_nets(cfg)
    for name, net in nets.items():
        load_state_dict_checked(net, state["nets"].get(name), f"{path}[{name}]")
        net.to(resolve_device(device)).eval()
    return cfg, nets, state


# ============================================================================ evaluation with the oracles
def oracle_reading(oracle: Any, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """What an oracle (`stargan_lib.data.get_oracle`) reads from images x (N, 3, H, W) in [-1, 1]:
    its logits (N, K) and content factors {name: (N, k)}, on the CPU."""
    out = oracle.predict(x)
    factors = {k: v.detach().float().reshape(len(v), -1).cpu() for k, v in out["factors"].items()}
    return out["logits"].detach().float().cpu(), factors


def score_edit(oracle: Any, source: torch.Tensor | tuple, x_fake: torch.Tensor, y_src: torch.Tensor,
               y_trg: torch.Tensor, rows: torch.Tensor | None = None, seed: int = 0) -> dict[str, float]:
    """Oracle scores of an attribute edit on binary labels: x_fake should show y_trg where x showed y_src.

    source: the source images (N, 3, H, W), or their `oracle_reading` (computed once for several
    edits; `rows` then selects the edited images from it). Returns
      target_accuracy  fraction of images whose *changed* attributes all read as the target
                       (1 - the StarGAN v1 paper's "classification error", Table 3)
      kept_accuracy    fraction of (image, unchanged attribute) pairs still read as the source's label
      content_error    normalised difference of the content factors read from input and output
                       (0 = kept; `content_error_shuffled` is the "nothing kept" level), content_corr
      content_per_factor  the content error of each factor (position, face shape, skin, background)
      n                images scored
    Introduced in `notebooks/01_cyclegan_baseline.ipynb`; StarGAN v1 uses it in notebook 02.
    """
    from stargan_lib.metrics.oracle_metrics import content_preservation

    if getattr(oracle, "label_kind", None) != "binary":
        raise ConfigError("score_edit reads binary attributes; use an oracle of a binary-attribute dataset "
                          "(faces)")
    logits_src, f_src = oracle_reading(oracle, source) if torch.is_tensor(source) else source
    if rows is not None:
        f_src = {k: v[rows] for k, v in f_src.items()}
    y_src, y_trg = y_src.float().cpu(), y_trg.float().cpu()
    if y_src.shape != y_trg.shape or len(y_trg) != len(x_fake):
        raise ConfigError(f"score_edit got {len(x_fake)} translated images, source labels {tuple(y_src.shape)} "
                          f"and target labels {tuple(y_trg.shape)}; give one (k,) label of each per image")
    logits, f_fake = oracle_reading(oracle, x_fake)
    read_ok = (logits > 0) == (y_trg > 0.5)                                # (n, k)
    changed = y_trg != y_src
    target_ok = (read_ok | ~changed).all(1)                               # every changed attribute right
    kept = read_ok[~changed]
    cp = content_preservation(oracle, None, None, seed=seed, factors_src=f_src, factors_fake=f_fake)
    return {"target_accuracy": float(target_ok.float().mean()),
            "kept_accuracy": float(kept.float().mean()) if kept.numel() else float("nan"),
            "content_error": cp["error"], "content_corr": cp["corr"],
            "content_error_shuffled": cp["error_shuffled"], "n": int(len(y_trg)),
            "content_per_factor": {k: v["error"] for k, v in cp["per_factor"].items()}}


@torch.no_grad()
def evaluate_cyclegan(nets: dict[str, nn.Module], cfg: CycleGANConfig, imageset: ImageSet, oracle: Any,
                      batch_size: int = 256, seed: int = 0) -> dict[str, dict[str, float]]:
    """Oracle scores of both directions on held-out images of a binary-attribute set (faces).

    "A->B": the images of domain A (see `domain_indices`) translated by G_AB, whose target is the
    same labels with domain_a switched off and domain_b on; "B->A" likewise with G_BA.
    Each entry is a `score_edit` dict. Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """
    if imageset.label_kind != "binary":
        raise ConfigError(f"evaluate_cyclegan scores attribute edits; {imageset.name!r} has {imageset.label_kind} "
                          "labels")
    names = list(imageset.label_names)
    out = {}
    directions = (("A->B", cfg.domain_a, cfg.domain_b, "G_AB"), ("B->A", cfg.domain_b, cfg.domain_a, "G_BA"))
    for key, src, dst, gen in directions:
        idx = domain_indices(imageset.labels, names, "binary", src, dst)
        if len(idx) == 0:
            continue
        x, y = imageset.subset(idx).tensors()
        y_trg = y.clone()
        y_trg[:, names.index(src)], y_trg[:, names.index(dst)] = 0.0, 1.0
        G = nets[gen]
        was_training = G.training
        G.eval()
        device = next(G.parameters()).device
        x_fake = torch.cat([G(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])
        G.train(was_training)
        out[key] = score_edit(oracle, x, x_fake, y, y_trg, seed=seed)
    return out
