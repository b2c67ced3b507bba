"""The three presets of the course, in one place: smoke (CI), course (a 2-core laptop), paper (GPU).

Every notebook's papermill `parameters` cell reads `PRESET = default_preset_name()`, which is
`$STARGAN_PRESET` or "course", so nbval (smoke) and papermill drive the same notebook.
Introduced in `notebooks/00_setup_and_data.ipynb`.

A preset holds the data-level settings shared by every model, plus, per model, a small dict of
overrides applied on top of that model's dataclass config defaults (which are the paper's values).
Only what differs from the paper is written down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from stargan_lib.errors import ConfigError

PRESET_ENV = "STARGAN_PRESET"
DEFAULT_PRESET = "course"


@dataclass(frozen=True)
class AblationSizes:
    """How big the Table 1 ablation is at one preset (`stargan ablation`, `notebooks/experiment.ipynb`,
    `notebooks/06_ablation_table.ipynb`): training length and StarGAN v2 evaluation sizes.

    Kept apart from the "stargan_v2" training overrides so that the ablation's evaluation budget can be
    sized without touching how notebooks 04-05 train. FID depends on the number of images (it is
    biased upwards when there are few): numbers are comparable only between runs with equal sizes.
    """

    total_iters: int = 0     # training iterations per configuration (0: the "stargan_v2" overrides' value)
    iters: Mapping[str, int] = field(default_factory=dict)   # per configuration ("A": 800, ...): overrides total_iters
    n_sources: int = 0       # test images per source domain (0: the preset's eval_sources)
    n_outputs: int = 10      # outputs per source: latent codes / references (paper: 10)
    n_real: int = 0          # training images per target domain for the real FID statistics (0: all)
    reference: bool = True   # also evaluate reference-guided synthesis (E, F); Table 1 is latent-guided
    reference_fid: bool = True   # with `reference`: also the reference-guided FID (Inception; most of the cost)
    lpips_size: int = 256    # LPIPS diversity on outputs upsampled to this size (metrics.lpips_metric, Deviation)


@dataclass(frozen=True)
class Preset:
    """Data and evaluation sizes of one preset, and per-model config overrides."""

    name: str
    image_size: int          # synthetic images are rendered at this size
    n_train: int             # synthetic training images per dataset
    n_test: int              # held-out synthetic images per dataset
    oracle_epochs: int       # epochs of the oracle classifier (metrics on synthetic data)
    eval_sources: int        # source images per domain in the StarGAN v2 evaluation protocol
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    ablation: AblationSizes = field(default_factory=AblationSizes)   # Table 1 ablation sizes
    # Training images of a synthetic dataset where the models train on fewer than n_train (the
    # oracles always use n_train): the papers' size ratios, e.g. RaFD several times smaller than CelebA.
    train_sizes: Mapping[str, int] = field(default_factory=dict)
    # The course runs (`stargan course-runs`, `experiments.course_runs`): iterations of each run at the
    # long schedule. The same configuration as the live run of its notebook, trained this long, with the
    # learning-rate and λ_ds decays stretched in proportion. Empty: this preset ships no course runs.
    course_runs: Mapping[str, int] = field(default_factory=dict)

    def train_size(self, dataset: str) -> int:
        """How many synthetic training images of `dataset` the models train on at this preset."""
        return int(self.train_sizes.get(dataset, self.n_train))

    def overrides(self, model: str) -> dict[str, Any]:
        """The config overrides this preset applies to `model` ("cyclegan", "stargan_v1", ...)."""
        return dict(self.models.get(model, {}))

    def model_config(self, cls: type, model: str, overrides: Mapping[str, Any]) -> Any:
        """`cls()` (the paper defaults) with this preset's image size, its `model` overrides, then
        `overrides`; unknown field names are refused (`utils.replace_checked`).

        Introduced in `notebooks/01_cyclegan_baseline.ipynb`; the models' `config_for` build on it.
        """
        from stargan_lib.utils import replace_checked

        return replace_checked(cls(), {"image_size": self.image_size, **self.overrides(model), **overrides})


def _frozen(d: dict[str, dict[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    return MappingProxyType({k: MappingProxyType(v) for k, v in d.items()})


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", image_size=16, n_train=96, n_test=48, oracle_epochs=2, eval_sources=2,
        models=_frozen({
            "cyclegan": {"ngf": 8, "ndf": 8, "n_blocks": 1, "n_layers_d": 2, "batch_size": 4, "pool_size": 8,
                         "total_iters": 6, "decay_iters": 3, "log_every": 1, "sample_every": 3, "ckpt_every": 6},
            "stargan_v1": {"g_conv_dim": 8, "d_conv_dim": 8, "g_repeat_num": 1, "d_repeat_num": 3, "batch_size": 8,
                           "total_iters": 10, "decay_iters": 5, "log_every": 1, "sample_every": 5, "ckpt_every": 10},
            "stargan_v2": {"image_size": 16, "base_dim": 8, "max_conv_dim": 16, "g_downsample": 2,
                           "d_downsample": 2, "latent_dim": 8, "style_dim": 16, "hidden_dim": 32,
                           "w_hpf": 0.0, "augment": "none", "ema_beta": 0.9, "batch_size": 4, "total_iters": 4,
                           "ds_decay_iters": 4, "log_every": 1, "sample_every": 0, "ckpt_every": 0},
        }),
        # Table 1 ablation in CI: 1 source per domain, 2 outputs (one LPIPS pair), 8 real images per domain.
        ablation=AblationSizes(total_iters=0, n_sources=1, n_outputs=2, n_real=8, reference=True,
                               reference_fid=False),
        # Tiny course runs, shipped too, so that CI exercises training, export, loading and the notebooks'
        # course-run cells end to end in seconds.
        course_runs=MappingProxyType({"cyclegan": 12, "stargan_v1": 20, "jnt": 20, "sng": 10, "table3_happy": 12,
                                      **{f"v2_{c}": 8 for c in "ABCDEF"}}),
    ),
    "course": Preset(
        name="course", image_size=32, n_train=6000, n_test=1000, oracle_epochs=6, eval_sources=20,
        models=_frozen({
            # Deviation (course, CycleGAN): 16 base channels and 3 residual blocks (paper: 64 and 9), batch 4
            # (paper: 1), lr 1e-3 (paper: 2e-4), 800 iterations with the last 400 decaying, so that the run fits
            # notebook 01's budget. The measured runs behind every course value: README.md, "Measured
            # course-preset runs".
            "cyclegan": {"ngf": 16, "ndf": 16, "n_blocks": 3, "n_layers_d": 3, "batch_size": 4, "lr": 1e-3,
                         "total_iters": 800, "decay_iters": 400, "log_every": 10, "sample_every": 200,
                         "ckpt_every": 200},
            # Deviation (course, StarGAN v1), chosen with benchmarks/bench_v1_quality.py (measured variants:
            # README.md, "Measured course-preset runs"):
            # - G with 16 base channels and 2 residual blocks (paper: 64, 6); D with 32 base channels and 4
            #   stride-2 layers, which gives at 32 px the same 2x2 PatchGAN map as the paper's 6 layers at
            #   128 px.
            # - 2,000 iterations (paper: 200,000) at batch 8 (paper: 16), lr 1e-3 (paper: 1e-4) and one D
            #   update per G update (paper: n_critic 5), the last 1,000 decaying linearly: notebook 02's budget.
            # - lambda_rec 30 (paper: 10): with 10 and so few iterations G hides its input in high-frequency
            #   patterns that the small critic does not reject (outputs look like noise, the round trip still
            #   works); 30 gives recognisable faces.
            # - lambda_id 10 (paper: no identity term): G(x, c') must return x. Without it G repaints every
            #   background (content error 0.80-0.87); with it backgrounds and framing stay (0.40-0.54) at a
            #   cost in target accuracy (single edits 71-92 % instead of 84-93 %). g_residual (G predicts a
            #   change of its input) kept the content better still but barely edited (README).
            "stargan_v1": {"g_conv_dim": 16, "d_conv_dim": 32, "g_repeat_num": 2, "d_repeat_num": 4, "batch_size": 8,
                           "n_critic": 1, "g_lr": 1e-3, "d_lr": 1e-3, "lambda_rec": 30.0, "lambda_id": 10.0,
                           "total_iters": 2000,
                           "decay_iters": 1000, "log_every": 10, "sample_every": 250, "ckpt_every": 250},
            # Deviation (course, StarGAN v2): Appendix E's networks with fewer channels (16 -> 64, 16x16
            # bottleneck as the official log2(size) - 4 rule gives at 32 px); lr x5 and EMA β 0.99 because
            # the run is 600 iterations, not 100k (β = 0.999 would leave the EMA nets ~55% at
            # initialisation). 600 (notebooks 04, 05) is what fits notebook 05's 10-minute budget with D, E
            # and F (measured runs: README.md).
            # No high-pass skip (w_hpf 0: the face-alignment network is the paper preset's) and no official
            # augmentation (augment "none": not measured at this size; the synthetic sets already vary).
            "stargan_v2": {"image_size": 32, "base_dim": 16, "max_conv_dim": 64, "style_dim": 32,
                           "hidden_dim": 64, "w_hpf": 0.0, "augment": "none", "lr": 5e-4, "f_lr": 5e-6, "ema_beta": 0.99,
                           "total_iters": 600, "ds_decay_iters": 600, "log_every": 5,
                           "sample_every": 0, "ckpt_every": 200},
        }),
        # Deviation (course, Table 1 ablation): 30 sources x 10 outputs = 300 images per domain pair and 500
        # real images per domain (paper: all test and training images); the evaluation of A-F takes about
        # 15 min of the course's 2-core CPU, two configurations at a time. FID is biased upwards at these
        # counts. total_iters (2,500) is the length of a configuration the per-configuration lengths below
        # leave out.
        # E-F's reference-guided outputs are evaluated for the style columns (LPIPS and the oracle's style
        # agreement) without their FID, which Table 1 does not report and which would double E-F's cost.
        # Deviation (course, from-scratch lengths): A-C 600 iterations (notebook 04's length: one output
        # per source, no mapping network or style encoder), D-F 1,000, so that the whole table fits half an
        # hour of the course's 2-core machine (evaluation alone is about 15 min of it); the course runs
        # (2,500 each, `stargan ablation --course-runs`) give the longer table.
        ablation=AblationSizes(total_iters=2500, iters=MappingProxyType({"A": 600, "B": 600, "C": 600, "D": 1000,
                                                                         "E": 1000, "F": 1000}),
                               n_sources=30, n_outputs=10, n_real=500, reference=True, reference_fid=False),
        # The papers' size ratio: RaFD (about 500 images per expression) is small beside CelebA (200k), so
        # the models train on 1,200 expression images (150 per expression), a fifth of the faces' 6,000.
        train_sizes=MappingProxyType({"expressions": 1200}),
        # The course runs (issue: length helps; 3x v1's iterations gave sharper faces, StarGAN v2 F at
        # 2,500 drew recognisable animals): CycleGAN 4x notebook 01's 800; StarGAN v1 3x notebook 02's
        # 2,000; JNT 6x and SNG (also Table 3's StarGAN) 6x notebook 03's 1,000 / 500, the length at which
        # the wrong mask's effect (Fig. 7) was measured to appear; the Table 3 CycleGANs 4x notebook 02's
        # 400; StarGAN v2 A-F 2,500 (the ablation's length, about 4x notebooks 04-05's 600). About 2.5
        # core-hours in all on the course machine (`stargan course-runs`).
        course_runs=MappingProxyType({"cyclegan": 3200, "stargan_v1": 6000, "jnt": 6000, "sng": 3000,
                                      "table3_happy": 1600, "table3_surprised": 1600,
                                      **{f"v2_{c}": 2500 for c in "ABCDEF"}}),
    ),
    # The paper preset trains on the real datasets; image_size is the v1 paper's 128 px
    # (StarGAN v2 configs override it to 256). n_train/n_test apply only to synthetic stand-ins.
    "paper": Preset(
        name="paper", image_size=128, n_train=20000, n_test=2000, oracle_epochs=10, eval_sources=1000,
        models=_frozen({
            "cyclegan": {},
            "stargan_v1": {},
            "stargan_v2": {},
        }),
        # The paper's protocol: every test image as a source (eval_sources caps it), 10 outputs, all real images.
        ablation=AblationSizes(total_iters=0, n_sources=0, n_outputs=10, n_real=0, reference=True),
    ),
}


def default_preset_name() -> str:
    """`$STARGAN_PRESET` if set, else "course" (the default of every notebook's parameters cell)."""
    return os.environ.get(PRESET_ENV, DEFAULT_PRESET)


def as_preset(preset: "str | Preset | None") -> Preset:
    """`preset` itself, or the preset of that name (None: `$STARGAN_PRESET` or "course")."""
    return preset if isinstance(preset, Preset) else get_preset(preset)


def get_preset(name: str | None = None) -> Preset:
    """The preset called `name` (default: `default_preset_name()`), with a clear error if unknown."""
    name = default_preset_name() if name is None else name
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r} (from argument or ${PRESET_ENV}); "
                          f"choose one of {sorted(PRESETS)}") from None
