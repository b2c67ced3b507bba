"""Multi-GPU (or multi-process CPU) training with PyTorch's own engine: `torchrun` + DistributedDataParallel.

Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb` (the "paper preset on several GPUs" note); used by
`stargan_lib.train.stargan_v2`. Launch, e.g. on 4 GPUs:

    torchrun --nproc_per_node 4 -m stargan_lib train stargan_v2 --config F --preset paper ...

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `init_distributed` reads
them (without them it returns a single-process context and nothing changes).

How a step stays identical to single-process training on the same global batch:
- every process seeds the same generators and draws the same *global* batch (indices, target domains,
  latents, references), then keeps its own contiguous shard (`shard`): the union of the shards is
  exactly the single-process batch;
- every loss is a mean over the batch and no layer mixes samples (instance norm, no batch norm), so
  DDP's gradient averaging over equal shards gives the gradient of the global-batch mean;
- the R1 / WGAN-GP penalties need the gradient of D's output w.r.t. its *input* with
  `create_graph=True`. That inner `torch.autograd.grad` asks only for the input's gradient, so it
  does not touch parameter `.grad` and does not fire DDP's all-reduce hooks; the outer `backward()`
  then differentiates the penalty through the same DDP forward and averages the parameter gradients
  once, as usual. (DDP's "no double backward" caveat concerns `autograd.grad` w.r.t. parameters,
  which we never call.) `tests/test_ddp.py` checks the equality on two gloo processes, R1 included.
- with the CelebA-HQ high-pass skip the decoder's 1x1 shortcut convs exist but are unused, so those
  networks are wrapped with `find_unused_parameters=True`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

from stargan_lib.errors import ConfigError
from stargan_lib.utils import resolve_device


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: rank r of `world_size`, on `device`."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str = ""

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world_size() -> int:
    """WORLD_SIZE as set by torchrun (1 when not launched by it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: str = "auto", backend: str | None = None) -> DistContext:
    """Join the process group torchrun describes in the environment (or stay single-process).

    Backend: nccl on CUDA, gloo on CPU, unless `backend` says otherwise. Each process uses
    cuda:LOCAL_RANK when on CUDA.
    """
    world = env_world_size()
    dev = resolve_device(device)
    if world <= 1:
        return DistContext(device=dev)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    backend = backend or ("nccl" if dev.type == "cuda" else "gloo")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistContext(rank, world, local_rank, dev, backend)


def context_from_group(device: str | torch.device = "cpu") -> DistContext:
    """A context for a process group that is already initialised (e.g. by a test's spawn)."""
    if not dist.is_initialized():
        return DistContext(device=resolve_device(device))
    return DistContext(dist.get_rank(), dist.get_world_size(), dist.get_rank(), torch.device(device),
                       dist.get_backend())


def shard(batch: Mapping[str, Any], ctx: DistContext) -> dict[str, Any]:
    """This rank's contiguous slice of every tensor of a global batch (batch size divisible by world)."""
    if not ctx.is_distributed:
        return dict(batch)
    out = {}
    for k, v in batch.items():
        if torch.is_tensor(v) and v.dim() > 0:
            n = v.size(0)
            if n % ctx.world_size:
                raise ConfigError(f"global batch size {n} is not divisible by the {ctx.world_size} processes; "
                                  f"use a batch size that is a multiple of {ctx.world_size}")
            per = n // ctx.world_size
            v = v[ctx.rank * per:(ctx.rank + 1) * per]
        out[k] = v
    return out


def wrap(module: nn.Module, ctx: DistContext, find_unused_parameters: bool = False) -> nn.Module:
    """`module` wrapped in DistributedDataParallel when distributed (unchanged otherwise)."""
    if not ctx.is_distributed or not any(p.requires_grad for p in module.parameters()):
        return module
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DDP(module, device_ids=ids, find_unused_parameters=find_unused_parameters)


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or the module itself)."""
    return module.module if isinstance(module, DDP) else module


def all_reduce_mean(values: Mapping[str, float], ctx: DistContext) -> dict[str, float]:
    """Average a dict of floats over all processes (identity when single-process)."""
    if not ctx.is_distributed or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64,
                     device=ctx.device if ctx.backend == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= ctx.world_size
    return {k: float(v) for k, v in zip(keys, t.tolist())}


def barrier(ctx: DistContext) -> None:
    """Wait for every process under torchrun; no-op in one process (notebook 05's several-GPU note)."""
    if ctx.is_distributed:
        dist.barrier()


def cleanup(ctx: DistContext) -> None:
    """Leave the process group (call once at the end of a torchrun'ed script)."""
    if ctx.is_distributed and dist.is_initialized():
        dist.destroy_process_group()


# ============================================================================ several processes on one CPU
def free_port() -> int:
    """A TCP port nothing listens on now (for a local process group's rendezvous)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _local_worker(rank: int, procs: int, port: int, threads: int, fn: Any, args: tuple) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(procs), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), STARGAN_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    torch.set_num_threads(threads)
    fn(*args)


def spawn_local(fn: Any, args: tuple, procs: int, threads: int = 1) -> None:
    """Run `fn(*args)` in `procs` processes on this machine as torchrun would (RANK, WORLD_SIZE, ...
    set, so that `init_distributed` joins a gloo group), each with `threads` torch threads.
    `stargan train --procs N` uses it: data parallelism over the CPU's cores. `fn` must be importable
    (a module-level function); an exception in any process is raised here."""
    import torch.multiprocessing as mp

    if procs < 2:
        raise ConfigError(f"procs={procs}: spawn_local is for two or more processes")
    if env_world_size() > 1:
        raise ConfigError("already inside a distributed launch (WORLD_SIZE is set): drop --procs under torchrun")
    mp.spawn(_local_worker, args=(procs, free_port(), threads, fn, args), nprocs=procs, join=True)
