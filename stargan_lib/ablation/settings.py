"""What one ablation run is, and its results folder: configurations, lengths and evaluation sizes
from the preset, the dataset, the manifest that keeps other settings out of the folder, and the
per-configuration records (`<out>/<X>.json`).

Introduced in `notebooks/06_ablation_table.ipynb` (through `stargan_lib.ablation`). Imported by the
other modules of the package: `experiment` (one configuration), `runner` (all of them, through
papermill) and `table`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from stargan_lib.configs_v2 import LETTERS, SYNTHETIC
from stargan_lib.models.stargan_v2_config import StarGANv2Config, make_config
from stargan_lib import paths
from stargan_lib.errors import ConfigError
from stargan_lib.presets import Preset, as_preset  # noqa: F401  (as_preset: re-exported)
from stargan_lib.utils import read_json_object, write_json

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
MANIFEST_KEYS = ("preset", "dataset", "seed", "iterations", "evaluation", "data_dir", "course_runs")



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
    name = as_preset(preset).name
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


def library_version() -> str:
    """The installed `stargan_lib.__version__` (recorded in the manifest and the results)."""
    from stargan_lib import __version__
    return __version__


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


def ablation_iters(preset: str | Preset | None, iters: int | None = None, letter: str | None = None) -> int:
    """Training iterations of configuration `letter`: `iters` (a user's length, for every configuration),
    else the preset's length for that configuration (`AblationSizes.iters`), else its ablation length for
    all, else the "stargan_v2" overrides' total_iters (the paper's 100k at the paper preset)."""
    p = as_preset(preset)
    if iters is not None:
        if int(iters) < 1:
            raise ConfigError(f"iters={iters}: train each configuration for at least 1 iteration")
        return int(iters)
    if letter is not None and letter in p.ablation.iters:
        return int(p.ablation.iters[letter])
    if p.ablation.total_iters:
        return p.ablation.total_iters
    return make_config("F", p).total_iters


def iterations_of(preset: str | Preset | None, iters: int | None = None) -> int | dict[str, int]:
    """What a results folder records as its training length: one number, or one per configuration when
    the preset gives them different lengths."""
    per = {c: ablation_iters(preset, iters, c) for c in LETTERS}
    return next(iter(per.values())) if len(set(per.values())) == 1 else per


def experiment_config(letter: str, preset: str | Preset | None, dataset: str = "animals", seed: int = 0,
                      iters: int | None = None, device: str = "auto", out_dir: str | Path = "") -> StarGANv2Config:
    """The training config of one configuration of the ablation.

    Deviation (ablation length): the preset's ablation length replaces total_iters, and λ_ds decays
    to 0 over that length (ds_decay_iters = total_iters, as over the paper's 100k iterations).
    Deviation (CelebA-HQ): the high-pass face-heatmap skip is off (w_hpf = 0), since the course does
    not ship the face-alignment network; the paper does not say whether Table 1 used it.
    """
    p = as_preset(preset)
    n = ablation_iters(p, iters, letter)
    return make_config(letter, p, dataset, seed=int(seed), total_iters=n, ds_decay_iters=n, w_hpf=0.0,
                       device=device, out_dir=str(out_dir), sample_every=0,
                       ckpt_every=max(1, n // 4))


def eval_sizes(preset: str | Preset | None) -> dict[str, Any]:
    """The evaluation part of the preset's ablation sizes (what the manifest records)."""
    s = as_preset(preset).ablation
    n_sources = s.n_sources or as_preset(preset).eval_sources
    return {"n_sources": n_sources, "n_outputs": s.n_outputs, "n_real": s.n_real, "reference": s.reference,
            "reference_fid": s.reference_fid, "lpips_size": s.lpips_size}


def make_manifest(preset: str | Preset | None, dataset: str, seed: int, iters: int | None,
                  data_dir: str | Path | None = None) -> dict[str, Any]:
    """What a results folder's numbers depend on (stored as `<out>/manifest.json`)."""
    p = as_preset(preset)
    return {"kind": "StarGAN v2 Table 1 ablation", "preset": p.name, "dataset": dataset, "seed": int(seed),
            "iterations": iterations_of(p, iters), "evaluation": eval_sizes(p),
            "data_dir": data_root(data_dir), "library_version": library_version()}


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
    old = read_json_object(path) if path.exists() else None
    if path.exists() and old is None:
        raise ConfigError(f"{path} is not a readable ablation manifest; delete it (and the results beside it) "
                          "or choose another results folder")
    if old is not None:
        found.append((str(path), old))
    for letter in LETTERS:
        res = read_json_object(out / f"{letter}.json")
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
        write_json(path, dict(manifest))
    return path


def load_result(out_dir: str | Path, letter: str) -> dict[str, Any] | None:
    """The record of configuration `letter` in `out_dir` (ok or failed), or None when there is none."""
    res = read_json_object(Path(out_dir) / f"{letter}.json")
    return res if res is not None and res.get("config") == letter else None


def is_done(out_dir: str | Path, letter: str) -> bool:
    """Whether `out_dir` holds a successful result of configuration `letter` (the runner then skips it)."""
    res = load_result(out_dir, letter)
    return bool(res) and res.get("status") == "ok"
