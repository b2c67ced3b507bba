"""The shipped course runs: export from a finished run folder, load into today's code, check.

Each course run ships as two files in `stargan_lib/resources/course_runs/<preset>/` (package data,
so a non-editable install has them):

- `<name>.pt`: {"format", "name", "preset", "config_class", "config", "dtype", "nets"}: only the
  networks the notebook evaluates (`CourseRun.ship`; StarGAN v2's EMA copies), in float16 when the
  figures stay within `FP16_TOLERANCE` of float32, else in float32;
- `<name>.json`, the manifest: configuration and its hash, iterations, training seconds, device,
  the commit that trained it, the figures its notebook reports (`course_figures.figures_of`, on the
  weights as shipped), the float16 effect on them, and `check`, a fingerprint of the outputs on a
  few held-out images that the test suite recomputes (`check_fingerprint`).

`load_course_run(name, preset)` refuses, with the run's name, what differs and the command that
rebuilds it, a missing, truncated or foreign file and a run whose configuration hash no longer
matches today's `long_config` (a changed network, loss or preset). `course_run_or_none` is the
notebooks' form: it prints that message and returns None, so the live part of the notebook goes on.

Layer: experiments. Introduced in `notebooks/01_cyclegan_baseline.ipynb`, section "The course run".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from stargan_lib.errors import CheckpointError, StarganError
from stargan_lib.presets import as_preset
from stargan_lib.experiments.course_runs import (RUNS, check_name, config_hash, git_commit, long_config, run_dir,
                                                 run_state, short_config)
from stargan_lib.paths import package_dir
from stargan_lib.train.common import RESUMABLE_FIELDS, config_dict, config_diff, config_from_dict
from stargan_lib.train.registry import LoadedRun, build_run_nets, load_run
from stargan_lib.utils import (atomic_torch_save, check_finite_weights, load_state_dict_checked, read_json_object,
                               safe_torch_load, write_json)

FORMAT = "stargan-course-run/1"
FP16_TOLERANCE = 0.005           # half a point: the largest change of a fraction the float16 copy may make
N_CHECK = 16                     # held-out images of the fingerprint


class CourseRunError(StarganError, RuntimeError):
    """A shipped course run that is missing, unreadable or stale; the message says how to rebuild it."""


def rebuild_hint(name: str, preset: str) -> str:
    return (f"rebuild it with `make course-runs ONLY={name}` (or `stargan course-runs --preset {preset} "
            f"--only {name}`)")


def shipped_dir(preset: Any) -> Path:
    """`stargan_lib/resources/course_runs/<preset>/` (the package's own copy; may not exist)."""
    return package_dir() / "resources" / "course_runs" / as_preset(preset).name


def shipped_paths(name: str, preset: Any, folder: str | Path | None = None) -> tuple[Path, Path]:
    folder = Path(folder) if folder is not None else shipped_dir(preset)
    return folder / f"{name}.pt", folder / f"{name}.json"


# ============================================================================ networks
def _shipped_modules(name: str, nets: Any, ema: Any) -> dict[str, torch.nn.Module]:
    """The networks of a run that ship: EMA copies for StarGAN v2, the generators otherwise."""
    source = ema if RUNS[name].model == "stargan_v2" else nets
    return {k: source[k] for k in RUNS[name].ship if k in source}


# ============================================================================ fingerprint
def check_inputs(cfg: Any, preset: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `N_CHECK` held-out images (and labels) of the synthetic set a run of `cfg` trains on (the
    first of a joint run's two): the fingerprint's inputs."""
    from stargan_lib.configs_v2 import SYNTHETIC
    from stargan_lib.data import make_dataset

    dataset = (SYNTHETIC[cfg.dataset] if type(cfg).__name__ == "StarGANv2Config"
               else cfg.datasets[0] if hasattr(cfg, "datasets") else cfg.dataset)
    return make_dataset(dataset, "test", preset=as_preset(preset)).subset(slice(0, N_CHECK)).tensors()


@torch.no_grad()
def check_fingerprint(name: str, run: LoadedRun, preset: Any) -> dict[str, float]:
    """Mean and mean absolute value of the run's outputs on `check_inputs`, and their mean absolute
    difference from the inputs: three numbers that move when a weight or a forward pass changes."""
    from stargan_lib.models.stargan_v1 import generator_label, translate

    x, y = check_inputs(run.cfg, preset)
    torch.manual_seed(0)
    model = RUNS[name].model
    if model == "cyclegan":
        out = run.nets["G_AB"](x)
    elif model == "stargan_v1":
        if name == "stargan_v1":                                 # every attribute flipped
            out = translate(run.nets["G"], x, generator_label(run.cfg, 1 - y.float()))
        else:                                                    # the eight expressions in turn
            out = translate(run.nets["G"], x, generator_label(run.cfg, torch.arange(len(x)) % 8,
                                                              1 if name == "jnt" else 0))
    else:
        from stargan_lib.models.stargan_v2 import translate_det, translate_latent
        y_trg = (y + 1) % run.cfg.num_domains
        out = (translate_det(run.ema, x, y_trg) if run.cfg.style == "label"
               else translate_latent(run.ema, x, y_trg, torch.randn(len(x), run.cfg.latent_dim)))
    out = out.float().cpu()
    return {"mean": float(out.mean()), "mean_abs": float(out.abs().mean()), "change": float((out - x).abs().mean())}


# ============================================================================ export
def export_course_run(name: str, preset: Any, dest: str | Path | None = None, seed: int = 0,
                      figures: Callable[[str, LoadedRun, Any], dict[str, Any]] | None = None,
                      log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Write `<name>.pt` and `<name>.json` of the finished course run `name` into `dest` (default:
    the package's `resources/course_runs/<preset>/`); returns the manifest.

    `figures(name, run, preset)` gives the notebook's figures of a loaded run (default:
    `course_figures.figures_of`); they are computed on float32 and float16 weights, and the run ships
    in float16 when no figure moves by more than `FP16_TOLERANCE`.
    """
    p = as_preset(preset)
    check_name(name, p)
    cfg = long_config(name, p, seed)
    state = run_state(name, p)
    folder = run_dir(name, p, cfg)
    if state is None:
        raise CourseRunError(f"course run {name!r} (preset {p.name}) has not finished training in {folder}; "
                             f"train it first: {rebuild_hint(name, p.name)}")
    full = load_run(folder / "checkpoint.pt")
    diff = config_diff(config_dict(full.cfg), config_dict(cfg),      # its length too must be today's
                       ignore=tuple(f for f in RESUMABLE_FIELDS if f != "total_iters"))
    if diff:
        raise CourseRunError(f"course run {name!r}: the checkpoint in {folder} differs from today's configuration "
                             f"({diff}); {rebuild_hint(name, p.name)}")
    if figures is None:
        from stargan_lib.experiments.course_figures import figures_of
        figures = figures_of
    shipped = _shipped_modules(name, full.nets, full.ema)
    fig32 = figures(name, full, p)
    half = {k: {n: t.half() if t.is_floating_point() else t for n, t in m.state_dict().items()}
            for k, m in shipped.items()}
    payload = {"format": FORMAT, "name": name, "preset": p.name, "config_class": type(cfg).__name__,
               "config": config_dict(cfg), "dtype": "float16", "nets": half}
    dest = Path(dest) if dest is not None else shipped_dir(p)
    pt, js = shipped_paths(name, p, dest)
    atomic_torch_save(payload, pt)
    run16 = load_course_run(name, p, folder=dest, check_manifest=False)
    fig16 = figures(name, run16, p)
    delta = max([abs(float(fig16[k]) - float(v)) for k, v in fig32.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and isinstance(fig16.get(k), (int, float))
                 and "params" not in k] or [0.0])
    shipped_figs, run_final = fig16, run16
    if delta > FP16_TOLERANCE:
        payload["dtype"] = "float32"
        payload["nets"] = {k: m.state_dict() for k, m in shipped.items()}
        atomic_torch_save(payload, pt)
        shipped_figs, run_final = fig32, load_course_run(name, p, folder=dest, check_manifest=False)
    short = short_config(name, p, seed)
    manifest = {
        "format": FORMAT, "name": name, "notebook": RUNS[name].notebook, "preset": p.name,
        "config_class": type(cfg).__name__, "config_hash": config_hash(cfg), "config": config_dict(cfg),
        "iterations": int(cfg.total_iters), "live_iterations": int(short.total_iters),
        "train_seconds": state.get("train_seconds"), "device": state.get("device"),
        "torch": torch.__version__, "commit": state.get("commit", "not recorded"), "exported_at": git_commit(),
        "dtype": payload["dtype"],
        "fp16_max_figure_change": round(delta, 5), "figures": shipped_figs,
        "check": check_fingerprint(name, run_final, p), "bytes": pt.stat().st_size,
    }
    write_json(js, manifest)
    if log is not None:
        log(f"exported {name}: {pt} ({pt.stat().st_size / 1e6:.2f} MB, {payload['dtype']}; float16 moves the "
            f"figures by at most {delta:.4f})")
    return manifest


def is_exported(name: str, preset: Any, state: dict[str, Any], folder: str | Path | None = None) -> bool:
    """Whether the package's copy (or `folder`'s) of run `name` comes from the finished run `state` (`run_state`)."""
    pt, js = shipped_paths(name, preset, folder)
    m = read_json_object(js)
    return bool(pt.is_file() and m and m.get("config_hash") == state.get("config_hash")
                and m.get("train_seconds") == state.get("train_seconds"))


# ============================================================================ load
def read_manifest(name: str, preset: Any, folder: str | Path | None = None) -> dict[str, Any]:
    """The manifest of shipped run `name`; a `CourseRunError` naming the run when missing or unreadable."""
    p = as_preset(preset)
    _, js = shipped_paths(name, p, folder)
    manifest = read_json_object(js)
    if manifest is None:
        raise CourseRunError(f"course run {name!r} (preset {p.name}): its manifest {js} is missing or unreadable; "
                             f"{rebuild_hint(name, p.name)}")
    return manifest


def load_course_run(name: str, preset: Any, folder: str | Path | None = None, device: str | torch.device = "cpu",
                    check_manifest: bool = True) -> LoadedRun:
    """The shipped course run `name` as a `LoadedRun` (cfg, nets, ema, state = its manifest), loaded
    strictly into today's code, in eval mode. StarGAN v2 runs fill `ema` (and `nets` with the same
    networks); the others fill `nets` with the shipped generators.

    Refused with a `CourseRunError` that names the run and `make course-runs ONLY=<name>`: a missing,
    truncated or foreign file, non-finite weights, or a configuration hash other than today's.
    """
    p = as_preset(preset)
    check_name(name, p)
    pt, _ = shipped_paths(name, p, folder)
    hint = rebuild_hint(name, p.name)
    try:
        payload = safe_torch_load(pt)
    except CheckpointError as exc:
        raise CourseRunError(f"course run {name!r} (preset {p.name}): {exc}; {hint}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("name") != name:
        what = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CourseRunError(f"course run {name!r} (preset {p.name}): {pt} is not a course-run file of that run "
                             f"(format {what}); {hint}")
    today = long_config(name, p)
    if payload.get("config_class") != type(today).__name__:
        raise CourseRunError(f"course run {name!r}: {pt} holds a {payload.get('config_class')} run, today's is a "
                             f"{type(today).__name__}; {hint}")
    try:
        cfg = config_from_dict(type(today), payload["config"])
    except TypeError as exc:
        raise CourseRunError(f"course run {name!r}: {pt} has a configuration today's code cannot build ({exc}); "
                             f"{hint}") from None
    if config_hash(cfg) != config_hash(today):
        diff = config_diff(config_dict(cfg), config_dict(today))
        what = ", ".join(f"{k}: shipped {a!r} vs today {b!r}" for k, (a, b) in diff.items()) or "the hash"
        raise CourseRunError(f"course run {name!r} (preset {p.name}) is stale: its configuration differs from "
                             f"today's ({what}); {hint}")
    nets, ema = build_run_nets(cfg)
    shipped = _shipped_modules(name, nets, ema)
    for key, module in shipped.items():
        sd = payload["nets"].get(key)
        sd = None if sd is None else {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
        try:
            load_state_dict_checked(module, sd, f"{pt}[{key}]")
        except CheckpointError as exc:
            raise CourseRunError(f"course run {name!r}: {exc}; {hint}") from None
        module.to(device).eval()
    try:
        check_finite_weights(shipped, str(pt))
    except CheckpointError as exc:
        raise CourseRunError(f"course run {name!r}: {exc}; {hint}") from None
    manifest = read_manifest(name, p, folder) if check_manifest else {}
    if check_manifest and manifest.get("config_hash") != config_hash(cfg):
        raise CourseRunError(f"course run {name!r}: its manifest's configuration hash {manifest.get('config_hash')} "
                             f"does not match its weights' ({config_hash(cfg)}); {hint}")
    if ema is not None:
        return LoadedRun(cfg, ema, ema, manifest)
    return LoadedRun(cfg, {k: nets[k] for k in shipped}, None, manifest)


def course_run_or_none(name: str, preset: Any, enabled: bool = True,
                       log: Callable[[str], None] | None = print) -> LoadedRun | None:
    """`load_course_run` for a notebook: None when `enabled` is False (the `COURSE_RUNS` parameter), when
    the preset ships no course runs, or when the run cannot be loaded (the reason is printed), so that
    the notebook's live part runs on."""
    p = as_preset(preset)
    if not enabled:
        return None
    if name not in p.course_runs:
        if log is not None:
            log(f"preset {p.name!r} ships no course run {name!r}: only the live run is shown")
        return None
    try:
        return load_course_run(name, p)
    except StarganError as exc:                       # CourseRunError, or a ConfigError of the preset
        if log is not None:
            log(f"course run not loaded: {exc}")
        return None


def describe(run: LoadedRun) -> str:
    """One line for a notebook: "the same code, trained N× longer (how long, on what)"."""
    m = run.state
    secs = float(m.get("train_seconds") or 0.0)
    how_long = f"{secs / 60:.0f} min" if secs >= 60 else f"{secs:.0f} s"
    ratio = m["iterations"] / max(1, m["live_iterations"])
    return (f"course run {m['name']}: the same code and configuration, trained {ratio:.1f}x longer "
            f"({m['iterations']:,} iterations against the live run's {m['live_iterations']:,}; {how_long} of "
            f"training on {m.get('device')}, commit {m.get('commit')}, weights in {m.get('dtype')})")


__all__ = ["CourseRunError", "FORMAT", "check_fingerprint", "course_run_or_none", "describe", "export_course_run",
           "load_course_run", "read_manifest", "shipped_dir"]
