"""`stargan ablation`: run the experiment notebook through papermill once per configuration, then
write the table.

Introduced in `notebooks/06_ablation_table.ipynb`. The manifest (`settings.check_manifest`) keeps
results of other settings out of a folder; the lock file `<out>/ablation.lock` keeps a second run
out of a folder while one is running (both would train the same configurations).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from stargan_lib.ablation.settings import (LETTERS, PAPER_NAMES, PAPER_TABLE1, RESULT_FORMAT, ablation_iters, as_preset,
                                          check_dataset, check_manifest, data_root, default_out_dir, is_done,
                                          library_version, load_result, make_manifest, parse_configs)
from stargan_lib.ablation.table import collect_results, write_table
from stargan_lib.configs_v2 import DESCRIPTIONS
from stargan_lib import paths
from stargan_lib.errors import ConfigError
from stargan_lib.locks import FolderLock, pid_alive  # noqa: F401  (pid_alive: re-exported for the tests)
from stargan_lib.presets import Preset
from stargan_lib.threads import available_cores, parallel_workers, per_worker_count
from stargan_lib.utils import write_json

LOCK = "ablation.lock"


class AblationLock(FolderLock):
    """`<out>/ablation.lock` while `run_ablation` writes into `out` (`locks.FolderLock`)."""

    def __init__(self, out_dir: str | Path, log: Callable[[str], None] | None = print):
        super().__init__(out_dir, LOCK, "stargan ablation", "the configurations",
                         progress=Path(out_dir) / "notebooks", log=log)


def experiment_notebook() -> Path:
    """`notebooks/experiment.ipynb`, shipped with the package (`stargan_lib.paths.experiment_notebook`)."""
    return paths.experiment_notebook()



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


def progress_line(i: int, n: int, letter: str, res: Mapping[str, Any] | None, elapsed: float) -> str:
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
              "library_version": library_version()}
    write_json(out_dir / f"{letter}.json", record)
    return record


def default_jobs(device: str = "auto") -> int:
    """Configurations run at the same time by default: one per available core up to 2 on a CPU (they
    then share the cores through `threads.thread_count(parallel=jobs)`: on 2 cores, two one-thread
    processes beat one two-thread process for these small networks), one on a GPU."""
    from stargan_lib.utils import resolve_device

    if resolve_device(device).type != "cpu":
        return 1
    return max(1, min(2, available_cores()))


# What one configuration costs on the course's 2-core machine, two configurations at a time, each following
# the thread policy: training seconds per iteration and evaluation seconds at the course preset, as
# `stargan ablation --preset course` measured them on 2026-12-05 (A-C 600 iterations, D-F 1,000; 24.0 min
# in all), plus `OVERHEAD_S` per configuration (papermill, kernel, data). `PROBE_S` is `speed_probe()` on
# that machine (median of 5, 2026-12-05): another machine's estimate is scaled by its own probe.
COURSE_COSTS = {"A": (0.150, 236.0), "B": (0.142, 166.0), "C": (0.133, 239.0), "D": (0.158, 280.0),
                "E": (0.354, 314.0), "F": (0.386, 335.0)}
OVERHEAD_S = 6.0
PROBE_S = 0.0215


def speed_probe(threads: int = 1) -> float:
    """Median seconds of a 64-channel 3x3 convolution's forward and backward pass on a batch of 8 32x32
    maps, one thread: the course networks' typical layer, to scale measured costs to this machine."""
    import statistics

    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        conv = torch.nn.Conv2d(64, 64, 3, padding=1)
        x = torch.randn(8, 64, 32, 32, requires_grad=True)
        times = []
        for _ in range(9):
            t0 = time.perf_counter()
            conv(x).sum().backward()
            times.append(time.perf_counter() - t0)
        return statistics.median(times[2:])
    finally:
        torch.set_num_threads(before)


def schedule_order(letters: list[str]) -> list[str]:
    """The order configurations start in when several run at a time: the first (A, the cheapest, in a full
    run) first, as it is the first to reach its evaluation and fills the caches the others share (oracle,
    real-image FID statistics) while they train; then the most expensive, so that the pool ends together."""
    return letters[:1] + sorted(letters[1:], key=LETTERS.index, reverse=True)


def estimate_seconds(letters: list[str], iters: dict[str, int], jobs: int, device: str = "cpu",
                     probe: float | None = None) -> float | None:
    """Wall-clock seconds the ablation of `letters` (`iters` training iterations each) should take on this
    machine with `jobs` at a time: `COURSE_COSTS` scaled by `speed_probe()` against `PROBE_S`, the jobs
    scheduled as `run_ablation` does. None on a GPU (the costs are the CPU's)."""
    from stargan_lib.utils import resolve_device

    if resolve_device(device).type != "cpu":
        return None
    scale = (probe if probe is not None else speed_probe()) / PROBE_S
    free = [0.0] * max(1, jobs)
    for letter in schedule_order(list(letters)):
        per_iter, eval_s = COURSE_COSTS[letter]
        i = free.index(min(free))
        free[i] += scale * (iters[letter] * per_iter + eval_s + OVERHEAD_S)
    return max(free)


