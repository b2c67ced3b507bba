"""The StarGAN v2 evaluation protocol (paper, Appendix C): FID and LPIPS over every domain pair.

Introduced in `notebooks/06_ablation_table.ipynb` (and run per configuration by the `experiment`
notebook); `stargan eval` runs it from a shell.

For every ordered pair of domains (source != target), for each of N test images of the source
domain (`n_sources`; the presets' `eval_sources`):

- latent-guided: 10 outputs G(x, F_t(z)) with z ~ N(0, I) drawn afresh for every output;
- reference-guided: 10 outputs G(x, E_t(x_ref)) with 10 references drawn at random from the test
  images of the target domain;

then FID between all the pair's outputs and the *training* images of the target domain, and LPIPS
diversity: the mean distance over the 45 pairs of each source's 10 outputs, averaged over sources
(`diversity_lpips`, on outputs upsampled to `lpips_size` = 256 px when smaller). Both are averaged
over the domain pairs. Real-image statistics are cached on disk (`cached_statistics`), so
evaluating six configurations computes them once.

Configurations without a latent or reference mode (StarGAN v2 Table 1, A-C) give one output per
source and target: `det_fn`, FID only, LPIPS is None (undefined: there is nothing to be diverse).
Deviation: in that case n_sources x n_outputs sources are translated (as many as there are), so
that the deterministic FID is computed from as many images as the latent one; FID depends on the
number of images, and the paper does not say how it evaluated A-C.

With an `oracle` (synthetic data), every pair also reports the oracle's target accuracy and content
preservation of the outputs (`stargan_lib.metrics.oracle_metrics`), and the course metrics: the
oracle Fréchet distance to the real target-domain images (a course metric in the oracle's feature
space, not FID); when `test` is a synthetic ImageSet with recorded factors, the share of outputs
that keep their source's pose (`pose_kept`) and, for reference-guided outputs, the share of style
factors that match the reference's recorded style (`style_agreement`, with its chance level).

Uncertainty: with two or more sources per domain, `fid_se`, `lpips_se` and `oracle_fd_se` of a mode
are bootstrap standard errors over the source images (`cfg.bootstrap` draws, see
`stargan_lib.metrics.bootstrap`): each draw resamples every source domain's sources with replacement,
keeps their outputs, and recomputes the mode's mean over the pairs. A pair's own `lpips_se` is the
standard error of its mean over its sources.

Generator interface (any model, not only StarGAN v2; images (B, 3, H, W) in [-1, 1] on `device`,
y_trg (B,) long):
    latent_fn(x_src, y_trg, z) -> images      z: (B, latent_dim)
    reference_fn(x_src, y_trg, x_ref) -> images
    det_fn(x_src, y_trg) -> images
Put the networks in eval mode (and use their EMA copies) before calling; this module runs them
under `torch.inference_mode`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from tqdm.auto import tqdm

from stargan_lib.data.base import ImageSet
from stargan_lib.data.datasets import (REAL_DOMAIN_SETS, SYNTHETIC_DOMAIN_SETS, domain_arrays, domain_groups,
                                       domain_train_test)
from stargan_lib.metrics.bootstrap import DEFAULT_B, FrechetResampler, source_draws, standard_error
from stargan_lib.errors import ConfigError, DataError
from stargan_lib import threads
from stargan_lib.metrics.fid_metric import (FEATURE_DIM, FIDSampleSizeWarning, cached_statistics, fid_from_stats,
                                     inception_features, statistics_from_features)
from stargan_lib.metrics.lpips_metric import DIVERSITY_SIZE, diversity_lpips
from stargan_lib.utils import resolve_device

Fn = Callable[..., torch.Tensor]
MODES = ("latent", "reference", "deterministic")


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class EvalConfig:
    """Settings of the evaluation protocol; the defaults are the paper's (except the source count)."""

    n_sources: int = _f(0, "test images per source domain (0: the preset's eval_sources; paper: all)")
    n_outputs: int = _f(10, "outputs per source image: latent codes or references (paper: 10)")
    n_real: int = _f(0, "training images per target domain for the real FID statistics (0: all, as in the paper)")
    batch_size: int = _f(16, "source images per generator call")
    fid_batch_size: int = _f(50, "images per Inception / LPIPS batch")
    lpips_size: int = _f(DIVERSITY_SIZE, "outputs smaller than this (px) are upsampled to it for the LPIPS "
                                         "diversity (the paper evaluates 256 px images)")
    latent_dim: int = _f(16, "dimension of the latent code z")
    seed: int = _f(0, "seed of the source choice, latent codes and references")
    reference_fid: bool = _f(True, "also compute FID (Inception) of the reference-guided outputs; False: only their "
                                   "LPIPS and the oracle's scores (Table 1 is latent-guided; Inception is most of "
                                   "the evaluation's cost on a CPU)")
    bootstrap: int = _f(DEFAULT_B, "bootstrap draws over the sources for the standard errors of FID, LPIPS and "
                                   "the oracle Fréchet distance (0: none)")
    device: str = _f("auto", "auto, cpu, cuda or cuda:N")


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _to_float(x_u8: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x_u8)).to(device).permute(0, 3, 1, 2).float().div(127.5).sub(1)


