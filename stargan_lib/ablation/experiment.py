"""One configuration of the ablation: `prepare` -> `train_configuration` -> `write_grids` ->
`evaluate_configuration` -> `write_result` (or `run_experiment` for all of them).

Introduced in `notebooks/experiment.ipynb`, which runs these steps for one configuration (papermill
runs it once per configuration: `stargan_lib.ablation.runner`). Training goes through
`stargan_lib.experiments.stargan_v2.train_run`, as in notebooks 04 and 05.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from stargan_lib.ablation.settings import (DEFAULT_OUT, PAPER_TABLE1, RESULT_FORMAT, SYNTHETIC_SETS, as_preset,
                                          check_dataset, check_manifest, data_root, eval_sizes, experiment_config,
                                          library_version, make_manifest, parse_configs)
from stargan_lib.configs_v2 import DESCRIPTIONS
from stargan_lib.models.stargan_v2_config import StarGANv2Config
from stargan_lib.presets import Preset
from stargan_lib.threads import use_threads
from stargan_lib.utils import write_json


@dataclass
class Experiment:
    """Everything one configuration's run needs; made by `prepare`."""

    letter: str
    preset: Preset
    dataset: str
    seed: int
    cfg: StarGANv2Config
    out_dir: Path
    run_dir: Path
    manifest: dict[str, Any]
    train: Any
    test: Any
    data_dir: str | None = None
    device: str = "auto"
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def result_path(self) -> Path:
        return self.out_dir / f"{self.letter}.json"

    @property
    def grid_path(self) -> Path:
        return self.out_dir / f"{self.letter}.png"


def prepare(config: str, preset: str | Preset | None = None, dataset: str = "animals", seed: int = 0,
            iters: int | None = None, out_dir: str | Path = DEFAULT_OUT, data_dir: str | None = None,
            device: str = "auto", threads: int | None = None, on_bad: str | None = None) -> Experiment:
    """Check the inputs and the results folder, load the data; nothing is trained yet.

    `dataset`: a synthetic stand-in (animals = AFHQ, faces_gender = CelebA-HQ) or, with `data_dir`
    (a folder with train/ and val/, one sub-folder per domain, or its train/ folder), the real afhq /
    celeba_hq.
    `threads`: torch CPU threads (None: the thread policy of `stargan_lib.threads`: every available core,
    or `$STARGAN_THREADS`).
    `on_bad`: unreadable image files of real data, "skip" (left out with a warning; the loaders' default
    when None) or "error" (`stargan ablation --on-bad`).
    """
    from contextlib import nullcontext

    from stargan_lib.data.image_files import bad_image_policy, check_on_bad

    from stargan_lib.data.datasets import domain_train_test

    letter = parse_configs([config])[0]
    p = as_preset(preset)
    check_dataset(dataset, data_dir)
    use_threads(threads)
    out = Path(out_dir)
    manifest = make_manifest(p, dataset, seed, iters, data_dir)
    check_manifest(out, manifest)
    run_dir = out / "runs" / letter
    cfg = experiment_config(letter, p, dataset, seed, iters, device, run_dir)
    t0 = time.perf_counter()
    with bad_image_policy(check_on_bad(on_bad)) if on_bad else nullcontext():
        train, test = domain_train_test(dataset, data_root(data_dir), cfg.image_size, p)
    notes = []
    if p.name == "paper" and dataset in SYNTHETIC_SETS:
        notes.append("paper preset on synthetic data: the paper's architecture and length, not its data")
    exp = Experiment(letter, p, dataset, int(seed), cfg, out, run_dir, manifest, train, test,
                     str(data_dir) if data_dir else None, device, {"data_s": time.perf_counter() - t0}, notes)
    return exp


