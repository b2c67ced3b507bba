"""Table 1 of the StarGAN v2 paper reproduced: train and evaluate configurations A–F, then tabulate.

Introduced in `notebooks/experiment.ipynb` (one configuration, run by papermill) and
`notebooks/06_ablation_table.ipynb` (the table); `stargan ablation --preset course` (= `make ablation`)
runs the experiment notebook once per configuration and writes the table.

One experiment (`prepare` -> `train_configuration` -> `write_grids` -> `evaluate_configuration` ->
`write_result`, or `run_experiment` for all of them):
  1. the configuration's StarGAN v2 config at the preset (`configs_v2.make_config`), trained for the
     preset's ablation length (`Preset.ablation.total_iters`), resuming from `<out>/runs/<X>/checkpoint.pt`;
  2. a sample grid of held-out images with the EMA networks (`<out>/<X>.png`; E–F also
     `<X>_reference.png`): one output per domain for A–C, several latent-guided outputs for D–F;
  3. the StarGAN v2 evaluation protocol (Appendix C, `metrics.protocol`) on the EMA networks: FID
     against the target domain's training images, LPIPS diversity where the configuration has
     several outputs per source (D–F), and on synthetic data the oracle's target-domain accuracy
     and content preservation;
  4. `<out>/<X>.json`: preset, dataset, seed, iterations, timings, metrics, library version.

The ablation (`run_ablation`): a manifest (`<out>/manifest.json`: preset, dataset, seed, iterations,
evaluation sizes) refuses to mix results of other settings in one folder; configurations whose JSON
holds a result are skipped unless `force`, so an interrupted run resumes; each configuration runs in
its own kernel through papermill (working directory `notebooks/`), its executed notebook is kept
in `<out>/notebooks/`, and a failing configuration is recorded as failed (with the path of its
notebook) while the others still run. Then `ablation.csv`, `ablation.md` (ours beside the paper's
Table 1) and `ablation.png`.

Reading the numbers: the paper measured CelebA-HQ at 256 px after 100k iterations with 1,000s of
test images; the course measures 32 px synthetic animals after 2,500 iterations with 300 images per
domain pair. FID from few images is biased upwards (the bias shrinks with the count), so only
numbers computed with equal image counts are comparable: the trend between configurations carries
over, the absolute values do not. The paper notes that the FID gap between C and D is partly the
number of outputs per source; here A–C translate as many distinct sources as D–F have outputs, so
every configuration's FID uses the same number of images.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from stargan_lib.configs_v2 import DESCRIPTIONS, LETTERS, SYNTHETIC, StarGANv2Config, make_config
from stargan_lib.errors import ConfigError
from stargan_lib.presets import AblationSizes, Preset, get_preset
from stargan_lib import paths
from stargan_lib.utils import atomic_write_bytes

# Table 1 of the StarGAN v2 paper (CelebA-HQ, 256 px, latent-guided; LPIPS undefined for A–C).
PAPER_TABLE1: dict[str, dict[str, float | None]] = {
    "A": {"fid": 98.4, "lpips": None},
    "B": {"fid": 91.4, "lpips": None},
    "C": {"fid": 80.5, "lpips": None},
    "D": {"fid": 32.3, "lpips": 0.312},
    "E": {"fid": 17.1, "lpips": 0.405},
    "F": {"fid": 13.7, "lpips": 0.452},
}
PAPER_NAMES = {
    "A": "Baseline StarGAN", "B": "+ Multi-task discriminator", "C": "+ Tuning (e.g. R1 regularization)",
    "D": "+ Latent code injection", "E": "+ Replace (D) with style code", "F": "+ Diversity regularization",
}
SYNTHETIC_SETS = tuple(SYNTHETIC.values())          # animals, faces_gender
REAL_SETS = tuple(SYNTHETIC)                        # afhq, celeba_hq
MANIFEST = "manifest.json"
RESULT_FORMAT = "stargan-course/ablation-result/1"
DEFAULT_OUT = "results/ablation"
TABLE_FILES = ("ablation.csv", "ablation.md", "ablation.png")
# What must agree between a results folder and a new run for their numbers to be comparable.
MANIFEST_KEYS = ("preset", "dataset", "seed", "iterations", "evaluation", "data_dir")


# ============================================================================ small helpers
def parse_configs(configs: str | Iterable[str] | None) -> list[str]:
    """"A,B,F" / "ABF" / ["A", "b"] / None (all) -> ["A", "B", "F"], in Table 1 order, no repeats.

    An unknown letter is an error that lists A–F.
    """
    if configs is None:
        return list(LETTERS)
    items = configs.replace(",", " ").split() if isinstance(configs, str) else list(configs)
    if isinstance(configs, str) and len(items) == 1 and len(items[0]) > 1:
        items = list(items[0])                                          # "ABF"
    letters = [str(c).strip().upper() for c in items if str(c).strip()]
    bad = [c for c in letters if c not in LETTERS]
    if bad or not letters:
        raise ConfigError(f"unknown StarGAN v2 configuration(s) {bad or configs!r}; choose among "
                          f"{', '.join(LETTERS)} (Table 1 of the StarGAN v2 paper), e.g. --configs A,B,F")
    return [c for c in LETTERS if c in letters]


def default_out_dir(preset: str | Preset | None, base: str | Path = DEFAULT_OUT) -> Path:
    """`results/ablation` for the course preset and `results/ablation_<preset>` for the others, so a
    smoke run (CI) never lands beside the course table. Relative to the current directory."""
    name = _preset(preset).name
    base = Path(base)
    return base if name == "course" else base.with_name(f"{base.name}_{name}")


NOTEBOOK_OUT = "../results/ablation"    # the notebooks' former default (relative to notebooks/), still accepted


def resolve_out_dir(out_dir: str | Path | None, preset: str | Preset | None) -> Path:
    """A notebook's results folder: None (the notebooks' default) becomes `default_out_dir`'s per-preset
    folder inside the checkout's `results/` (`results/ablation_smoke` at smoke), whatever the working
    directory; any other value is used as given."""
    if out_dir is None or str(out_dir) == NOTEBOOK_OUT:
        return default_out_dir(preset, paths.results_dir("ablation"))
    return Path(out_dir)


def _preset(preset: str | Preset | None) -> Preset:
    return preset if isinstance(preset, Preset) else get_preset(preset)


def _version() -> str:
    from stargan_lib import __version__
    return __version__


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def _read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing or unreadable (a result to redo)."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def data_root(data_dir: str | Path | None) -> str | None:
    """The real dataset's root (holding train/ and val/): `data_dir` itself, or its parent when it is
    the train/ folder (the convention of `stargan train --data-dir data/afhq/train`)."""
    if not data_dir:
        return None
    path = Path(data_dir).expanduser()
    if path.name == "train" and not (path / "train").is_dir() and (path.parent / "train").is_dir():
        path = path.parent
    if not (path / "train").is_dir():
        raise ConfigError(f"data folder {path} has no train/ folder; pass the dataset's root that holds train/ and "
                          "val/ (one sub-folder per domain in each), e.g. data/afhq")
    return str(path.resolve())


def check_dataset(dataset: str, data_dir: str | Path | None) -> None:
    """A synthetic stand-in without a data folder, or a real dataset with one."""
    if dataset not in SYNTHETIC_SETS + REAL_SETS:
        raise ConfigError(f"unknown ablation dataset {dataset!r}; choose one of {', '.join(SYNTHETIC_SETS)} "
                          f"(synthetic) or {', '.join(REAL_SETS)} (real, with --data-dir / DATA_DIR)")
    if dataset in REAL_SETS and not data_dir:
        raise ConfigError(f"{dataset!r} is real data: pass --data-dir (DATA_DIR), the folder holding train/ and val/, "
                          f"or use its synthetic stand-in {SYNTHETIC[dataset]!r}")
    if dataset in SYNTHETIC_SETS and data_dir:
        raise ConfigError(f"{dataset!r} is synthetic and takes no data folder (got {data_dir}); for real data use "
                          f"{', '.join(REAL_SETS)}")
    data_root(data_dir)


def ablation_iters(preset: str | Preset | None, iters: int | None = None) -> int:
    """Training iterations per configuration: `iters`, else the preset's ablation length, else the
    "stargan_v2" overrides' total_iters (the paper's 100k at the paper preset)."""
    p = _preset(preset)
    if iters is not None:
        if int(iters) < 1:
            raise ConfigError(f"iters={iters}: train each configuration for at least 1 iteration")
        return int(iters)
    if p.ablation.total_iters:
        return p.ablation.total_iters
    return make_config("F", p).total_iters


def experiment_config(letter: str, preset: str | Preset | None, dataset: str = "animals", seed: int = 0,
                      iters: int | None = None, device: str = "auto", out_dir: str | Path = "") -> StarGANv2Config:
    """The training config of one configuration of the ablation.

    Deviation (ablation length): the preset's ablation length replaces total_iters, and λ_ds decays
    to 0 over that length (ds_decay_iters = total_iters, as over the paper's 100k iterations).
    Deviation (CelebA-HQ): the high-pass face-heatmap skip is off (w_hpf = 0), since the course does
    not ship the face-alignment network; the paper does not say whether Table 1 used it.
    """
    p = _preset(preset)
    n = ablation_iters(p, iters)
    return make_config(letter, p, dataset, seed=int(seed), total_iters=n, ds_decay_iters=n, w_hpf=0.0,
                       device=device, out_dir=str(out_dir), sample_every=0,
                       ckpt_every=max(1, n // 4))


def eval_sizes(preset: str | Preset | None) -> dict[str, Any]:
    """The evaluation part of the preset's ablation sizes (what the manifest records)."""
    s = _preset(preset).ablation
    n_sources = s.n_sources or _preset(preset).eval_sources
    return {"n_sources": n_sources, "n_outputs": s.n_outputs, "n_real": s.n_real, "reference": s.reference,
            "lpips_size": s.lpips_size}


def make_manifest(preset: str | Preset | None, dataset: str, seed: int, iters: int | None,
                  data_dir: str | Path | None = None) -> dict[str, Any]:
    """What a results folder's numbers depend on (stored as `<out>/manifest.json`)."""
    p = _preset(preset)
    return {"kind": "StarGAN v2 Table 1 ablation", "preset": p.name, "dataset": dataset, "seed": int(seed),
            "iterations": ablation_iters(p, iters), "evaluation": eval_sizes(p),
            "data_dir": data_root(data_dir), "library_version": _version()}


def _describe(m: Mapping[str, Any]) -> str:
    return (f"preset {m.get('preset')!r}, dataset {m.get('dataset')!r}, seed {m.get('seed')}, "
            f"{m.get('iterations')} iterations, evaluation {m.get('evaluation')}")


def check_manifest(out_dir: str | Path, manifest: Mapping[str, Any], write: bool = True) -> Path:
    """Refuse a results folder that holds results of other settings; write the manifest when new.

    Also checks the per-configuration JSON files, so a folder whose manifest was deleted is still
    protected. Returns the manifest path.
    """
    out = Path(out_dir)
    path = out / MANIFEST
    found: list[tuple[str, Mapping[str, Any]]] = []
    old = _read_json(path) if path.exists() else None
    if path.exists() and old is None:
        raise ConfigError(f"{path} is not a readable ablation manifest; delete it (and the results beside it) "
                          "or choose another results folder")
    if old is not None:
        found.append((str(path), old))
    for letter in LETTERS:
        res = _read_json(out / f"{letter}.json")
        if res is not None and "preset" in res:
            found.append((str(out / f"{letter}.json"), res.get("manifest", res)))
    for where, other in found:
        diff = [k for k in MANIFEST_KEYS if k in other and other.get(k) != manifest.get(k)]
        if diff:
            raise ConfigError(
                f"results folder {out} holds results of another run ({where}: {_describe(other)}); this run is "
                f"{_describe(manifest)} (differs in {', '.join(diff)}). Numbers of different settings are not "
                f"comparable, so they are not mixed: pass another folder (--out / OUT_DIR), e.g. "
                f"{default_out_dir(manifest['preset'])}, or delete {out}")
    if write and old is None:
        out.mkdir(parents=True, exist_ok=True)
        _write_json(path, dict(manifest))
    return path


# ============================================================================ one experiment
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
            device: str = "auto", threads: int | None = None) -> Experiment:
    """Check the inputs and the results folder, load the data; nothing is trained yet.

    `dataset`: a synthetic stand-in (animals = AFHQ, faces_gender = CelebA-HQ) or, with `data_dir`
    (a folder with train/ and val/, one sub-folder per domain, or its train/ folder), the real afhq /
    celeba_hq.
    `threads`: torch CPU threads (None: leave torch's default).
    """
    import torch

    from stargan_lib.metrics.protocol import _eval_data

    letter = parse_configs([config])[0]
    p = _preset(preset)
    check_dataset(dataset, data_dir)
    if threads:
        torch.set_num_threads(int(threads))
    out = Path(out_dir)
    manifest = make_manifest(p, dataset, seed, iters, data_dir)
    check_manifest(out, manifest)
    run_dir = out / "runs" / letter
    cfg = experiment_config(letter, p, dataset, seed, iters, device, run_dir)
    t0 = time.perf_counter()
    train, test = _eval_data(dataset, data_root(data_dir), cfg.image_size, p)
    notes = []
    if p.name == "paper" and dataset in SYNTHETIC_SETS:
        notes.append("paper preset on synthetic data: the paper's architecture and length, not its data")
    exp = Experiment(letter, p, dataset, int(seed), cfg, out, run_dir, manifest, train, test,
                     str(data_dir) if data_dir else None, device, {"data_s": time.perf_counter() - t0}, notes)
    return exp