# --------------------------------------------------------------------------- one pair

def _translate_pair(mode: str, fn: Fn, src: np.ndarray, ref_pool: np.ndarray, t: int, cfg: EvalConfig,
                    k_out: int, seed: int, device: torch.device
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, np.ndarray | None]]:
    """Yield (x_src chunk, outputs (B, k_out, 3, H, W) on CPU, the references' indices in `ref_pool`
    (B, k_out) or None) for one source -> target pair."""
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    n = len(src)
    z = torch.randn(n, k_out, cfg.latent_dim, generator=gen) if mode == "latent" else None
    if mode == "reference":
        if len(ref_pool) == 0:
            raise DataError(f"no test images in target domain {t} to draw references from")
        refs = np.stack([rng.choice(len(ref_pool), k_out, replace=len(ref_pool) < k_out) for _ in range(n)])
    for start in range(0, n, cfg.batch_size):
        stop = min(start + cfg.batch_size, n)
        x = _to_float(src[start:stop], device)
        y = torch.full((stop - start,), t, dtype=torch.long, device=device)
        outs = []
        for j in range(k_out):
            if mode == "latent":
                out = fn(x, y, z[start:stop, j].to(device))
            elif mode == "reference":
                out = fn(x, y, _to_float(ref_pool[refs[start:stop, j]], device))
            else:
                out = fn(x, y)
            if out.shape != x.shape:
                raise DataError(f"the {mode} generator returned {tuple(out.shape)} for input {tuple(x.shape)}; "
                                "it must return images of the input's shape")
            outs.append(out.float().clamp(-1, 1).cpu())
        yield x.cpu(), torch.stack(outs, dim=1), (refs[start:stop] if mode == "reference" else None)


def _oracle_update(acc: dict[str, list], oracle: Any, x: torch.Tensor, outs: torch.Tensor, t: int) -> None:
    from stargan_lib.metrics.oracle_metrics import predict

    k = outs.shape[1]
    if hasattr(oracle, "embed"):                        # a course oracle: its features and style too
        full = oracle.predict(outs.flatten(0, 1), features=True)
        logits = full["logits"].float().cpu()
        f_fake = {n: v.float().reshape(len(v), -1).cpu() for n, v in full["factors"].items()}
    else:
        full = None
        logits, f_fake = predict(oracle, outs.flatten(0, 1))
    _, f_src = predict(oracle, x)
    acc["logits"].append(logits)
    acc["src"].append({n: v.repeat_interleave(k, 0) for n, v in f_src.items()})
    acc["fake"].append(f_fake)
    acc["y"].append(torch.full((len(logits),), t, dtype=torch.long))
    if full is not None:
        acc["features"].append(full["features"].double().cpu().numpy())
        acc["style"].append({n: v.cpu() for n, v in full.get("style", {}).items()})