def train_configuration(exp: Experiment, progress: bool = True) -> Any:
    """Train (or resume) the configuration to its length; returns `train.stargan_v2.TrainResult`.

    The training seconds of every call are summed (`experiments.stargan_v2.train_run`), so a resumed
    configuration reports its whole training time.
    """
    from stargan_lib.experiments.stargan_v2 import train_run

    result = train_run(exp.cfg, exp.train, exp.run_dir, progress=progress, log=None)
    exp.timings.update(train_s=result.extra["train_s_total"], train_s_this_run=result.seconds,
                       iters_this_run=result.iters_run, step=result.step)
    if result.seconds_per_iter is not None:
        exp.timings["seconds_per_iter"] = result.seconds_per_iter
    return result


def _grid_sources(exp: Experiment, per_domain: int = 2) -> tuple[Any, Any, Any]:
    """Fixed held-out sources (`per_domain` per domain) and one reference per domain, as float images."""
    import numpy as np
    import torch

    from stargan_lib.data.datasets import domain_arrays

    _, test_d, _ = domain_arrays(exp.test, "test")
    src = np.concatenate([d[:per_domain] for d in test_d])
    refs = np.stack([d[-1] for d in test_d])
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float().div(127.5).sub(1)  # noqa: E731
    return to_t(src), to_t(refs), torch.arange(len(test_d))


def write_grids(exp: Experiment, ema: Any, n_styles: int = 5) -> dict[str, Path]:
    """The configuration's sample grid(s) of held-out images with the EMA networks:
    `<out>/<X>.png` (A–C: source + one output per domain; D–F: per target domain, source + `n_styles`
    latent-guided outputs) and, for E–F, `<out>/<X>_reference.png` (reference-guided)."""
    from stargan_lib.grids import save_grid
    from stargan_lib.train.stargan_v2 import sample_grids

    ema = ema.eval()
    dev = next(ema.parameters()).device
    x_src, x_ref, y_ref = _grid_sources(exp)
    grids = sample_grids(ema, x_src.to(dev), x_ref.to(dev), y_ref.to(dev), n_styles=n_styles, seed=exp.seed)
    paths = {}
    for kind, (imgs, nrow) in grids.items():
        path = exp.grid_path if kind in ("det", "latent") else exp.out_dir / f"{exp.letter}_{kind}.png"
        save_grid(imgs.cpu().float().clamp(-1, 1), path, nrow=nrow)
        paths[kind] = path
    return paths


def eval_config(preset: str | Preset | None, latent_dim: int = 16, seed: int = 0, device: str = "auto") -> Any:
    """The protocol's `EvalConfig` at the preset's ablation sizes (`settings.eval_sizes`)."""
    from stargan_lib.metrics.protocol import EvalConfig

    ev = eval_sizes(preset)
    return EvalConfig(n_sources=ev["n_sources"], n_outputs=ev["n_outputs"], n_real=ev["n_real"],
                      lpips_size=ev["lpips_size"], reference_fid=ev["reference_fid"], latent_dim=latent_dim,
                      seed=seed, device=device)


def evaluate_configuration(exp: Experiment, ema: Any, progress: bool = True) -> dict[str, Any]:
    """The Appendix C protocol on the EMA networks at the preset's ablation sizes (plus the oracle
    on synthetic data). Returns `metrics.protocol.evaluate_protocol`'s result; `exp.timings` gets
    `eval_s` (wall) and `eval_cpu_s` (CPU seconds of this process).

    Cost at the course preset, one thread (`benchmarks/bench_eval.py`): about 255 s of CPU for D-F,
    215 s for A-C, almost all of it the FID Inception on 1,800 outputs (~0.12 s each) and, for D-F,
    the diversity LPIPS (~0.21 s per source); the bootstrap errors take ~6 s. The first configuration
    of a results folder also computes the real statistics (1,500 images, ~180 s; then cached)."""
    import warnings

    from stargan_lib.metrics.fid_metric import FIDSampleSizeWarning
    from stargan_lib.metrics.protocol import evaluate_protocol, stargan_v2_fns

    fns = stargan_v2_fns(ema.eval())
    if not exp.preset.ablation.reference:
        fns["reference_fn"] = None
    cfg = eval_config(exp.preset, exp.cfg.latent_dim, exp.seed, exp.device)
    oracle = None
    if exp.dataset in SYNTHETIC_SETS:
        from stargan_lib.data.oracle import get_oracle
        oracle = get_oracle(exp.dataset, preset=exp.preset, image_size=exp.cfg.image_size, progress=progress,
                            device=exp.device)
    t0, cpu0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FIDSampleSizeWarning)    # the result's "notes" say it
        result = evaluate_protocol(exp.train, exp.test, **fns, cfg=cfg, preset=exp.preset, dataset=exp.dataset,
                                   oracle=oracle, progress=progress)
    exp.timings["eval_s"] = time.perf_counter() - t0
    # this process's CPU seconds: far below eval_s x threads when the process waited for a core
    exp.timings["eval_cpu_s"] = time.process_time() - cpu0
    return result


