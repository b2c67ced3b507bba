"""`stargan ablation --course-runs`: Table 1 over the course runs, evaluated without training.

Introduced in `notebooks/06_ablation_table.ipynb`, section "The table over the course runs".

The course ships StarGAN v2 configurations A–F trained for the preset's course-run length (`v2_A` ...
`v2_F`, `stargan course-runs`; the same networks and losses as notebooks 04–05, 2,500 iterations at
the course preset). This module evaluates those shipped EMA networks with the ablation's own protocol
and sizes (`evaluate_configuration`), writes one record per configuration and the table into
`results/ablation_course_runs` (`_<preset>` at other presets), and never trains.

- A shipped run that is missing or stale (its configuration hash is not today's `long_config`) is
  refused before anything is evaluated, with the course-runs error that names `make course-runs ONLY=...`.
- The folder's manifest records the evaluation sizes and each run's configuration hash and
  fingerprint, so results of other weights are never mixed in; finished configurations are skipped
  (an interrupted call resumes).
- Two configurations are evaluated at a time on a CPU, each starting with one thread and then following
  the free cores (`runner.default_jobs`, `threads.use_threads`).

Deviation: the course runs' configurations are notebooks 04–05's, stretched to the course-run length
(2,500 iterations at the course preset, with λ_ds decaying over the stretched schedule). The from-scratch
ablation (`settings.experiment_config`) builds the same networks and losses with its own, shorter lengths
(`AblationSizes.iters`) and bookkeeping fields (checkpoint interval, output folder); the two tables share
the evaluation protocol and sizes, so their numbers compare.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable

from stargan_lib import paths
from stargan_lib.ablation.experiment import (Experiment, eval_config, evaluate_configuration, write_grids,
                                            write_result)
from stargan_lib.ablation.runner import (AblationLock, AblationRun, default_jobs, progress_line,
                                         run_in_processes)
from stargan_lib.ablation.settings import (LETTERS, check_manifest, default_out_dir, eval_sizes, is_done,
                                          library_version, load_result, parse_configs)
from stargan_lib.ablation.table import collect_results, write_table
from stargan_lib.errors import ConfigError
from stargan_lib.experiments.course_ship import read_manifest
from stargan_lib.presets import Preset, as_preset
from stargan_lib.threads import per_worker_count, use_threads

COURSE_OUT = "ablation_course_runs"
DATASET = "animals"                         # the course runs train on the synthetic AFHQ stand-in


def course_out_dir(out_dir: str | Path | None, preset: str | Preset | None) -> Path:
    """`results/ablation_course_runs` of the checkout (`..._<preset>` at other presets), or `out_dir`."""
    if out_dir is not None:
        return Path(out_dir)
    return default_out_dir(preset, paths.results_dir(COURSE_OUT))


def run_name(letter: str) -> str:
    """The course run of configuration `letter`: v2_A ... v2_F."""
    return f"v2_{letter}"


def check_course_runs(letters: Iterable[str], preset: str | Preset | None) -> dict[str, dict[str, Any]]:
    """The shipped manifests of the configurations' course runs, after checking each is there and
    fresh (its configuration hash is today's). Raises `CourseRunError` naming `make course-runs`."""
    from stargan_lib.experiments.course_runs import config_hash, long_config
    from stargan_lib.experiments.course_ship import CourseRunError, read_manifest, rebuild_hint, shipped_paths

    p = as_preset(preset)
    out = {}
    for letter in letters:
        name = run_name(letter)
        if name not in p.course_runs:
            raise ConfigError(f"preset {p.name!r} ships no course run {name!r}; the table over the course runs "
                              f"exists at the presets {', '.join(_presets_with_runs())}")
        manifest = read_manifest(name, p)
        pt, _ = shipped_paths(name, p)
        if not pt.is_file():
            raise CourseRunError(f"course run {name!r} (preset {p.name}): {pt} is missing; {rebuild_hint(name, p.name)}")
        today = config_hash(long_config(name, p))
        if manifest.get("config_hash") != today:
            raise CourseRunError(f"course run {name!r} (preset {p.name}) is stale: shipped configuration hash "
                                 f"{manifest.get('config_hash')}, today's {today}; {rebuild_hint(name, p.name)}")
        out[letter] = manifest
    return out


def _presets_with_runs() -> list[str]:
    from stargan_lib.presets import PRESETS

    return [n for n, p in PRESETS.items() if any(k.startswith("v2_") for k in p.course_runs)]


def course_manifest(preset: str | Preset | None, runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the folder's numbers depend on: preset, evaluation sizes, and each shipped run's hash and
    fingerprint (`runs`: letter -> the run's shipped manifest)."""
    p = as_preset(preset)
    return {"kind": "StarGAN v2 Table 1 over the course runs", "preset": p.name, "dataset": DATASET, "seed": 0,
            "iterations": {k: m.get("iterations") for k, m in runs.items()}, "evaluation": eval_sizes(p),
            "data_dir": None, "course_runs": {k: {"config_hash": m.get("config_hash"), "check": m.get("check")}
                                              for k, m in runs.items()},
            "library_version": library_version()}


def evaluate_course_run(letter: str, preset: str | Preset | None, out_dir: str | Path, manifest: dict[str, Any],
                        threads: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Load course run v2_<letter>, write its grids, evaluate it with the ablation's protocol and write
    `<out>/<letter>.json`. A top-level function, so that a process pool can run it."""
    from stargan_lib.data.datasets import domain_train_test
    from stargan_lib.experiments.course_ship import load_course_run, shipped_paths

    t0 = time.perf_counter()
    use_threads(threads)
    p = as_preset(preset)
    name = run_name(letter)
    run = load_course_run(name, p)
    train, test = domain_train_test(DATASET, None, run.cfg.image_size, p)
    pt, _ = shipped_paths(name, p)
    exp = Experiment(letter, p, DATASET, 0, run.cfg, Path(out_dir), pt.parent, manifest, train, test,
                     timings={"train_s": float(run.state.get("train_seconds") or 0.0),
                              "data_s": time.perf_counter() - t0},
                     notes=[f"course run {name} (shipped, {run.state.get('dtype')}), trained by commit "
                            f"{run.state.get('commit')}; evaluated without training"])
    grids = write_grids(exp, run.ema)
    protocol = evaluate_configuration(exp, run.ema, progress=progress)
    exp.timings["total_s"] = time.perf_counter() - t0
    record = write_result(exp, protocol, grids, checkpoint=pt)
    return record


def run_course_table(preset: str | Preset | None = "course", configs: str | Iterable[str] | None = None,
                     out_dir: str | Path | None = None, force: bool = False, jobs: int | None = None,
                     threads: int | None = None, progress: bool = True,
                     log: Callable[[str], None] = print) -> AblationRun:
    """Evaluate the course runs of `configs` (default A–F) and write the table; nothing is trained.

    Finished configurations are skipped unless `force`. `jobs` evaluations run at a time (default: 2 on
    a CPU, each following the thread policy); `threads` fixes the threads of each.
    """
    t_all = time.perf_counter()
    letters = parse_configs(configs)
    p = as_preset(preset)
    check_course_runs(letters, p)                   # refuse missing / stale runs before any work
    # the folder's manifest names all six shipped runs, so that later calls for other letters agree with it
    manifest = course_manifest(p, {c: read_manifest(run_name(c), p) for c in LETTERS})
    out = course_out_dir(out_dir, p).resolve()
    jobs = default_jobs("cpu") if jobs is None else int(jobs)
    if jobs < 1:
        raise ConfigError(f"jobs={jobs}: evaluate at least one configuration at a time")
    threads = per_worker_count(threads, jobs)
    with AblationLock(out, log=log):
        check_manifest(out, manifest)
        status: dict[str, str] = {}
        todo = []
        for letter in letters:
            if is_done(out, letter) and not force:
                status[letter] = "skipped"
                log(f"{letter}: result exists ({out / f'{letter}.json'}), skipped (--force evaluates it again)")
            else:
                todo.append(letter)
        n = len(letters)
        # The most expensive first (E, F also evaluate reference-guided outputs), so the pool ends together.
        todo.sort(key=LETTERS.index, reverse=True)
        log(f"evaluating the course runs {', '.join(run_name(c) for c in todo) or '(none)'} at preset {p.name}, "
            f"{min(jobs, max(1, len(todo)))} at a time (nothing is trained) -> {out}")
        _warm_caches(p, progress)

        def finish(letter: str, res: dict[str, Any] | None, error: str | None) -> None:
            status[letter] = "failed" if error else "ran"
            if error:
                log(f"{letter}: FAILED: {error}")
            else:
                log(progress_line(letters.index(letter) + 1, n, letter, res, time.perf_counter() - t_all))

        if jobs == 1 or len(todo) <= 1:
            for letter in todo:
                finish(letter, evaluate_course_run(letter, p, out, manifest, threads, progress), None)
        else:
            calls = {letter: (evaluate_course_run, (letter, p.name, out, manifest, threads, False)) for letter in todo}
            for letter, res, error in run_in_processes(calls, jobs):
                finish(letter, res if error is None else load_result(out, letter), error)
        rows = collect_results(out)
        files = write_table(out, rows)
        run = AblationRun(out, status, rows, files, time.perf_counter() - t_all)
        log(f"table over the course runs: {files['md']} ({len(rows)} configurations) in {run.seconds:.0f} s")
        return run


def _warm_caches(p: Preset, progress: bool) -> None:
    """The oracle and the real images' FID statistics, once, before the workers start (they would each
    compute them when missing). Cheap when cached."""
    from stargan_lib.data.datasets import domain_train_test
    from stargan_lib.data.oracle import get_oracle
    from stargan_lib.metrics.protocol import real_statistics

    train, _ = domain_train_test(DATASET, None, p.image_size, p)
    get_oracle(DATASET, preset=p, image_size=p.image_size, progress=progress, device="cpu")
    real_statistics(train, eval_config(p, seed=0, device="cpu"), DATASET, progress=progress)