def _oracle_summary(acc: dict[str, list], oracle: Any, seed: int, real_features: np.ndarray | None = None,
                    src_recorded: dict[str, np.ndarray] | None = None, ref_recorded: dict[str, np.ndarray] | None = None,
                    tolerance: dict[str, float] | None = None) -> dict[str, Any]:
    from stargan_lib.metrics.oracle_metrics import (content_preservation, oracle_frechet_distance, pose_kept,
                                                    style_agreement, target_accuracy)

    cat = lambda dicts: {n: torch.cat([d[n] for d in dicts]) for n in dicts[0]}  # noqa: E731
    ta = target_accuracy(oracle, None, torch.cat(acc["y"]), logits=torch.cat(acc["logits"]))
    out = {"accuracy": ta["accuracy"], "classification_error": ta["classification_error"]}
    if acc["src"] and acc["src"][0]:
        cp = content_preservation(oracle, None, None, seed=seed, factors_src=cat(acc["src"]),
                                  factors_fake=cat(acc["fake"]))
        out.update(content_error=cp["error"], content_corr=cp["corr"], content_error_shuffled=cp["error_shuffled"])
    if real_features is not None and acc["features"]:
        out["oracle_fd"] = oracle_frechet_distance(np.concatenate(acc["features"]), real_features)
    if tolerance and src_recorded is not None:
        pk = pose_kept(cat(acc["fake"]), src_recorded, tolerance, seed=seed)
        out.update(pose_kept=pk["kept"], pose_kept_shuffled=pk["shuffled"])
    if ref_recorded is not None and acc["style"] and acc["style"][0]:
        sa = style_agreement(cat(acc["style"]), ref_recorded)
        out.update(style_agreement=sa["agreement"], style_agreement_chance=sa["chance"])
    return out


def _pose_names(oracle: Any) -> list[str]:
    """The pose factors of the oracle's dataset that it reads (none for an unknown dataset)."""
    from stargan_lib.data.synthetic import DATASETS, pose_factors

    name = getattr(oracle, "dataset", None)
    if name not in DATASETS:
        return []
    return [n for n in pose_factors(name) if n in getattr(oracle, "factor_names", [])]


def _bootstrap_errors(kept: dict[tuple[int, int], dict[str, Any]], cfg: EvalConfig, mode_id: int) -> dict[str, Any]:
    """fid_se, lpips_se and oracle_fd_se of a mode's mean over the pairs: bootstrap over the sources
    (see the module docstring). None where undefined (fewer than 2 sources per domain, no bootstrap,
    no oracle features); without a bootstrap `lpips_se` stays the pairs' standard errors combined in
    quadrature."""
    out: dict[str, Any] = {"fid_se": None, "oracle_fd_se": None, "bootstrap": 0}
    lpips_defined = all(k["lpips"] is not None for k in kept.values())
    n_src = {}
    for (s, _), k in kept.items():
        n_src[s] = k["n_sources"]
    if cfg.bootstrap < 2 or min(n_src.values()) < 2:
        return out
    draws = source_draws(n_src, cfg.bootstrap, _seed(cfg.seed, 99, mode_id))
    out["bootstrap"] = int(cfg.bootstrap)
    if all(k["fid"] is not None for k in kept.values()):
        out["fid_se"] = standard_error([np.mean([k["fid"].distance(d[s]) for (s, _), k in kept.items()])
                                        for d in draws])
    if lpips_defined:
        out["lpips_se"] = standard_error([np.mean([k["lpips"][d[s]].mean() for (s, _), k in kept.items()])
                                          for d in draws])
    if all(k["ofd"] is not None for k in kept.values()):
        out["oracle_fd_se"] = standard_error([np.mean([k["ofd"].distance(d[s]) for (s, _), k in kept.items()])
                                              for d in draws])
    return out


def _recorded(test: Any, n_domains: int, names: list[str]) -> list[dict[str, np.ndarray]] | None:
    """Per domain (in `domain_arrays` order), the recorded factors `names` of a synthetic test set."""
    if not names or not isinstance(test, ImageSet) or any(n not in test.factors for n in names):
        return None
    return [{n: np.asarray(test.factors[n])[g] for n in names} for g in domain_groups(test.labels, n_domains)]


# --------------------------------------------------------------------------- the protocol

