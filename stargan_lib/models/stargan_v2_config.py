"""StarGAN v2's configuration, beside its networks (`models.stargan_v2`): `StarGANv2Config`, whose
defaults are the paper's (Appendix B/E, configuration F on AFHQ), how a configuration is built
(`config_for` / `make_config`), what it derives (sizes, λ_ds, the guides) and its validation.

Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` (configurations A–C) and
`notebooks/05_stargan_v2_D_to_F.ipynb` (D–F); `06_ablation_table` runs all six.

Defaults: Adam β = (0, 0.99), learning rate 1e-4 (1e-6 for the mapping network F), weight decay
1e-4, λ_sty = 1, λ_ds decayed linearly to 0 over the run (2 for AFHQ, 1 for CelebA-HQ), λ_cyc = 1,
R1 with γ = 1, batch 8, 100k iterations, 256 px, latent 16, style 64, EMA β = 0.999; the
architecture of Appendix E (Tables 5–7). The run and optimiser fields every model's config shares
(β1, β2, total_iters, seed, device, log/sample/checkpoint intervals, batch_size) are written once, in
`models.common.run_settings`. The per-dataset values and the Table 1 overrides A–F are data, in
`stargan_lib.configs_v2` (`DATASETS`, `ABLATION`, `DESCRIPTIONS`; its docstring has the table).

`make_config(letter, preset, dataset, **overrides)` applies, in order: defaults -> dataset ->
preset -> ablation letter -> explicit overrides. `config_for(preset, config=..., dataset=...,
**overrides)` is the same with the signature of CycleGAN's and StarGAN v1's `config_for`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from stargan_lib.configs_v2 import (ADVERSARIAL, AUGMENTS, CONDITIONING, DATASET_ALIASES, DATASETS, DISCRIMINATORS,
                                    FACE_DATASETS, LETTERS, STYLES, WING_DEFAULT, ablation_overrides,
                                    dataset_overrides)
from stargan_lib.errors import ConfigError
from stargan_lib.models.common import run_settings
from stargan_lib.schedules import linear_decay
from stargan_lib.utils import MAX_IMAGE_SIZE, check_fields, check_run_lengths, field_range


def _f(default: Any, help: str, choices: tuple | None = None, kind: str | None = None,
       maximum: float | None = None) -> Any:
    """A config field: its help text, allowed `choices`, and for numbers the range `kind` (`utils.field_range`)."""
    meta: dict[str, Any] = {"help": help}
    if choices is not None:
        meta["choices"] = list(choices)
    if kind is not None:
        meta.update(field_range(kind, maximum))
    return field(default=default, metadata=meta)



@dataclass(frozen=True)
class StarGANv2Config(run_settings(total_iters=100_000, batch_size=8, seed=777, log_every=100,
                                           sample_every=5000, beta1=0.0, beta2=0.99)):
    """Everything a StarGAN v2 run depends on; the defaults are the paper's (configuration F)."""

    # --- which Table 1 configuration (set through ABLATION; the switches below follow it)
    config: str = _f("F", "Table 1 configuration letter", LETTERS)
    adversarial: str = _f("nonsat", "adversarial loss: WGAN-GP (A, B) or non-saturating + R1 (C-F)",
                          ADVERSARIAL)
    discriminator: str = _f("multitask", "ACGAN (real/fake + classifier, A) or multi-task (one output "
                                         "per domain, B-F)", DISCRIMINATORS)
    conditioning: str = _f("adain", "how G receives the target: depth-wise concatenation (A, B) or "
                                    "AdaIN (C-F)", CONDITIONING)
    style: str = _f("style_code", "what G's code is made of: domain label (A-C), embedding + latent z "
                                  "(D), style code from F / E (E, F)", STYLES)

    # --- data: afhq / celeba_hq (real data with --data-dir, else their synthetic stand-ins
    #     animals / faces_gender)
    dataset: str = _f("afhq", "afhq (synthetic stand-in: animals) or celeba_hq (faces_gender)",
                      ("afhq", "celeba_hq"))

    # --- architecture (Appendix E); 0 means "derived from image_size as in the official code"
    image_size: int = _f(256, "image side in pixels (a power of two)", kind="count", maximum=MAX_IMAGE_SIZE)
    num_domains: int = _f(3, "number of domains K (AFHQ: 3, CelebA-HQ: 2)", kind="count")
    latent_dim: int = _f(16, "latent code z dimension", kind="count")
    style_dim: int = _f(64, "style code s dimension", kind="count")
    hidden_dim: int = _f(512, "mapping network hidden width", kind="count")
    mapping_shared: int = _f(4, "shared linear layers of the mapping network", kind="count0")
    mapping_unshared: int = _f(4, "per-domain linear layers of the mapping network", kind="count0")
    base_dim: int = _f(0, "channels after the first conv (0: 2**14 // image_size, i.e. 64 at 256 px)", kind="count0")
    max_conv_dim: int = _f(512, "channel cap of G, E and D", kind="count")
    g_downsample: int = _f(0, "G's down/up-sampling blocks (0: log2(size) - 4, plus 1 with w_hpf)", kind="count0")
    g_bottleneck: int = _f(2, "G's intermediate blocks in the encoder and in the decoder", kind="count0")
    d_downsample: int = _f(0, "down-sampling blocks of D and E (0: log2(size) - 2, i.e. to 4x4)", kind="count0")
    w_hpf: float = _f(0.0, "weight of the high-pass face-heatmap skip (CelebA-HQ official: 1; 0 = off); "
                           "needs face images and the face-alignment network's weights (wing_path)", kind="nonneg")
    wing_path: str = _f(WING_DEFAULT, "the face-alignment network's weights wing.ckpt, used when w_hpf > 0 "
                                      "(official repository: `bash download.sh wing`); 'random': seeded random "
                                      "weights, for tests only")

    # --- objective (Eq. 1-5, Appendix B)
    lambda_sty: float = _f(1.0, "λ_sty, style reconstruction (Eq. 2)", kind="nonneg")
    lambda_ds: float = _f(2.0, "initial λ_ds, diversity sensitive loss (Eq. 3); AFHQ 2, CelebA-HQ 1", kind="nonneg")
    ds_decay_iters: int = _f(100_000, "λ_ds decays linearly to 0 over this many iterations", kind="count")
    ds_both_outputs: bool = _f(False, "L_ds as Eq. (3) reads it, with the gradient through both outputs "
                                      "(Deviation from the official code, which detaches the second; "
                                      "notebook 05); off: the official computation")
    lambda_cyc: float = _f(1.0, "λ_cyc, cycle consistency (Eq. 4)", kind="nonneg")
    lambda_lat: float = _f(1.0, "λ_lat, latent reconstruction of configuration D", kind="nonneg")
    lambda_cls: float = _f(1.0, "λ_cls, domain classification of the ACGAN discriminator (A)", kind="nonneg")
    lambda_gp: float = _f(10.0, "λ_gp, WGAN-GP gradient penalty (A, B)", kind="nonneg")
    r1_gamma: float = _f(1.0, "γ of the R1 regulariser (C-F)", kind="nonneg")

    # --- data augmentation (official code; the paper does not describe it)
    augment: str = _f("official", "training augmentation: 'official' (with probability 0.5 a random resized "
                                  "crop, scale 0.8-1.0, ratio 0.9-1.1, then a horizontal flip, as the official "
                                  "loader) or 'none'", AUGMENTS)

    # --- optimisation (Appendix B; batch_size, total_iters, β1, β2 with the run fields: run_settings)
    lr: float = _f(1e-4, "learning rate of G, E and D", kind="positive")
    f_lr: float = _f(1e-6, "learning rate of the mapping network F", kind="positive")
    weight_decay: float = _f(1e-4, "Adam weight decay", kind="nonneg")
    ema_beta: float = _f(0.999, "β of the exponential moving average of G, F, E", kind="beta")

    # --- run (seed, device and the log / sample / checkpoint intervals: run_settings)
    amp_bf16: bool = _f(False, "bf16 autocast for the forward passes (memory/speed, CUDA)")
    channels_last: bool = _f(False, "channels_last memory format (CUDA)")
    grad_checkpoint: bool = _f(False, "gradient checkpointing of the residual blocks (memory)")
    out_dir: str = _f("", "run folder for checkpoints and samples ('' = keep in memory only)")




