"""The one training loop of the course: CycleGAN, StarGAN v1 and StarGAN v2 all run on it.

Introduced in `notebooks/01_cyclegan_baseline.ipynb`; notebooks 02-05 train on the same engine.

A model supplies a `TrainTask`: its networks and optimisers, one iteration (`train_step`: which
losses, which updates), and whatever extra state it carries (image pools, loader positions). The
`Engine` does everything else, the same way for every model:

- the loop from the current step to the stop, with a tqdm progress bar;
- the loss history: per-iteration values are averaged over `log_every` iterations into one row
  (`step`, the task's `log_extras` such as the learning rate, then every loss term); a term that
  was not computed since the last row keeps its last value. Rows are also appended to
  `<out_dir>/history.csv` as they are made;
- sample grids every `sample_every` iterations (`TrainTask.write_samples`);
- checkpoints every `ckpt_every` iterations and at the stop: nets (EMA nets included), optimisers,
  step, config, RNG state, history and the task's extra state, written atomically; a resumed run
  continues bit-exactly (schedules are functions of the step) at a fixed thread count (see the thread
  policy below);
- the NaN guard: a non-finite loss stops the run (`check_finite`, called by the tasks before each
  update, directly or through `optimizer_update`), and no checkpoint with non-finite weights is ever written (`Engine.save` raises a
  `TrainingError` that names the last good checkpoint);
- DDP: with a `DistContext` of several processes only the main one writes files.
- the thread policy: once per iteration `threads.tick()` lets torch's thread count follow the cores
  other processes leave free (when no explicit count was set; `stargan_lib.threads`).
- one writer per run folder: while it resumes, runs or saves, the engine (main process) holds
  `<out_dir>/train.lock` (`locks.FolderLock`): a second training into the same folder, from the
  CLI or a notebook, is refused with a message naming the process that holds it; a lock left by a
  killed process is taken over. An engine whose `checkpoint.pt` was rewritten by another run after
  it resumed (or was created) refuses to run rather than overwrite it.
- a checkpoint with non-finite weights is refused on resume before any file is written.
- the partial averaging window of the history (iterations since the last logged row) is part of
  the checkpoint, so a resumed run logs the same rows as an uninterrupted one for any `log_every`.

Files of a run in `out_dir`: `checkpoint.pt`, `history.csv`, `samples/`, and what the task adds
(StarGAN v2: `nets_ema.ckpt`); `train.lock` while a run writes. Stale temporary files of a killed
save are removed on start.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Protocol, Sequence

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from stargan_lib.errors import ConfigError, TrainingError
from stargan_lib.grids import save_grid
from stargan_lib.locks import FolderLock
from stargan_lib.schedules import linear_decay
from stargan_lib import threads
from stargan_lib.train.common import (CHECKPOINT, check_finite, clean_stale_tmp, load_checkpoint,
                                      save_checkpoint)
from stargan_lib.train.distributed import DistContext, barrier
from stargan_lib.utils import atomic_write_bytes, non_finite_weights

HISTORY_CSV = "history.csv"
TRAIN_LOCK = "train.lock"            # held in out_dir while a run resumes, trains or saves


def _file_signature(path: Path | None) -> tuple[int, int, int] | None:
    """(inode, size, mtime in ns) of `path`, None when it does not exist: tells whether a file was rewritten."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns) if st is not None else None


class RunConfig(Protocol):
    """What the engine reads of a model's config (every model's config has these fields, written once in
    `models.common.run_settings`): the run length and how often it logs, samples and checkpoints."""

    total_iters: int
    log_every: int
    sample_every: int
    ckpt_every: int