def _real_statistics(names: list[str], train_d: list[np.ndarray], cfg: EvalConfig, dataset: str,
                     device: torch.device, progress: bool, use_cache: bool) -> tuple[list[np.ndarray], list[Any]]:
    """(the training images FID compares with, their Inception statistics per domain): a seeded subset of
    `cfg.n_real` images per domain (the paper uses them all), statistics cached on disk."""
    size = int(train_d[0].shape[1])
    if cfg.n_real:
        train_d = [tr[np.sort(np.random.default_rng(_seed(cfg.seed, 7, d)).permutation(len(tr))[:cfg.n_real])]
                   for d, tr in enumerate(train_d)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FIDSampleSizeWarning)   # evaluate_protocol summarises it once
        real = [cached_statistics(tr, dataset=dataset, split="train", domain=nm, image_size=size,
                                  batch_size=cfg.fid_batch_size, device=device, progress=progress,
                                  use_cache=use_cache)
                for nm, tr in zip(names, train_d)]
    return train_d, real


def real_statistics(train: Any, cfg: EvalConfig | None = None, dataset: str | None = None,
                    progress: bool = True) -> list[Any]:
    """The real images' FID statistics `evaluate_protocol` uses for `train` and `cfg`, computed and cached
    now (e.g. once before several evaluations run in parallel processes, which would each compute them)."""
    cfg = cfg or EvalConfig()
    names, train_d, name = domain_arrays(train, "train", progress)
    return _real_statistics(names, train_d, cfg, dataset or name, resolve_device(cfg.device), progress, True)[1]


