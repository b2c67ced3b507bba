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
- `train_course_run(name, preset)`: train or resume one run in its cache folder;
- `run_dir(name, preset)`: `<cache>/course-runs/<preset>/<name>_<hash>`, outside the work tree, so a
  new checkout resumes the same runs, and a changed configuration starts a new folder.

Layer: experiments. Introduced in `notebooks/01_cyclegan_baseline.ipynb`, section "The course run".
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from stargan_lib.errors import ConfigError
from stargan_lib.presets import as_preset
from stargan_lib.utils import cache_dir, params_key, read_json_object, seed_everything, write_json

# What does not change what a run computes: left out of its hash.
HASH_IGNORES = ("total_iters", "log_every", "sample_every", "ckpt_every", "device", "out_dir")
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
    """A hash of what a run computes: its config class and every field but `HASH_IGNORES`."""
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in HASH_IGNORES}
    return params_key({"class": type(cfg).__name__, **fields})


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
    spent = float((read_json_object(spent_path) or {}).get("seconds", 0.0))
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    model = RUNS[name].model
    if model == "stargan_v2":
        from stargan_lib.train.stargan_v2 import load_training_data, train
        result = train(cfg, load_training_data(cfg, p.name), out_dir=out, resume=True, progress=progress)
    elif model == "stargan_v1":
        from stargan_lib.train.stargan_v1 import train
        result = train(cfg, out, preset=p.name, progress=progress)
    else:
        from stargan_lib.train.cyclegan import train
        result = train(cfg, out, preset=p.name, progress=progress)
    spent += time.perf_counter() - t0
    write_json(spent_path, {"seconds": spent, "step": result.step})
    record = {"name": name, "preset": p.name, "step": int(result.step), "total_iters": int(cfg.total_iters),
              "train_seconds": round(spent, 1), "device": str(resolve_device(cfg.device)),
              "config_hash": config_hash(cfg), "config_class": type(cfg).__name__}
    if result.step >= cfg.total_iters:
        write_json(out / DONE, record)
    if log is not None:
        log(f"course run {name}: step {result.step}/{cfg.total_iters}, {spent:.0f} s of training in all")
    return record


# ============================================================================ two at a time
def default_jobs() -> tuple[int, int]:
    """(trainings side by side, torch threads each): one at a time on a GPU (with the CPU's cores),
    else one per available core (at most two), one thread each: on the course machine two one-thread
    processes train 1.98x as fast as one thread and 1.5x as fast as two threads."""
    import torch

    from stargan_lib.threads import available_cores

    if torch.cuda.is_available():
        return 1, available_cores()
    return max(1, min(2, available_cores())), 1


def seconds_per_iter_estimate(name: str, preset: Any) -> float | None:
    """Training seconds per iteration of run `name` as its shipped manifest measured it (None: no manifest)."""
    from stargan_lib.experiments.course_ship import shipped_paths

    m = read_json_object(shipped_paths(name, preset)[1]) if shipped_paths(name, preset)[1].is_file() else None
    if not m or not m.get("train_seconds") or not m.get("iterations"):
        return None
    return float(m["train_seconds"]) / float(m["iterations"])


def logged_step(name: str, preset: Any) -> int:
    """The last step written to the run's `history.csv` (0 before the first row)."""
    path = run_dir(name, preset) / "history.csv"
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 4096))
            last = fh.read().decode(errors="replace").strip().splitlines()[-1]
        return int(last.split(",")[0])
    except (OSError, IndexError, ValueError):
        return 0