def _train_time_path(exp: Experiment) -> Path:
    return exp.run_dir / "train_time.json"


def train_configuration(exp: Experiment, progress: bool = True) -> Any:
    """Train (or resume) the configuration to its length; returns `train.stargan_v2.TrainResult`.

    The training seconds of every call are summed in `<run_dir>/train_time.json`, so a resumed
    configuration reports its whole training time.
    """
    from stargan_lib.train.stargan_v2 import train
    from stargan_lib.utils import seed_everything

    seed_everything(exp.cfg.seed)
    result = train(exp.cfg, exp.train, out_dir=exp.run_dir, resume=True, progress=progress)
    spent = (_read_json(_train_time_path(exp)) or {}).get("seconds", 0.0)
    if result.extra.get("iters_run"):
        spent += result.seconds
        _write_json(_train_time_path(exp), {"seconds": spent, "step": result.step})
    exp.timings.update(train_s=spent, train_s_this_run=result.seconds,
                       iters_this_run=result.extra.get("iters_run", 0), step=result.step)
    if result.seconds_per_iter is not None:
        exp.timings["seconds_per_iter"] = result.seconds_per_iter
    return result


def _grid_sources(exp: Experiment, per_domain: int = 2) -> tuple[Any, Any, Any]:
    """Fixed held-out sources (`per_domain` per domain) and one reference per domain, as float images."""
    import numpy as np
    import torch

    from stargan_lib.metrics.protocol import _by_domain

    _, test_d, _ = _by_domain(exp.test, "test", progress=False)
    src = np.concatenate([d[:per_domain] for d in test_d])
    refs = np.stack([d[-1] for d in test_d])
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float().div(127.5).sub(1)  # noqa: E731
    return to_t(src), to_t(refs), torch.arange(len(test_d))


