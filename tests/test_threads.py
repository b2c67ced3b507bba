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
    monkeypatch.setattr(threads, "_busy_seconds", lambda: 0.0)     # a quiet machine
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


# ----------------------------------------------------------------------------- following the free cores
class _Machine:
    """A fake machine for FreeCores: a clock, the busy CPU seconds of all processes and of this one."""

    def __init__(self):
        self.t, self.busy, self.own = 0.0, 0.0, 0.0

    def run(self, seconds: float, own_cores: float, other_cores: float) -> None:
        self.t += seconds
        self.own += seconds * own_cores
        self.busy += seconds * (own_cores + other_cores)


def _follower(m: _Machine, cores: int = 2) -> threads.FreeCores:
    return threads.FreeCores(cores=cores, period=2.0, busy=lambda: m.busy, own=lambda: m.own, clock=lambda: m.t)


def test_free_cores_drop_to_one_thread_beside_a_busy_process_and_come_back():
    m = _Machine()
    f = _follower(m)
    m.run(2.0, own_cores=2.0, other_cores=0.0)         # quiet machine: both cores
    assert f.apply() == 2 and f.others == pytest.approx(0.0)
    m.run(2.0, own_cores=1.2, other_cores=0.8)         # another process took most of a core
    assert f.apply() == 1 and f.others == pytest.approx(0.8)
    m.run(2.0, own_cores=1.0, other_cores=0.1)         # it finished
    assert f.apply() == 2


def test_free_cores_never_go_below_one_or_above_the_cores():
    m = _Machine()
    f = _follower(m, cores=4)
    m.run(2.0, own_cores=1.0, other_cores=7.0)
    assert f.apply() == 1
    m.run(2.0, own_cores=4.0, other_cores=0.0)
    assert f.apply() == 4
    assert [f.choose(x) for x in (0.0, 0.4, 0.6, 1.5, 3.6)] == [4, 4, 3, 3, 1]


def test_tick_measures_only_once_per_period():
    m = _Machine()
    f = _follower(m)
    m.run(1.0, own_cores=1.0, other_cores=1.0)
    f.tick()
    assert f.changes == 0 and torch.get_num_threads() == torch.get_num_threads()   # nothing measured yet
    before = f._last
    m.run(1.5, own_cores=1.0, other_cores=1.0)
    f.tick()
    assert f._last != before and f.others == pytest.approx(1.0)


def test_without_proc_stat_the_count_stays(tmp_path):
    assert threads._busy_seconds(tmp_path / "missing") is None
    f = threads.FreeCores(cores=2, busy=lambda: None)
    torch.set_num_threads(1)
    assert f.apply() == 1 and f.measure() is None


def test_proc_stat_leaves_out_idle_and_low_priority_time(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 50 30 900 20 5 5 10 0 0\ncpu0 1 2 3 4\n")
    hz = __import__("os").sysconf("SC_CLK_TCK")
    assert threads._busy_seconds(stat) == pytest.approx((100 + 30 + 5 + 5 + 10) / hz)


def test_use_threads_follows_the_free_cores_only_without_an_explicit_count(monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    threads.use_threads()
    assert threads.following_free_cores()
    assert 1 <= torch.get_num_threads() <= threads.available_cores()
    assert "following the free cores" in threads.describe_threads()
    threads.use_threads(1)
    assert not threads.following_free_cores() and torch.get_num_threads() == 1
    threads.tick()                                      # a no-op after an explicit count
    assert torch.get_num_threads() == 1
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    threads.use_threads()
    assert not threads.following_free_cores()


def test_schedulers_share_the_environment_s_count_and_keep_a_per_worker_flag(monkeypatch):
    monkeypatch.setenv(threads.THREADS_ENV, "2")
    assert threads.per_worker_count(None, 2) == 1         # every worker inherits $STARGAN_THREADS: shared
    assert threads.per_worker_count(None, 1) == 2
    assert threads.per_worker_count(None, 3) == 1         # never 0
    assert threads.per_worker_count(2, 2) == 2            # --threads N is per worker, as given
    monkeypatch.delenv(threads.THREADS_ENV)
    assert threads.per_worker_count(None, 2) is None      # the policy decides in each worker
    with pytest.raises(ConfigError, match="workers=0"):
        threads.per_worker_count(None, 0)


def test_ablation_gives_each_of_two_notebooks_half_of_stargan_threads(monkeypatch, tmp_path):
    # Two notebooks at a time under STARGAN_THREADS=2 (as `make test` sets it) must run one thread each:
    # two threads each oversubscribed the 2-core machine (the smoke ablation took 151 s instead of 45 s).
    import concurrent.futures

    from stargan_lib.ablation import runner

    seen = {}

    def fake_execute(nb, nb_out, params, progress=False):
        seen[params["CONFIG"]] = params["THREADS"]
        return "RuntimeError: not run in this test", 0.0

    monkeypatch.setenv(threads.THREADS_ENV, "2")
    monkeypatch.setattr(runner, "execute_experiment", fake_execute)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor",
                        lambda max_workers, mp_context=None: concurrent.futures.ThreadPoolExecutor(max_workers))
    runner.run_ablation("smoke", configs="A,B", out_dir=tmp_path / "out", jobs=2, device="cpu", progress=False,
                        log=lambda s: None)
    assert seen == {"A": 1, "B": 1}
    runner.run_ablation("smoke", configs="A", out_dir=tmp_path / "out", jobs=2, threads=2, device="cpu",
                        progress=False, log=lambda s: None)
    assert seen["A"] == 2                                 # an explicit per-configuration count is kept
