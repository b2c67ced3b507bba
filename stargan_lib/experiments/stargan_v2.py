"""Train one StarGAN v2 configuration of Table 1 (A-F), then measure it on held-out images.

Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` (`train_configuration`, `measure_det`) and
`notebooks/05_stargan_v2_D_to_F.ipynb` (`measure_latent`, `measure_reference`); the ablation's
experiment (`stargan_lib.ablation.experiment`) trains through `train_run` too, so a notebook run and
an ablation run train, resume and time a configuration the same way.

- `configuration(letter, preset, ...)`: the configuration's config at the preset (`models.stargan_v2_config.make_config`),
  optionally for another number of iterations;
- `run_dir(results, cfg)`: its run folder, named by a hash of everything that defines the run
  except its length, so a longer run of the same configuration resumes the shorter one;
- `train_run(cfg, data, out_dir)`: train or resume to `cfg.total_iters`, summing the training
  seconds of every call (`<out_dir>/train_time.json`);
- `measure_*`: the oracle's target accuracy, content preservation and `pose_kept` of translated
  held-out images (plus LPIPS diversity for D-F, and for E-F `style_agreement`: whether an output
  shows its reference's recorded fur colour and pattern, read by the oracle); `reference_outputs`
  makes the cells of the Fig. 4 grid.

Layer: experiments (imports configs, data, models, train, metrics; nothing imports it but the
ablation, the CLI and the notebooks).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from stargan_lib.models.stargan_v2_config import StarGANv2Config, make_config
from stargan_lib.errors import ConfigError
from stargan_lib.train.common import RESUMABLE_FIELDS
from stargan_lib.utils import device_of, params_key, read_json_object, seed_everything, write_json

# Fields that do not change what a run computes up to a step: left out of the run folder's name.
RUN_KEY_IGNORES = RESUMABLE_FIELDS
TRAIN_TIME = "train_time.json"


def configuration(letter: str, preset: Any = None, dataset: str = "animals", seed: int = 0,
                  iters: int | None = None) -> StarGANv2Config:
    """The config of configuration `letter` at `preset` on `dataset`, for `iters` iterations (None:
    the preset's length).

    With `iters`, a configuration with the diversity term (F, λ_ds > 0) also decays λ_ds over those
    `iters` (as the paper decays it over its whole run); for the others `ds_decay_iters` does
    nothing and is left alone, so their run folder stays the same and a longer run resumes.
    """
    cfg = make_config(letter, preset, dataset, seed=int(seed))
    if iters is None:
        return cfg
    if int(iters) < 1:
        raise ConfigError(f"iters={iters}: train for at least 1 iteration (None: the preset's length)")
    decay = {"ds_decay_iters": int(iters)} if cfg.lambda_ds > 0 else {}
    return make_config(letter, preset, dataset, seed=int(seed), total_iters=int(iters), **decay)


def run_dir(results: str | Path, cfg: StarGANv2Config) -> Path:
    """`<results>/<letter>_<key>`: `key` hashes every config field except `RUN_KEY_IGNORES`."""
    key = params_key({k: v for k, v in dataclasses.asdict(cfg).items() if k not in RUN_KEY_IGNORES})
    return Path(results) / f"{cfg.config}_{key}"


def train_run(cfg: StarGANv2Config, data: Any, out_dir: str | Path, retrain: bool = False, progress: bool = True,
              log: Callable[[str], None] | None = print) -> Any:
    """Train `cfg` on `data` in `out_dir`, resuming its checkpoint; returns `train.stargan_v2.TrainResult`.

    `retrain` deletes `out_dir` first. Every random number is seeded from `cfg.seed`, so the result
    does not depend on what ran before in the process. The training seconds of every call are summed
    in `<out_dir>/train_time.json` and returned as `result.extra["train_s_total"]` (a resumed run
    reports its whole training time). `log` gets one line: iterations, and trained now or loaded.
    """
    from stargan_lib.train.stargan_v2 import train

    out = Path(out_dir)
    if retrain:
        shutil.rmtree(out, ignore_errors=True)
    seed_everything(cfg.seed)
    result = train(cfg, out, data, progress=progress)
    ran = result.iters_run
    spent = (read_json_object(out / TRAIN_TIME) or {}).get("seconds", 0.0)
    if ran:
        spent += result.seconds
        write_json(out / TRAIN_TIME, {"seconds": spent, "step": result.step})
    result.extra["train_s_total"] = spent
    if log is not None:
        how = f"{ran} trained now in {result.seconds:.0f} s" if ran else "loaded from the cache"
        log(f"configuration {cfg.config}: {result.step} iterations ({how})")
    return result


def train_configuration(letter: str, data: Any, results: str | Path, preset: Any = None, dataset: str = "animals",
                        seed: int = 0, iters: int | None = None, retrain: bool = False, progress: bool = True,
                        log: Callable[[str], None] | None = print) -> Any:
    """Train (or load) configuration `letter` in its run folder under `results`: `configuration`,
    `run_dir` and `train_run` in one call (what notebooks 04 and 05 do for each configuration)."""
    cfg = configuration(letter, preset, dataset, seed, iters)
    return train_run(cfg, data, run_dir(results, cfg), retrain=retrain, progress=progress, log=log)


def _targets(y: torch.Tensor, n_domains: int) -> list[torch.Tensor]:
    """Every other domain of each source: (y + 1) % K, ..., (y + K - 1) % K."""
    return [(y + shift) % n_domains for shift in range(1, n_domains)]


def pose_setup(test_set: Any, oracle: Any, n_real: int = 600) -> dict[str, float]:
    """The tolerance of `pose_kept` for `test_set`'s dataset: the oracle's 99th-percentile error on the
    first `n_real` held-out real images, per pose factor (`metrics.oracle_metrics.pose_tolerance`).
    Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`."""
    from stargan_lib.data.synthetic import pose_factors
    from stargan_lib.metrics.oracle_metrics import pose_tolerance

    names = pose_factors(test_set.name)
    if not names:
        raise ConfigError(f"dataset {test_set.name!r} records no pose factors; pose_kept is defined for 'animals'")
    real = test_set.subset(np.arange(min(n_real, len(test_set))))
    return pose_tolerance(oracle, real.tensors()[0], real.factors, names)


def _recorded(test_set: Any, rows: Any, names: list[str]) -> dict[str, np.ndarray]:
    """Recorded factors `names` of test images `rows` (one row per output)."""
    rows = np.asarray(rows)
    return {n: np.asarray(test_set.factors[n])[rows] for n in names}


@torch.no_grad()
def measure_det(ema: Any, test_set: Any, idx: Any, oracle: Any, seed: int = 0) -> Any:
    """Oracle scores (`metrics.oracle_metrics.oracle_scores`, with `pose_kept`) of the images `idx` of
    `test_set`, each translated into every other domain with one output per target (A-C: G(x, e_y))."""
    from stargan_lib.metrics.oracle_metrics import oracle_scores
    from stargan_lib.models.stargan_v2 import translate_det

    dev = device_of(ema)
    idx = np.asarray(idx)
    x, y = test_set.subset(idx).tensors()
    xs, fakes, targets = [], [], []
    for y_trg in _targets(y, len(test_set.label_names)):
        fakes.append(translate_det(ema, x.to(dev), y_trg.to(dev)).cpu().clamp(-1, 1))   # G is not bounded
        xs.append(x)
        targets.append(y_trg)
    tol = pose_setup(test_set, oracle)
    rec = _recorded(test_set, np.tile(idx, len(targets)), list(tol))
    return oracle_scores(oracle, torch.cat(xs), torch.cat(fakes), torch.cat(targets), seed=seed, pose=(rec, tol))


@torch.no_grad()
def measure_latent(ema: Any, test_set: Any, idx: Any, oracle: Any, n_out: int = 10, seed: int = 0) -> dict[str, float]:
    """Latent-guided outputs (D-F): `n_out` random codes z for each image `idx` and each other domain.

    Returns {"acc": target accuracy, "content": content error, "shuffled": its "nothing kept"
    level, "pose_kept" / "pose_shuffled": `pose_kept` and its level for re-paired sources, "lpips":
    the LPIPS diversity of each source's `n_out` outputs, "lpips_se": its standard error over the
    sources, "n": outputs scored}.
    """
    from stargan_lib.metrics.lpips_metric import diversity_lpips
    from stargan_lib.metrics.oracle_metrics import oracle_scores
    from stargan_lib.models.stargan_v2 import translate_latent

    dev, g = device_of(ema), torch.Generator().manual_seed(seed)
    idx = np.asarray(idx)
    x, y = test_set.subset(idx).tensors()
    groups, xs, targets = [], [], []
    for y_trg in _targets(y, len(test_set.label_names)):
        outs = [translate_latent(ema, x.to(dev), y_trg.to(dev),
                                 torch.randn(len(x), ema.cfg.latent_dim, generator=g).to(dev)).cpu().clamp(-1, 1)
                for _ in range(n_out)]
        groups.append(torch.stack(outs, 1))                        # (S, n_out, 3, H, W)
        xs.append(x.repeat_interleave(n_out, 0))
        targets.append(y_trg.repeat_interleave(n_out))
    groups = torch.cat(groups)
    tol = pose_setup(test_set, oracle)
    rec = _recorded(test_set, np.tile(np.repeat(idx, n_out), len(targets)), list(tol))
    s = oracle_scores(oracle, torch.cat(xs), groups.flatten(0, 1), torch.cat(targets), seed=seed, pose=(rec, tol))
    lp, per_source = diversity_lpips(groups, per_source=True)
    # standard error over the (source, target) groups; None with a single group
    se = float(np.std(per_source, ddof=1) / np.sqrt(len(per_source))) if len(per_source) > 1 else None
    return {"acc": s.accuracy, "content": s.content_error, "shuffled": s.content_error_shuffled,
            "pose_kept": s.pose_kept, "pose_shuffled": s.pose_kept_shuffled, "lpips": float(lp), "lpips_se": se,
            "n": len(groups) * n_out}


@torch.no_grad()
def latent_outputs(ema: Any, test_set: Any, idx: Any, n_codes: int = 4, seed: int = 0) -> torch.Tensor:
    """Every image `idx` of `test_set` translated into every domain with the same `n_codes` latent
    codes (seeded): (S, K, n_codes, 3, H, W) in [-1, 1] on the CPU, the cells of a Fig. 3 grid
    (`viz.show_latent_grid`). Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb`."""
    from stargan_lib.models.stargan_v2 import translate_latent

    dev = device_of(ema)
    x, _ = test_set.subset(np.asarray(idx)).tensors()
    z = torch.randn(n_codes, ema.cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
    return torch.stack([torch.stack([translate_latent(ema, x.to(dev), torch.full((len(x),), d, device=dev),
                                                      z[j].expand(len(x), -1).to(dev)).cpu().clamp(-1, 1)
                                     for j in range(n_codes)], 1)
                        for d in range(len(test_set.label_names))], 1)


@torch.no_grad()
def reference_outputs(ema: Any, test_set: Any, idx: Any, ref_idx: Any) -> torch.Tensor:
    """Every image `idx` of `test_set` translated with the style of every reference `ref_idx` (into the
    reference's domain): (S, R, 3, H, W) in [-1, 1] on the CPU, the cells of a Fig. 4 grid
    (`viz.show_reference_grid`). Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb`."""
    from stargan_lib.models.stargan_v2 import translate_reference

    dev = device_of(ema)
    x, _ = test_set.subset(np.asarray(idx)).tensors()
    refs, y_refs = test_set.subset(np.asarray(ref_idx)).tensors()
    return torch.stack([translate_reference(ema, x.to(dev), y_refs[r].expand(len(x)).to(dev),
                                            refs[r:r + 1].expand(len(x), -1, -1, -1).to(dev)).cpu().clamp(-1, 1)
                        for r in range(len(refs))], 1)


@torch.no_grad()
def measure_reference(ema: Any, test_set: Any, idx: Any, ref_idx: Any, oracle: Any, seed: int = 0,
                      outputs: torch.Tensor | None = None) -> dict[str, Any]:
    """Reference-guided outputs (E-F): every image `idx` translated with the style of every reference
    `ref_idx` (into the reference's domain; `outputs`: those of `reference_outputs`, if made already).

    Returns {"acc": target accuracy (the reference's domain), "style_agreement": the share of style
    factors (fur colour, pattern) the oracle reads from an output that match its reference's *recorded*
    style, "style_chance": its chance level, "style_per_factor", "style_all": outputs matching in every
    style factor (`metrics.oracle_metrics.style_agreement`), "pose_kept" / "pose_shuffled": the source's
    pose kept (`pose_kept`), "n": outputs scored}.
    """
    from stargan_lib.data.synthetic import style_factors
    from stargan_lib.metrics.oracle_metrics import oracle_scores, read_style, style_agreement

    idx, ref_idx = np.asarray(idx), np.asarray(ref_idx)
    outs = reference_outputs(ema, test_set, idx, ref_idx) if outputs is None else outputs
    if outs.shape[:2] != (len(idx), len(ref_idx)):
        raise ConfigError(f"outputs of shape {tuple(outs.shape)} do not match {len(idx)} sources x "
                          f"{len(ref_idx)} references; make them with reference_outputs")
    x, _ = test_set.subset(idx).tensors()
    _, y_refs = test_set.subset(ref_idx).tensors()
    flat = outs.flatten(0, 1)                                                      # source-major
    tol = pose_setup(test_set, oracle)
    rec = _recorded(test_set, np.repeat(idx, len(ref_idx)), list(tol))
    s = oracle_scores(oracle, x.repeat_interleave(len(ref_idx), 0), flat, y_refs.repeat(len(x)), seed=seed,
                      pose=(rec, tol))
    sa = style_agreement(read_style(oracle, flat), _recorded(test_set, np.tile(ref_idx, len(idx)),
                                                             style_factors(test_set.name)))
    return {"acc": s.accuracy, "style_agreement": sa["agreement"], "style_chance": sa["chance"],
            "style_per_factor": sa["per_factor"], "style_all": sa["all"], "pose_kept": s.pose_kept,
            "pose_shuffled": s.pose_kept_shuffled, "n": outs.shape[0] * outs.shape[1]}


__all__ = ["configuration", "run_dir", "train_run", "train_configuration", "pose_setup", "measure_det",
           "measure_latent", "latent_outputs", "reference_outputs", "measure_reference", "RUN_KEY_IGNORES",
           "TRAIN_TIME"]
