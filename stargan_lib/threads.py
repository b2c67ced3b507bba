"""How many CPU threads PyTorch uses: one policy for the CLI, the notebooks, the ablation and the loaders.

Introduced in `notebooks/00_setup_and_data.ipynb`.

- A single run uses every core it is given: the cores this process may run on (its CPU affinity),
  capped by a container's CPU quota (cgroup `cpu.max`), which `os.cpu_count()` does not see.
- Runs that go on side by side (the ablation trains two configurations at a time) split those cores.
- DataLoader workers run with one thread each (`loader_worker_init`), so that workers never multiply
  the threads of the training process.
- One setting overrides the policy: an explicit count (`--threads N` on the command line, the
  `THREADS` parameter of a notebook), else the environment variable `STARGAN_THREADS`. A scheduler
  that starts several processes (the ablation, the course runs, the course-runs table) reads
  `--threads N` as a count per process and `STARGAN_THREADS=N` as the command's total, shared among
  its processes (`per_worker_count`), since each of them inherits the variable.
- Without an explicit count, a single run follows the free cores (`FreeCores`): it starts with the
  cores that other processes leave idle, and every two seconds of training (`tick`, called by the
  training engine once per iteration) it counts the cores the *other* processes kept busy since the
  last look and sets torch's thread count to the cores left, at least one. Processes at a lower
  priority (`nice`) do not count: they yield their core. On a quiet machine a run
  uses every core; beside a busy process (a second notebook, `make ablation`, a compile) it drops to
  the free ones instead of spinning against them, and goes back up when they are free again.

Reproducibility: a different thread count changes float rounding (a StarGAN v1 run of 6 iterations at
1 and at 2 threads differs by 4e-5 in its weights), so a resumed run continues bit-exactly only at a
fixed count. Set one (`THREADS`, `--threads`, `$STARGAN_THREADS`) where runs are compared bit for bit;
the test suite and `make test-notebooks` do.

The count applies to torch's thread pool and to the BLAS libraries of numpy and scipy (`set_threads`),
whose own pools (the evaluation's Fréchet distances run there) would otherwise spin on every core.

Why: these 16-64-channel networks gain only 10-50 % from a second thread on an idle machine, while
a two-thread run beside one busy process ran about 3x slower than with one thread, because every
parallel region waits for the thread that shares its core. `benchmarks/bench_threads.py` measures
the options (one thread, two threads, two threads with OpenMP's passive wait, two processes, this
policy), quiet and beside a busy process, per model.

Giving torch more threads than there are cores (for example 16 threads on a 2-core container, or
two runs of 2 threads each on 2 cores) makes every step wait on the others: that is what slowed some
runs down tenfold before this policy.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path
from typing import Callable, Iterator

import torch

from stargan_lib.errors import ConfigError

THREADS_ENV = "STARGAN_THREADS"
_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def _quota_cores(cpu_max: Path = _CPU_MAX) -> int | None:
    """Whole cores allowed by a cgroup v2 CPU quota ("max" or a missing file: no quota)."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def available_cores() -> int:
    """The cores this process may use: its CPU affinity, capped by the container's CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                                   # not on Linux
        cores = os.cpu_count() or 1
    quota = _quota_cores()
    return max(1, min(cores, quota) if quota else cores)


def _parse(value: object, where: str) -> int | None:
    """A thread count from a flag, parameter or environment variable; None or 0 means "the policy"."""
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}={value!r} is not a number of threads; give a whole number >= 1 "
                          f"(or 0 / unset for the default: the available cores, {available_cores()} here)") from None
    if n < 0:
        raise ConfigError(f"{where}={n}: the number of threads must be >= 1 (0 or unset: the default)")
    return n or None


def thread_count(requested: int | str | None = None, parallel: int = 1) -> int:
    """Threads for one run: `requested` if given (> 0), else `$STARGAN_THREADS`, else the available
    cores divided among `parallel` runs that share them (at least 1)."""
    if parallel < 1:
        raise ConfigError(f"parallel={parallel}: the number of side-by-side runs must be >= 1")
    n = explicit_count(requested)
    return n if n is not None else max(1, available_cores() // parallel)


def explicit_count(requested: int | str | None = None) -> int | None:
    """The thread count a user set (`requested`, else `$STARGAN_THREADS`), or None: the policy decides."""
    n = _parse(requested, "threads")
    return n if n is not None else _parse(os.environ.get(THREADS_ENV), f"${THREADS_ENV}")


def per_worker_count(requested: int | str | None, workers: int) -> int | None:
    """The fixed thread count of each of `workers` processes that a scheduler (the ablation, the course
    runs) starts side by side, or None: the policy decides in each worker.

    `requested` (`--threads N`, the ablation's `threads`) is a count per worker and is used as given.
    `$STARGAN_THREADS` is what the whole command may use, so it is shared: N // workers threads each (at
    least 1). Every worker inherits the variable; taken as a per-worker count, two workers would each run
    N threads, and two 2-thread processes on 2 cores made the smoke ablation 3.3x slower (151 s instead
    of 45 s, measured 2026-12-05)."""
    if workers < 1:
        raise ConfigError(f"workers={workers}: a scheduler runs at least one process")
    n = _parse(requested, "threads")
    if n is not None:
        return n
    total = explicit_count()                                 # $STARGAN_THREADS, or None
    return None if total is None else max(1, total // workers)


# ============================================================================ following the free cores
_PROC_STAT = Path("/proc/stat")


def _busy_seconds(proc_stat: Path = _PROC_STAT) -> float | None:
    """CPU seconds that processes of normal or higher priority have run since boot (the `cpu` line of
    /proc/stat without idle, iowait and `nice`: the time of processes at a lower priority, nice > 0,
    which yield their core to a training run), or None where there is no /proc/stat."""
    try:
        fields = proc_stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 8:
        return None
    user, _nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    steal = int(fields[8]) if len(fields) > 8 else 0
    return (user + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds of this process, all its threads."""
    t = os.times()
    return t.user + t.system