def write_grids(exp: Experiment, ema: Any, n_styles: int = 5) -> dict[str, Path]:
    """The configuration's sample grid(s) of held-out images with the EMA networks:
    `<out>/<X>.png` (A–C: source + one output per domain; D–F: per target domain, source + `n_styles`
    latent-guided outputs) and, for E–F, `<out>/<X>_reference.png` (reference-guided)."""
    from stargan_lib.train.stargan_v2 import sample_grids, save_grid

    ema = ema.eval()
    dev = next(ema.parameters()).device
    x_src, x_ref, y_ref = _grid_sources(exp)
    grids = sample_grids(ema, x_src.to(dev), x_ref.to(dev), y_ref.to(dev), n_styles=n_styles, seed=exp.seed)
    paths = {}
    for kind, (imgs, nrow) in grids.items():
        path = exp.grid_path if kind in ("det", "latent") else exp.out_dir / f"{exp.letter}_{kind}.png"
        save_grid(imgs.cpu(), nrow, path)
        paths[kind] = path
    return paths


def evaluate_configuration(exp: Experiment, ema: Any, progress: bool = True) -> dict[str, Any]:
    """The Appendix C protocol on the EMA networks at the preset's ablation sizes (plus the oracle
    on synthetic data). Returns `metrics.protocol.evaluate_protocol`'s result."""
    import warnings

    from stargan_lib.metrics.fid_metric import FIDSampleSizeWarning
    from stargan_lib.metrics.protocol import EvalConfig, evaluate_protocol, stargan_v2_fns

    sizes = exp.preset.ablation
    fns = stargan_v2_fns(ema.eval())
    if not sizes.reference:
        fns["reference_fn"] = None
    ev = eval_sizes(exp.preset)
    cfg = EvalConfig(n_sources=ev["n_sources"], n_outputs=ev["n_outputs"], n_real=ev["n_real"],
                     lpips_size=ev["lpips_size"], latent_dim=exp.cfg.latent_dim, seed=exp.seed, device=exp.device)
    oracle = None
    if exp.dataset in SYNTHETIC_SETS:
        from stargan_lib.data.oracle import get_oracle
        oracle = get_oracle(exp.dataset, preset=exp.preset, image_size=exp.cfg.image_size, progress=progress,
                            device=exp.device)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FIDSampleSizeWarning)    # the result's "notes" say it
        result = evaluate_protocol(exp.train, exp.test, **fns, cfg=cfg, preset=exp.preset, dataset=exp.dataset,
                                   oracle=oracle, progress=progress)
    exp.timings["eval_s"] = time.perf_counter() - t0
    return result


