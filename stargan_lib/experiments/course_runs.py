"""Course runs: every run a lecture notebook shows, trained longer by the course's own code.

A notebook's ten CPU-minutes show the papers' networks and losses, not their results: the models see
well under 1 % of the images the papers trained on. So each lecture notebook (01-05) trains its live
run, then loads the *course run* of the same configuration: the same networks, losses and data,
trained `Preset.course_runs[name]` iterations with the learning-rate (and λ_ds) decay stretched in
proportion. `stargan course-runs` makes them (two trainings at a time, one thread each, resumable),
and the weights the notebooks evaluate ship with the package (`course_runs_export` writes them).

- `RUNS`: name -> `CourseRun` (which notebook, which model, how its config is built);
- `long_config(name, preset)`: the run's configuration at the long schedule;
- `config_hash(cfg)`: a hash of what the run computes (every config field except where it writes,
  how often it logs, and the device), stored with the shipped run and compared by the staleness test;
- `train_course_run(name, preset)`: train or resume one run in its cache folder (`course_schedule`
  runs them two at a time);
- `run_dir(name, preset)`: `<cache>/course-runs/<preset>/<name>_<hash>`, outside the work tree, so a
  new checkout resumes the same runs, and a changed configuration starts a new folder.

Layer: experiments. Introduced in `notebooks/01_cyclegan_baseline.ipynb`, section "The course run".
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from stargan_lib.errors import ConfigError
from stargan_lib.presets import as_preset
from stargan_lib.paths import package_dir
from stargan_lib.train.common import RESUMABLE_FIELDS
from stargan_lib.utils import cache_dir, params_key, read_json_object, seed_everything, write_json

DONE = "course_run.json"          # written in the run folder when the run has reached its length


@dataclass(frozen=True)
class CourseRun:
    """One course run: `name`, the `notebook` that shows it, its `model` ("cyclegan", "stargan_v1",
    "stargan_v2"), and `ship`, the networks the notebook evaluates (what the package carries)."""

    name: str
    notebook: str
    model: str
    ship: tuple[str, ...]


RUNS: dict[str, CourseRun] = {r.name: r for r in (
    CourseRun("cyclegan", "01_cyclegan_baseline", "cyclegan", ("G_AB", "G_BA")),
    CourseRun("stargan_v1", "02_stargan_v1", "stargan_v1", ("G",)),
    CourseRun("table3_happy", "02_stargan_v1", "cyclegan", ("G_AB",)),
    CourseRun("table3_surprised", "02_stargan_v1", "cyclegan", ("G_AB",)),
    CourseRun("jnt", "03_mask_vector_joint_training", "stargan_v1", ("G",)),
    CourseRun("sng", "03_mask_vector_joint_training", "stargan_v1", ("G",)),    # also Table 3's StarGAN (02)
    *(CourseRun(f"v2_{c}", "04_stargan_v2_A_to_C" if c in "ABC" else "05_stargan_v2_D_to_F", "stargan_v2",
                ("generator", "mapping_network", "style_encoder", "domain_embedding")) for c in "ABCDEF"),
)}


def run_names(preset: Any) -> list[str]:
    """The course runs `preset` defines, in `RUNS` order (none at the paper preset)."""
    lengths = as_preset(preset).course_runs
    return [n for n in RUNS if n in lengths]


def check_name(name: str, preset: Any) -> CourseRun:
    """The `CourseRun` called `name`, with a clear error for an unknown name or one `preset` lacks."""
    p = as_preset(preset)
    if name not in RUNS or name not in p.course_runs:
        have = run_names(p)
        raise ConfigError(f"no course run {name!r} at preset {p.name!r}; "
                          + (f"choose from {have}" if have else "this preset has no course runs (try 'course')"))
    return RUNS[name]


def stretch(cfg: Any, iters: int) -> Any:
    """`cfg` trained `iters` iterations, its learning-rate decay (and λ_ds decay) stretched in proportion."""
    changes: dict[str, Any] = {"total_iters": int(iters)}
    if hasattr(cfg, "decay_iters"):
        changes["decay_iters"] = int(round(cfg.decay_iters * iters / cfg.total_iters))
    return dataclasses.replace(cfg, **changes)


def short_config(name: str, preset: Any, seed: int = 0) -> Any:
    """The configuration of run `name` as its notebook trains it live (the preset's length)."""
    from stargan_lib.experiments import stargan_v2 as v2
    from stargan_lib.experiments.stargan_v1 import joint_and_single_configs
    from stargan_lib.experiments.table3 import table3_configs
    from stargan_lib.models import cyclegan, stargan_v1

    p = as_preset(preset)
    check_name(name, p)
    if name == "cyclegan":
        return cyclegan.config_for(p.name, seed=seed)
    if name == "stargan_v1":
        return stargan_v1.config_for(p.name, seed=seed)
    if name in ("jnt", "sng"):
        return joint_and_single_configs(p.name, seed=seed)[name == "sng"]
    if name.startswith("table3_"):
        target = name.removeprefix("table3_")
        from stargan_lib.experiments.table3 import default_cyclegan_iters
        return table3_configs(p.name, (target,), seed, default_cyclegan_iters(p.name))[1][target]
    return v2.configuration(name.removeprefix("v2_"), p, "animals", seed)


def long_config(name: str, preset: Any, seed: int = 0) -> Any:
    """The configuration of course run `name`: `short_config` at `preset.course_runs[name]` iterations."""
    from stargan_lib.experiments import stargan_v2 as v2

    p = as_preset(preset)
    iters = p.course_runs[check_name(name, p).name]
    if RUNS[name].model == "stargan_v2":                 # stretches λ_ds's decay when the config has one
        return v2.configuration(name.removeprefix("v2_"), p, "animals", seed, iters=iters)
    return stretch(short_config(name, p, seed), iters)


def config_hash(cfg: Any) -> str:
    """A hash of what a run computes: its config class and every field but `train.common.RESUMABLE_FIELDS`."""
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in RESUMABLE_FIELDS}
    return params_key({"class": type(cfg).__name__, **fields})