def _replace(cfg: StarGANv2Config, overrides: Mapping[str, Any], where: str) -> StarGANv2Config:
    names = {f.name for f in dataclasses.fields(cfg)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"{where}: StarGANv2Config has no field(s) {unknown}; valid fields: {sorted(names)}")
    return dataclasses.replace(cfg, **overrides)



def make_config(letter: str = "F", preset: Any = None, dataset: str | None = None,
                **overrides: Any) -> StarGANv2Config:
    """The configuration `letter` of Table 1 at `preset` (a name, a Preset or None = paper defaults).

    Order: dataclass defaults -> `DATASETS[dataset]` -> preset's "stargan_v2" overrides ->
    `ABLATION[letter]` -> `overrides`. The result is validated (see `validate`).
    """
    abl = ablation_overrides(letter)
    cfg = _replace(StarGANv2Config(), dataset_overrides(dataset), f"dataset {dataset!r}")
    if preset is not None:
        from stargan_lib.presets import Preset, get_preset
        p = preset if isinstance(preset, Preset) else get_preset(preset)
        cfg = _replace(cfg, p.overrides("stargan_v2"), f"preset {p.name!r}")
    cfg = _replace(cfg, abl, f"configuration {letter!r}")
    cfg = _replace(cfg, overrides, "overrides")
    return validate(cfg)