def headline(protocol: Mapping[str, Any]) -> dict[str, Any]:
    """The Table 1 numbers of one evaluation: latent-guided FID / LPIPS (D–F) or the deterministic
    FID (A–C, LPIPS None), the oracle's scores, and the reference-guided numbers when evaluated."""
    modes = protocol["modes"]
    mode = "latent" if "latent" in modes else "deterministic"
    m = modes[mode]
    out = {"mode": mode, "fid": m["fid"], "lpips": m["lpips"], "lpips_se": m.get("lpips_se"),
           "oracle_accuracy": m.get("accuracy"), "content_error": m.get("content_error"),
           "fid_reference": modes.get("reference", {}).get("fid"),
           "lpips_reference": modes.get("reference", {}).get("lpips"),
           "images_per_pair": max(v["n_images"] for v in m["pairs"].values())}
    return out


def write_result(exp: Experiment, protocol: Mapping[str, Any], grids: Mapping[str, Path]) -> dict[str, Any]:
    """`<out>/<X>.json` (atomic): the record the table is made from."""
    import torch

    record = {
        "format": RESULT_FORMAT, "status": "ok", "config": exp.letter, "description": DESCRIPTIONS[exp.letter],
        "preset": exp.preset.name, "dataset": exp.dataset, "seed": exp.seed, "iterations": exp.cfg.total_iters,
        "manifest": exp.manifest, "timings": dict(exp.timings), "metrics": headline(protocol),
        "paper": PAPER_TABLE1[exp.letter], "grids": {k: Path(v).name for k, v in grids.items()},
        "checkpoint": str(exp.run_dir / "checkpoint.pt"), "protocol": dict(protocol), "notes": exp.notes,
        "library_version": _version(), "torch_version": torch.__version__,
        "device": str(protocol.get("config", {}).get("device", exp.device)), "config_fields": dataclasses.asdict(exp.cfg),
    }
    _write_json(exp.result_path, record)
    return record