def evaluate_protocol(train: Any, test: Any, *, latent_fn: Fn | None = None, reference_fn: Fn | None = None,
                      det_fn: Fn | None = None, cfg: EvalConfig | None = None, preset: Any = None,
                      dataset: str | None = None, oracle: Any = None, progress: bool = True,
                      use_cache: bool = True) -> dict[str, Any]:
    """Run the Appendix C protocol; returns a JSON-able dict (see the module docstring).

    train / test: ImageSets with domain labels (synthetic animals / faces_gender), torch Datasets
    yielding (x, y), or dicts {domain name: uint8 (N, H, W, 3)}. FID compares with `train`;
    sources and references come from `test`.

    Result: {"dataset", "domains", "modes": {mode: {"pairs": {"src->trg": {"fid", "lpips", "lpips_se",
    "n_images", ...}}, "fid", "lpips", "lpips_se", "seconds"}}, "n_sources": {domain: n}, "n_outputs",
    "real_images", "seed", "notes", "seconds"}; "lpips" is None for the deterministic mode, "lpips_se"
    is the standard error of "lpips" over the sources (None with one source per pair).
    """
    from stargan_lib.presets import Preset, get_preset

    cfg = cfg or EvalConfig()
    if cfg.n_outputs < 1 or cfg.batch_size < 1 or cfg.fid_batch_size < 1 or cfg.n_sources < 0 or cfg.n_real < 0 \
            or cfg.lpips_size < 0:
        raise ConfigError(f"EvalConfig needs n_outputs, batch_size, fid_batch_size >= 1 and n_sources, n_real, "
                          f"lpips_size >= 0, got {cfg}")
    fns = {"latent": latent_fn, "reference": reference_fn, "deterministic": det_fn}
    modes = [m for m in MODES if fns[m] is not None]
    if not modes:
        raise ConfigError("evaluate_protocol needs at least one of latent_fn, reference_fn or det_fn")
    n_sources = cfg.n_sources or (preset if isinstance(preset, Preset) else get_preset(preset)).eval_sources
    device = resolve_device(cfg.device)
    start_all = time.perf_counter()

    names, train_d, name = domain_arrays(train, "train", progress)
    test_names, test_d, _ = domain_arrays(test, "test", progress)
    dataset = dataset or name
    if names != test_names:
        raise DataError(f"train domains {names} and test domains {test_names} differ; use the two splits of one "
                        "dataset")
    if len(names) < 2:
        raise DataError(f"the protocol needs at least 2 domains, got {names}")
    for nm, tr, te in zip(names, train_d, test_d):
        if len(tr) < 2 or len(te) == 0:
            raise DataError(f"domain {nm!r} has {len(tr)} train and {len(te)} test images; FID needs >= 2 train "
                            "images and the protocol >= 1 test image per domain")
    size = int(train_d[0].shape[1])
    train_d, real = _real_statistics(names, train_d, cfg, dataset, device, progress, use_cache)
    notes: list[str] = []

    # The same sources for every target and mode: a seeded choice among the test images.
    sources = []
    for s, te in enumerate(test_d):
        order = np.random.default_rng(_seed(cfg.seed, s)).permutation(len(te))
        sources.append(order)

    # Course metrics of a course oracle: real oracle features per target domain, recorded factors.
    real_of, pose_rec, style_rec, tolerance = None, None, None, None
    if oracle is not None and hasattr(oracle, "embed"):
        from stargan_lib.metrics.oracle_metrics import oracle_features, pose_tolerance

        cpu = torch.device("cpu")
        real_of = [np.concatenate([oracle_features(oracle, _to_float(tr[i:i + 512], cpu))
                                   for i in range(0, len(tr), 512)]) for tr in train_d]
        pose_names = _pose_names(oracle)
        pose_rec = _recorded(test, len(names), pose_names)
        style_rec = _recorded(test, len(names), list(getattr(oracle, "style_names", [])))
        if pose_rec is not None:
            x_all = np.concatenate([te[:500] for te in test_d])          # the oracle's error on real images
            rec_all = {n: np.concatenate([r[n][:500] for r in pose_rec]) for n in pose_names}
            tolerance = pose_tolerance(oracle, _to_float(x_all, cpu), rec_all, pose_names)

    pairs = [(s, t) for t in range(len(names)) for s in range(len(names)) if s != t]
    results: dict[str, Any] = {}
    used_sources: dict[str, int] = {}
    small_fake = False
    bar = tqdm(total=len(pairs) * len(modes), desc=f"eval {dataset}", disable=not progress)
    for mode_id, mode in enumerate(modes):
        t0 = time.perf_counter()
        k_out = 1 if mode == "deterministic" else cfg.n_outputs
        with_fid = mode != "reference" or cfg.reference_fid
        n_want = n_sources * cfg.n_outputs if mode == "deterministic" else n_sources
        per_pair: dict[str, Any] = {}
        kept: dict[tuple[int, int], dict[str, Any]] = {}            # what the bootstrap needs, per pair
        for s, t in pairs:
            bar.set_postfix_str(f"{mode} {names[s]}->{names[t]}")
            idx = sources[s][:n_want]
            used_sources.setdefault(names[s], len(idx))    # from the first mode evaluated
            feats, div, ref_idx = [], [], []
            orc: dict[str, list] = {"logits": [], "src": [], "fake": [], "y": [], "features": [], "style": []}
            seed = _seed(cfg.seed, mode_id, s, t)
            with torch.inference_mode():
                for x, outs, refs in _translate_pair(mode, fns[mode], test_d[s][idx], test_d[t], t, cfg, k_out, seed,
                                                     device):
                    threads.tick()        # the thread count follows the free cores here too (stargan_lib.threads)
                    if refs is not None:
                        ref_idx.append(refs.ravel())
                    if k_out > 1:
                        div.append(diversity_lpips(outs, device=device, batch_size=cfg.fid_batch_size,
                                                   per_source=True, size=cfg.lpips_size)[1])
                    if with_fid:
                        feats.append(inception_features(outs.flatten(0, 1), cfg.fid_batch_size, device,
                                                        progress=False))
                    if oracle is not None:
                        _oracle_update(orc, oracle, x, outs, t)
            feats_all = np.concatenate(feats) if with_fid else None
            n_images = len(idx) * k_out
            small_fake |= with_fid and n_images <= FEATURE_DIM
            per_source = np.concatenate(div) if div else np.zeros(0)
            fid = fid_from_stats(statistics_from_features(feats_all, warn=False), real[t]) if with_fid else None
            entry = {"fid": fid,
                     "lpips": float(per_source.mean()) if div else None,
                     # standard error of that mean over the pair's sources (None with a single source)
                     "lpips_se": float(per_source.std(ddof=1) / np.sqrt(len(per_source))) if len(per_source) > 1
                     else None,
                     "n_sources": int(len(idx)), "n_images": int(n_images)}
            if oracle is not None:
                src_rec = None if pose_rec is None else {n: np.repeat(v[idx], k_out, 0) for n, v in pose_rec[s].items()}
                ref_rec = (None if style_rec is None or not ref_idx else
                           {n: v[np.concatenate(ref_idx)] for n, v in style_rec[t].items()})
                entry.update(_oracle_summary(orc, oracle, cfg.seed, None if real_of is None else real_of[t],
                                             src_rec, ref_rec, tolerance))
            per_pair[f"{names[s]}->{names[t]}"] = entry
            kept[(s, t)] = {"n_sources": int(len(idx)),
                            "fid": FrechetResampler(feats_all, k_out, real[t].mu, real[t].sigma) if with_fid else None,
                            "lpips": per_source if div else None,
                            "ofd": (FrechetResampler(np.concatenate(orc["features"]), k_out, real_of[t].mean(0),
                                                     np.cov(real_of[t], rowvar=False))
                                    if real_of is not None and orc["features"] else None)}
            bar.update(1)
        lp = [v["lpips"] for v in per_pair.values() if v["lpips"] is not None]
        se = [v["lpips_se"] for v in per_pair.values() if v.get("lpips_se") is not None]
        fids = [v["fid"] for v in per_pair.values() if v["fid"] is not None]
        summary = {"pairs": per_pair, "fid": float(np.mean(fids)) if fids else None,
                   "lpips": float(np.mean(lp)) if lp else None,
                   # the standard error of the mean over pairs (independent pairs: errors add in quadrature)
                   "lpips_se": float(np.sqrt(np.sum(np.square(se))) / len(se)) if lp and len(se) == len(lp) else None,
                   "seconds": time.perf_counter() - t0}
        if oracle is not None:
            for key in ("accuracy", "classification_error", "content_error", "content_corr", "oracle_fd",
                        "pose_kept", "pose_kept_shuffled", "style_agreement", "style_agreement_chance"):
                vals = [v[key] for v in per_pair.values() if key in v]
                if vals:
                    summary[key] = float(np.mean(vals))
        summary.update(_bootstrap_errors(kept, cfg, mode_id))
        results[mode] = summary
    bar.close()

    real_counts = {nm: int(st.count) for nm, st in zip(names, real)}
    if small_fake or min(real_counts.values()) <= FEATURE_DIM:
        msg = (f"FID from fewer than {FEATURE_DIM} images per set (translated: up to "
               f"{max(v['n_images'] for r in results.values() for v in r['pairs'].values())} per pair, real: "
               f"{min(real_counts.values())}-{max(real_counts.values())} per domain): the covariances are singular, "
               "FID is biased upwards and noisy; compare only numbers computed with the same counts")
        notes.append(msg)
        warnings.warn(msg, FIDSampleSizeWarning, stacklevel=2)
    if size < max(cfg.lpips_size, 32):
        notes.append(f"LPIPS inputs were upsampled from {size} px to {max(cfg.lpips_size, 32)} px "
                     "(stargan_lib.metrics.lpips_metric, Deviation)")
    return {"protocol": "StarGAN v2, Appendix C", "dataset": dataset, "domains": names, "image_size": size,
            "modes": results, "n_sources": used_sources, "n_outputs": cfg.n_outputs,
            "real_images": real_counts, "config": asdict(cfg) | {"device": str(device)},
            "notes": notes, "seconds": time.perf_counter() - start_all}


