"""StarGAN v1 experiments of notebooks 02 and 03: attribute edits and expression synthesis measured
with the oracles, the both-styles expression oracle, and the JNT / SNG configurations.

Introduced in `notebooks/02_stargan_v1.ipynb` (`evaluate_attribute_transfer`, the Fig. 4 tasks) and
`notebooks/03_mask_vector_joint_training.ipynb` (`evaluate_domain_transfer`, `with_mask`,
`faces_with_expressions`, `expression_oracle_both_styles`, `joint_and_single_configs`);
`benchmarks/bench_v1_quality.py` runs them at the course preset. Training is
`stargan_lib.train.stargan_v1.train`; the pure oracle scores are in `stargan_lib.metrics.oracle_metrics`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn

from stargan_lib.data.base import HAIR_ATTRS, ImageSet
from stargan_lib.errors import ConfigError
from stargan_lib.metrics.oracle_metrics import content_preservation, predict, score_edit
from stargan_lib.models.stargan_v1 import StarGANv1Config, config_for, generator_label, translate

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
    source = predict(oracle, x)
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
    if cfg.label_kinds[dataset] != "domain":
        raise ConfigError(f"dataset {cfg.datasets[dataset]!r} has binary labels; use evaluate_attribute_transfer")
    content_oracle = oracle if content_oracle is None else content_oracle
    n_cls = cfg.label_dims[dataset]
    names = list(getattr(oracle, "label_names", [str(k) for k in range(n_cls)]))
    if len(names) != n_cls:
        raise ConfigError(f"the oracle reads {len(names)} labels but dataset {cfg.datasets[dataset]!r} has {n_cls}; "
                          f"use the oracle of that dataset (get_oracle({cfg.datasets[dataset]!r}))")
    _, f_src = predict(content_oracle, x)
    hits, per_class, fakes_factors, attr_rates = [], {}, [], []
    for k in range(n_cls):
        c = generator_label(cfg, torch.full((len(x),), k, dtype=torch.long), dataset)
        if mask_dataset is not None:
            c = with_mask(cfg, c, mask_dataset)
        x_fake = translate(G, x, c, batch_size)
        logits, f_fake = predict(oracle, x_fake)
        ok = logits.argmax(1) == k
        hits.append(ok)
        per_class[names[k]] = float(ok.float().mean())
        c_logits = logits
        if content_oracle is not oracle:
            c_logits, f_fake = predict(content_oracle, x_fake)
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
