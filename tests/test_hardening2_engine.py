"""Hardening of the training engine (issue: hostile CLI sweep, items 1, 3 and 11).

1. one writer per run folder: `<out_dir>/train.lock` while a run resumes, trains or saves; a second
   training into the folder is refused naming the process; a stale lock is taken over; an engine
   whose checkpoint.pt was rewritten by another run does not overwrite it;
3. a checkpoint with non-finite weights is refused on resume before any file is written;
11. history.csv after a resume equals an uninterrupted run's when log_every does not divide ckpt_every.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading

import pytest
import torch
import torch.nn as nn

from stargan_lib.models.stargan_v2_config import make_config
from stargan_lib.errors import CheckpointError, ConfigError
from stargan_lib.train import cyclegan as CG
from stargan_lib.train import stargan_v1 as V1
from stargan_lib.train import stargan_v2 as V2
from stargan_lib.train.engine import TRAIN_LOCK, Engine, TrainTask
from train_helpers import cyclegan_cfg, domains, faces, read_csv, v1_cfg


def write_lock(folder, pid, host=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TRAIN_LOCK).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                                 "started": "2024-01-01T00:00:00+00:00"}))


# ============================================================================ 1. one writer per folder
class Gate(TrainTask):
    """A task whose second iteration waits until the test lets it go (a run that is still running)."""

    def __init__(self, total=3):
        self.cfg = dataclasses.make_dataclass("Cfg", [("total_iters", int, total), ("log_every", int, 1),
                                                      ("sample_every", int, 0), ("ckpt_every", int, 1)],
                                              frozen=True)()
        self.net = nn.Linear(2, 2)
        self.optims = {"opt": torch.optim.SGD(self.net.parameters(), lr=0.1)}
        self.started, self.go = threading.Event(), threading.Event()

    def checkpoint_nets(self):
        return {"net": self.net}

    def train_step(self, step):
        if step == 1:
            self.started.set()
            assert self.go.wait(30)
        return {"loss": 1.0}


def test_a_second_training_into_a_running_folder_is_refused(tmp_path):
    first = Gate()
    engine = Engine(first, tmp_path, progress=False)
    errors = []
    thread = threading.Thread(target=lambda: errors.extend([engine.run()]))
    thread.start()
    try:
        assert first.started.wait(30)
        assert (tmp_path / TRAIN_LOCK).is_file()
        lock = json.loads((tmp_path / TRAIN_LOCK).read_text())
        assert lock["pid"] == os.getpid()
        # the CLI / notebook path: resume and run are both refused while the first run writes
        with pytest.raises(ConfigError, match=rf"another `stargan train` is writing into .*process {os.getpid()}.*"
                                              r"still running.*history\.csv.*another folder"):
            CG.train(cyclegan_cfg(), tmp_path, faces(), progress=False)
        second = Engine(Gate(), tmp_path, progress=False)
        with pytest.raises(ConfigError, match="another `stargan train`"):
            second.run()
    finally:
        first.go.set()
        thread.join(30)
    assert errors == [(3, errors[0][1])]                 # the first run finished undisturbed
    assert not (tmp_path / TRAIN_LOCK).exists()         # and released the lock
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 3


def test_a_lock_of_a_live_process_refuses_and_a_stale_one_is_taken_over(tmp_path, capsys):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(tmp_path / "run", sleeper.pid)
        with pytest.raises(ConfigError, match=rf"process {sleeper.pid} .*delete .*train\.lock"):
            CG.train(cyclegan_cfg(), tmp_path / "run", faces(), progress=False)
        assert not (tmp_path / "run" / "checkpoint.pt").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    # the process is gone: its lock is stale, removed with a message, and the run trains
    res = CG.train(cyclegan_cfg(), tmp_path / "run", faces(), progress=False)
    assert res.step == 6 and "removing the stale lock" in capsys.readouterr().out
    assert not (tmp_path / "run" / TRAIN_LOCK).exists()


def test_two_cli_trainings_into_one_folder_cannot_both_write(tmp_path):
    """The issue's reproduction from the command line: a `stargan train` while another holds the folder."""
    from stargan_lib.cli import main

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(tmp_path, sleeper.pid)
        assert main(["train", "stargan_v1", "--preset", "smoke", "--out", str(tmp_path), "--no-progress",
                     "--device", "cpu", "--total-iters", "2"]) == 2
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "history.csv").exists()