def run_in_processes(calls: Mapping[str, tuple[Callable[..., Any], tuple]], jobs: int
                     ) -> Iterator[tuple[str, Any, str | None]]:
    """Run `fn(*args)` for each `key: (fn, args)` of `calls`, started in that order, `jobs` at a time, each
    in a spawned process that learns how many run side by side (`threads.parallel_workers`). Yields
    (key, what fn returned or None, None or its error as "Name: message") as each finishes: one job's
    failure (an exception, a worker process that died) is reported and the others go on. `fn` must be
    importable (a module-level function). The ablation and the table over the course runs use it."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with parallel_workers(jobs), \
            ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(fn, *args): key for key, (fn, args) in calls.items()}
        for fut in as_completed(futures):
            try:
                result, error = fut.result(), None
            except Exception as exc:  # noqa: BLE001 - reported with its job; the others go on
                result, error = None, f"{type(exc).__name__}: {exc}"
            yield futures[fut], result, error


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
                 threads: int | None = None, jobs: int | None = None, progress: bool = True, on_bad: str | None = None,
                 log: Callable[[str], None] = print, notebook: str | Path | None = None) -> AblationRun:
    """Run the experiment notebook through papermill for each configuration, then write the table.

    Configurations with a result in `out_dir` are skipped unless `force` (which also deletes their
    training run, so they train again from scratch). A configuration whose notebook fails is
    recorded as failed, with its executed notebook; the others still run.
    `threads`: torch CPU threads in each notebook (None: `$STARGAN_THREADS` shared among the `jobs`
    notebooks that run side by side (`threads.per_worker_count`), else the thread policy: an equal share of
    the cores to start with, then the free cores as they change, so that the last configuration uses both
    cores alone; see `stargan_lib.threads`).
    `jobs`: notebooks run at the same time, each in its own process and kernel (None:
    `default_jobs(device)`); the progress line of a configuration then comes when it finishes.
    A second run into the same folder while this one runs is refused (`AblationLock`).
    `on_bad`: unreadable image files of real data, "skip" or "error" (None: the loaders' default, skip).
    """
    t_all = time.perf_counter()
    letters = parse_configs(configs)
    p = as_preset(preset)
    check_dataset(dataset, data_dir)
    jobs = default_jobs(device) if jobs is None else int(jobs)
    if jobs < 1:
        raise ConfigError(f"jobs={jobs}: run at least one configuration at a time")
    threads = per_worker_count(threads, jobs)    # a bad count is refused here, not inside a notebook
    out = (Path(out_dir) if out_dir is not None else default_out_dir(p)).resolve()
    nb_in = Path(notebook) if notebook is not None else experiment_notebook()
    manifest = make_manifest(p, dataset, seed, iters, data_dir)
    with AblationLock(out, log=log):     # one run per folder: two would train the same configurations
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
        if todo:
            its = {c: ablation_iters(p, iters, c) for c in todo}
            eta = estimate_seconds(todo, its, jobs, device) if p.name == "course" else None
            log(f"training and evaluating {', '.join(f'{c} ({its[c]:,} it)' for c in todo)}, {jobs} at a time"
                + ("" if eta is None else f": about {eta / 60:.0f} min on this machine (the costs measured on the "
                   "course's 2-core machine, scaled by a speed probe; training resumes where a previous run "
                   "stopped, which this estimate ignores)")) 

        def job(letter: str, verb: str) -> tuple[str, str, dict[str, Any]]:
            if force:
                (out / f"{letter}.json").unlink(missing_ok=True)
                shutil.rmtree(out / "runs" / letter, ignore_errors=True)
            params = {"PRESET": p.name, "CONFIG": letter, "DATASET": dataset, "SEED": int(seed), "ITERS": iters,
                      "OUT_DIR": str(out), "DATA_DIR": data_root(data_dir),
                      "DEVICE": device, "THREADS": threads, "PROGRESS": False,
                  "ON_BAD": on_bad}
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
            log(progress_line(letters.index(letter) + 1, n, letter, res, time.perf_counter() - t_all))

        if jobs == 1:
            for letter in todo:
                nb, nb_out, params = job(letter, "running")
                finish(letter, nb_out, *execute_experiment(nb, nb_out, params, progress))
        elif todo:
            calls = {}
            for letter in schedule_order(todo):
                nb, nb_out, params = job(letter, f"queued ({jobs} at a time)")
                calls[letter] = (execute_experiment, (nb, nb_out, params, False))
            for letter, outcome, crash in run_in_processes(calls, jobs):
                error, seconds = outcome if crash is None else (crash, 0.0)     # crash: e.g. a worker that died
                finish(letter, calls[letter][1][1], error, seconds)
        rows = collect_results(out)
        files = write_table(out, rows)
        run = AblationRun(out, status, rows, files, time.perf_counter() - t_all)
        log(f"table: {files['md']} ({len(rows)} configurations, {len(run.failed)} failed) in {run.seconds:.0f} s")
        return run