def protocol_lines(result: Mapping[str, Any], digits: int = 2) -> list[str]:
    """The result of `evaluate_protocol` as text: one line per mode (FID, LPIPS, oracle accuracy, seconds),
    one per domain pair under it; "-" where a value is undefined (LPIPS of one output per source, the FID
    of a mode evaluated without it)."""
    def num(v: Any, d: int) -> str:
        return "-" if v is None else f"{v:.{d}f}"

    lines = []
    for mode, res in result["modes"].items():
        acc = f"  oracle accuracy {res['accuracy']:.3f}" if "accuracy" in res else ""
        lines.append(f"{mode:>13}: FID {num(res['fid'], digits)}  LPIPS {num(res['lpips'], digits + 2)}{acc}  "
                     f"({res.get('seconds', 0):.0f} s)")
        for pair, v in res["pairs"].items():
            lines.append(f"{'':>15}{pair}: FID {num(v['fid'], digits)}  LPIPS {num(v['lpips'], digits + 2)}  "
                         f"({v['n_images']} images)")
    return lines


def stargan_v2_fns(nets: Any, fan: Any = None) -> dict[str, Fn | None]:
    """latent_fn / reference_fn / det_fn for StarGAN v2 networks (`stargan_lib.models.stargan_v2`).

    Which ones exist follows the configuration (A-C: det; D: latent; E, F: latent and reference).
    With the CelebA-HQ high-pass skip (`nets.cfg.w_hpf > 0`) every call gives G the face-alignment
    network's masks of its source images, as the official evaluation does: `fan` is that network, or
    None to build it from `nets.cfg.wing_path` (`stargan_lib.models.fan.build_fan`, which says where
    to get `wing.ckpt` when it is absent).
    """
    from stargan_lib.models.stargan_v2_config import guides
    from stargan_lib.models import stargan_v2 as v2

    masks_of = hpf_masks_fn(nets.cfg, fan)
    g = guides(nets.cfg)
    return {
        "latent_fn": (lambda x, y, z: v2.translate_latent(nets, x, y, z, masks_of(x))) if "latent" in g else None,
        "reference_fn": ((lambda x, y, r: v2.translate_reference(nets, x, y, r, masks_of(x)))
                         if "reference" in g else None),
        "det_fn": (lambda x, y: v2.translate_det(nets, x, y, masks_of(x))) if "det" in g else None,
    }


