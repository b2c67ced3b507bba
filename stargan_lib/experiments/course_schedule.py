"""`stargan course-runs`: the course runs trained two at a time, each in its own process, then exported.

`run_course_runs(preset, only)` starts `python -m stargan_lib.experiments.course_runs NAME PRESET`
workers (one torch thread each on a CPU; one worker with every core on a GPU: the ablation's policy),
longest first, prints a progress line with the time left, resumes what an earlier call left unfinished,
and exports every finished run into the package (`course_ship.export_course_run`). Runs already
exported from the same training are left alone. One call per cache folder at a time (`locks.FolderLock`).

Layer: experiments. Introduced in `notebooks/01_cyclegan_baseline.ipynb`, section "The course run".
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from stargan_lib.ablation.runner import default_jobs
from stargan_lib.errors import ConfigError
from stargan_lib.experiments.course_runs import (check_name, long_config, run_dir, run_names, run_state)
from stargan_lib.experiments.course_ship import export_course_run, is_exported, shipped_paths
from stargan_lib.presets import as_preset
from stargan_lib.threads import PARALLEL_ENV, THREADS_ENV, per_worker_count, thread_count
from stargan_lib.utils import cache_dir, read_json_object


def seconds_per_iter_estimate(name: str, preset: Any) -> float | None:
    """Training seconds per iteration of run `name` as its shipped manifest measured it (None: no manifest)."""
    m = read_json_object(shipped_paths(name, preset)[1])
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
                    threads: int | None = None, export: bool = True, dest: str | Path | None = None,
                    poll: float = 5.0, report_every: float = 60.0, log: Callable[[str], None] = print) -> list[str]:
    """Train every course run of `preset` (or `only` those) that has not finished, `jobs` at a time
    in their own processes, then export them (`course_ship.export_course_run`) into the package (or `dest`).

    Finished runs are skipped, unfinished ones resume from their last checkpoint, so an interrupted
    call goes on where it stopped. A progress line with the time left (estimated from the shipped
    manifests' seconds per iteration, then from the running trainings' own pace) comes every
    `report_every` seconds. `jobs` and `threads` default to the ablation's policy (`ablation.default_jobs`,
    `threads.use_threads`): on a CPU one training per core (at most two), each starting with its share of
    the cores (one thread on 2 cores) and then following the free cores, so the last run takes both (on
    the course machine two one-thread processes train 1.98x as fast as one thread, 1.5x as fast as two
    threads); on a GPU one at a time with every core. Returns the names of the runs that failed (their log
    is named).
    """
    import os
    import subprocess
    import sys

    from stargan_lib.locks import FolderLock

    p = as_preset(preset)
    names = run_names(p) if not only else [check_name(n, p).name for n in only]
    if not names:
        raise ConfigError(f"preset {p.name!r} has no course runs; use --preset course (or smoke)")
    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1:
        raise ConfigError(f"jobs={jobs}: run at least one training at a time")
    threads = per_worker_count(threads, jobs)
    how = (f"{threads} thread(s) each" if threads else
           f"each starting with {thread_count(None, parallel=jobs)} thread(s), then following the free cores")
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
            pace_note = f"; about {_fmt(known / jobs)} at the shipped runs' pace" if all(pace.values()) else ""
            log(f"training {len(todo)} course run(s) at preset {p.name}, {jobs} at a time, {how}: "
                f"{', '.join(todo)}{pace_note}")
        queue, running = list(todo), {}
        t_start, last_report = time.perf_counter(), time.perf_counter()
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", THREADS_ENV)}
        env[PARALLEL_ENV] = str(jobs)
        if threads:
            env.update(OMP_NUM_THREADS=str(threads), **{THREADS_ENV: str(threads)})
        while queue or running:
            while queue and len(running) < jobs:
                n = queue.pop(0)
                out = run_dir(n, p)
                out.mkdir(parents=True, exist_ok=True)
                logf = open(out / "train.log", "a")
                proc = subprocess.Popen([sys.executable, "-m", "stargan_lib.experiments.course_runs", n, p.name,
                                         "--threads", str(threads or 0)], stdout=logf, stderr=subprocess.STDOUT,
                                        env=env)
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
        for n in names:
            state = run_state(n, p)
            if n in failed or state is None:
                continue
            if is_exported(n, p, state, dest):
                log(f"{n}: the package already holds this run (same configuration and training), not exported again")
                continue
            export_course_run(n, p, dest=dest, log=log)
    return failed


__all__ = ["logged_step", "run_course_runs", "seconds_per_iter_estimate"]
