"""StarGAN v2's configuration data: the per-dataset values and the Table 1 ablation A–F as overrides.

The config dataclass itself, `StarGANv2Config`, is beside the networks in
`stargan_lib.models.stargan_v2_config` (with `make_config`, `config_for`, `validate`, `lambda_ds`,
`guides`); this helper module holds only data that it and the ablation read.

Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` (configurations A–C) and
`notebooks/05_stargan_v2_D_to_F.ipynb` (D–F); `06_ablation_table` runs all six.

`StarGANv2Config`'s defaults (the paper's, listed in `models.stargan_v2_config`) are configuration F
on AFHQ (3 domains, λ_ds = 2; its synthetic stand-in "animals" is the course's main v2 dataset);
`DATASETS` holds what changes for CelebA-HQ (2 domains, λ_ds = 1 and, in the official network, the
high-pass face-heatmap skip w_hpf = 1; Table 1 was measured on CelebA-HQ).

Five fields switch the components that Table 1 adds one after another:

| field          | A        | B         | C       | D        | E          | F          |
|----------------|----------|-----------|---------|----------|------------|------------|
| adversarial    | wgan     | wgan      | nonsat  | nonsat   | nonsat     | nonsat     |
| discriminator  | acgan    | multitask | multit. | multit.  | multitask  | multitask  |
| conditioning   | concat   | concat    | adain   | adain    | adain      | adain      |
| style          | label    | label     | label   | latent   | style_code | style_code |
| lambda_ds      | 0        | 0         | 0       | 0        | 0          | 2 (CelebA-HQ 1) |

`ABLATION[letter]` is the small dict of overrides that turns the defaults (F) into that letter.
`models.stargan_v2_config.make_config(letter, preset, dataset, **overrides)` applies, in order:
defaults -> dataset -> preset -> ablation letter -> explicit overrides.

Two parts of the official pipeline that the paper does not spell out are settings here too:
`w_hpf` (CelebA-HQ: 1), the high-pass skip masked by the face-alignment network whose weights
`wing_path` names (`stargan_lib.models.fan`; refused on datasets that are not faces), and `augment`
("official": with probability 0.5 a random resized crop of 80-100 % of the area and aspect ratio
0.9-1.1, then a random horizontal flip, in the official loader's order; `stargan_lib.data.augment`).
The paper preset keeps both as the official code has them; the course and smoke presets turn both off.

Deviation (our reading where the paper is silent, Sec. 3.1):
- A and B keep StarGAN v1's loss weights (λ_gp = 10, λ_cls = 1, λ_rec = λ_cyc = 10); C's "tuning"
  switches to the v2 weights (λ_cyc = 1, R1 γ = 1). All six use StarGAN v2's optimiser (Adam
  β = (0, 0.99), lr 1e-4, weight decay 1e-4), one D update per G update (v1 used five critic
  updates per G update) and the v2 residual architecture, so only the named components differ.
- "label" style in C is AdaIN of a learned per-domain embedding e_y (style_dim numbers per domain);
  D feeds AdaIN with [e_y ; z] (the latent code injected next to the domain embedding), and its
  encoder E has a single head that predicts z (the latent reconstruction loss ||z − E(G(x, z, y))||
  of Sec. 3.1 has no domain subscript).
"""


from __future__ import annotations

from typing import Any

from stargan_lib.errors import ConfigError

LETTERS = ("A", "B", "C", "D", "E", "F")
ADVERSARIAL = ("wgan", "nonsat")
DISCRIMINATORS = ("acgan", "multitask")
CONDITIONING = ("concat", "adain")
STYLES = ("label", "latent", "style_code")
AUGMENTS = ("official", "none")
# Where the official repository's `bash download.sh wing` saves the face-alignment weights.
WING_DEFAULT = "expr/checkpoints/wing.ckpt"
WING_RANDOM = "random"   # wing_path value: FAN with seeded random weights (tests, small runs; masks meaningless)
FACE_DATASETS = ("celeba_hq",)   # the datasets whose images FAN can find landmarks in (w_hpf > 0)


# Per-dataset values of Appendix B/E. "animals" and "faces_gender" are the synthetic stand-ins.
DATASETS: dict[str, dict[str, Any]] = {
    "afhq": {"dataset": "afhq", "num_domains": 3, "lambda_ds": 2.0, "w_hpf": 0.0},
    "celeba_hq": {"dataset": "celeba_hq", "num_domains": 2, "lambda_ds": 1.0, "w_hpf": 1.0},
}
DATASET_ALIASES = {"animals": "afhq", "faces_gender": "celeba_hq"}
SYNTHETIC = {"afhq": "animals", "celeba_hq": "faces_gender"}

# Overrides from the defaults (configuration F) to each Table 1 configuration.
ABLATION: dict[str, dict[str, Any]] = {
    "A": {"config": "A", "adversarial": "wgan", "discriminator": "acgan", "conditioning": "concat",
          "style": "label", "lambda_ds": 0.0, "lambda_cyc": 10.0},
    "B": {"config": "B", "adversarial": "wgan", "conditioning": "concat", "style": "label",
          "lambda_ds": 0.0, "lambda_cyc": 10.0},
    "C": {"config": "C", "style": "label", "lambda_ds": 0.0},
    "D": {"config": "D", "style": "latent", "lambda_ds": 0.0},
    "E": {"config": "E", "lambda_ds": 0.0},
    "F": {"config": "F"},
}

# One line per configuration (README, notebooks, ablation table).
DESCRIPTIONS = {
    "A": "StarGAN baseline: WGAN-GP, ACGAN discriminator, target domain concatenated depth-wise",
    "B": "+ multi-task discriminator (one real/fake output per domain)",
    "C": "+ R1 regularisation with the non-saturating loss, AdaIN of a learned domain embedding",
    "D": "+ latent code injection with latent reconstruction ||z - E(G(x, z, y))||",
    "E": "+ mapping network F and style encoder E (per-domain heads), style reconstruction",
    "F": "+ diversity regularisation (-λ_ds L_ds, λ_ds decayed linearly to 0)",
}


def ablation_overrides(letter: str) -> dict[str, Any]:
    """The overrides of Table 1 configuration `letter`, with an error listing A–F for anything else."""
    key = str(letter).strip().upper()
    if key not in ABLATION:
        raise ConfigError(f"unknown StarGAN v2 configuration {letter!r}; choose one of "
                          f"{', '.join(LETTERS)} (Table 1 of the StarGAN v2 paper)")
    return dict(ABLATION[key])


def dataset_overrides(dataset: str | None) -> dict[str, Any]:
    """What `dataset` changes (afhq/animals, celeba_hq/faces_gender); {} for None."""
    if dataset is None:
        return {}
    key = DATASET_ALIASES.get(dataset, dataset)
    if key not in DATASETS:
        raise ConfigError(f"unknown StarGAN v2 dataset {dataset!r}; choose one of "
                          f"{sorted(DATASETS) + sorted(DATASET_ALIASES)}")
    return dict(DATASETS[key])