def git_commit() -> str:
    """The commit of the checkout this code runs from ("unknown" outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=package_dir(), capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ".", ":!resources"], cwd=package_dir(),
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def run_dir(name: str, preset: Any, cfg: Any | None = None) -> Path:
    """`<cache>/course-runs/<preset>/<name>_<hash>` (outside the work tree; `$STARGAN_CACHE` moves it)."""
    p = as_preset(preset)
    cfg = long_config(name, p) if cfg is None else cfg
    return cache_dir("course-runs", p.name, f"{name}_{config_hash(cfg)}")


def run_state(name: str, preset: Any) -> dict[str, Any] | None:
    """The finished run's record (`course_run.json`: step, seconds, device, hash), or None if unfinished."""
    return read_json_object(run_dir(name, preset) / DONE)


def train_course_run(name: str, preset: Any, progress: bool = True,
                     log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Train (or resume) course run `name` at `preset` in `run_dir`; returns its `course_run.json` record.

    Training seconds are summed over every call (a resumed run reports its whole training time).
    """
    from stargan_lib.utils import resolve_device

    p = as_preset(preset)
    cfg = long_config(name, p)
    out = run_dir(name, p, cfg)
    out.mkdir(parents=True, exist_ok=True)
    done = read_json_object(out / DONE)
    if done is not None and done.get("step", 0) >= cfg.total_iters:
        return done
    spent_path = out / "train_seconds.json"
    before = read_json_object(spent_path) or {}
    spent = float(before.get("seconds", 0.0))
    commits = list(before.get("commits", []))
    commit = git_commit()
    if commit not in commits:                         # the code of every call that trained part of the run
        commits.append(commit)
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    from stargan_lib.train.registry import MODELS

    result = MODELS[RUNS[name].model].train(cfg, out, preset=p.name, progress=progress)
    spent += time.perf_counter() - t0
    write_json(spent_path, {"seconds": spent, "step": result.step, "commits": commits})
    record = {"name": name, "preset": p.name, "step": int(result.step), "total_iters": int(cfg.total_iters),
              "train_seconds": round(spent, 1), "device": str(resolve_device(cfg.device)),
              "config_hash": config_hash(cfg), "config_class": type(cfg).__name__, "commit": ", ".join(commits)}
    if result.step >= cfg.total_iters:
        write_json(out / DONE, record)
    if log is not None:
        log(f"course run {name}: step {result.step}/{cfg.total_iters}, {spent:.0f} s of training in all")
    return record


def _worker_main(argv: list[str] | None = None) -> int:
    """`python -m stargan_lib.experiments.course_runs NAME PRESET`: one training (the scheduler,
    `course_schedule.run_course_runs`, starts these two at a time, each following the thread policy)."""
    import argparse

    from stargan_lib.threads import use_threads

    ap = argparse.ArgumentParser(description=_worker_main.__doc__)
    ap.add_argument("name")
    ap.add_argument("preset")
    ap.add_argument("--threads", type=int, default=0, help="0: the thread policy (stargan_lib.threads)")
    args = ap.parse_args(argv)
    use_threads(args.threads)
    record = train_course_run(args.name, args.preset, progress=False)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker_main())
