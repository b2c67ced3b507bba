"""DistributedDataParallel on two CPU processes (gloo) gives the same first iteration as one process
on the same global batch: the same losses (R1 and the WGAN-GP penalty, whose create_graph backward
runs through the DDP wrapper, included), the same all-reduced gradients and the same D weights after
its update. Biases followed by instance norm have a zero true gradient, so gradients are compared
relative to each network's largest one (Adam would turn their float noise into ±lr steps)."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from stargan_lib.models.stargan_v2_config import make_config
from stargan_lib.data.base import ImageSet
from stargan_lib.train.distributed import DistContext, context_from_group, shard
from stargan_lib.train.engine import Engine
from stargan_lib.train.stargan_v2 import StarGANv2Task


def _toy_data(n: int = 24, size: int = 16, k: int = 3) -> ImageSet:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return ImageSet("toy", "train", images, np.arange(n) % k, [f"d{i}" for i in range(k)], "domain")


def _one_iteration(letter: str, ctx: DistContext | None):
    cfg = make_config(letter, "smoke", "afhq", device="cpu")
    trainer = StarGANv2Task(cfg, _toy_data(), dist=ctx)
    logs = Engine(trainer, progress=False, dist=trainer.dist).iteration()
    # gradients of the last backward (the generator pass), all-reduced by DDP, and D's weights after
    # its update (which used the all-reduced D gradients)
    grads = {f"{name}.{k}": p.grad.detach().clone() for name, net in trainer.nets.items()
             for k, p in net.named_parameters() if p.grad is not None}
    d_params = {k: v.detach().clone() for k, v in trainer.nets["discriminator"].state_dict().items()}
    return logs, {"grads": grads, "d_params": d_params}


def _worker(rank: int, world: int, port: int, letters: str, out_path: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        ctx = context_from_group("cpu")
        assert ctx.world_size == world and ctx.is_distributed
        results = {}
        for letter in letters:
            logs, params = _one_iteration(letter, ctx)
            results[letter] = {"logs": logs, "params": params}
        if rank == 0:
            torch.save(results, out_path)
        dist.barrier()          # neither process tears down gloo while its peer still uses the connection
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    """One iteration of F and of A on two gloo processes (one spawn for both, to save start-up time)."""
    out = tmp_path_factory.mktemp("ddp") / "rank0.pt"
    mp.spawn(_worker, args=(2, _free_port(), "FA", str(out)), nprocs=2, join=True)
    return torch.load(out, weights_only=True)


@pytest.mark.parametrize("letter", ["F", "A"])   # R1 (non-saturating) and WGAN-GP + ACGAN
def test_ddp_two_processes_match_single_process(ddp_results, letter):
    ddp = ddp_results[letter]
    single_logs, single_params = _one_iteration(letter, None)

    assert set(ddp["logs"]) == set(single_logs)
    for k, v in single_logs.items():
        assert ddp["logs"][k] == pytest.approx(v, rel=1e-4, abs=1e-5), k
    grads, d_params = single_params["grads"], single_params["d_params"]
    assert set(ddp["params"]["grads"]) == set(grads) and len(grads) > 10
    net_scale: dict[str, float] = {}
    for k, g in grads.items():
        net = k.split(".")[0]
        net_scale[net] = max(net_scale.get(net, 0.0), float(g.abs().max()))
    for k, g in grads.items():
        # biases followed by instance norm have zero true gradient (float noise in both runs):
        # compare relative to the largest gradient of the same network
        atol = 1e-4 * net_scale[k.split(".")[0]]
        torch.testing.assert_close(ddp["params"]["grads"][k], g, rtol=1e-3, atol=atol, msg=k)
    for k, v in d_params.items():
        torch.testing.assert_close(ddp["params"]["d_params"][k], v, rtol=1e-4, atol=1e-6, msg=k)


def test_shard_splits_the_global_batch_contiguously():
    batch = {"x": torch.arange(8).float(), "y": torch.arange(8)}
    parts = [shard(batch, DistContext(rank=r, world_size=2)) for r in range(2)]
    assert torch.equal(torch.cat([p["x"] for p in parts]), batch["x"])
    with pytest.raises(Exception, match="divisible"):
        shard({"x": torch.arange(7)}, DistContext(rank=0, world_size=2))


def test_stargan_train_procs_trains_in_two_processes(tmp_path, capsys):
    """`stargan train stargan_v2 --procs 2`: two gloo processes (train.distributed.spawn_local), one
    checkpoint written by rank 0 at the last step; models that do not shard batches have no --procs."""
    from stargan_lib.cli import main
    from stargan_lib.utils import safe_torch_load

    out = tmp_path / "run"
    assert main(["train", "stargan_v2", "--config", "A", "--preset", "smoke", "--total-iters", "2",
                 "--batch-size", "4", "--out", str(out), "--procs", "2", "--no-progress"]) == 0
    assert "2 processes" in capsys.readouterr().out
    assert safe_torch_load(out / "checkpoint.pt")["step"] == 2
    with pytest.raises(SystemExit):
        main(["train", "cyclegan", "--preset", "smoke", "--out", str(tmp_path / "c"), "--procs", "2"])