# ============================================================================ what a training call returns
@dataclass
class TrainResult:
    """What every model's `train` returns.

    nets: the networks (dict of modules; StarGAN v2: `StarGANv2Nets`), in train mode; ema: the
    EMA networks (StarGAN v2, None otherwise); history: the logged loss rows; step: the step
    reached; out_dir: the run folder (None when nothing was written); seconds / iters_run: this
    call's wall-clock time and iterations; label_names: the label names per dataset;
    extra: anything else (`extra["task"]`: the model's `TrainTask`, e.g. for StarGAN v2's `grids()`).
    Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """

    nets: Any
    history: dict[str, list[float]]
    step: int
    out_dir: Path | None = None
    seconds: float = 0.0
    iters_run: int = 0
    cfg: Any = None
    ema: Any = None
    label_names: list[list[str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def checkpoint(self) -> Path | None:
        """`<out_dir>/checkpoint.pt` (None without an out_dir)."""
        return self.out_dir / CHECKPOINT if self.out_dir is not None else None

    @property
    def seconds_per_iter(self) -> float | None:
        """Wall-clock seconds per iteration of this call (None when it ran no iteration, e.g. a
        finished run loaded again)."""
        return self.seconds / self.iters_run if self.iters_run else None


# ============================================================================ what a model supplies
class TrainTask:
    """One model's part of training; subclass it and fill in the attributes and `train_step`.

    cfg: the frozen config (what the engine reads of it: `RunConfig`); nets: the networks a
    `TrainResult` returns; optims: {name: optimiser}; ema: EMA networks (StarGAN v2) or None;
    label_names: the label names per dataset; name: the progress bar's label; postfix_keys: the
    history terms shown on the bar; samples_at_end: also write sample grids when a call stops.
    Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """

    name: str = "training"
    postfix_keys: tuple[str, ...] = ()
    samples_at_end: bool = False
    extra_files: tuple[str, ...] = ()            # files the task writes beside checkpoint.pt
    ema: Any = None
    label_names: list[list[str]] = []
    cfg: RunConfig
    nets: Any
    optims: dict[str, torch.optim.Optimizer]

    def checkpoint_nets(self) -> dict[str, nn.Module]:
        """Every network the checkpoint holds (EMA copies included), unwrapped from DDP."""
        raise NotImplementedError

    def train_step(self, step: int) -> dict[str, float]:
        """One iteration at 0-based `step`; returns {term: value} (call `check_finite` before updates)."""
        raise NotImplementedError

    def start(self) -> None:
        """Called before the loop runs (e.g. networks to train mode)."""

    def log_extras(self) -> dict[str, float]:
        """Values recorded with every history row besides the losses (e.g. the learning rate)."""
        return {}

    def ready_to_log(self, terms: set[str]) -> bool:
        """Whether a history row may be made with these terms (e.g. only once G has been updated)."""
        return True

    def extra_state(self) -> dict[str, Any]:
        """What the checkpoint keeps besides nets and optimisers (loader positions, image pools ...)."""
        return {}

    def load_extra_state(self, extra: Mapping[str, Any]) -> None:
        """Restore `extra_state` from a checkpoint."""

    def write_samples(self, out_dir: Path, step: int) -> list[Path]:
        """Write this step's sample grids under `out_dir` (main process only); returns the paths."""
        return []

    def after_save(self, out_dir: Path) -> None:
        """Write any other file of the run after a checkpoint (e.g. StarGAN v2's nets_ema.ckpt); also
        called after a resume, so that a kill between the two writes cannot leave them out of step."""


# ============================================================================ the history file
class HistoryCSV:
    """`history.csv`: one row per logged step, header = step + the other history columns.

    Rows are appended as they are logged (and flushed); when the columns change or a run resumes,
    the file is rewritten from the history atomically, so after a resume it holds exactly the
    checkpoint's rows followed by the new ones. Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """

    def __init__(self, path: Path):
        self.path = path
        self.header: list[str] | None = None

    @staticmethod
    def columns(history: Mapping[str, list]) -> list[str]:
        return ["step"] + [k for k in history if k != "step"]

    def _row(self, history: Mapping[str, list], cols: list[str], i: int, n: int) -> list[str]:
        row = []
        for k in cols:
            vals = history[k]
            j = i - (n - len(vals))                    # a column that started later is aligned at the end
            row.append("" if j < 0 else (str(int(vals[j])) if k == "step" else repr(float(vals[j]))))
        return row

    def rewrite(self, history: Mapping[str, list]) -> None:
        """Write the whole file from `history` (atomically)."""
        cols = self.columns(history)
        n = len(history.get("step", []))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for i in range(n):
            w.writerow(self._row(history, cols, i, n))
        atomic_write_bytes(self.path, buf.getvalue().encode())
        self.header = cols

    def append_last(self, history: Mapping[str, list]) -> None:
        """Add the newest row (or rewrite the file when its columns changed)."""
        cols = self.columns(history)
        if cols != self.header or not self.path.is_file():
            self.rewrite(history)
            return
        n = len(history["step"])
        with open(self.path, "a", newline="") as f:
            csv.writer(f, lineterminator="\n").writerow(self._row(history, cols, n - 1, n))
            f.flush()


# ============================================================================ the engine
class Engine:
    """Runs a `TrainTask`: loop, history, samples, checkpoints, resume (see the module docstring).

    `out_dir=None` trains without writing anything. Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """

    def __init__(self, task: TrainTask, out_dir: str | Path | None = None, *, progress: bool = True,
                 dist: DistContext | None = None):
        self.task, self.cfg = task, task.cfg
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress = progress
        self.dist = dist or DistContext()
        self.step = 0
        self.history: dict[str, list] = defaultdict(list)
        self._window: dict[str, list[float]] = defaultdict(list)
        self._last: dict[str, float] = {}
        self.last_good: tuple[int, Path] | None = None       # the newest checkpoint this engine wrote or read
        self.csv: HistoryCSV | None = None
        self._lock: FolderLock | None = None
        self._seen = None                                   # checkpoint.pt as this engine last saw it
        if self.out_dir is not None and self.dist.is_main:
            if self.out_dir.exists() and not self.out_dir.is_dir():
                raise ConfigError(f"the run folder {self.out_dir} is a file; give a folder path (--out)")
            clean_stale_tmp(self.out_dir, (CHECKPOINT, HISTORY_CSV, TRAIN_LOCK, *task.extra_files))
            self.csv = HistoryCSV(self.out_dir / HISTORY_CSV)
            self._seen = _file_signature(self.checkpoint_path)

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / CHECKPOINT if self.out_dir is not None else None

    # ---------------------------------------------------------------- one writer per folder
    @contextlib.contextmanager
    def holding_lock(self) -> Iterator[None]:
        """Hold `<out_dir>/train.lock` for the block (main process with an out_dir only; re-entrant).

        A second training into the folder gets a ConfigError naming the process that holds it; a
        lock of a process that no longer exists is removed and taken."""
        if self._lock is not None or self.out_dir is None or not self.dist.is_main:
            yield
            return
        lock = FolderLock(self.out_dir, TRAIN_LOCK, "stargan train", "the same checkpoint (and interleave their "
                          "history.csv rows)", progress=self.out_dir / HISTORY_CSV, log=print)
        lock.acquire()
        self._lock = lock
        try:
            yield
        finally:
            self._lock = None
            lock.release()

    def _check_not_overwritten(self) -> None:
        """Refuse to run when another run rewrote checkpoint.pt after this engine last read or wrote it."""
        if self.out_dir is None or not self.dist.is_main:
            return
        if _file_signature(self.checkpoint_path) != self._seen:
            raise ConfigError(
                f"{self.checkpoint_path} was written by another training run after this one was set up or "
                "resumed; running now would overwrite that run's progress. Resume again (run the same `stargan "
                "train` command or call train(...) / trainer.resume() again) to continue from it, or use "
                "another folder")

    # ---------------------------------------------------------------- checkpoints
    def resume(self, path: str | Path | None = None) -> bool:
        """Continue from a checkpoint (default `<out_dir>/checkpoint.pt`); False when there is none.

        Refuses a checkpoint of another configuration (the error lists the differing fields).
        Nets, optimisers, step, history, RNG state and the task's extra state are restored, so the
        run goes on exactly as if it had not stopped.
        """
        path = Path(path) if path is not None else self.checkpoint_path
        if path is None or not path.is_file():
            return False
        with self.holding_lock():
            # non-finite weights are refused before anything is loaded or written (load_checkpoint)
            state = load_checkpoint(path, cfg=self.cfg, nets=self.task.checkpoint_nets(), optims=self.task.optims)
            self.step = int(state["step"])
            self.history = defaultdict(list, {k: list(v) for k, v in state["history"].items()})
            window = (state.get("engine") or {}).get("window") or {}
            self._window = defaultdict(list, {k: [float(x) for x in v] for k, v in window.items()})
            self._last = {k: v[-1] for k, v in self.history.items() if v and k != "step"}
            self.task.load_extra_state(state.get("extra", {}))
            self.last_good = (self.step, path)
            if self.csv is not None:
                self.csv.rewrite(self.history)             # drop rows logged after the checkpoint
                if path.parent == self.out_dir:
                    self.task.after_save(self.out_dir)     # files beside it (nets_ema.ckpt) in step with it again
                self._seen = _file_signature(self.checkpoint_path)
        return True

    def save(self, path: str | Path | None = None) -> Path:
        """Write the checkpoint (main process only) after checking every weight is finite.

        Non-finite weights are never saved: the error says which tensors and where the last good
        checkpoint is (or that none was written).
        """
        path = Path(path) if path is not None else self.checkpoint_path
        if path is None:
            raise ConfigError("no out_dir was given: pass a checkpoint path to save()")
        nets = self.task.checkpoint_nets()
        bad = non_finite_weights(nets)
        if bad:
            more = f" ... (+{len(bad) - 4})" if len(bad) > 4 else ""
            where = (f"the last good checkpoint is step {self.last_good[0]} at {self.last_good[1]} (kept as it is)"
                     if self.last_good else "no checkpoint was written by this run")
            raise TrainingError(f"step {self.step}: non-finite weights ({', '.join(bad[:4])}{more}) although the "
                                f"losses were finite. This checkpoint was not written; {where}. Train again "
                                "with a lower learning rate")
        if self.dist.is_main:
            with self.holding_lock():
                if path == self.checkpoint_path:
                    self._check_not_overwritten()
                save_checkpoint(path, step=self.step, cfg=self.cfg, nets=nets, optims=self.task.optims,
                                history=self.history, extra=self.task.extra_state(),
                                engine={"window": {k: list(v) for k, v in self._window.items() if v}})
                self.task.after_save(path.parent)
                if path == self.checkpoint_path:
                    self._seen = _file_signature(path)
        barrier(self.dist)
        self.last_good = (self.step, path)
        return path

    # ---------------------------------------------------------------- one iteration and the loop
    def iteration(self) -> dict[str, float]:
        """One training iteration of the task (no logging, no files); returns its losses."""
        logs = self.task.train_step(self.step)
        self.step += 1
        return logs

    def _record(self, logs: Mapping[str, float], bar: Any) -> None:
        for k, v in logs.items():
            self._window[k].append(float(v))
        it, cfg = self.step, self.cfg
        if not (it % max(1, cfg.log_every) == 0 or it == cfg.total_iters):
            return
        terms = set(self._window) | set(self._last)
        if not self.task.ready_to_log(terms):
            return
        extras = self.task.log_extras()
        row: dict[str, float] = {"step": it, **extras}
        for k in sorted(terms - set(extras) - {"step"}):
            if self._window.get(k):
                self._last[k] = sum(self._window[k]) / len(self._window[k])
            row[k] = self._last[k]
        for k, v in row.items():
            self.history[k].append(v)
        self._window.clear()
        bar.set_postfix({k: f"{row[k]:.3g}" for k in self.task.postfix_keys if k in row}, refresh=False)
        if self.csv is not None:
            self.csv.append_last(self.history)

    def write_samples(self) -> list[Path]:
        """The task's sample grids at the current step (main process, with an out_dir, only)."""
        if self.out_dir is None or not self.dist.is_main:
            return []
        return self.task.write_samples(self.out_dir, self.step)

    def run(self, stop: int | None = None) -> tuple[int, float]:
        """Train from the current step to `stop` (default and at most `cfg.total_iters`), writing
        samples and checkpoints on the way and a checkpoint at the stop. Returns (iterations, seconds)."""
        with self.holding_lock():
            self._check_not_overwritten()
            return self._run(stop)

    def _run(self, stop: int | None) -> tuple[int, float]:
        cfg = self.cfg
        end = cfg.total_iters if stop is None else min(cfg.total_iters, stop)
        start, t0 = self.step, time.perf_counter()
        self.task.start()
        bar = tqdm(total=end, initial=self.step, desc=self.task.name, dynamic_ncols=True,
                   disable=not self.progress or not self.dist.is_main)
        sampled_at = -1
        while self.step < end:
            logs = self.iteration()
            threads.tick()                 # the thread count follows the free cores (stargan_lib.threads)
            self._record(logs, bar)
            bar.update(1)
            if self.out_dir is None:
                continue
            if cfg.sample_every and self.step % cfg.sample_every == 0:
                self.write_samples()
                sampled_at = self.step
            if (cfg.ckpt_every and self.step % cfg.ckpt_every == 0) or self.step == end:
                self.save()
        bar.close()
        if self.out_dir is not None and self.task.samples_at_end and self.step > start and sampled_at != self.step:
            self.write_samples()
        return self.step - start, time.perf_counter() - t0


def set_lr(optims: Mapping[str, torch.optim.Optimizer], base: Mapping[str, float], factor: float) -> None:
    """Set every optimiser's learning rate to its base rate times `factor` (the schedule at this step).

    Introduced in `notebooks/01_cyclegan_baseline.ipynb` (linear decay, `linear_decay`).
    """
    for name, opt in optims.items():
        for group in opt.param_groups:
            group["lr"] = base[name] * factor


def optimizer_update(optims: torch.optim.Optimizer | Sequence[torch.optim.Optimizer], loss: torch.Tensor,
                     step: int, logs: Mapping[str, float],
                     zero: Iterable[torch.optim.Optimizer] | None = None) -> None:
    """One guarded update pass: stop on a non-finite term of `logs` (`check_finite` at iteration `step`),
    zero the gradients of `zero` (default: the stepped optimisers), back-propagate `loss`, then step each of
    `optims` (one optimiser or several).

    Introduced in `notebooks/01_cyclegan_baseline.ipynb`; every task updates its networks with it (StarGAN
    v2 zeroes all its optimisers and steps G, F, E and the embedding together in its latent pass).
    """
    stepped = [optims] if isinstance(optims, torch.optim.Optimizer) else list(optims)
    check_finite(step, logs)
    for opt in (stepped if zero is None else zero):
        opt.zero_grad(set_to_none=True)
    loss.backward()
    for opt in stepped:
        opt.step()


def run_task(task: TrainTask, out_dir: str | Path | None, *, progress: bool = True, stop_after: int | None = None,
             dist: DistContext | None = None) -> TrainResult:
    """What every model's `train` ends with: resume `task` from `<out_dir>/checkpoint.pt` when there is one,
    train it to `stop_after` (an absolute step; default `cfg.total_iters`) and return a `TrainResult`
    (`extra["task"]` holds the task). Introduced in `notebooks/01_cyclegan_baseline.ipynb`."""
    engine = Engine(task, out_dir, progress=progress, dist=dist)
    engine.resume()
    iters, seconds = engine.run(stop_after)
    return TrainResult(nets=task.nets, history=dict(engine.history), step=engine.step, out_dir=engine.out_dir,
                       seconds=seconds, iters_run=iters, cfg=task.cfg, ema=task.ema,
                       label_names=[list(n) for n in task.label_names], extra={"task": task})


def decay_lr(optims: Mapping[str, torch.optim.Optimizer], base: Mapping[str, float], step: int,
             total_iters: int, decay_iters: int) -> None:
    """`set_lr` with the linear decay to 0 over the last `decay_iters` of `total_iters` (0-based `step`).

    Introduced in `notebooks/01_cyclegan_baseline.ipynb` (CycleGAN and StarGAN v1 share this schedule).
    """
    set_lr(optims, base, linear_decay(step, total_iters, total_iters - decay_iters))


__all__ = ["Engine", "HistoryCSV", "HISTORY_CSV", "RunConfig", "TrainResult", "TrainTask", "check_finite", "decay_lr",
           "linear_decay", "optimizer_update", "run_task", "save_grid", "set_lr"]