def hpf_masks_fn(cfg: Any, fan: Any = None) -> Callable[[torch.Tensor], Any]:
    """x -> the high-pass masks G needs for sources x: None when `cfg.w_hpf == 0`, else FAN's masks
    (FAN moved to x's device on first use; built from `cfg.wing_path` when `fan` is None)."""
    if cfg.w_hpf <= 0:
        return lambda x: None
    from stargan_lib.models.fan import build_fan

    holder = [fan if fan is not None else build_fan(cfg)]

    def masks_of(x: torch.Tensor) -> Any:
        net = holder[0]
        if next(net.parameters()).device != x.device:
            holder[0] = net = net.to(x.device)
        return net.get_heatmap(x)

    return masks_of


# --------------------------------------------------------------------------- checkpoints (stargan eval)

def _course_v2_config(state: Any, path: Any) -> Any:
    """The validated StarGANv2Config stored in a course checkpoint dict (clear errors otherwise)."""
    import dataclasses

    from stargan_lib.models.stargan_v2_config import StarGANv2Config, validate
    from stargan_lib.errors import CheckpointError
    from stargan_lib.train.common import config_from_dict

    if state.get("config_class") != "StarGANv2Config":
        raise CheckpointError(f"{path} holds a {state.get('config_class')} run; `stargan eval` evaluates "
                              "StarGAN v2 checkpoints (the Appendix C protocol)")
    names = {f.name for f in dataclasses.fields(StarGANv2Config)}
    unknown = sorted(set(state["config"]) - names)
    if unknown:
        raise CheckpointError(f"{path} has config fields {unknown} this version does not know; it was "
                              "written by another version of the course")
    return validate(config_from_dict(StarGANv2Config, state["config"]))


