"""The v1 paper's Table 3 on the synthetic expressions: StarGAN against one CycleGAN per pair.

The paper's condition (Sec. 5.5): RaFD has few images per expression (about 500), every model
translates held-out *neutral* faces to the seven other expressions, and an expression classifier
reads the results; the classification error is how often it misses the target. StarGAN trains one
model on all eight expressions pooled; a cross-domain model sees only the two expressions of its
pair, so CycleGAN needs seven models (fourteen generators) for the seven targets.

Here: the synthetic expressions set at the preset's `train_size("expressions")`, StarGAN v1 at
the StarGAN-SNG config of notebook 03 (`joint_and_single_configs`), one CycleGAN per target
(`targets`, all seven at the paper preset; fewer at the course preset to fit notebook 02's budget,
but the parameter count is always that of all seven pairs), the studio expressions oracle as the
classifier. Introduced in `notebooks/02_stargan_v1.ipynb`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from stargan_lib.data.base import RAFD_EXPRESSIONS
from stargan_lib.errors import ConfigError
from stargan_lib.metrics.oracle_metrics import predict
from stargan_lib.models import cyclegan
from stargan_lib.models.stargan_v1 import generator_label, param_counts, translate

SOURCE = "neutral"
TARGETS = tuple(e for e in RAFD_EXPRESSIONS if e != SOURCE)       # the seven target expressions


def table3_configs(preset: str, targets: Sequence[str], seed: int = 0, cyclegan_iters: int | None = None
                   ) -> tuple[Any, dict[str, Any]]:
    """(StarGAN config, {target: CycleGAN config}) of the comparison; CycleGAN trains `cyclegan_iters`
    iterations per pair (None: its preset's), decaying over the second half."""
    from stargan_lib.experiments.stargan_v1 import joint_and_single_configs

    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise ConfigError(f"Table 3 targets {list(targets)}: choose one or more of {list(TARGETS)}")
    _, stargan_cfg = joint_and_single_configs(preset, seed=seed)
    extra = {} if cyclegan_iters is None else {"total_iters": int(cyclegan_iters),
                                                "decay_iters": int(cyclegan_iters) // 2}
    cg = {t: cyclegan.config_for(preset, dataset="expressions",
                                 domain_a=SOURCE, domain_b=t, seed=seed, **extra) for t in targets}
    return stargan_cfg, cg


def run_table3(preset: Any, out_dir: str | Path, targets: Sequence[str] | None = None, seed: int = 0,
               cyclegan_iters: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Train (or reload) the models in `out_dir` and score them on the held-out neutral expressions
    (`score_table3`). `targets` and `cyclegan_iters` default to the preset's (`DEFAULTS`)."""
    from stargan_lib.presets import Preset, get_preset
    from stargan_lib.train import cyclegan as cyclegan_train
    from stargan_lib.train import stargan_v1 as stargan_train

    p = preset if isinstance(preset, Preset) else get_preset(preset)
    out_dir = Path(out_dir)
    targets = default_targets(p.name) if targets is None else tuple(targets)
    cyclegan_iters = default_cyclegan_iters(p.name) if cyclegan_iters is None else cyclegan_iters
    stargan_cfg, cg_cfgs = table3_configs(p.name, targets, seed, cyclegan_iters)
    G = stargan_train.train(stargan_cfg, out_dir / "StarGAN", preset=p.name, progress=progress).nets["G"]
    cyclegans = {t: cyclegan_train.train(cg_cfgs[t], out_dir / f"CycleGAN_{SOURCE}_{t}", preset=p.name,
                                         progress=progress).nets["G_AB"] for t in targets}
    return score_table3(p, G, stargan_cfg, cyclegans, next(iter(cg_cfgs.values())), seed)


def table3_errors(preset: Any, translate_to: Callable[[torch.Tensor, int, str], torch.Tensor],
                  targets: Sequence[str], seed: int = 0) -> dict[str, float]:
    """{target: classification error}: the held-out neutral expressions translated by
    `translate_to(x, k, target)` (k: the target's class index; a pairwise model picks its G by the
    target's name), read by the studio expressions oracle. The test set and oracle are read once."""
    from stargan_lib.data import get_oracle, make_dataset

    test = make_dataset("expressions", "test", preset=preset)
    names = list(test.label_names)
    idx = [i for i, y in enumerate(test.labels) if names[int(y)] == SOURCE]
    if not idx:
        raise ConfigError(f"the expressions test set of this preset has no {SOURCE!r} image")
    x, _ = test.subset(idx).tensors()                                         # (N, 3, H, W) neutral faces
    oracle = get_oracle("expressions", preset=preset, seed=seed, progress=False)
    errors = {}
    for t in targets:
        k = names.index(t)
        errors[t] = float((predict(oracle, translate_to(x, k, t))[0].argmax(1) != k).float().mean())
    return errors


def score_table3(preset: Any, G: torch.nn.Module, stargan_cfg: Any, cyclegans: Mapping[str, torch.nn.Module],
                 cyclegan_cfg: Any, seed: int = 0) -> dict[str, Any]:
    """Table 3 of trained models: StarGAN's G (`stargan_cfg`) and one CycleGAN G_AB per target
    (`cyclegans`, neutral -> target; `cyclegan_cfg` counts their parameters).

    Returns {"StarGAN": row, "CycleGAN": row, "real": {"error"}, "targets": [...], "n": sources}, each
    row {"error": mean classification error over the targets, "per_target": {target: error},
    "params": parameters for all seven targets, "models": models trained for all seven}.
    """
    from stargan_lib.data import get_oracle, make_dataset
    from stargan_lib.presets import Preset, get_preset

    p = preset if isinstance(preset, Preset) else get_preset(preset)
    targets = tuple(cyclegans)
    test = make_dataset("expressions", "test", preset=p)
    oracle = get_oracle("expressions", preset=p, seed=seed, progress=False)
    real_logits, _ = predict(oracle, test.tensors()[0])
    real_error = float((real_logits.argmax(1) != torch.as_tensor(test.labels)).float().mean())
    n = int(sum(1 for y in test.labels if test.label_names[int(y)] == SOURCE))
    rows = {"StarGAN": table3_errors(p, lambda x, k, t: translate(
                G, x, generator_label(stargan_cfg, torch.full((len(x),), k, dtype=torch.long))), targets, seed),
            "CycleGAN": table3_errors(p, lambda x, k, t: cyclegan.translate(cyclegans[t], x), targets, seed)}
    sg, cg = param_counts(stargan_cfg), cyclegan.param_counts(cyclegan_cfg)
    n_pairs = len(TARGETS)
    return {"StarGAN": {"error": sum(rows["StarGAN"].values()) / len(targets), "per_target": rows["StarGAN"],
                        "params": sg["G"] + sg["D"], "models": 1},
            "CycleGAN": {"error": sum(rows["CycleGAN"].values()) / len(targets), "per_target": rows["CycleGAN"],
                         "params": cg["total"] * n_pairs, "models": n_pairs},
            "real": {"error": real_error}, "targets": list(targets), "n": n,
            "train_images": {"StarGAN": p.train_size("expressions"), "CycleGAN per pair": "its two expressions"}}


# Per preset: the target expressions that get a CycleGAN, and its iterations per pair (None: the
# CycleGAN preset's). "paper": every pair at the paper's length. "course": two pairs of 400
# iterations (half the CycleGAN preset's 800; StarGAN-SNG trains 500), so that notebook 02 keeps to
# its 10 minutes; the parameter count is always that of all seven pairs.
DEFAULTS = {"smoke": (("happy",), None), "course": (("happy", "surprised"), 400), "paper": (TARGETS, None)}


def default_targets(preset: str) -> tuple[str, ...]:
    """The Table 3 targets trained at `preset` (`DEFAULTS`; all seven for an unknown name)."""
    return DEFAULTS.get(preset, (TARGETS, None))[0]


def default_cyclegan_iters(preset: str) -> int | None:
    """Each Table 3 CycleGAN's iterations at `preset` (`DEFAULTS`; None: the CycleGAN preset's)."""
    return DEFAULTS.get(preset, (TARGETS, None))[1]
