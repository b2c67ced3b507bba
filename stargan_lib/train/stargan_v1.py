"""The StarGAN v1 trainer: WGAN-GP with n_critic D updates per G update, linear LR decay, joint
training on two datasets with the mask vector.

Introduced in `notebooks/02_stargan_v1.ipynb` (one dataset) and
`notebooks/03_mask_vector_joint_training.ipynb` (`datasets=("faces", "expressions")`).
From a shell: `stargan train stargan_v1 --preset course --out runs/v1`.

One iteration = one D update on a batch (Eq. 5) and, every `n_critic` iterations, one G update
(Eq. 6); the losses are the pure functions of `stargan_lib.losses.stargan_v1`. Target labels are
the batch's own labels in a random order (so the target attribute combinations are realistic).
In joint training the iterations alternate between the datasets (Sec. 3.2). The learning rates
are constant, then fall linearly to 0 over the last `decay_iters` iterations (Sec. 5.3).

The loop, checkpoints, history and samples are the engine's (`stargan_lib.train.engine`); this
module supplies the data, the networks and one iteration (`StarGANv1Task`). The oracle evaluation
of notebooks 02-03 is in `stargan_lib.experiments.stargan_v1`.

A run lives in `out_dir`: `checkpoint.pt` (nets, optimisers, step, RNG, loader position, history),
`history.csv`, `samples/step_XXXXXX.png` (fixed images translated to every target). Calling `train` again with the
same `out_dir` resumes where the checkpoint left off; a checkpoint of another configuration is
refused with the differing fields named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from stargan_lib.data.base import HAIR_ATTRS, ImageSet
from stargan_lib.data.datasets import fixed_batch
from stargan_lib.errors import ConfigError
from stargan_lib.losses.stargan_v1 import compute_d_loss, compute_g_loss
from stargan_lib.models.stargan_v1 import StarGANv1Config, build_nets, generator_label
from stargan_lib.train.engine import TrainResult, TrainTask, decay_lr, optimizer_update, run_task, save_grid
from stargan_lib.utils import resolve_device, seed_everything


# ============================================================================ data
def open_training_data(cfg: StarGANv1Config, data: Sequence[Dataset | ImageSet] | Dataset | ImageSet | None = None,
                       *, preset: str | None = None,
                       data_dir: str | Path | Sequence[str | Path | None] | None = None) -> list[Dataset]:
    """One torch Dataset per entry of `cfg.datasets`, checked against the config's labels.

    `data`: ImageSets or Datasets given by the caller (tests, notebooks); by default the synthetic
    sets of `preset` (or the real datasets in `data_dir`, one folder per dataset: a sequence, or one
    comma-separated string). The synthetic
    sets are the course's fixed ones (data seed 0, as the oracles use), of the preset's
    `train_size(name)` images; `cfg.seed` seeds the networks, the batch order and the augmentation.
    """
    from stargan_lib.data.datasets import ImageSetDataset, open_dataset

    if isinstance(data_dir, (str, Path)):
        data_dir = str(data_dir).split(",")             # `stargan train --data-dir a,b`: one folder per dataset
    if data is None:
        dirs = list(data_dir) if data_dir is not None else [None] * len(cfg.datasets)
        data = [open_dataset(name, "train", data_dir=d, image_size=cfg.image_size, flip=cfg.hflip,
                             preset=preset) for name, d in zip(cfg.datasets, dirs)]
    elif isinstance(data, (Dataset, ImageSet)):
        data = [data]
    data = [ImageSetDataset(d, flip=cfg.hflip) if isinstance(d, ImageSet) else d for d in data]
    if len(data) != len(cfg.datasets):
        raise ConfigError(f"the config trains on datasets {cfg.datasets} but {len(data)} dataset(s) were given")
    for i, ds in enumerate(data):
        names = list(getattr(ds, "label_names", []))
        kind = getattr(ds, "label_kind", None)
        if len(names) != cfg.label_dims[i] or kind != cfg.label_kinds[i]:
            field_name = "c_dim" if i == 0 else "c2_dim"
            raise ConfigError(
                f"dataset {i} ({cfg.datasets[i]}) has {len(names)} {kind} labels {names} but the model expects "
                f"{cfg.label_dims[i]} {cfg.label_kinds[i]} labels; set {field_name}={len(names)} "
                f"(--{field_name.replace('_', '-')} {len(names)}) or give the matching dataset")
        x0, _ = ds[0]
        if tuple(x0.shape) != (3, cfg.image_size, cfg.image_size):
            raise ConfigError(f"dataset {i} ({cfg.datasets[i]}) has images of shape {tuple(x0.shape)} but "
                              f"image_size={cfg.image_size}; render/load the data at {cfg.image_size} px")
    return data


# ============================================================================ targets and grids
def translation_targets(cfg: StarGANv1Config, y: torch.Tensor, label_names: Sequence[Sequence[str]],
                        source: int = 0) -> list[tuple[str, torch.Tensor]]:
    """Every single-label target for images of dataset `source` with labels `y`, as (name, G label).

    Binary attributes (as Fig. 4): a hair colour is set (and the other hair colours cleared), any
    other attribute is flipped. One-hot labels: every class. In joint training the targets of the
    other dataset follow, with its mask bit set (the images' labels there are unknown).
    """
    out: list[tuple[str, torch.Tensor]] = []
    for d in range(len(cfg.datasets)):
        names = list(label_names[d])
        if cfg.label_kinds[d] == "binary":
            if d != source:
                continue                       # binary targets need the image's own attributes
            hair = [i for i, n in enumerate(names) if n in HAIR_ATTRS]
            for i, name in enumerate(names):
                t = y.clone().float()
                if i in hair:
                    t[:, hair] = 0
                    t[:, i] = 1
                else:
                    t[:, i] = 1 - t[:, i]
                out.append((name, generator_label(cfg, t, d)))
        else:
            for k, name in enumerate(names):
                t = torch.full((y.size(0),), k, dtype=torch.long)
                out.append((name, generator_label(cfg, t, d)))
    return out


@torch.no_grad()
def translation_grid(G: nn.Module, cfg: StarGANv1Config, x: torch.Tensor, y: torch.Tensor,
                     label_names: Sequence[Sequence[str]], source: int = 0) -> tuple[torch.Tensor, list[str]]:
    """(N, 1 + T, 3, H, W): each input followed by its translations to every target, and the column names."""
    was_training = G.training
    G.eval()
    device = next(G.parameters()).device
    x = x.to(device)
    targets = translation_targets(cfg, y.cpu(), label_names, source)
    cols = [x] + [G(x, c.to(device)) for _, c in targets]
    G.train(was_training)
    return torch.stack(cols, dim=1).cpu(), ["input"] + [n for n, _ in targets]


# ============================================================================ training
def next_batch(cfg: StarGANv1Config, loader: Any) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(dataset index, images, that dataset's labels) of the next batch, one dataset or joint."""
    if cfg.joint:
        return next(loader)
    x, y = next(loader)
    return 0, x, y


class StarGANv1Task(TrainTask):
    """StarGAN v1's part of the engine: G and D, their Adam optimisers and one (or a joint) loader.

    One iteration = one D update (Eq. 5) and, every `n_critic` iterations, one G update (Eq. 6).
    Introduced in `notebooks/02_stargan_v1.ipynb`.
    """

    name = "StarGAN v1"
    postfix_keys = ("D/adv", "D/cls_r", "G/cls_f", "G/rec")

    def __init__(self, cfg: StarGANv1Config, datasets: Sequence[Dataset], n_fixed: int = 4):
        from stargan_lib.data.datasets import InfiniteLoader, JointLoader

        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.label_names = [list(ds.label_names) for ds in datasets]
        self.x_fixed, self.y_fixed = fixed_batch(datasets[0], n_fixed)
        self.nets = {k: v.to(self.device) for k, v in build_nets(cfg).items()}
        self.base_lr = {"G": cfg.g_lr, "D": cfg.d_lr}
        self.optims = {k: torch.optim.Adam(self.nets[k].parameters(), self.base_lr[k], betas=(cfg.beta1, cfg.beta2))
                       for k in ("G", "D")}
        self.loader = (JointLoader(datasets, cfg.batch_size, seed=cfg.seed, dims=cfg.label_dims) if cfg.joint
                       else InfiniteLoader(datasets[0], cfg.batch_size, seed=cfg.seed))

    def checkpoint_nets(self) -> dict[str, nn.Module]:
        return self.nets

    def train_step(self, step: int) -> dict[str, float]:
        cfg, nets, optims, dev, it = self.cfg, self.nets, self.optims, self.device, step + 1
        # ------------------------------------------------------------------ batch
        d, x, y = next_batch(cfg, self.loader)
        y_trg = y[torch.randperm(y.size(0))]                                   # random target labels c
        batch = {"x_real": x.to(dev), "y_org": y.to(dev), "y_trg": y_trg.to(dev), "dataset": d,
                 "c_org": generator_label(cfg, y, d).to(dev), "c_trg": generator_label(cfg, y_trg, d).to(dev)}
        decay_lr(optims, self.base_lr, step, cfg.total_iters, cfg.decay_iters)
        # ------------------------------------------------------------------ D update (Eq. 5)
        d_loss, logs = compute_d_loss(nets, cfg, batch)
        optimizer_update(optims["D"], d_loss, it, logs)
        # ------------------------------------------------------------------ G update (Eq. 6)
        if it % cfg.n_critic == 0:
            g_loss, g_logs = compute_g_loss(nets, cfg, batch)
            optimizer_update(optims["G"], g_loss, it, g_logs)
            logs.update(g_logs)
        return logs

    def log_extras(self) -> dict[str, float]:
        return {"lr_G": self.optims["G"].param_groups[0]["lr"]}

    def ready_to_log(self, terms: set[str]) -> bool:
        """A history row once every term has a value (G's first update is at iteration n_critic)."""
        return any(k.startswith("G/") for k in terms)

    def extra_state(self) -> dict[str, Any]:
        return {"loader": self.loader.state_dict(), "label_names": self.label_names}

    def load_extra_state(self, extra: Mapping[str, Any]) -> None:
        self.loader.load_state_dict(extra["loader"])

    def write_samples(self, out_dir: Path, step: int) -> list[Path]:
        grid, _ = translation_grid(self.nets["G"], self.cfg, self.x_fixed, self.y_fixed, self.label_names)
        return [save_grid(grid, out_dir / "samples" / f"step_{step:06d}.png")]


def train(cfg: StarGANv1Config, out_dir: str | Path | None,
          data: Sequence[Dataset | ImageSet] | Dataset | ImageSet | None = None, *,
          preset: str | None = None, data_dir: str | Path | Sequence[str | Path | None] | None = None,
          progress: bool = True, n_fixed: int = 4,
          stop_after: int | None = None) -> TrainResult:
    """Train (or resume) StarGAN v1 for `cfg.total_iters` iterations in `out_dir`; see the module doc.

    `stop_after`: stop (with a checkpoint) at that step, to resume later. Returns a `TrainResult`.
    Introduced in `notebooks/02_stargan_v1.ipynb`.
    """
    seed_everything(cfg.seed)
    datasets = open_training_data(cfg, data, preset=preset, data_dir=data_dir)
    return run_task(StarGANv1Task(cfg, datasets, n_fixed), out_dir, progress=progress, stop_after=stop_after)


def sample(run: Any, out: str | Path, *, n: int = 4, preset: str | None = None,
           data_dir: str | Path | None = None) -> Path:
    """`stargan sample` of a StarGAN v1 run (`run`: a `LoadedRun`): each of `n` held-out images of the first
    dataset, then its translation to every target label (the column names are printed), saved to `out`."""
    from stargan_lib.data.datasets import open_dataset

    cfg = run.cfg
    test = open_dataset(cfg.datasets[0], "test", data_dir=data_dir, image_size=cfg.image_size, preset=preset)
    x, y = fixed_batch(test, n)
    label_names = run.state.get("extra", {}).get("label_names") or [list(test.label_names)]
    grid, names = translation_grid(run.nets["G"], cfg, x, y, label_names)
    print("columns:", ", ".join(names))
    return save_grid(grid, out)

