"""Training StarGAN v2 and its ablation A–F: one iteration = D steps, then G steps, then the EMA update.

Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` and `notebooks/05_stargan_v2_D_to_F.ipynb`;
`stargan train stargan_v2 --config A..F --preset ...` runs the same code from a shell, and
`torchrun --nproc_per_node N ...` on several GPUs (see `stargan_lib.train.distributed`).

One iteration (as Appendix B / the released training loop):
  1. draw the global batch: sources x (domain y), target domains ỹ, latents z1, z2, a reference pair
     (x_ref, x_ref2) of domain ỹ, and WGAN-GP interpolation weights — all from the seeded global RNG,
     so a resumed run and a multi-process run see exactly the same numbers;
  2. for each guide of the configuration (A–C: det; D: latent; E–F: latent, then reference):
     D's loss (`losses.stargan_v2.compute_d_loss`) and one Adam step of D;
  3. for each guide: G's loss (`compute_g_loss`) and an Adam step of G — and, on the latent/det pass,
     of F, E and the domain embedding too (the released code steps only G on the reference pass);
  4. EMA: θ_ema ← 0.999 θ_ema + 0.001 θ for G, F, E (evaluation uses the EMA networks).

λ_ds is `models.stargan_v2_config.lambda_ds(cfg, step)`, a function of the step: a resumed run continues the decay
(the released code restarts it from its initial value on resume). The loop, checkpoints
(`<out_dir>/checkpoint.pt`: networks, EMA networks, optimisers, step, config, RNG state, loss
history), `history.csv` and sample grids are the training engine's (`stargan_lib.train.engine`);
`StarGANv2Task` supplies one iteration and writes `<out_dir>/nets_ema.ckpt`, the EMA networks
in the official `100000_nets_ema.ckpt` layout (atomically, after each checkpoint; `stargan eval`
reads it with the `checkpoint.pt` beside it).

Augmentation (`cfg.augment`): "official" (the paper preset) transforms every drawn source and
reference image as the official loader does (`stargan_lib.data.augment`: with probability 0.5 a random
resized crop, then a horizontal flip; on the files before their resize for real data, on the
in-memory images for the synthetic sets), from the same seeded RNG; sample grids are not augmented.
Deviation (course and smoke presets): "none", no augmentation (the synthetic sets are already varied).

CelebA-HQ's high-pass skip (`cfg.w_hpf > 0`, the paper preset on celeba_hq): the trainer builds the
face-alignment network from `cfg.wing_path` (`models.fan.build_fan`, a clear error when the file is
absent), frozen, on the run's device, outside the optimisers, the EMA and the checkpoint. Each
iteration computes its masks of the sources once (`batch["masks"]`); the losses also run it on the
translations for the cycle term (`losses.stargan_v2`), and the sample grids use it too.

Deviation: sources are drawn uniformly with replacement, reference pairs uniformly within the target
domain (two different images); the official loader balances the domains with a weighted sampler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from stargan_lib.models.stargan_v2_config import StarGANv2Config, guides, lambda_ds, validate
from stargan_lib.data.augment import file_augmentation, official_augment
from stargan_lib.data.base import ImageSet
from stargan_lib.data.datasets import domain_groups, domain_indices
from stargan_lib.errors import ConfigError, DataError
from stargan_lib.losses.stargan_v2 import compute_d_loss, compute_g_loss
from stargan_lib.models.fan import build_fan, check_fan_weights
from stargan_lib.models.stargan_v2 import (EMA_NAMES, StarGANv2Nets, build_nets, ema_copy,
                                           set_grad_checkpointing, translate_det, translate_latent,
                                           translate_reference, update_ema)
from stargan_lib.train.distributed import (DistContext, all_reduce_mean, cleanup, init_distributed, shard, unwrap,
                                           wrap)
from stargan_lib.train.engine import TrainResult, TrainTask, optimizer_update, run_task, save_grid
from stargan_lib.utils import atomic_torch_save, resolve_device, seed_everything

NETS_EMA_NAME = "nets_ema.ckpt"


# ============================================================================ data
class DomainImages:
    """Random access to the training images by index, with their domain labels.

    Wraps an in-memory `ImageSet` (uint8, converted per batch) or any dataset with a `labels` array and
    items `(x, y)` (the real-data folder loaders). Only the sampled images are converted to float.
    With `cfg.augment == "official"`, `sample` augments its images (`images(..., augment=True)`).
    """

    def __init__(self, data: Any, cfg: StarGANv2Config):
        if isinstance(data, ImageSet):
            if data.label_kind != "domain":
                raise DataError(f"StarGAN v2 trains on domain-labelled images; {data.name!r} has "
                                f"{data.label_kind} labels. Use animals / faces_gender (AFHQ / CelebA-HQ)")
            self._images = data.images
            size = data.image_size
        else:
            self._images = None
            size = int(data[0][0].shape[-1])
        self.data = data
        self.augment = cfg.augment == "official"
        self.labels = np.asarray(data.labels).astype(np.int64)
        names = list(getattr(data, "label_names", []))
        where = getattr(data, "root", None) or getattr(data, "name", "the training set")
        if len(names) != cfg.num_domains:
            raise DataError(f"configuration has num_domains={cfg.num_domains} but {where} has "
                            f"{len(names)} domains ({', '.join(names)}); set num_domains={len(names)} "
                            "(--num-domains) or use data with that many domains")
        if size != cfg.image_size:
            raise DataError(f"{where} holds {size} px images but image_size={cfg.image_size}; render/resize the "
                            f"data to {cfg.image_size} px or set image_size={size}")
        self.by_domain = [torch.from_numpy(g) for g in domain_groups(self.labels, cfg.num_domains)]
        for k, idx in enumerate(self.by_domain):
            if len(idx) < 2:
                raise DataError(f"domain {names[k]!r} of {where} has {len(idx)} image(s); reference pairs need at "
                                "least two images per domain")

    def __len__(self) -> int:
        return len(self.labels)

    def images(self, index: torch.Tensor, augment: bool = False) -> torch.Tensor:
        """(B, 3, H, W) float in [-1, 1]; `augment`: the official training augmentation, drawn from the
        global torch RNG (real-data loaders apply it to the files, before their resize)."""
        idx = index.numpy()
        if self._images is not None:
            x = torch.from_numpy(np.ascontiguousarray(self._images[idx]))     # (B, H, W, 3) uint8
            x = x.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
            return official_augment(x) if augment else x
        if hasattr(self.data, "random_crop_prob") and hasattr(self.data, "flip"):
            with file_augmentation(self.data, augment):
                return torch.stack([self.data[int(i)][0] for i in idx])
        x = torch.stack([self.data[int(i)][0] for i in idx])
        return official_augment(x) if augment else x

    def sample(self, batch_size: int, latent_dim: int) -> dict[str, torch.Tensor]:
        """One global batch, drawn from the global torch RNG (fixed order of draws)."""
        n, k = len(self), len(self.by_domain)
        idx = torch.randint(n, (batch_size,))
        y_trg = torch.randint(k, (batch_size,))
        r = torch.rand(batch_size, 2, dtype=torch.float64)
        counts = torch.tensor([len(d) for d in self.by_domain])[y_trg]
        i1 = (r[:, 0] * counts).long().clamp_max(counts - 1)
        i2 = (i1 + 1 + (r[:, 1] * (counts - 1)).long().clamp_max(counts - 2)) % counts   # != i1
        ref1 = torch.stack([self.by_domain[int(d)][int(i)] for d, i in zip(y_trg, i1)])
        ref2 = torch.stack([self.by_domain[int(d)][int(i)] for d, i in zip(y_trg, i2)])
        z1, z2 = torch.randn(batch_size, latent_dim), torch.randn(batch_size, latent_dim)
        alpha = torch.rand(batch_size, 1, 1, 1)
        aug = self.augment
        return {"x": self.images(idx, aug), "y": torch.from_numpy(self.labels[idx.numpy()]), "y_trg": y_trg,
                "z1": z1, "z2": z2, "x_ref": self.images(ref1, aug), "x_ref2": self.images(ref2, aug),
                "alpha": alpha}


# ============================================================================ sample grids
@torch.no_grad()
def sample_grids(nets: StarGANv2Nets, x_src: torch.Tensor, x_refs: torch.Tensor | None = None,
                 y_refs: torch.Tensor | None = None, n_styles: int = 3, seed: int = 0, fan: Any = None
                 ) -> dict[str, tuple[torch.Tensor, int]]:
    """Image grids as (images (N, 3, H, W) in [-1, 1], images per row), Fig. 3 style.

    - "det" (A–C): each row a source, then its translation into every domain.
    - "latent" (D–F): per target domain, each row a source and `n_styles` outputs; column j uses
      the same latent z_j for every row (seeded by `seed`, independent of the training RNG).
    - "reference" (E–F, when references are given): first row the references, then each row a source
      and its translation with each reference's style.
    `fan`: the face-alignment network when the generator has the high-pass skip (w_hpf > 0).
    """
    cfg, k, n = nets.cfg, nets.cfg.num_domains, len(x_src)
    dev = x_src.device
    masks = fan.get_heatmap(x_src) if fan is not None and cfg.w_hpf > 0 else None
    out: dict[str, tuple[torch.Tensor, int]] = {}
    if cfg.style == "label":
        cols = [x_src] + [translate_det(nets, x_src, torch.full((n,), d, device=dev), masks) for d in range(k)]
        out["det"] = (torch.stack(cols, 1).flatten(0, 1), k + 1)
        return out
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_styles, cfg.latent_dim, generator=g).to(dev)
    rows = []
    for d in range(k):
        y = torch.full((n,), d, device=dev)
        outs = [translate_latent(nets, x_src, y, z[j].expand(n, -1), masks) for j in range(n_styles)]
        rows.append(torch.stack([x_src] + outs, 1))                  # (n, 1 + n_styles, 3, H, W)
    out["latent"] = (torch.cat(rows, 0).flatten(0, 1), n_styles + 1)
    if cfg.style == "style_code" and x_refs is not None:
        m = len(x_refs)
        header = torch.cat([torch.ones_like(x_src[:1]), x_refs], 0)       # blank corner + references
        body = []
        for i in range(n):
            xi = x_src[i:i + 1].expand(m, -1, -1, -1)
            mi = None if masks is None else tuple(t[i:i + 1].expand(m, -1, -1, -1) for t in masks)
            body.append(torch.cat([x_src[i:i + 1], translate_reference(nets, xi, y_refs, x_refs, mi)], 0))
        out["reference"] = (torch.cat([header] + body, 0), m + 1)
    return out


# ============================================================================ trainer
class StarGANv2Task(TrainTask):
    """StarGAN v2's part of the engine: the networks, EMA copies and optimisers of one run, and one
    iteration (`train_step`: D passes, G passes, EMA; losses averaged over processes when distributed).

    Built like the CycleGAN and StarGAN v1 tasks: `train` runs it on the engine (`train.engine.run_task`);
    `Engine(task).iteration()` runs one iteration without writing anything (tests, benchmarks).
    Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`.
    """

    samples_at_end = True
    extra_files = (NETS_EMA_NAME,)

    def __init__(self, cfg: StarGANv2Config, data: Any, dist: DistContext | None = None):
        validate(cfg)
        self.cfg = cfg
        self.name = f"StarGAN v2 ({cfg.config})"
        last = guides(cfg)[-1]                          # the progress bar shows the last guide's main terms
        self.postfix_keys = (f"D/{last}/adv", f"G/{last}/adv", f"G/{last}/cyc")
        self.dist = dist or DistContext(device=resolve_device(cfg.device))
        self.device = self.dist.device
        if cfg.batch_size % self.dist.world_size:
            raise ConfigError(f"batch_size={cfg.batch_size} must be divisible by the {self.dist.world_size} "
                              "processes (it is the global batch)")
        # CelebA-HQ's high-pass skip: the frozen face-alignment network (None when w_hpf = 0). Built first (a
        # missing wing.ckpt stops the run at once) and before the seeding below, so runs without it are unchanged.
        fan = build_fan(cfg)
        self.fan = fan.to(self.device) if fan is not None else None
        self.data = DomainImages(data, cfg)
        self.label_names = [list(getattr(data, "label_names", []))]
        seed_everything(cfg.seed)
        self.nets = build_nets(cfg).to(self.device)
        if cfg.channels_last:
            self.nets.to(memory_format=torch.channels_last)
        set_grad_checkpointing(self.nets, cfg.grad_checkpoint)
        self.ema = ema_copy(self.nets)
        set_grad_checkpointing(self.ema, False)
        self.optims = {
            name: torch.optim.Adam(net.parameters(), lr=cfg.f_lr if name == "mapping_network" else cfg.lr,
                                   betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
            for name, net in self.nets.items()
        }
        unused = cfg.w_hpf > 0
        self.train_nets = {name: wrap(net, self.dist, find_unused_parameters=unused)
                           for name, net in self.nets.items()}
        if self.fan is not None:                        # used by the losses, never trained (no DDP wrapper)
            self.train_nets["fan"] = self.fan
        self._sample_src = self._fixed_samples()

    # ---------------------------------------------------------------- one iteration
    def batch(self) -> dict[str, torch.Tensor]:
        """The next global batch (`DomainImages.sample`), this process's shard of it, on the device."""
        batch = self.data.sample(self.cfg.batch_size, self.cfg.latent_dim)
        batch = shard(batch, self.dist)
        fmt = torch.channels_last if self.cfg.channels_last else torch.contiguous_format
        return {k: (v.to(self.device, memory_format=fmt) if v.dim() == 4 and v.size(1) == 3 else v.to(self.device))
                for k, v in batch.items()}

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.amp_bf16)

    def train_step(self, step: int) -> dict[str, float]:
        """One iteration at 0-based `step`: D steps, G steps, EMA. Returns {"D/<guide>/<term>",
        "G/<guide>/<term>": value, "lambda_ds": λ_ds(step)}."""
        cfg, optims = self.cfg, self.optims
        batch = self.batch()
        if self.fan is not None:                        # masks of the sources, once per iteration
            batch["masks"] = self.fan.get_heatmap(batch["x"])
        logs: dict[str, float] = {}
        for net, compute in (("D", compute_d_loss), ("G", compute_g_loss)):
            for guide in guides(cfg):
                with self._autocast():
                    loss, terms = compute(self.train_nets, cfg, batch, step, guide)
                terms = {f"{net}/{guide}/{k}": v for k, v in terms.items()}
                # D: the discriminator; G on the reference pass: G alone (as the released code); else G, F, E, e_y
                stepped = (["discriminator"] if net == "D" else ["generator"] if guide == "reference"
                           else [n for n in optims if n != "discriminator"])
                optimizer_update([optims[n] for n in stepped], loss, step, terms, zero=optims.values())
                logs.update(terms)
        update_ema(self.ema, {k: unwrap(v) for k, v in self.nets.items()}, cfg.ema_beta)
        logs = all_reduce_mean(logs, self.dist)
        logs["lambda_ds"] = lambda_ds(cfg, step)
        return logs

    def start(self) -> None:
        for net in self.nets.values():
            net.train()

    # ---------------------------------------------------------------- samples
    def _fixed_samples(self) -> dict[str, torch.Tensor]:
        """A few sources (one or two per domain) and one reference per domain, fixed for the whole run."""
        k, labels = self.cfg.num_domains, self.data.labels
        src = torch.from_numpy(domain_indices(labels, k, max(1, 4 // k)))
        refs = torch.from_numpy(domain_indices(labels, k, 1, last=True))
        return {"x_src": self.data.images(src), "x_ref": self.data.images(refs), "y_ref": torch.arange(k)}

    def grids(self) -> dict[str, tuple[torch.Tensor, int]]:
        """Sample grids of the EMA networks (see `sample_grids`)."""
        s = {k: v.to(self.device) for k, v in self._sample_src.items()}
        return sample_grids(self.ema, s["x_src"], s["x_ref"], s["y_ref"], seed=self.cfg.seed, fan=self.fan)

    def write_samples(self, out_dir: Path, step: int) -> list[Path]:
        """Save the grids as `<out_dir>/samples/<step>_<kind>.png` (the engine calls it on the main process)."""
        return [save_grid(imgs.cpu().float().clamp(-1, 1), out_dir / "samples" / f"{step:06d}_{kind}.png",
                          nrow=nrow)
                for kind, (imgs, nrow) in self.grids().items()]

    # ---------------------------------------------------------------- checkpoints
    def checkpoint_nets(self) -> dict[str, torch.nn.Module]:
        return {**{k: unwrap(v) for k, v in self.nets.items()}, **{f"ema_{k}": v for k, v in self.ema.items()}}

    def extra_state(self) -> dict[str, Any]:
        return {"world_size": self.dist.world_size}

    def after_save(self, out_dir: Path) -> None:
        save_nets_ema(self.ema, out_dir / NETS_EMA_NAME)


def save_nets_ema(ema: Mapping[str, torch.nn.Module], path: str | Path) -> None:
    """The EMA networks as {generator, mapping_network, style_encoder[, domain_embedding]} state dicts:
    the layout of the official `100000_nets_ema.ckpt` (for configuration F)."""
    atomic_torch_save({k: unwrap(v).state_dict() for k, v in ema.items() if k in EMA_NAMES}, path)


def check_nets_ema_beside_checkpoint(path: str | Path) -> None:
    """A `nets_ema.ckpt` is read with the configuration of the `checkpoint.pt` beside it (`stargan eval`):
    refuse it (CheckpointError) when its networks are not that checkpoint's EMA networks, e.g. a file copied
    beside another configuration's run, or one left behind by a killed save. Other files pass unchecked.

    Introduced in `notebooks/06_ablation_table.ipynb` (`stargan eval` of a run's nets_ema.ckpt)."""
    from stargan_lib.errors import CheckpointError
    from stargan_lib.train.common import CHECKPOINT, FORMAT
    from stargan_lib.utils import safe_torch_load

    path = Path(path)
    sibling = path.with_name(CHECKPOINT)
    if path.name == CHECKPOINT or not path.is_file() or not sibling.is_file():
        return
    ema = safe_torch_load(path)
    run = safe_torch_load(sibling)
    if not isinstance(ema, dict) or ema.get("format") == FORMAT or not isinstance(run, dict) or \
            run.get("format") != FORMAT:
        return                                   # a course checkpoint, or no course run beside it
    nets = run.get("nets", {})
    names = sorted({k for k in ema if isinstance(ema[k], dict)} | {k[4:] for k in nets if k.startswith("ema_")})
    differ = [n for n in names if not isinstance(ema.get(n), dict) or not isinstance(nets.get(f"ema_{n}"), dict)
              or set(ema[n]) != set(nets[f"ema_{n}"])
              or any(not torch.equal(v, nets[f"ema_{n}"][k]) for k, v in ema[n].items())]
    if differ:
        raise CheckpointError(
            f"{path} does not hold the EMA networks of {sibling} beside it ({', '.join(differ)} differ; that "
            f"checkpoint is a {run.get('config', {}).get('config', '?')} run at step {run.get('step')}), so it "
            "would be scored under that run's configuration. Evaluate the checkpoint.pt of the run the file came "
            f"from, move the file to its own folder, or resume that run once (it rewrites {NETS_EMA_NAME})")


def train(cfg: StarGANv2Config, out_dir: str | Path | None = None, data: Any = None, *, preset: Any = None,
          data_dir: str | Path | None = None, progress: bool = True, stop_after: int | None = None,
          dist: DistContext | None = None) -> TrainResult:
    """Train (or resume) configuration `cfg` for `cfg.total_iters` iterations in `out_dir` (default
    `cfg.out_dir`; none: in memory only), as CycleGAN's and StarGAN v1's `train`.

    `data`: an ImageSet with domain labels (or a real-data folder dataset); by default the synthetic
    stand-in of `preset` or the real `data_dir` (`load_training_data`). `stop_after`: stop (with a
    checkpoint) at that step, to resume later. `dist`: the process group's context; by default the one
    `torchrun` describes in the environment (`init_distributed`: one process outside torchrun), left again
    at the end. Returns nets, EMA nets and history (`TrainResult`).
    """
    check_fan_weights(cfg)                    # CelebA-HQ's wing.ckpt: say where to get it before loading data
    ctx = dist or init_distributed(cfg.device)
    try:
        if data is None:
            data = load_training_data(cfg, preset, data_dir)
        task = StarGANv2Task(cfg, data, dist=ctx)
        return run_task(task, out_dir or cfg.out_dir or None, progress=progress, stop_after=stop_after, dist=ctx)
    finally:
        if dist is None:
            cleanup(ctx)


def sample(run: Any, out: str | Path, *, n: int = 4, preset: Any = None, data_dir: str | Path | None = None) -> Path:
    """`stargan sample` of a StarGAN v2 run (`run`: a `LoadedRun`) with its EMA networks: the latent (and
    reference) grid of `n` held-out images, or the one-output-per-domain grid of A–C, saved to `out` (the other
    grids beside it as `<out>_<kind>.png`). Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`."""
    from stargan_lib.configs_v2 import SYNTHETIC

    cfg, ema = run.cfg, run.ema
    if data_dir:
        from stargan_lib.data.datasets import open_dataset, to_imageset
        test = to_imageset(open_dataset(cfg.dataset, "test", data_dir=data_dir, image_size=cfg.image_size))
    else:
        from stargan_lib.data.synthetic import make_dataset
        test = make_dataset(SYNTHETIC[cfg.dataset], "test", image_size=cfg.image_size, preset=preset)
    data = DomainImages(test, cfg)
    dev = next(ema.parameters()).device
    src = torch.from_numpy(domain_indices(data.labels, cfg.num_domains, max(1, n // cfg.num_domains))[:n])
    refs = torch.from_numpy(domain_indices(data.labels, cfg.num_domains, 1, last=True))
    fan = build_fan(cfg)                      # None unless the run has CelebA-HQ's high-pass skip
    grids = sample_grids(ema, data.images(src).to(dev), data.images(refs).to(dev),
                         torch.arange(cfg.num_domains, device=dev), seed=cfg.seed,
                         fan=fan.to(dev) if fan is not None else None)
    kind = "det" if "det" in grids else ("reference" if "reference" in grids else "latent")
    out = Path(out)
    for name, (imgs, nrow) in grids.items():
        save_grid(imgs.cpu().float().clamp(-1, 1), out if name == kind else
                  out.with_name(f"{out.stem}_{name}{out.suffix}"), nrow=nrow)
    return out


# ============================================================================ command line
def load_training_data(cfg: StarGANv2Config, preset: Any = None, data_dir: str | None = None) -> Any:
    """The training set of `cfg.dataset`: its synthetic stand-in (animals / faces_gender) at the
    preset's size, or the real AFHQ / CelebA-HQ `train` folder when `data_dir` is given."""
    from stargan_lib.configs_v2 import SYNTHETIC

    if data_dir:
        from stargan_lib.data.datasets import open_dataset
        return open_dataset(cfg.dataset, "train", data_dir=data_dir, image_size=cfg.image_size)
    from stargan_lib.data.synthetic import make_dataset
    return make_dataset(SYNTHETIC[cfg.dataset], "train", image_size=cfg.image_size, preset=preset)


__all__ = ["DomainImages", "StarGANv2Task", "TrainResult", "check_nets_ema_beside_checkpoint", "train", "sample",
           "sample_grids", "save_nets_ema", "load_training_data"]