def load_stargan_v2_for_eval(path: str, dataset: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The EMA networks of a StarGAN v2 checkpoint, in eval mode, and a description of the run.

    Accepts a course training checkpoint (`<out_dir>/checkpoint.pt`: any configuration A-F, its
    config is read from the file), the `nets_ema.ckpt` that `stargan train` writes beside it (its
    configuration is read from that `checkpoint.pt`), or an official `100000_nets_ema.ckpt`
    (configuration F layout, loaded by `models.stargan_v2.load_official_nets_ema`). Non-finite
    weights are refused. Introduced in `notebooks/06_ablation_table.ipynb` (`stargan eval`).
    """
    from pathlib import Path

    from stargan_lib.errors import CheckpointError
    from stargan_lib.models import stargan_v2 as v2
    from stargan_lib.train.common import CHECKPOINT, FORMAT
    from stargan_lib.utils import check_finite_weights, load_state_dict_checked, safe_torch_load

    state = safe_torch_load(path)
    sibling = Path(path).with_name(CHECKPOINT)
    if isinstance(state, dict) and state.get("format") == FORMAT:
        cfg = _course_v2_config(state, path)
        nets = v2.ema_copy(v2.build_nets(cfg))
        for name in nets:
            load_state_dict_checked(nets[name], state["nets"].get(f"ema_{name}"), f"{path}[ema_{name}]")
        info = {"checkpoint": str(path), "kind": "course training checkpoint", "config": cfg.config,
                "step": int(state.get("step", 0))}
    elif isinstance(state, dict) and Path(path).name != CHECKPOINT and sibling.is_file():
        # a course run's nets_ema.ckpt: official layout, the configuration is in checkpoint.pt beside it
        run = safe_torch_load(sibling)
        if not (isinstance(run, dict) and run.get("format") == FORMAT):
            raise CheckpointError(f"{sibling} beside {path} is not a course training checkpoint; evaluate the "
                                  "run's checkpoint.pt, or move an official nets_ema file to its own folder")
        cfg = _course_v2_config(run, sibling)
        nets = v2.ema_copy(v2.build_nets(cfg))
        for name in nets:
            load_state_dict_checked(nets[name], state.get(name),
                                    f"{path}[{name}] (configuration from {sibling})")
        info = {"checkpoint": str(path), "kind": f"course nets_ema (configuration from {sibling.name})",
                "config": cfg.config, "step": int(run.get("step", 0))}
    else:
        try:
            nets = v2.load_official_nets_ema(str(path), dataset=dataset)
        except CheckpointError as exc:
            raise CheckpointError(f"{exc}. A nets_ema.ckpt written by `stargan train` is read together with the "
                                  f"checkpoint.pt beside it (that file holds its configuration); none is in "
                                  f"{Path(path).parent}. Evaluate the run's checkpoint.pt instead") from exc
        info = {"checkpoint": str(path), "kind": "nets_ema (configuration F layout)", "config": nets.cfg.config}
    check_finite_weights(nets, str(path))
    return nets.eval(), info


def evaluate_checkpoint(path: str, dataset: str, data_dir: str | None = None, preset: Any = None,
                        cfg: EvalConfig | None = None, oracle: bool = False, progress: bool = True) -> dict[str, Any]:
    """Load a StarGAN v2 checkpoint and run `evaluate_protocol` on `dataset` (what `stargan eval` does).

    Synthetic data (animals, faces_gender) is rendered at the checkpoint's image size with the
    preset's sizes; with `oracle`, the preset's oracle adds target accuracy and content preservation.
    """
    import dataclasses

    nets, info = load_stargan_v2_for_eval(path, dataset if dataset in REAL_DOMAIN_SETS else None)
    cfg = dataclasses.replace(cfg or EvalConfig(), latent_dim=nets.cfg.latent_dim)
    nets = nets.to(resolve_device(cfg.device))
    size = nets.cfg.image_size
    train, test = domain_train_test(dataset, data_dir, size, preset)
    n_domains = len(train.label_names) if hasattr(train, "label_names") else None
    if n_domains is not None and n_domains != nets.cfg.num_domains:
        raise ConfigError(f"{path} was trained on {nets.cfg.num_domains} domains but {dataset!r} has {n_domains} "
                          f"({', '.join(train.label_names)}); evaluate it on the dataset it was trained on")
    orc = None
    if oracle:
        if dataset not in SYNTHETIC_DOMAIN_SETS:
            raise ConfigError("--oracle needs synthetic data (animals, faces_gender): the oracles read the "
                              "recorded factors of synthetic images")
        from stargan_lib.data.oracle import get_oracle

        orc = get_oracle(dataset, preset=preset, image_size=size, progress=progress, device=cfg.device)
    result = evaluate_protocol(train, test, **stargan_v2_fns(nets), cfg=cfg, preset=preset, dataset=dataset,
                               oracle=orc, progress=progress)
    result["model"] = info
    return result