class FreeCores:
    """Torch's thread count follows the cores that other processes leave free (see the module docstring).

    `tick()` is cheap (a clock read) except once per `period` seconds, when it reads the machine's and
    this process's CPU seconds and sets `torch.set_num_threads(choose(others))`, where `others` is the
    number of cores the other processes kept busy over that period. `cores`: the available cores.
    The readers are parameters so that tests can drive it. Where /proc/stat is missing (not Linux) it
    keeps the count it was given.
    """

    def __init__(self, cores: int | None = None, period: float = 2.0,
                 busy: Callable[[], float | None] | None = None, own: Callable[[], float] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.cores = cores or available_cores()
        self.period = period
        self._busy, self._own, self._clock = busy or _busy_seconds, own or _own_seconds, clock
        self._last = self._sample()
        self.others = 0.0                      # cores busy with other processes over the last period
        self.changes = 0                       # how often the count changed (for the benchmark)

    def _sample(self) -> tuple[float, float | None, float]:
        return self._clock(), self._busy(), self._own()

    def choose(self, others: float) -> int:
        """Threads for `others` busy cores: the free cores, rounded to the nearest, within 1..cores."""
        return max(1, min(self.cores, int(self.cores - others + 0.5)))

    def measure(self) -> float | None:
        """Cores the other processes kept busy since the last sample (None without /proc/stat or time)."""
        now = self._sample()
        (t0, b0, o0), (t1, b1, o1) = self._last, now
        self._last = now
        if b0 is None or b1 is None or t1 <= t0:
            return None
        return max(0.0, ((b1 - b0) - (o1 - o0)) / (t1 - t0))

    def apply(self) -> int:
        """Measure and set the thread count (`set_threads`); returns it."""
        others = self.measure()
        if others is not None:
            self.others = others
            n = self.choose(others)
            if torch.get_num_threads() != n:
                self.changes += 1
            set_threads(n)
        return torch.get_num_threads()

    def tick(self) -> None:
        """Called once per training iteration: re-applies the policy once per `period` seconds."""
        if self._clock() - self._last[0] >= self.period:
            self.apply()


_FOLLOWER: FreeCores | None = None


def set_threads(n: int) -> None:
    """`n` threads for torch's own pool and for the BLAS libraries numpy and scipy loaded (OpenBLAS:
    the FID statistics, the Fréchet distances and their bootstrap run there, with a pool of their own that
    defaults to every core and spins like torch's). Libraries loaded later start from `$OPENBLAS_NUM_THREADS`,
    which is set too."""
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    os.environ["OPENBLAS_NUM_THREADS"] = str(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                                      # an optional speed-up; torch's pool is set above
        return
    threadpool_limits(limits=n, user_api="blas")


def tick() -> None:
    """Once per training iteration (the engine calls it): lets the thread count follow the free cores
    when the policy, not a user, chose it. Does nothing after an explicit count."""
    if _FOLLOWER is not None:
        _FOLLOWER.tick()


PARALLEL_ENV = "STARGAN_PARALLEL"       # set by the ablation and course-runs schedulers for their workers


def side_by_side() -> int:
    """How many runs a scheduler started side by side with this one (`$STARGAN_PARALLEL`, default 1)."""
    n = _parse(os.environ.get(PARALLEL_ENV), f"${PARALLEL_ENV}")
    return n or 1


@contextlib.contextmanager
def parallel_workers(jobs: int) -> Iterator[None]:
    """While the block runs, processes started from this one learn that `jobs` of them run side by side
    (`$STARGAN_PARALLEL`): each starts from its share of the cores and then follows the free cores."""
    old = os.environ.get(PARALLEL_ENV)
    os.environ[PARALLEL_ENV] = str(int(jobs))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(PARALLEL_ENV, None)
        else:
            os.environ[PARALLEL_ENV] = old


def use_threads(requested: int | str | None = None, parallel: int | None = None) -> int:
    """Set torch's thread count in this process and return it.

    An explicit count (`requested`, else `$STARGAN_THREADS`) is applied as given and stays. Otherwise the
    count follows the free cores (`FreeCores`, kept up to date by `tick()`). It starts from the cores other
    processes left idle over the next 0.2 s, or, when `parallel` runs start side by side (default
    `$STARGAN_PARALLEL`, which the schedulers set), from an equal share of the cores: runs that start
    together would each see an idle machine."""
    global _FOLLOWER
    parallel = parallel or side_by_side()
    n = explicit_count(requested)
    _FOLLOWER = None
    if n is None:
        follower = FreeCores()
        if parallel > 1:
            n = thread_count(None, parallel)
        else:
            time.sleep(0.2)
            n = follower.choose(follower.measure() or 0.0)
        _FOLLOWER = follower
    set_threads(n)
    return n


def following_free_cores() -> bool:
    """Whether the thread count follows the free cores (no explicit count was set)."""
    return _FOLLOWER is not None


def loader_worker_init(worker_id: int) -> None:
    """`worker_init_fn` of every DataLoader: one torch thread per worker process."""
    torch.set_num_threads(1)


def describe_threads() -> str:
    """One line for notebooks and logs: threads in use, cores available, and how to change it."""
    how = "following the free cores" if following_free_cores() else "fixed"
    return (f"{torch.get_num_threads()} torch thread(s) on {available_cores()} available core(s), {how} "
            f"(override: THREADS parameter, --threads, or ${THREADS_ENV})")