def headline(protocol: Mapping[str, Any]) -> dict[str, Any]:
    """The Table 1 numbers of one evaluation: latent-guided FID / LPIPS (D–F) or the deterministic
    FID (A–C, LPIPS None) with their bootstrap standard errors over the sources, the oracle's scores
    and the course metrics (oracle Fréchet distance, pose kept), and the reference-guided numbers
    (FID, LPIPS, style agreement with its chance level) when evaluated."""
    modes = protocol["modes"]
    mode = "latent" if "latent" in modes else "deterministic"
    m = modes[mode]
    ref = modes.get("reference", {})
    out = {"mode": mode, "fid": m["fid"], "fid_se": m.get("fid_se"), "lpips": m["lpips"], "lpips_se": m.get("lpips_se"),
           "oracle_accuracy": m.get("accuracy"), "content_error": m.get("content_error"),
           "oracle_fd": m.get("oracle_fd"), "oracle_fd_se": m.get("oracle_fd_se"), "pose_kept": m.get("pose_kept"),
           "style_agreement": ref.get("style_agreement"), "style_agreement_chance": ref.get("style_agreement_chance"),
           "fid_reference": ref.get("fid"), "lpips_reference": ref.get("lpips"),
           "images_per_pair": max(v["n_images"] for v in m["pairs"].values())}
    return out


def write_result(exp: Experiment, protocol: Mapping[str, Any], grids: Mapping[str, Path],
                 checkpoint: Path | None = None) -> dict[str, Any]:
    """`<out>/<X>.json` (atomic): the record the table is made from. `checkpoint`: the weights evaluated
    (default: the run's `checkpoint.pt`)."""
    import torch

    record = {
        "format": RESULT_FORMAT, "status": "ok", "config": exp.letter, "description": DESCRIPTIONS[exp.letter],
        "preset": exp.preset.name, "dataset": exp.dataset, "seed": exp.seed, "iterations": exp.cfg.total_iters,
        "manifest": exp.manifest, "timings": dict(exp.timings), "metrics": headline(protocol),
        "paper": PAPER_TABLE1[exp.letter], "grids": {k: Path(v).name for k, v in grids.items()},
        "checkpoint": str(checkpoint or exp.run_dir / "checkpoint.pt"), "protocol": dict(protocol), "notes": exp.notes,
        "library_version": library_version(), "torch_version": torch.__version__,
        "device": str(protocol.get("config", {}).get("device", exp.device)), "config_fields": dataclasses.asdict(exp.cfg),
    }
    write_json(exp.result_path, record)
    return record


def run_experiment(config: str, preset: str | Preset | None = None, dataset: str = "animals", seed: int = 0,
                   iters: int | None = None, out_dir: str | Path = DEFAULT_OUT, data_dir: str | None = None,
                   device: str = "auto", threads: int | None = None, progress: bool = True,
                   on_bad: str | None = None) -> dict[str, Any]:
    """What `notebooks/experiment.ipynb` does, in one call: train, grids, evaluate, write the JSON."""
    t0 = time.perf_counter()
    exp = prepare(config, preset, dataset, seed, iters, out_dir, data_dir, device, threads, on_bad)
    result = train_configuration(exp, progress)
    grids = write_grids(exp, result.ema)
    protocol = evaluate_configuration(exp, result.ema, progress)
    exp.timings["total_s"] = time.perf_counter() - t0
    return write_result(exp, protocol, grids)
