"""The thread policy (`stargan_lib.threads`): every available core for one run, split between runs side
by side, one setting to override it, and a clear error for a bad count."""

from __future__ import annotations

import pytest
import torch

from stargan_lib import threads
from stargan_lib.cli import main
from stargan_lib.errors import ConfigError


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_one_run_takes_every_core_and_parallel_runs_split_them(monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    assert threads.thread_count() == 4
    assert threads.thread_count(parallel=2) == 2
    assert threads.thread_count(parallel=3) == 1
    assert threads.thread_count(parallel=8) == 1          # never 0


def test_explicit_count_beats_the_environment_which_beats_the_default(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setenv(threads.THREADS_ENV, "3")
    assert threads.thread_count() == 3
    assert threads.thread_count(parallel=2) == 3          # a user's setting is not divided
    assert threads.thread_count(1) == 1
    monkeypatch.setenv(threads.THREADS_ENV, "0")          # 0: the default again
    assert threads.thread_count() == 4


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_bad_counts_are_refused_with_the_setting_named(monkeypatch, value):
    monkeypatch.setenv(threads.THREADS_ENV, value)
    with pytest.raises(ConfigError, match=threads.THREADS_ENV):
        threads.thread_count()


def test_container_quota_caps_the_cores(tmp_path):
    f = tmp_path / "cpu.max"
    f.write_text("150000 100000\n")
    assert threads._quota_cores(f) == 2
    f.write_text("max 100000\n")
    assert threads._quota_cores(f) is None
    assert threads._quota_cores(tmp_path / "missing") is None


def test_use_threads_applies_the_count_to_torch(monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    assert threads.use_threads(1) == 1 and torch.get_num_threads() == 1
    n = threads.use_threads()
    assert n == threads.available_cores() and torch.get_num_threads() == n
    assert f"{n} torch thread(s)" in threads.describe_threads()


def test_cli_threads_flag_sets_torch_threads_and_refuses_bad_values(monkeypatch, capsys):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    assert main(["--threads", "1", "params", "cyclegan", "--preset", "smoke"]) == 0
    assert torch.get_num_threads() == 1
    assert main(["--threads", "-2", "params", "cyclegan", "--preset", "smoke"]) == 2
    assert "threads=-2" in capsys.readouterr().err


def test_loader_workers_run_single_threaded():
    torch.set_num_threads(2)
    threads.loader_worker_init(0)
    assert torch.get_num_threads() == 1
