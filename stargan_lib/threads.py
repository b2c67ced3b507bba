"""How many CPU threads PyTorch uses: one policy for the CLI, the notebooks, the ablation and the loaders.

Introduced in `notebooks/00_setup_and_data.ipynb`.

- A single run uses every core it is given: the cores this process may run on (its CPU affinity),
  capped by a container's CPU quota (cgroup `cpu.max`), which `os.cpu_count()` does not see.
- Runs that go on side by side (the ablation trains two configurations at a time) split those cores.
- DataLoader workers run with one thread each (`loader_worker_init`), so that workers never multiply
  the threads of the training process.
- One setting overrides the policy: an explicit count (`--threads N` on the command line, the
  `THREADS` parameter of a notebook), else the environment variable `STARGAN_THREADS`.

Giving torch more threads than there are cores (for example 16 threads on a 2-core container, or
two runs of 2 threads each on 2 cores) makes every step wait on the others: that is what slowed some
runs down tenfold before this policy.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

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
    n = _parse(requested, "threads")
    if n is None:
        n = _parse(os.environ.get(THREADS_ENV), f"${THREADS_ENV}")
    if n is None:
        n = max(1, available_cores() // parallel)
    return n


def use_threads(requested: int | str | None = None, parallel: int = 1) -> int:
    """Apply `thread_count(requested, parallel)` to torch in this process and return it."""
    n = thread_count(requested, parallel)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def loader_worker_init(worker_id: int) -> None:
    """`worker_init_fn` of every DataLoader: one torch thread per worker process."""
    torch.set_num_threads(1)


def describe_threads() -> str:
    """One line for notebooks and logs: threads in use, cores available, and how to change it."""
    return (f"{torch.get_num_threads()} torch thread(s) on {available_cores()} available core(s) "
            f"(override: THREADS parameter, --threads, or ${THREADS_ENV})")
