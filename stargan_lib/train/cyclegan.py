"""The CycleGAN trainer: two generators and two least-squares PatchGAN discriminators, image pools,
cycle and identity losses, linear LR decay.

Introduced in `notebooks/01_cyclegan_baseline.ipynb`; from a shell:
`stargan train cyclegan --preset course --out runs/cyclegan`.

Each iteration: translate a batch of each domain, update both generators on
L_GAN + λ L_cyc (+ λ_id λ L_identity), then both discriminators on fakes drawn from the image pools
(`stargan_lib.losses.cyclegan`). The learning rate is constant, then falls linearly to 0 over the
last `decay_iters` iterations.

A run lives in `out_dir`: `checkpoint.pt` (nets, optimisers, step, RNG, loader positions, image
pools, history), `history.csv` and `samples/step_XXXXXX.png` (rows: real A, G_AB(A),
G_BA(G_AB(A)); then the same for B). Calling `train` again with the same `out_dir` resumes.

The loop, checkpoints, history and samples are the engine's (`stargan_lib.train.engine`); this
module supplies the data, the networks and one iteration (`CycleGANTask`); the data helpers
(`pair_indices`, `fixed_batch`) are `stargan_lib.data`'s.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import torch.nn as nn
from torch.utils.data import Dataset, Subset

from stargan_lib.data.base import ImageSet
from stargan_lib.data.datasets import ImageSetDataset, InfiniteLoader, fixed_batch, open_dataset, pair_indices
from stargan_lib.errors import ConfigError
from stargan_lib.losses.cyclegan import ImagePool, compute_d_loss, compute_g_loss, translate
from stargan_lib.models.cyclegan import CycleGANConfig, build_nets
from stargan_lib.train.engine import TrainResult, TrainTask, decay_lr, optimizer_update, run_task, save_grid
from stargan_lib.utils import resolve_device, seed_everything


# ============================================================================ data
def open_domains(cfg: CycleGANConfig, data: Dataset | ImageSet | Sequence[Dataset | ImageSet] | None = None, *,
                 preset: str | None = None, data_dir: str | Path | None = None) -> tuple[Dataset, Dataset]:
    """The two domain datasets (A, B).

    `data`: a pair (A, B) of ImageSets/Datasets, or one labelled set split into `cfg.domain_a` and
    `cfg.domain_b`; by default the synthetic `cfg.dataset` of `preset` (its `train_size` images) or the real one in
    `data_dir`.
    """
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
        pair = [Subset(full, pair_indices(full.labels, full.label_names, kind, a, b).tolist())
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


# ============================================================================ one iteration
def _requires_grad(nets: Sequence[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


class CycleGANTask(TrainTask):
    """CycleGAN's part of the engine: four networks, two Adam optimisers, two loaders, two image pools.

    One iteration: both generators on L_GAN + λ L_cyc (+ λ_id λ L_identity), then both
    discriminators on fakes drawn from the image pools. Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """

    name = "CycleGAN"
    postfix_keys = ("G/adv", "G/cyc", "D/loss")

    def __init__(self, cfg: CycleGANConfig, set_a: Dataset, set_b: Dataset, n_fixed: int = 4):
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.label_names = [[cfg.domain_a, cfg.domain_b]]
        (self.xa_fixed, _), (self.xb_fixed, _) = fixed_batch(set_a, n_fixed), fixed_batch(set_b, n_fixed)
        self.nets = {k: v.to(self.device) for k, v in build_nets(cfg).items()}
        betas = (cfg.beta1, cfg.beta2)
        g_params = list(self.nets["G_AB"].parameters()) + list(self.nets["G_BA"].parameters())
        d_params = list(self.nets["D_A"].parameters()) + list(self.nets["D_B"].parameters())
        self.optims = {"G": torch.optim.Adam(g_params, cfg.lr, betas=betas),
                       "D": torch.optim.Adam(d_params, cfg.lr, betas=betas)}
        self.base_lr = {"G": cfg.lr, "D": cfg.lr}
        self.loaders = {"A": InfiniteLoader(set_a, cfg.batch_size, seed=cfg.seed),
                        "B": InfiniteLoader(set_b, cfg.batch_size, seed=cfg.seed + 1)}
        self.pools = {"A": ImagePool(cfg.pool_size), "B": ImagePool(cfg.pool_size)}

    def checkpoint_nets(self) -> dict[str, nn.Module]:
        return self.nets

    def train_step(self, step: int) -> dict[str, float]:
        cfg, nets, optims, it = self.cfg, self.nets, self.optims, step + 1
        batch = {"real_a": next(self.loaders["A"])[0].to(self.device),
                 "real_b": next(self.loaders["B"])[0].to(self.device)}
        decay_lr(optims, self.base_lr, step, cfg.total_iters, cfg.decay_iters)
        # ------------------------------------------------------------------ generators
        _requires_grad([nets["D_A"], nets["D_B"]], False)          # D only passes gradients through
        fakes = translate(nets, batch)
        g_loss, logs = compute_g_loss(nets, cfg, {**batch, **fakes})
        optimizer_update(optims["G"], g_loss, it, logs)
        _requires_grad([nets["D_A"], nets["D_B"]], True)
        # ------------------------------------------------------------------ discriminators, on pooled fakes
        d_batch = {**batch, "fake_a": self.pools["A"].query(fakes["fake_a"]),
                   "fake_b": self.pools["B"].query(fakes["fake_b"])}
        d_loss, d_logs = compute_d_loss(nets, cfg, d_batch)
        optimizer_update(optims["D"], d_loss, it, d_logs)
        logs.update(d_logs)
        return logs

    def log_extras(self) -> dict[str, float]:
        return {"lr": self.optims["G"].param_groups[0]["lr"]}

    def extra_state(self) -> dict[str, Any]:
        return {"loaders": {k: v.state_dict() for k, v in self.loaders.items()},
                "pools": {k: v.state_dict() for k, v in self.pools.items()}}

    def load_extra_state(self, extra: Mapping[str, Any]) -> None:
        for k in ("A", "B"):
            self.loaders[k].load_state_dict(extra["loaders"][k])
            self.pools[k].load_state_dict(extra["pools"][k], self.device)

    def write_samples(self, out_dir: Path, step: int) -> list[Path]:
        return [save_grid(cycle_grid(self.nets, self.xa_fixed, self.xb_fixed),
                          out_dir / "samples" / f"step_{step:06d}.png")]


def train(cfg: CycleGANConfig, out_dir: str | Path | None,
          data: Dataset | ImageSet | Sequence[Dataset | ImageSet] | None = None, *,
          preset: str | None = None, data_dir: str | Path | None = None, progress: bool = True,
          n_fixed: int = 4, stop_after: int | None = None) -> TrainResult:
    """Train (or resume) CycleGAN for `cfg.total_iters` iterations in `out_dir`; see the module doc.

    `stop_after`: stop (with a checkpoint) at that step, to resume later. Returns a `TrainResult`
    (nets, history, step, paths, seconds per iteration). Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """
    seed_everything(cfg.seed)
    set_a, set_b = open_domains(cfg, data, preset=preset, data_dir=data_dir)
    return run_task(CycleGANTask(cfg, set_a, set_b, n_fixed), out_dir, progress=progress, stop_after=stop_after)


def sample(run: Any, out: str | Path, *, n: int = 4, preset: str | None = None,
           data_dir: str | Path | None = None) -> Path:
    """`stargan sample` of a CycleGAN run (`run`: a `LoadedRun`): rows [a, G_AB(a), G_BA(G_AB(a))] and
    [b, G_BA(b), G_AB(G_BA(b))] of `n` held-out images per domain, saved to `out`."""
    cfg = run.cfg
    test = open_dataset(cfg.dataset, "test", data_dir=data_dir, image_size=cfg.image_size, preset=preset)
    set_a, set_b = open_domains(dataclasses.replace(cfg, batch_size=1, hflip=False), test)
    (x_a, _), (x_b, _) = fixed_batch(set_a, n), fixed_batch(set_b, n)
    return save_grid(cycle_grid(run.nets, x_a, x_b), out)