def config_for(preset: Any = None, **overrides: Any) -> StarGANv2Config:
    """The config of `preset` (a name or Preset; default $STARGAN_PRESET or "course"), as the other models'
    `config_for`: `config` (the Table 1 letter, default F) and `dataset` (afhq / celeba_hq or their stand-ins)
    among `overrides` pick the ablation and dataset overrides; the other overrides set fields (`make_config`)."""
    from stargan_lib.presets import get_preset

    overrides = dict(overrides)
    letter = overrides.pop("config", "F")
    dataset = overrides.pop("dataset", None)
    return make_config(letter, get_preset(preset), dataset, **overrides)


# ----------------------------------------------------------------------------- derived sizes
def base_dim(cfg: StarGANv2Config) -> int:
    """Channels after the first convolution (official: 2**14 // image_size = 64 at 256 px)."""
    return cfg.base_dim or max(1, 2 ** 14 // cfg.image_size)


def g_downsample(cfg: StarGANv2Config) -> int:
    """G's down-sampling blocks: log2(size) - 4 (16x16 bottleneck), one more with the high-pass skip."""
    if cfg.g_downsample:
        return cfg.g_downsample
    return int(math.log2(cfg.image_size)) - 4 + (1 if cfg.w_hpf > 0 else 0)


def d_downsample(cfg: StarGANv2Config) -> int:
    """Down-sampling blocks of D and E: log2(size) - 2, leaving a 4x4 map for the last conv."""
    return cfg.d_downsample or int(math.log2(cfg.image_size)) - 2


def code_dim(cfg: StarGANv2Config) -> int:
    """Width of the code G is conditioned on: K (one-hot, concat), style_dim, or style_dim + latent_dim (D)."""
    if cfg.conditioning == "concat":
        return cfg.num_domains
    if cfg.style == "latent":
        return cfg.style_dim + cfg.latent_dim
    return cfg.style_dim


def lambda_ds(cfg: StarGANv2Config, step: int) -> float:
    """λ_ds at iteration `step` (0-based): λ_ds·(1 − step / ds_decay_iters), never below 0 (Appendix B).

    A function of the step alone, so a resumed run continues the schedule where it stopped.
    """
    if cfg.lambda_ds == 0:
        return 0.0
    return cfg.lambda_ds * linear_decay(step, cfg.ds_decay_iters, 0)


def guides(cfg: StarGANv2Config) -> tuple[str, ...]:
    """Which syntheses are trained each iteration: ("det",) for A–C, ("latent",) for D,
    ("latent", "reference") for E–F (the paper trains with reference images as well, Sec. 2.2)."""
    if cfg.style == "label":
        return ("det",)
    if cfg.style == "latent":
        return ("latent",)
    return ("latent", "reference")


def validate(cfg: StarGANv2Config) -> StarGANv2Config:
    """Check the fields that the networks and losses rely on; errors name the field and the fix."""
    def bad(msg: str) -> None:
        raise ConfigError(msg)

    check_fields(cfg)                   # every number finite and in its field's range (NaN, negative rates ...)
    if cfg.dataset not in DATASETS:
        bad(f"dataset={cfg.dataset!r} is not one of {sorted(DATASETS)} (synthetic stand-ins: "
            f"{sorted(DATASET_ALIASES)} map to them)")
    if cfg.augment not in AUGMENTS:
        bad(f"augment={cfg.augment!r} is not one of {AUGMENTS}")
    if cfg.w_hpf < 0:
        bad(f"w_hpf={cfg.w_hpf} must be >= 0 (0 turns the high-pass skip off; CelebA-HQ official: 1)")
    if cfg.w_hpf > 0 and cfg.dataset not in FACE_DATASETS:
        bad(f"w_hpf={cfg.w_hpf} with dataset={cfg.dataset!r}: the high-pass skip is masked by face landmarks "
            f"(the face-alignment network), which exist only on face images ({', '.join(FACE_DATASETS)}). "
            "Set w_hpf=0 (--w-hpf 0) for this dataset, or train on celeba_hq")
    if cfg.config not in LETTERS:
        bad(f"unknown StarGAN v2 configuration {cfg.config!r}; choose one of {', '.join(LETTERS)}")
    for name, allowed in (("adversarial", ADVERSARIAL), ("discriminator", DISCRIMINATORS),
                          ("conditioning", CONDITIONING), ("style", STYLES)):
        if getattr(cfg, name) not in allowed:
            bad(f"{name}={getattr(cfg, name)!r} is not one of {allowed}")
    if cfg.conditioning == "concat" and cfg.style != "label":
        bad(f"conditioning='concat' takes only the domain label (style='label'), got style={cfg.style!r}; "
            "use conditioning='adain' for latent or style codes")
    if cfg.image_size < 8 or cfg.image_size & (cfg.image_size - 1):
        bad(f"image_size={cfg.image_size} must be a power of two >= 8 (e.g. 16, 32, 256)")
    if cfg.num_domains < 2:
        bad(f"num_domains={cfg.num_domains}: translation needs at least 2 domains")
    n_g, n_d = g_downsample(cfg), d_downsample(cfg)
    if not 1 <= n_g or cfg.image_size >> n_g < 1:
        bad(f"g_downsample={n_g} does not fit image_size={cfg.image_size}; lower it")
    if not 1 <= n_d or cfg.image_size >> n_d < 1:
        bad(f"d_downsample={n_d} does not fit image_size={cfg.image_size}; lower it")
    if cfg.batch_size < 1 or cfg.ds_decay_iters < 1:
        bad(f"batch_size={cfg.batch_size} and ds_decay_iters={cfg.ds_decay_iters} must be >= 1")
    check_run_lengths(cfg)
    if not 0.0 <= cfg.ema_beta < 1.0:
        bad(f"ema_beta={cfg.ema_beta} must be in [0, 1)")
    return cfg


__all__ = ["StarGANv2Config", "base_dim", "code_dim", "config_for", "d_downsample", "g_downsample", "guides",
           "lambda_ds", "make_config", "validate"]
