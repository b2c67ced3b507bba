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

A run lives in `out_dir`: `checkpoint.pt` (nets, optimisers, step, RNG, loader position, history),
`samples/step_XXXXXX.png` (fixed images translated to every target). Calling `train` again with the
same `out_dir` resumes where the checkpoint left off; a checkpoint of another configuration is
refused with the differing fields named.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from stargan_lib.data.base import HAIR_ATTRS, ImageSet
from stargan_lib.errors import ConfigError
from stargan_lib.losses.stargan_v1 import compute_d_loss, compute_g_loss
from stargan_lib.models.stargan_v1 import StarGANv1Config, build_nets, config_for, generator_label
from stargan_lib.train.common import check_finite, linear_decay, load_checkpoint, save_checkpoint
from stargan_lib.train.cyclegan import TrainResult, fixed_batch, oracle_reading, save_grid, score_edit, set_lr
from stargan_lib.utils import resolve_device, seed_everything

CHECKPOINT = "checkpoint.pt"


# ============================================================================ data
def open_training_data(cfg: StarGANv1Config, data: Sequence[Dataset | ImageSet] | Dataset | ImageSet | None = None,
                       *, preset: str | None = None, data_dir: Sequence[str | Path | None] | None = None
                       ) -> list[Dataset]:
    """One torch Dataset per entry of `cfg.datasets`, checked against the config's labels.

    `data`: ImageSets or Datasets given by the caller (tests, notebooks); by default the synthetic
    sets of `preset` (or the real datasets in `data_dir`, one folder per dataset). The synthetic
    sets are the course's fixed ones (data seed 0, as the oracles use); `cfg.seed` seeds the
    networks, the batch order and the augmentation.
    """
    from stargan_lib.data.datasets import ImageSetDataset, open_dataset

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
def _next_batch(cfg: StarGANv1Config, loader: Any) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(dataset index, images, dataset labels) of the next batch; joint batches carry c̃, split back."""
    from stargan_lib.data.datasets import split_unified_label

    if not cfg.joint:
        x, y = next(loader)
        return 0, x, y
    x, c_tilde, d = next(loader)
    parts, _ = split_unified_label(c_tilde, cfg.label_dims)
    y = parts[d] if cfg.label_kinds[d] == "binary" else parts[d].argmax(1)
    return d, x, y


def train(cfg: StarGANv1Config, out_dir: str | Path,
          data: Sequence[Dataset | ImageSet] | Dataset | ImageSet | None = None, *,
          preset: str | None = None, data_dir: Sequence[str | Path | None] | None = None,
          progress: bool = True, n_fixed: int = 4,
          stop_after: int | None = None) -> TrainResult:
    """Train (or resume) StarGAN v1 for `cfg.total_iters` iterations in `out_dir`; see the module doc."""
    from stargan_lib.data.datasets import InfiniteLoader, JointLoader

    out_dir = Path(out_dir)
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    datasets = open_training_data(cfg, data, preset=preset, data_dir=data_dir)
    label_names = [list(ds.label_names) for ds in datasets]
    x_fixed, y_fixed = fixed_batch(datasets[0], n_fixed)

    nets = {k: v.to(device) for k, v in build_nets(cfg).items()}
    base_lr = {"G": cfg.g_lr, "D": cfg.d_lr}
    optims = {k: torch.optim.Adam(nets[k].parameters(), base_lr[k], betas=(cfg.beta1, cfg.beta2)) for k in ("G", "D")}
    loader = (JointLoader(datasets, cfg.batch_size, seed=cfg.seed, dims=cfg.label_dims) if cfg.joint
              else InfiniteLoader(datasets[0], cfg.batch_size, seed=cfg.seed))

    step, history = 0, defaultdict(list)
    ckpt = out_dir / CHECKPOINT
    if ckpt.exists():
        state = load_checkpoint(ckpt, cfg=cfg, nets=nets, optims=optims, map_location=device)
        step = int(state["step"])
        history.update({k: list(v) for k, v in state["history"].items()})
        loader.load_state_dict(state["extra"]["loader"])

    def checkpoint(at: int) -> None:
        save_checkpoint(ckpt, step=at, cfg=cfg, nets=nets, optims=optims, history=dict(history),
                        extra={"loader": loader.state_dict(), "label_names": label_names})

    window: dict[str, list[float]] = defaultdict(list)
    last = {k: v[-1] for k, v in history.items() if v and "/" in k}    # latest logged value per term
    start, t0 = step, time.perf_counter()
    bar = tqdm(total=cfg.total_iters, initial=step, desc="StarGAN v1", disable=not progress, dynamic_ncols=True)
    end = cfg.total_iters if stop_after is None else min(cfg.total_iters, stop_after)
    for step in range(start, end):
        it = step + 1
        # ------------------------------------------------------------------ batch
        d, x, y = _next_batch(cfg, loader)
        y_trg = y[torch.randperm(y.size(0))]                                   # random target labels c
        batch = {"x_real": x.to(device), "y_org": y.to(device), "y_trg": y_trg.to(device), "dataset": d,
                 "c_org": generator_label(cfg, y, d).to(device), "c_trg": generator_label(cfg, y_trg, d).to(device)}
        set_lr(optims, base_lr, linear_decay(step, cfg.total_iters, cfg.total_iters - cfg.decay_iters))
        # ------------------------------------------------------------------ D update (Eq. 5)
        d_loss, logs = compute_d_loss(nets, cfg, batch)
        check_finite(it, logs)
        optims["D"].zero_grad(set_to_none=True)
        d_loss.backward()
        optims["D"].step()
        # ------------------------------------------------------------------ G update (Eq. 6)
        if it % cfg.n_critic == 0:
            g_loss, g_logs = compute_g_loss(nets, cfg, batch)
            check_finite(it, g_logs)
            optims["G"].zero_grad(set_to_none=True)
            g_loss.backward()
            optims["G"].step()
            logs.update(g_logs)
        # ------------------------------------------------------------------ bookkeeping
        for k, v in logs.items():
            window[k].append(v)
        # a row of the history once every term has a value (G's first update is at iteration n_critic)
        has_g = any(k.startswith("G/") for k in (*window, *last))
        if (it % cfg.log_every == 0 or it == cfg.total_iters) and has_g:
            history["step"].append(it)
            history["lr_G"].append(optims["G"].param_groups[0]["lr"])
            for k in sorted(set(window) | set(last)):
                if window.get(k):
                    last[k] = sum(window[k]) / len(window[k])
                history[k].append(last[k])
            window.clear()
            bar.set_postfix({k: f"{last[k]:.3g}" for k in ("D/adv", "D/cls_r", "G/cls_f", "G/rec") if k in last})
        if cfg.sample_every and it % cfg.sample_every == 0:
            grid, _ = translation_grid(nets["G"], cfg, x_fixed, y_fixed, label_names)
            save_grid(grid, out_dir / "samples" / f"step_{it:06d}.png")
        if it % cfg.ckpt_every == 0 or it == end:
            checkpoint(it)
        bar.update(1)
    bar.close()
    done = max(end, start)
    n_run = done - start
    return TrainResult(nets=nets, history=dict(history), step=done, out_dir=out_dir, checkpoint=ckpt,
                       seconds_per_iter=(time.perf_counter() - t0) / n_run if n_run else float("nan"),
                       label_names=label_names)


def load_trained(path: str | Path, device: str = "cpu") -> tuple[StarGANv1Config, dict[str, nn.Module], dict]:
    """Rebuild the config and networks of a course StarGAN v1 checkpoint (for sampling / evaluation)."""
    from stargan_lib.train.common import load_state_dict_checked
    from stargan_lib.utils import safe_torch_load

    state = safe_torch_load(path)
    if not isinstance(state, dict) or state.get("config_class") != StarGANv1Config.__name__:
        from stargan_lib.errors import CheckpointError
        raise CheckpointError(f"{path} is not a StarGAN v1 training checkpoint (config class "
                              f"{state.get('config_class') if isinstance(state, dict) else None!r})")
    cfg = StarGANv1Config(**state["config"])
    nets = build_nets(cfg)
    for name, net in nets.items():
        load_state_dict_checked(net, state["nets"].get(name), f"{path}[{name}]")
        net.to(resolve_device(device)).eval()
    return cfg, nets, state


# ============================================================================ evaluation with the oracles
# The columns of the v1 paper's Fig. 4: single-attribute transfers, then combinations.
# "Hair" means "another hair colour" (see `edit_attributes`); Male and Young are flipped.
FIG4_TASKS: dict[str, tuple[str, ...]] = {
    "Black": ("Black_Hair",), "Blond": ("Blond_Hair",), "Brown": ("Brown_Hair",),
    "Gender": ("Male",), "Aged": ("Young",),
    "H+G": ("Hair", "Male"), "H+A": ("Hair", "Young"), "G+A": ("Male", "Young"), "H+G+A": ("Hair", "Male", "Young"),
}
SINGLE_TASKS = ("Black", "Blond", "Brown", "Gender", "Aged")


def edit_attributes(y: torch.Tensor, label_names: Sequence[str], changes: Sequence[str]) -> torch.Tensor:
    """Target attribute vectors (B, k) for binary labels `y` (B, k): the edits of Fig. 4.

    A hair-colour name sets that hair colour (and clears the other hair colours); "Hair" moves each
    image to the next hair colour (black -> blond -> brown -> black; grey/red hair -> black); any
    other attribute name is flipped (Male: change gender, Young: age, or rejuvenate).
    Introduced in `notebooks/02_stargan_v1.ipynb`.
    """
    names = list(label_names)
    if y.dim() != 2 or y.size(1) != len(names):
        raise ConfigError(f"edit_attributes needs binary labels of shape (B, {len(names)}), got {tuple(y.shape)}")
    hair = [names.index(n) for n in HAIR_ATTRS if n in names]
    t = y.clone().float()
    for change in changes:
        if change == "Hair":
            if len(hair) < 2:
                raise ConfigError(f"'Hair' needs at least two hair-colour labels among {names}")
            now = y[:, hair]                                               # (B, n_hair)
            nxt = torch.where(now.sum(1) > 0, (now.argmax(1) + 1) % len(hair), torch.zeros_like(now[:, 0]).long())
            t[:, hair] = 0
            t[torch.arange(len(t)), torch.tensor(hair)[nxt]] = 1
        elif change in names and names.index(change) in hair:
            t[:, hair] = 0
            t[:, names.index(change)] = 1
        elif change in names:
            i = names.index(change)
            t[:, i] = 1 - t[:, i]
        else:
            raise ConfigError(f"unknown attribute {change!r}; choose from {names} or 'Hair'")
    return t


@torch.no_grad()
def translate(G: nn.Module, x: torch.Tensor, c: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """G(x, c) in evaluation mode, in batches; returns CPU images in [-1, 1] of x's shape.

    x: (N, 3, H, W) in [-1, 1]; c: (N, n_c) labels as G takes them (see `generator_label`).
    """
    if len(x) != len(c):
        raise ConfigError(f"translate got {len(x)} images but {len(c)} labels; give one label per image")
    was_training = G.training
    G.eval()
    device = next(G.parameters()).device
    out = [G(x[i:i + batch_size].to(device), c[i:i + batch_size].to(device)).cpu()
           for i in range(0, len(x), batch_size)]
    G.train(was_training)
    return torch.cat(out) if out else x[:0].clone()


@torch.no_grad()
def evaluate_attribute_transfer(G: nn.Module, cfg: StarGANv1Config, imageset: ImageSet, oracle: Any,
                                tasks: dict[str, Sequence[str]] | None = None, dataset: int = 0,
                                batch_size: int = 256, seed: int = 0) -> dict[str, dict[str, float]]:
    """Score attribute transfer on held-out binary-labelled images with the dataset's oracle.

    For each task (default: the Fig. 4 columns, `FIG4_TASKS`) every image whose target differs
    from its own labels is translated; the oracle then reads the result:
      target_accuracy  fraction of images whose *changed* attributes all read as the target
                       (1 - the v1 paper's "classification error", Table 3)
      kept_accuracy    fraction of (image, unchanged attribute) pairs that still read as before
      content_error    oracle-read content factors of output vs input (0 = kept; see
                       `stargan_lib.metrics.oracle_metrics.content_preservation`), content_corr,
                       and content_error_shuffled (the "nothing kept" level)
    A "real" row gives the oracle's accuracy on the untouched inputs (the "Real images" row of
    Table 3). Introduced in `notebooks/02_stargan_v1.ipynb`; `benchmarks/bench_v1_quality.py`
    runs it at the course preset.
    """
    if imageset.label_kind != "binary":
        raise ConfigError(f"evaluate_attribute_transfer needs a binary-attribute set, got {imageset.name!r} "
                          f"({imageset.label_kind}); use evaluate_domain_transfer for one-hot labels")
    tasks = FIG4_TASKS if tasks is None else tasks
    x, y = imageset.tensors()                                               # (N, 3, H, W), (N, k)
    source = oracle_reading(oracle, x)
    results: dict[str, dict[str, float]] = {
        "real": {"target_accuracy": float(((source[0] > 0) == (y > 0.5)).float().mean()), "n": len(y)}}
    for name, changes in tasks.items():
        y_trg = edit_attributes(y, imageset.label_names, changes)
        rows = (y_trg != y).any(1)                                           # images this task changes
        if not rows.any():
            continue
        x_fake = translate(G, x[rows], generator_label(cfg, y_trg[rows], dataset), batch_size)
        results[name] = score_edit(oracle, source, x_fake, y[rows], y_trg[rows], rows=rows, seed=seed)
    return results


def with_mask(cfg: StarGANv1Config, c: torch.Tensor, mask_dataset: int) -> torch.Tensor:
    """A copy of unified labels c̃ = [c1, c2, m] whose mask m says `mask_dataset` instead.

    The wrong-mask experiment of the v1 paper's Fig. 7: ask for an expression (c2 set) but tell G
    that the faces labels c1 (all zero here) are the known ones. Introduced in
    `notebooks/03_mask_vector_joint_training.ipynb`.
    """
    if not cfg.joint:
        raise ConfigError("with_mask needs a joint (two-dataset) config: only the unified label c̃ has a mask")
    if not 0 <= mask_dataset < len(cfg.datasets):
        raise ConfigError(f"mask_dataset={mask_dataset} out of range for datasets {cfg.datasets}")
    if c.dim() != 2 or c.size(1) != cfg.g_label_dim:
        raise ConfigError(f"with_mask expects unified labels of shape (B, {cfg.g_label_dim}), got {tuple(c.shape)}")
    out = c.clone()
    n = len(cfg.datasets)
    out[:, -n:] = 0
    out[:, out.size(1) - n + mask_dataset] = 1
    return out


@torch.no_grad()
def evaluate_domain_transfer(G: nn.Module, cfg: StarGANv1Config, x: torch.Tensor, oracle: Any, dataset: int = 0,
                             content_oracle: Any | None = None, mask_dataset: int | None = None,
                             batch_size: int = 256, seed: int = 0) -> dict[str, Any]:
    """Translate every image of x (N, 3, H, W) to every class of one-hot dataset `dataset` and score it.

    `oracle` reads the class (the expressions oracle for expression synthesis); `content_oracle`
    (default `oracle`) reads the content factors and, for a binary oracle, the attributes of the
    outputs. `mask_dataset` replaces the mask vector (see `with_mask`, Fig. 7).
    Returns {"accuracy": overall target accuracy, "per_class": {class: accuracy},
    "content_error", "content_corr", "content_error_shuffled", "attributes": {attribute: fraction of
    outputs read as having it} (binary content oracle only), "n": images per class}.
    Introduced in `notebooks/03_mask_vector_joint_training.ipynb` (JNT vs SNG, the wrong mask).
    """
    from stargan_lib.metrics.oracle_metrics import content_preservation

    if cfg.label_kinds[dataset] != "domain":
        raise ConfigError(f"dataset {cfg.datasets[dataset]!r} has binary labels; use evaluate_attribute_transfer")
    content_oracle = oracle if content_oracle is None else content_oracle
    n_cls = cfg.label_dims[dataset]
    names = list(getattr(oracle, "label_names", [str(k) for k in range(n_cls)]))
    if len(names) != n_cls:
        raise ConfigError(f"the oracle reads {len(names)} labels but dataset {cfg.datasets[dataset]!r} has {n_cls}; "
                          f"use the oracle of that dataset (get_oracle({cfg.datasets[dataset]!r}))")
    _, f_src = oracle_reading(content_oracle, x)
    hits, per_class, fakes_factors, attr_rates = [], {}, [], []
    for k in range(n_cls):
        c = generator_label(cfg, torch.full((len(x),), k, dtype=torch.long), dataset)
        if mask_dataset is not None:
            c = with_mask(cfg, c, mask_dataset)
        x_fake = translate(G, x, c, batch_size)
        logits, f_fake = oracle_reading(oracle, x_fake)
        ok = logits.argmax(1) == k
        hits.append(ok)
        per_class[names[k]] = float(ok.float().mean())
        c_logits = logits
        if content_oracle is not oracle:
            c_logits, f_fake = oracle_reading(content_oracle, x_fake)
        fakes_factors.append(f_fake)
        if getattr(content_oracle, "label_kind", None) == "binary":
            attr_rates.append((c_logits > 0).float().mean(0))
    f_src_all = {key: v.repeat(n_cls, 1) for key, v in f_src.items()}
    f_fake_all = {key: torch.cat([f[key] for f in fakes_factors]) for key in f_src}
    cp = content_preservation(content_oracle, None, None, seed=seed, factors_src=f_src_all, factors_fake=f_fake_all)
    out: dict[str, Any] = {"accuracy": float(torch.cat(hits).float().mean()), "per_class": per_class,
                           "content_error": cp["error"], "content_corr": cp["corr"],
                           "content_error_shuffled": cp["error_shuffled"], "n": len(x)}
    if attr_rates:
        rates = torch.stack(attr_rates).mean(0)
        out["attributes"] = dict(zip(content_oracle.label_names, map(float, rates)))
    return out


# ============================================================================ expressions on faces-style images
# The face-part factors that make an expression (see stargan_lib.data.synthetic); the rest of a face
# (identity, hair, framing, background) is left as it is.
EXPRESSION_FACTORS = ("brow_raise", "brow_tilt", "eye_open", "mouth_curve", "mouth_open", "mouth_width",
                      "mouth_asym", "teeth", "nose_wrinkle")


def faces_with_expressions(faces: ImageSet, expressions: ImageSet) -> ImageSet:
    """Faces-dataset images painted again with the labelled expressions of an expressions set.

    Image i keeps everything of face i (person, hair, framing, background) and takes the
    expression factors of expression image i; its label is that image's expression. These are the
    renderer's ground truth for "an expression on a faces-dataset image" (the v1 paper's Fig. 6
    task), used to train and check an expression oracle for that capture style.
    Introduced in `notebooks/03_mask_vector_joint_training.ipynb`.
    """
    from stargan_lib.data.synthetic import paint_factors

    if faces.name != "faces" or expressions.name != "expressions":
        raise ConfigError(f"faces_with_expressions needs a faces set and an expressions set, got {faces.name!r} "
                          f"and {expressions.name!r}")
    missing = [k for k in EXPRESSION_FACTORS if k not in faces.factors or k not in expressions.factors]
    if missing:
        raise ConfigError(f"the image sets lack the expression factors {missing}; use sets made by make_dataset")
    n = min(len(faces), len(expressions))
    factors = {k: np.array(v[:n]) for k, v in faces.factors.items()}
    for k in EXPRESSION_FACTORS:
        factors[k] = np.array(expressions.factors[k][:n])
    images = paint_factors("faces", factors, faces.image_size)
    return ImageSet("expressions", faces.split, images, np.array(expressions.labels[:n]), list(expressions.label_names),
                    "domain", factors, {"painted": "faces_with_expressions", "faces": dict(faces.params),
                                        "expressions": dict(expressions.params)})


def _concat_sets(a: ImageSet, b: ImageSet, factor_names: Sequence[str]) -> ImageSet:
    return ImageSet(a.name, a.split, np.concatenate([a.images, b.images]), np.concatenate([a.labels, b.labels]),
                    list(a.label_names), a.label_kind,
                    {k: np.concatenate([np.asarray(a.factors[k]), np.asarray(b.factors[k])]) for k in factor_names})


def expression_oracle_both_styles(preset: Any = None, seed: int = 0, progress: bool = False,
                                  device: str = "auto", retrain: bool = False) -> Any:
    """An expressions oracle that reads expressions in both capture styles, trained once and cached.

    The plain expressions oracle (`get_oracle("expressions")`) only ever saw studio photos and reads
    expressions on faces-dataset images poorly (about 24% at the course preset, chance 12.5%). This
    one trains on the preset's n_train images, half studio photos from the expressions set, half
    faces-dataset images painted with expressions (`faces_with_expressions`), for the preset's oracle
    epochs. `oracle.metrics` holds its held-out accuracy on each style ("studio", "faces").
    Introduced in `notebooks/03_mask_vector_joint_training.ipynb`.
    """
    from stargan_lib.data.oracle import ORACLE_VERSION, cached_oracle, evaluate_oracle, train_oracle
    from stargan_lib.data.synthetic import RENDERER_VERSION, content_factors, make_dataset
    from stargan_lib.presets import Preset, get_preset
    from stargan_lib.utils import cache_dir, params_key

    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    key = params_key({"kind": "expressions_both_styles", "image_size": preset.image_size, "n_train": preset.n_train,
                      "n_test": preset.n_test, "epochs": preset.oracle_epochs, "seed": seed,
                      "oracle_version": ORACLE_VERSION, "renderer_version": RENDERER_VERSION})
    path = cache_dir("oracle") / f"expressions_both_styles_{preset.image_size}px_n{preset.n_train}_{key}.pt"

    def build() -> Any:
        sets = {}
        for split in ("train", "test"):
            expr = make_dataset("expressions", split, preset=preset, seed=seed)
            faces = make_dataset("faces", split, preset=preset, seed=seed)
            half = len(expr) // 2
            painted = faces_with_expressions(faces.subset(slice(half, len(faces))), expr.subset(slice(half, len(expr))))
            sets[split] = (expr.subset(slice(0, half)), painted)          # (studio, painted)
        oracle = train_oracle(_concat_sets(*sets["train"], content_factors("expressions")), preset.oracle_epochs,
                              seed=seed, device=device, progress=progress)
        studio_test, painted_test = sets["test"]
        oracle.meta["metrics"] = {"studio": evaluate_oracle(oracle, studio_test),
                                  "faces": evaluate_oracle(oracle, painted_test), "preset": preset.name}
        return oracle

    return cached_oracle(path, build, device, retrain)


def joint_and_single_configs(preset: Any = None, jnt_iters: int | None = None,
                             **overrides: Any) -> tuple[StarGANv1Config, StarGANv1Config]:
    """The StarGAN-JNT and StarGAN-SNG configs of the Fig. 6 comparison (notebook 03, bench_v1_quality).

    JNT (faces + expressions, mask vector) trains `jnt_iters` iterations (None: half the preset's,
    so that two runs fit notebook 03's budget), SNG (expressions only) half of JNT's, at least
    n_critic so that G is updated: JNT alternates faces and expressions batches, so both see as many
    expression batches. Both keep the preset's fraction of decaying iterations.
    Introduced in `notebooks/03_mask_vector_joint_training.ipynb`.
    """
    full = config_for(preset, **overrides)
    iters = full.total_iters // 2 if jnt_iters is None else int(jnt_iters)
    decay = full.decay_iters * iters // full.total_iters
    jnt = config_for(preset, **{**overrides, "datasets": ("faces", "expressions"), "total_iters": iters,
                                "decay_iters": decay})
    sng = config_for(preset, **{**overrides, "datasets": ("expressions",), "c_dim": 8,
                                "total_iters": max(iters // 2, full.n_critic), "decay_iters": decay // 2})
    return jnt, sng
