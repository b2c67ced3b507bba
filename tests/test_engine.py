"""The training engine shared by CycleGAN, StarGAN v1 and StarGAN v2: history.csv, stale temporary
files, no checkpoint with non-finite weights, positive run lengths, load_run, nets_ema.ckpt for
`stargan eval`, and (with a GPU) CUDA resumes that match an uninterrupted run."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn as nn

from stargan_lib.models.stargan_v2_config import make_config
from stargan_lib.errors import CheckpointError, ConfigError, TrainingError
from stargan_lib.train import cyclegan as CG
from stargan_lib.train import stargan_v1 as V1
from stargan_lib.train import stargan_v2 as V2
from stargan_lib.train.common import save_checkpoint
from stargan_lib.train.registry import load_run
from stargan_lib.train.engine import Engine, TrainTask
from train_helpers import cyclegan_cfg, domains, faces, read_csv, v1_cfg

cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def same_weights(a, b):
    return all(torch.equal(a[k].state_dict()[n].cpu(), b[k].state_dict()[n].cpu())
               for k in a for n in a[k].state_dict())


# ============================================================================ history.csv
def test_history_csv_has_one_row_per_logged_step_and_resumes_consistently(tmp_path):
    cfg = cyclegan_cfg(ckpt_every=4)
    straight = CG.train(cfg, tmp_path / "a", faces(), progress=False)
    rows = read_csv(tmp_path / "a" / "history.csv")
    header, body = rows[0], rows[1:]
    assert header[0] == "step" and set(header) == set(straight.history)
    assert [int(r[0]) for r in body] == straight.history["step"] == [1, 2, 3, 4, 5, 6]
    for i, name in enumerate(header[1:], 1):
        assert [float(r[i]) for r in body] == straight.history[name]        # repr: exact floats
    # a run stopped at 2 (checkpoint 2) whose CSV went on to step 3 before a kill, then resumed
    CG.train(cfg, tmp_path / "b", faces(), progress=False, stop_after=2)
    with open(tmp_path / "b" / "history.csv", "a") as f:
        f.write("3," + ",".join("0" for _ in header[1:]) + "\n")          # a row the checkpoint does not have
    CG.train(cfg, tmp_path / "b", faces(), progress=False)
    assert read_csv(tmp_path / "b" / "history.csv") == rows


def test_stargan_v2_writes_history_csv(tmp_path):
    res = V2.train(make_config("C", "smoke", "afhq", device="cpu", total_iters=2), tmp_path, domains(),
                   progress=False)
    rows = read_csv(tmp_path / "history.csv")
    assert rows[0][0] == "step" and [r[0] for r in rows[1:]] == ["1", "2"]
    assert [float(r[rows[0].index("lambda_ds")]) for r in rows[1:]] == res.history["lambda_ds"]


# ============================================================================ stale temporary files
def test_stale_tmp_files_of_a_killed_save_are_removed_on_start(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    stale = [tmp_path / ".checkpoint.pt.abc123.tmp", tmp_path / ".nets_ema.ckpt.x9.tmp",
             tmp_path / ".history.csv.q.tmp"]
    for p in stale:
        p.write_bytes(b"")
    other = tmp_path / "notes.tmp"
    other.write_bytes(b"keep")
    Engine(V2.StarGANv2Task(make_config("C", "smoke", "afhq", device="cpu"), domains()), tmp_path, progress=False)
    assert not any(p.exists() for p in stale) and other.exists()


# ============================================================================ non-finite weights are never saved
class BlowUp(TrainTask):
    """A task whose weight becomes infinite at `bad_step` while its loss stays finite."""

    def __init__(self, bad_step: int, total: int = 6):
        self.cfg = dataclasses.make_dataclass("Cfg", [("total_iters", int, total), ("log_every", int, 1),
                                                      ("sample_every", int, 0), ("ckpt_every", int, 2)],
                                              frozen=True)()
        self.net = nn.Linear(2, 2)
        self.optims = {"opt": torch.optim.SGD(self.net.parameters(), lr=0.1)}
        self.bad_step = bad_step

    def checkpoint_nets(self):
        return {"net": self.net}

    def train_step(self, step):
        if step + 1 == self.bad_step:
            with torch.no_grad():
                self.net.weight[0, 0] = float("inf")
        return {"loss": 1.0}


def test_non_finite_weights_keep_the_last_good_checkpoint(tmp_path):
    engine = Engine(BlowUp(bad_step=3), tmp_path, progress=False)
    with pytest.raises(TrainingError, match=r"step 4: non-finite weights \(net\.weight\).*the last good checkpoint "
                                            r"is step 2 at .*checkpoint\.pt"):
        engine.run()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2 and torch.isfinite(state["nets"]["net"]["weight"]).all()


def test_non_finite_weights_before_any_checkpoint_say_none_was_written(tmp_path):
    """The issue's reproduction: lr 30 makes StarGAN v2's weights overflow while its losses are finite."""
    cfg = make_config("F", "smoke", "afhq", device="cpu", lr=30.0, ckpt_every=1, total_iters=30)
    with pytest.raises(TrainingError, match="non-finite weights .*no checkpoint was written by this run"):
        V2.train(cfg, tmp_path, domains(), progress=False)
    assert not (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "nets_ema.ckpt").exists()


def _poisoned_v1_checkpoint(tmp_path):
    cfg = v1_cfg(total_iters=2)
    res = V1.train(cfg, tmp_path, faces(), progress=False)
    with torch.no_grad():
        next(res.nets["G"].parameters()).view(-1)[0] = float("nan")
    save_checkpoint(tmp_path / "bad.pt", step=2, cfg=cfg, nets=res.nets, optims={})
    return tmp_path / "bad.pt"


def test_sample_and_load_run_refuse_non_finite_weights(tmp_path, capsys):
    from stargan_lib.cli import main

    bad = _poisoned_v1_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match=r"bad\.pt holds non-finite weights \(NaN/inf in G\."):
        load_run(bad)
    assert main(["sample", str(bad), "--out", str(tmp_path / "g.png"), "--preset", "smoke"]) == 2
    assert "non-finite weights" in capsys.readouterr().err and not (tmp_path / "g.png").exists()


def test_eval_refuses_non_finite_weights(tmp_path):
    from stargan_lib.metrics.protocol import load_stargan_v2_for_eval

    V2.train(make_config("C", "smoke", "afhq", device="cpu", total_iters=1), tmp_path, domains(), progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    key = next(k for k, v in state["nets"]["ema_generator"].items() if v.is_floating_point())
    state["nets"]["ema_generator"][key].fill_(float("inf"))
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="non-finite weights"):
        load_stargan_v2_for_eval(str(tmp_path / "checkpoint.pt"))


# ============================================================================ run lengths
@pytest.mark.parametrize("bad", [0, -5])
def test_non_positive_total_iters_are_refused(bad):
    with pytest.raises(ConfigError, match=f"total_iters={bad}"):
        cyclegan_cfg(total_iters=bad)
    with pytest.raises(ConfigError, match=f"total_iters={bad}"):
        v1_cfg(total_iters=bad)
    with pytest.raises(ConfigError, match=f"total_iters={bad}"):
        make_config("F", "smoke", "afhq", total_iters=bad)


@pytest.mark.parametrize("model,value", [("stargan_v1", "-5"), ("stargan_v2", "0"), ("cyclegan", "0")])
def test_cli_refuses_non_positive_total_iters(tmp_path, capsys, model, value):
    from stargan_lib.cli import main

    code = main(["train", model, "--preset", "smoke", "--out", str(tmp_path / "run"), "--total-iters", value,
                 "--device", "cpu", "--no-progress"])
    assert code == 2
    assert f"total_iters={value}" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


# ============================================================================ load_run and nets_ema.ckpt
def test_load_run_rebuilds_every_model(tmp_path):
    cg = CG.train(cyclegan_cfg(total_iters=2), tmp_path / "cg", faces(), progress=False)
    run = load_run(cg.checkpoint)
    assert run.cfg == cyclegan_cfg(total_iters=2) and run.ema is None and same_weights(cg.nets, run.nets)
    v1 = V1.train(v1_cfg(total_iters=2, datasets=("faces",)), tmp_path / "v1", faces(), progress=False)
    run = load_run(v1.checkpoint)
    assert run.cfg.datasets == ("faces",) and same_weights(v1.nets, run.nets) and run.state["step"] == 2
    v2 = V2.train(make_config("E", "smoke", "afhq", device="cpu", total_iters=1), tmp_path / "v2",
                  domains(), progress=False)
    run = load_run(v2.checkpoint)
    assert run.cfg == v2.cfg and same_weights(v2.ema, run.ema) and same_weights(v2.nets, run.nets)
    assert not any(net.training for net in run.ema.values())


def test_eval_reads_the_nets_ema_that_train_writes(tmp_path):
    from stargan_lib.metrics.protocol import load_stargan_v2_for_eval

    cfg = make_config("F", "smoke", "afhq", device="cpu", total_iters=1)
    res = V2.train(cfg, tmp_path / "run", domains(), progress=False)
    nets, info = load_stargan_v2_for_eval(str(tmp_path / "run" / "nets_ema.ckpt"), dataset="animals")
    assert info["config"] == "F" and info["step"] == 1 and "checkpoint.pt" in info["kind"]
    assert same_weights(res.ema, nets)
    # without its checkpoint.pt the file cannot say its configuration: the error says so
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "nets_ema.ckpt").write_bytes((tmp_path / "run" / "nets_ema.ckpt").read_bytes())
    with pytest.raises(CheckpointError, match="checkpoint.pt beside it"):
        load_stargan_v2_for_eval(str(lone / "nets_ema.ckpt"), dataset="animals")


# ============================================================================ CUDA resumes (GPU only)
@cuda_only
@pytest.mark.parametrize("model", ["cyclegan", "stargan_v1"])
def test_resume_on_cuda_matches_a_straight_run(model, tmp_path):
    # the RNG states in the checkpoint must be loaded onto the CPU (set_rng_state refuses CUDA tensors)
    trainer, cfg = (CG, cyclegan_cfg(total_iters=4, device="cuda")) if model == "cyclegan" else \
        (V1, v1_cfg(total_iters=4, device="cuda"))
    straight = trainer.train(cfg, tmp_path / "a", faces(), progress=False)
    trainer.train(cfg, tmp_path / "b", faces(), progress=False, stop_after=2)
    resumed = trainer.train(cfg, tmp_path / "b", faces(), progress=False)
    assert same_weights(straight.nets, resumed.nets) and straight.history == resumed.history


@cuda_only
def test_stargan_v2_resume_on_cuda_matches_a_straight_run(tmp_path):
    cfg = make_config("F", "smoke", "afhq", device="cuda", total_iters=4, ckpt_every=2)
    straight = V2.train(cfg, tmp_path / "a", domains(), progress=False)
    V2.train(cfg, tmp_path / "b", domains(), progress=False, stop_after=2)
    resumed = V2.train(cfg, tmp_path / "b", domains(), progress=False)
    assert same_weights(straight.nets, resumed.nets) and same_weights(straight.ema, resumed.ema)
    assert straight.history == resumed.history


def test_resume_rewrites_nets_ema_in_step_with_the_checkpoint(tmp_path):
    """A kill between checkpoint.pt and nets_ema.ckpt leaves an old nets_ema; the next start mends it."""
    cfg = make_config("C", "smoke", "afhq", device="cpu", total_iters=2, ckpt_every=1)
    V2.train(cfg, tmp_path, domains(), progress=False, stop_after=1)
    stale = torch.load(tmp_path / "nets_ema.ckpt", weights_only=True)
    V2.train(cfg, tmp_path, domains(), progress=False)
    torch.save(stale, tmp_path / "nets_ema.ckpt")                   # as if killed after checkpoint.pt at step 2
    engine = Engine(V2.StarGANv2Task(cfg, domains()), tmp_path, progress=False)
    assert engine.resume() and engine.step == 2
    mended = torch.load(tmp_path / "nets_ema.ckpt", weights_only=True)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    for name, sd in mended.items():
        assert all(torch.equal(v, state["nets"][f"ema_{name}"][k]) for k, v in sd.items())
    assert not all(torch.equal(v, stale["generator"][k]) for k, v in mended["generator"].items())


def test_checkpoint_without_a_later_config_field_resumes_when_that_field_keeps_its_default(tmp_path):
    # A run saved before `g_residual` existed was trained with the paper's output map, which is that
    # field's default: it resumes under the default and is refused when the field asks for another value.
    from stargan_lib.errors import CheckpointError
    from stargan_lib.models.stargan_v1 import build_nets, config_for
    from stargan_lib.train.common import load_checkpoint, save_checkpoint
    from stargan_lib.utils import atomic_torch_save, safe_torch_load

    cfg = config_for("smoke")
    nets = build_nets(cfg)
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, step=3, cfg=cfg, nets=nets, optims={})
    state = safe_torch_load(path)
    del state["config"]["g_residual"]
    atomic_torch_save(state, path)
    assert load_checkpoint(path, cfg=cfg, nets=build_nets(cfg))["step"] == 3
    with pytest.raises(CheckpointError, match="g_residual: checkpoint=None vs now=True"):
        load_checkpoint(path, cfg=config_for("smoke", g_residual=True), nets=build_nets(cfg))