def _fmt(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"


def run_course_runs(preset: Any = "course", only: list[str] | None = None, jobs: int | None = None,
                    threads: int | None = None, export: bool = True, dest: str | Path | None = None, poll: float = 5.0, report_every: float = 60.0,
                    log: Callable[[str], None] = print) -> list[str]:
    """Train every course run of `preset` (or `only` those) that has not finished, `jobs` at a time
    in their own processes, then export them (`course_ship.export_course_run`) into the package (or `dest`).

    Finished runs are skipped, unfinished ones resume from their last checkpoint, so an interrupted
    call goes on where it stopped. A progress line with the time left (estimated from the shipped
    manifests' seconds per iteration, then from the running trainings' own pace) comes every
    `report_every` seconds. Returns the names of the runs that failed (their log is named).
    """
    import os
    import subprocess
    import sys

    from stargan_lib.locks import FolderLock

    p = as_preset(preset)
    names = run_names(p) if not only else [check_name(n, p).name for n in only]
    if not names:
        raise ConfigError(f"preset {p.name!r} has no course runs; use --preset course (or smoke)")
    default = default_jobs()
    jobs = default[0] if jobs is None else int(jobs)
    threads = default[1] if threads is None else int(threads)
    if jobs < 1 or threads < 1:
        raise ConfigError(f"jobs={jobs}, threads={threads}: both must be at least 1")
    root = cache_dir("course-runs", p.name)
    failed: list[str] = []
    with FolderLock(root, "course-runs.lock", "stargan course-runs", "the same runs", progress=root, log=log):
        todo = [n for n in names if run_state(n, p) is None]
        for n in names:
            if n not in todo:
                log(f"{n}: finished before ({run_dir(n, p)}), not trained again")
        pace = {n: seconds_per_iter_estimate(n, p) for n in todo}
        total = {n: long_config(n, p).total_iters for n in todo}
        todo.sort(key=lambda n: -(pace[n] or 0.0) * total[n])          # longest first: the shortest makespan
        if todo:
            known = sum((pace[n] or 0.0) * (total[n] - logged_step(n, p)) for n in todo)
            log(f"training {len(todo)} course run(s) at preset {p.name}, {jobs} at a time with {threads} thread(s) "
                f"each: {', '.join(todo)}" + (f"; about {_fmt(known / jobs)} at the shipped runs' pace"
                                              if all(pace.values()) else ""))
        queue, running = list(todo), {}
        t_start, last_report = time.perf_counter(), time.perf_counter()
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "STARGAN_THREADS": str(threads)}
        while queue or running:
            while queue and len(running) < jobs:
                n = queue.pop(0)
                out = run_dir(n, p)
                out.mkdir(parents=True, exist_ok=True)
                logf = open(out / "train.log", "a")
                proc = subprocess.Popen([sys.executable, "-m", "stargan_lib.experiments.course_runs", n, p.name,
                                         "--threads", str(threads)], stdout=logf, stderr=subprocess.STDOUT, env=env)
                running[n] = (proc, logf, time.perf_counter(), logged_step(n, p))
                log(f"{n}: started ({total[n]:,} iterations, from step {logged_step(n, p):,}; log {out / 'train.log'})")
            time.sleep(poll)
            for n, (proc, logf, t0, step0) in list(running.items()):
                if proc.poll() is None:
                    continue
                logf.close()
                del running[n]
                if proc.returncode == 0 and run_state(n, p) is not None:
                    log(f"{n}: finished in {_fmt(time.perf_counter() - t0)}")
                else:
                    failed.append(n)
                    log(f"{n}: FAILED (exit {proc.returncode}); see {run_dir(n, p) / 'train.log'}")
            if running and time.perf_counter() - last_report >= report_every:
                last_report = time.perf_counter()
                left, parts = 0.0, []
                for n, (_, _, t0, step0) in running.items():
                    step = logged_step(n, p)
                    rate = (time.perf_counter() - t0) / max(1, step - step0) if step > step0 else (pace[n] or 0.0)
                    pace[n] = rate or pace[n]
                    left += rate * (total[n] - step)
                    parts.append(f"{n} {step:,}/{total[n]:,}")
                left += sum((pace[n] or 0.0) * total[n] for n in queue)
                log(f"[{_fmt(time.perf_counter() - t_start)}] " + ", ".join(parts)
                    + f"; {len(queue)} queued; about {_fmt(left / jobs)} left")
    if export:
        from stargan_lib.experiments.course_ship import export_course_run
        from stargan_lib.experiments.course_ship import is_exported
        for n in names:
            state = run_state(n, p)
            if n in failed or state is None:
                continue
            if is_exported(n, p, state, dest):
                log(f"{n}: the package already holds this run (same configuration and training), not exported again")
                continue
            export_course_run(n, p, dest=dest, log=log)
    return failed


def _worker_main(argv: list[str] | None = None) -> int:
    """`python -m stargan_lib.experiments.course_runs NAME PRESET`: one training, one thread (the
    scheduler in `cli.course_runs_cmd` starts these two at a time)."""
    import argparse

    from stargan_lib.threads import use_threads

    ap = argparse.ArgumentParser(description=_worker_main.__doc__)
    ap.add_argument("name")
    ap.add_argument("preset")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    use_threads(args.threads)
    record = train_course_run(args.name, args.preset, progress=False)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker_main())