def run_experiment(config: str, preset: str | Preset | None = None, dataset: str = "animals", seed: int = 0,
                   iters: int | None = None, out_dir: str | Path = DEFAULT_OUT, data_dir: str | None = None,
                   device: str = "auto", threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """What `notebooks/experiment.ipynb` does, in one call: train, grids, evaluate, write the JSON."""
    t0 = time.perf_counter()
    exp = prepare(config, preset, dataset, seed, iters, out_dir, data_dir, device, threads)
    result = train_configuration(exp, progress)
    grids = write_grids(exp, result.ema)
    protocol = evaluate_configuration(exp, result.ema, progress)
    exp.timings["total_s"] = time.perf_counter() - t0
    return write_result(exp, protocol, grids)


# ============================================================================ the ablation
def experiment_notebook() -> Path:
    """`notebooks/experiment.ipynb`, shipped with the package (`stargan_lib.paths.experiment_notebook`)."""
    return paths.experiment_notebook()


def load_result(out_dir: str | Path, letter: str) -> dict[str, Any] | None:
    """The record of configuration `letter` in `out_dir` (ok or failed), or None when there is none."""
    res = _read_json(Path(out_dir) / f"{letter}.json")
    return res if res is not None and res.get("config") == letter else None


def is_done(out_dir: str | Path, letter: str) -> bool:
    res = load_result(out_dir, letter)
    return bool(res) and res.get("status") == "ok"


@dataclass
class AblationRun:
    """What `run_ablation` did: per configuration "ran" / "skipped" / "failed", and the table files."""

    out_dir: Path
    status: dict[str, str]
    rows: list[dict[str, Any]]
    files: dict[str, Path]
    seconds: float

    @property
    def failed(self) -> list[str]:
        return [k for k, v in self.status.items() if v == "failed"]


def _progress_line(i: int, n: int, letter: str, res: Mapping[str, Any] | None, elapsed: float) -> str:
    """One line per finished configuration (`elapsed`: seconds since the ablation started)."""
    head = f"[{i}/{n}] {letter} ({PAPER_NAMES[letter]})"
    if res is None or res.get("status") != "ok":
        err = (res or {}).get("error", "no result written")
        return (f"{head}: FAILED at +{elapsed:.0f} s: {err}\n"
                f"        executed notebook: {(res or {}).get('notebook', '?')}")
    m, t = res["metrics"], res.get("timings", {})
    lp = "-" if m.get("lpips") is None else f"{m['lpips']:.3f}"
    acc = "" if m.get("oracle_accuracy") is None else f", oracle accuracy {m['oracle_accuracy']:.2f}"
    return (f"{head}: {res['iterations']} it trained in {t.get('train_s', 0):.0f} s, evaluated in "
            f"{t.get('eval_s', 0):.0f} s (notebook {t.get('total_s', 0):.0f} s, done at +{elapsed:.0f} s): "
            f"FID {m['fid']:.1f}, LPIPS {lp}{acc}")


def _record_failure(out_dir: Path, letter: str, manifest: Mapping[str, Any], notebook: Path, error: str,
                    seconds: float) -> dict[str, Any]:
    record = {"format": RESULT_FORMAT, "status": "failed", "config": letter, "description": DESCRIPTIONS[letter],
              "preset": manifest["preset"], "dataset": manifest["dataset"], "seed": manifest["seed"],
              "iterations": manifest["iterations"], "manifest": dict(manifest), "error": error,
              "notebook": str(notebook), "timings": {"total_s": seconds}, "paper": PAPER_TABLE1[letter],
              "library_version": _version()}
    _write_json(out_dir / f"{letter}.json", record)
    return record


def default_jobs(device: str = "auto") -> int:
    """Configurations run at the same time by default: one per CPU core up to 2 on a CPU (each notebook
    uses one thread: two single-threaded processes beat one two-threaded process for these small
    networks, and stay fast when other programs share the cores), one on a GPU."""
    import os

    from stargan_lib.utils import resolve_device

    if resolve_device(device).type != "cpu":
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def execute_experiment(notebook: str, out_notebook: str, parameters: dict[str, Any],
                       progress: bool = False) -> tuple[str | None, float]:
    """Run the experiment notebook once through papermill, in the notebook's own folder (the working
    directory the notebook's relative paths assume) with the `python3` kernel.

    Returns (None on success, else the error as "Name: message"; seconds it ran). The executed
    notebook, with the failing cell's traceback, is written either way. A top-level function so that a
    process pool can run it.
    """
    import papermill as pm

    t0 = time.perf_counter()
    try:
        pm.execute_notebook(notebook, out_notebook, parameters=parameters, cwd=str(Path(notebook).parent),
                            kernel_name="python3", progress_bar=progress, log_output=False)
    except Exception as exc:  # noqa: BLE001 - one configuration's failure is reported, never raised
        return f"{getattr(exc, 'ename', type(exc).__name__)}: {getattr(exc, 'evalue', str(exc))}", \
            time.perf_counter() - t0
    return None, time.perf_counter() - t0


def run_ablation(preset: str | Preset | None = "course", configs: str | Iterable[str] | None = None,
                 dataset: str = "animals", out_dir: str | Path | None = None, force: bool = False, seed: int = 0,
                 iters: int | None = None, data_dir: str | None = None, device: str = "auto",
                 threads: int | None = 1, jobs: int | None = None, progress: bool = True,
                 log: Callable[[str], None] = print, notebook: str | Path | None = None) -> AblationRun:
    """Run the experiment notebook through papermill for each configuration, then write the table.

    Configurations with a result in `out_dir` are skipped unless `force` (which also deletes their
    training run, so they train again from scratch). A configuration whose notebook fails is
    recorded as failed, with its executed notebook; the others still run.
    `threads`: torch CPU threads in each notebook (1 is fastest on a shared 2-core machine).
    `jobs`: notebooks run at the same time, each in its own process and kernel (None:
    `default_jobs(device)`); the progress line of a configuration then comes when it finishes.
    """
    t_all = time.perf_counter()
    letters = parse_configs(configs)
    p = _preset(preset)
    check_dataset(dataset, data_dir)
    jobs = default_jobs(device) if jobs is None else int(jobs)
    if jobs < 1:
        raise ConfigError(f"jobs={jobs}: run at least one configuration at a time")
    out = (Path(out_dir) if out_dir is not None else default_out_dir(p)).resolve()
    nb_in = Path(notebook) if notebook is not None else experiment_notebook()
    manifest = make_manifest(p, dataset, seed, iters, data_dir)
    check_manifest(out, manifest)
    nb_dir = out / "notebooks"
    nb_dir.mkdir(parents=True, exist_ok=True)
    n = len(letters)
    status: dict[str, str] = {}
    todo = []
    for i, letter in enumerate(letters, 1):
        if is_done(out, letter) and not force:
            status[letter] = "skipped"
            log(f"[{i}/{n}] {letter}: result exists ({out / f'{letter}.json'}), skipped (--force runs it again)")
        else:
            todo.append(letter)

    def job(letter: str, verb: str) -> tuple[str, str, dict[str, Any]]:
        if force:
            (out / f"{letter}.json").unlink(missing_ok=True)
            shutil.rmtree(out / "runs" / letter, ignore_errors=True)
        params = {"PRESET": p.name, "CONFIG": letter, "DATASET": dataset, "SEED": int(seed), "ITERS": iters,
                  "OUT_DIR": str(out), "DATA_DIR": data_root(data_dir),
                  "DEVICE": device, "THREADS": threads, "PROGRESS": False}
        nb_out = str(nb_dir / f"experiment_{letter}.ipynb")
        log(f"[{letters.index(letter) + 1}/{n}] {letter}: {verb} {nb_in.name} -> {nb_out}")
        return str(nb_in), nb_out, params

    def finish(letter: str, nb_out: str, error: str | None, seconds: float) -> None:
        """Record the outcome of one notebook that ran for `seconds`; print its progress line."""
        res = load_result(out, letter)
        if error is None and (res is None or res.get("status") != "ok"):
            error = f"RuntimeError: the notebook finished but wrote no result to {out / f'{letter}.json'}"
        if error is not None:
            res = _record_failure(out, letter, manifest, Path(nb_out), error, seconds)
        status[letter] = "failed" if error is not None else "ran"
        log(_progress_line(letters.index(letter) + 1, n, letter, res, time.perf_counter() - t_all))

    if jobs == 1:
        for letter in todo:
            nb, nb_out, params = job(letter, "running")
            finish(letter, nb_out, *execute_experiment(nb, nb_out, params, progress))
    elif todo:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # The first configuration (the cheapest, A, in a full run) starts first: it is the first to reach
        # its evaluation and fills the caches the others share (oracle, real-image FID statistics) while
        # they train. Then the most expensive ones, so that the pool finishes together.
        order = todo[:1] + sorted(todo[1:], key=LETTERS.index, reverse=True)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            started = {}
            for letter in order:
                nb, nb_out, params = job(letter, f"queued ({jobs} at a time)")
                started[pool.submit(execute_experiment, nb, nb_out, params, False)] = (letter, nb_out)
            for fut in as_completed(started):
                letter, nb_out = started[fut]
                try:
                    error, seconds = fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. a worker process that died
                    error, seconds = f"{type(exc).__name__}: {exc}", 0.0
                finish(letter, nb_out, error, seconds)
    rows = collect_results(out)
    files = write_table(out, rows)
    run = AblationRun(out, status, rows, files, time.perf_counter() - t_all)
    log(f"table: {files['md']} ({len(rows)} configurations, {len(run.failed)} failed) in {run.seconds:.0f} s")
    return run


# ============================================================================ the table
CSV_COLUMNS = ("config", "description", "status", "fid", "lpips", "lpips_se", "oracle_accuracy", "content_error",
               "fid_reference", "lpips_reference", "images_per_pair", "paper_fid", "paper_lpips", "iterations",
               "train_s", "eval_s", "total_s", "preset", "dataset", "seed", "notebook", "error")


def collect_results(out_dir: str | Path) -> list[dict[str, Any]]:
    """One flat row per configuration with a record in `out_dir` (ok or failed), in Table 1 order."""
    rows = []
    for letter in LETTERS:
        res = load_result(out_dir, letter)
        if res is None:
            continue
        m, t = res.get("metrics", {}), res.get("timings", {})
        rows.append({
            "config": letter, "description": res.get("description", DESCRIPTIONS[letter]),
            "status": res.get("status", "failed"), "fid": m.get("fid"), "lpips": m.get("lpips"),
            "lpips_se": m.get("lpips_se"),
            "oracle_accuracy": m.get("oracle_accuracy"), "content_error": m.get("content_error"),
            "fid_reference": m.get("fid_reference"), "lpips_reference": m.get("lpips_reference"),
            "images_per_pair": m.get("images_per_pair"),
            "paper_fid": PAPER_TABLE1[letter]["fid"], "paper_lpips": PAPER_TABLE1[letter]["lpips"],
            "iterations": res.get("iterations"), "train_s": t.get("train_s"), "eval_s": t.get("eval_s"),
            "total_s": t.get("total_s"), "preset": res.get("preset"), "dataset": res.get("dataset"),
            "seed": res.get("seed"), "notebook": res.get("notebook"), "error": res.get("error"),
            "grid": (res.get("grids") or {}).get("latent") or (res.get("grids") or {}).get("det"),
            "grid_reference": (res.get("grids") or {}).get("reference"),
        })
    return rows


def trend(rows: Iterable[Mapping[str, Any]]) -> dict[str, bool | None]:
    """The qualitative claims of Table 1, checked on our rows (None: a configuration is missing/failed).

    - lpips_undefined_A_C: A–C have no LPIPS (one output per source);
    - lpips_D_lt_E_le_F:   LPIPS(D) < LPIPS(E) <= LPIPS(F);
    - fid_F_lt_A:          FID(F) < FID(A).
    """
    ok = {r["config"]: r for r in rows if r.get("status") == "ok"}
    abc = [ok.get(c) for c in "ABC"]
    lp = [ok.get(c, {}).get("lpips") for c in "DEF"]
    return {
        "lpips_undefined_A_C": None if None in abc else all(r["lpips"] is None for r in abc),
        "lpips_D_lt_E_le_F": None if None in lp else bool(lp[0] < lp[1] <= lp[2]),
        "fid_F_lt_A": None if "A" not in ok or "F" not in ok else bool(ok["F"]["fid"] < ok["A"]["fid"]),
    }


def lpips_margins(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For D -> E and E -> F: the LPIPS difference and twice its standard error (None where a
    configuration or its standard error is missing). A difference below its 2 s.e. is within the
    evaluation's noise: the ordering could flip with other sources or latent codes. (Training noise,
    another seed, is not in the standard error: it can only widen the margin.)"""
    ok = {r["config"]: r for r in rows if r.get("status") == "ok"}
    out = []
    for a, b in ("DE", "EF"):
        ra, rb = ok.get(a, {}), ok.get(b, {})
        if None in (ra.get("lpips"), rb.get("lpips"), ra.get("lpips_se"), rb.get("lpips_se")):
            out.append({"pair": f"{a}->{b}", "diff": None, "two_se": None})
            continue
        out.append({"pair": f"{a}->{b}", "diff": rb["lpips"] - ra["lpips"],
                    "two_se": 2 * math.hypot(ra["lpips_se"], rb["lpips_se"])})
    return out


TREND_TEXT = {"lpips_undefined_A_C": "LPIPS undefined for A-C (one output per source)",
              "lpips_D_lt_E_le_F": "LPIPS: D < E <= F (diversity grows)",
              "fid_F_lt_A": "FID: F < A (quality improves over the baseline)"}


def _fmt(v: Any, spec: str = ".1f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec) if isinstance(v, (int, float)) else str(v)


def table_markdown(rows: list[dict[str, Any]], manifest: Mapping[str, Any] | None = None) -> str:
    """`ablation.md`: our numbers beside the paper's Table 1, the settings, the trend and the failures."""
    lines = ["# StarGAN v2 ablation (Table 1) reproduced", ""]
    if manifest:
        ev = manifest.get("evaluation", {})
        lines += [f"Preset `{manifest.get('preset')}`, dataset `{manifest.get('dataset')}`, seed "
                  f"{manifest.get('seed')}, {manifest.get('iterations')} training iterations per configuration; "
                  f"evaluation: {ev.get('n_sources')} source image(s) per domain x {ev.get('n_outputs')} outputs "
                  f"per source and target domain{' (latent-guided only)' if not ev.get('reference') else ''}, real FID statistics from "
                  f"{ev.get('n_real') or 'all'} training images per domain.", ""]
    lines += ["| | Configuration | FID (ours) | LPIPS (ours) | oracle accuracy | FID (paper) | LPIPS (paper) "
              "| train | eval |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        name = PAPER_NAMES[r["config"]]
        if r["status"] != "ok":
            nb = Path(r["notebook"]).name if r.get("notebook") else "?"
            lines.append(f"| {r['config']} | {name} | **failed** | see `notebooks/{nb}` | | "
                         f"{_fmt(r['paper_fid'])} | {_fmt(r['paper_lpips'], '.3f')} | | |")
            continue
        lp = _fmt(r["lpips"], ".3f") + (f" ± {r['lpips_se']:.3f}" if r.get("lpips_se") is not None else "")
        lines.append(f"| {r['config']} | {name} | {_fmt(r['fid'])} | {lp} | "
                     f"{_fmt(r['oracle_accuracy'], '.2f')} | {_fmt(r['paper_fid'])} | "
                     f"{_fmt(r['paper_lpips'], '.3f')} | {_fmt(r['train_s'], '.0f')} s | {_fmt(r['eval_s'], '.0f')} s |")
    lines += ["", "Paper: CelebA-HQ, 256 px, 100k iterations, latent-guided synthesis, all test images. Ours: "
              "FID of A-C from one output per source (as many distinct sources as D-F have outputs), of D-F "
              "latent-guided; LPIPS over the pairs of each source's outputs (± its standard error over the "
              "sources). FID from few images is biased "
              "upwards: compare only numbers computed with the same image counts (same preset), and read the "
              "trend, not the absolute values, against the paper.", "", "## Trend", ""]
    for key, ok in trend(rows).items():
        mark = "not measured (configuration missing or failed)" if ok is None else ("holds" if ok else "does NOT hold")
        if key == "lpips_D_lt_E_le_F" and ok is not None:
            noisy = [m for m in lpips_margins(rows) if m["diff"] is not None and abs(m["diff"]) < m["two_se"]]
            if noisy:
                mark += ", but " + "; ".join(f"{m['pair']} {m['diff']:+.3f} is within the noise (2 s.e. "
                                            f"{m['two_se']:.3f})" for m in noisy)
        lines.append(f"- {TREND_TEXT[key]}: {mark}")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failed configurations", ""]
        for r in failed:
            lines.append(f"- {r['config']}: {r.get('error')} (executed notebook: `{r.get('notebook')}`)")
    return "\n".join(lines) + "\n"


def table_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def plot_table(rows: list[dict[str, Any]], title: str = ""):
    """FID (ours, bars; the paper's on a second axis) and LPIPS (ours beside the paper's) per configuration."""
    import numpy as np
    from matplotlib.figure import Figure

    letters = list(LETTERS)
    by = {r["config"]: r for r in rows}
    x = np.arange(len(letters))
    fig = Figure(figsize=(11, 4))        # not pyplot: no GUI backend needed, nothing left open
    ax1, ax3 = fig.subplots(1, 2)
    ours = [by[c]["fid"] if c in by and by[c]["status"] == "ok" else np.nan for c in letters]
    ax1.bar(x, np.nan_to_num(ours), color="tab:blue", label="ours (left axis)")
    for i, c in enumerate(letters):
        if c in by and by[c]["status"] != "ok":
            ax1.text(i, 0, "failed", rotation=90, ha="center", va="bottom", color="tab:red")
        elif c not in by:
            ax1.text(i, 0, "not run", rotation=90, ha="center", va="bottom", color="grey")
    ax1.set_xticks(x, letters)
    ax1.set_ylabel("FID, ours (lower is better)")
    ax2 = ax1.twinx()
    ax2.plot(x, [PAPER_TABLE1[c]["fid"] for c in letters], "o--", color="tab:orange", label="paper (right axis)")
    ax2.set_ylabel("FID, paper (CelebA-HQ)")
    ax2.set_ylim(bottom=0)
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8)
    ax1.set_title("FID per configuration")
    w = 0.38
    lp_ours = [by[c]["lpips"] if c in by and by[c]["status"] == "ok" and by[c]["lpips"] is not None else np.nan
               for c in letters]
    lp_paper = [PAPER_TABLE1[c]["lpips"] if PAPER_TABLE1[c]["lpips"] is not None else np.nan for c in letters]
    ax3.bar(x - w / 2, np.nan_to_num(lp_ours), w, color="tab:blue", label="ours (± 2 s.e.)")
    # error bars: twice the standard error of our LPIPS over the evaluated sources
    se = [(i, by[c]["lpips"], 2 * by[c]["lpips_se"]) for i, c in enumerate(letters)
          if c in by and by[c].get("lpips") is not None and by[c].get("lpips_se") is not None]
    if se:
        i, v, e = zip(*se)
        ax3.errorbar(np.array(i) - w / 2, v, yerr=e, fmt="none", ecolor="black", capsize=3)
    ax3.bar(x + w / 2, np.nan_to_num(lp_paper), w, color="tab:orange", label="paper")
    for i, c in enumerate(letters[:3]):
        ax3.text(i, 0.005, "undefined", rotation=90, ha="center", va="bottom", color="grey", fontsize=8)
    ax3.set_xticks(x, letters)
    ax3.set_ylabel("LPIPS diversity (higher is more diverse)")
    ax3.legend(fontsize=8)
    ax3.set_title("LPIPS per configuration")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def write_table(out_dir: str | Path, rows: list[dict[str, Any]] | None = None) -> dict[str, Path]:
    """Write `ablation.csv`, `ablation.md` and `ablation.png` in `out_dir` from its results (atomic)."""
    out = Path(out_dir)
    rows = collect_results(out) if rows is None else rows
    manifest = _read_json(out / MANIFEST)
    files = {"csv": out / TABLE_FILES[0], "md": out / TABLE_FILES[1], "png": out / TABLE_FILES[2]}
    atomic_write_bytes(files["csv"], table_csv(rows).encode())
    atomic_write_bytes(files["md"], table_markdown(rows, manifest).encode())
    title = "" if not manifest else (f"preset {manifest.get('preset')}, {manifest.get('dataset')}, "
                                     f"{manifest.get('iterations')} iterations")
    buf = io.BytesIO()
    plot_table(rows, title).savefig(buf, format="png", dpi=100)
    atomic_write_bytes(files["png"], buf.getvalue())
    return files


__all__ = ["PAPER_TABLE1", "Experiment", "AblationRun", "parse_configs", "default_out_dir", "ablation_iters",
           "experiment_config", "eval_sizes", "make_manifest", "check_manifest", "prepare", "train_configuration",
           "write_grids", "evaluate_configuration", "headline", "write_result", "run_experiment",
           "experiment_notebook", "resolve_out_dir", "default_jobs", "execute_experiment", "load_result", "is_done", "run_ablation", "collect_results", "trend",
           "lpips_margins",
           "table_markdown", "table_csv", "plot_table", "write_table"]