def test_an_engine_does_not_overwrite_a_checkpoint_another_run_wrote_after_it_resumed(tmp_path):
    cfg = cyclegan_cfg(total_iters=4, ckpt_every=2)
    CG.train(cfg, tmp_path, faces(), progress=False, stop_after=2)
    set_a, set_b = CG.open_domains(cfg, faces())
    late = Engine(CG.CycleGANTask(cfg, set_a, set_b), tmp_path, progress=False)
    assert late.resume() and late.step == 2
    CG.train(cfg, tmp_path, faces(), progress=False)                 # another run goes on to step 4
    with pytest.raises(ConfigError, match="written by another training run after this one .*Resume again"):
        late.run()
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 4
    assert late.resume() and late.step == 4                           # resuming again is fine


def test_the_lock_is_released_when_training_fails(tmp_path):
    cfg = make_config("F", "smoke", "afhq", device="cpu", lr=30.0, ckpt_every=1, total_iters=30)
    with pytest.raises(Exception):
        V2.train(cfg, tmp_path, domains(), progress=False)
    assert not (tmp_path / TRAIN_LOCK).exists()


def test_a_run_folder_that_is_a_file_is_refused_before_training(tmp_path):
    target = tmp_path / "run"
    target.write_text("not a folder")
    with pytest.raises(ConfigError, match="run folder .*run is a file"):
        CG.train(cyclegan_cfg(), target, faces(), progress=False)


# ============================================================================ 3. non-finite weights on resume
def test_resume_from_non_finite_weights_writes_nothing(tmp_path):
    cfg = make_config("C", "smoke", "afhq", device="cpu", total_iters=2, ckpt_every=1)
    V2.train(cfg, tmp_path, domains(), progress=False)
    before = {name: (tmp_path / name).read_bytes() for name in ("nets_ema.ckpt", "history.csv")}
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    key = next(iter(state["nets"]["ema_generator"]))
    state["nets"]["ema_generator"][key].view(-1)[0] = float("nan")
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt holds non-finite weights \(NaN/inf in ema_generator"):
        V2.train(dataclasses.replace(cfg, total_iters=3), tmp_path, domains(), progress=False)
    for name, data in before.items():
        assert (tmp_path / name).read_bytes() == data, f"{name} was rewritten"
    assert not (tmp_path / TRAIN_LOCK).exists()


def test_resume_from_non_finite_weights_leaves_the_networks_untouched(tmp_path):
    cfg = v1_cfg(total_iters=2)
    V1.train(cfg, tmp_path, faces(), progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    state["nets"]["D"][next(iter(state["nets"]["D"]))].view(-1)[0] = float("inf")
    torch.save(state, tmp_path / "checkpoint.pt")
    task = V1.StarGANv1Task(cfg, V1.open_training_data(cfg, faces()))
    fresh = {k: v.clone() for k, v in task.nets["G"].state_dict().items()}
    with pytest.raises(CheckpointError, match="non-finite"):
        Engine(task, tmp_path, progress=False).resume()
    assert all(torch.equal(v, fresh[k]) for k, v in task.nets["G"].state_dict().items())


# ============================================================================ 11. the history window survives a resume
@pytest.mark.parametrize("log_every,ckpt_every", [(3, 4), (4, 3), (5, 2)])
def test_history_after_a_resume_equals_a_straight_run_for_any_log_every(tmp_path, log_every, ckpt_every):
    cfg = cyclegan_cfg(total_iters=8, log_every=log_every, ckpt_every=ckpt_every)
    straight = CG.train(cfg, tmp_path / "a", faces(), progress=False)
    CG.train(cfg, tmp_path / "b", faces(), progress=False, stop_after=ckpt_every + 1)   # stops between two rows
    resumed = CG.train(cfg, tmp_path / "b", faces(), progress=False)
    assert resumed.history == straight.history
    assert read_csv(tmp_path / "b" / "history.csv") == read_csv(tmp_path / "a" / "history.csv")


def test_stargan_v1_history_window_survives_a_resume(tmp_path):
    cfg = v1_cfg(total_iters=6, log_every=4, ckpt_every=3)
    straight = V1.train(cfg, tmp_path / "a", faces(), progress=False)
    V1.train(cfg, tmp_path / "b", faces(), progress=False, stop_after=3)
    resumed = V1.train(cfg, tmp_path / "b", faces(), progress=False)
    assert resumed.history == straight.history
    assert read_csv(tmp_path / "b" / "history.csv") == read_csv(tmp_path / "a" / "history.csv")
