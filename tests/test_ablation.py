"""`stargan ablation` (Table 1 of the StarGAN v2 paper) at the smoke preset, through papermill.

One real smoke run (`stargan ablation --preset smoke`, six papermill executions of
notebooks/experiment.ipynb, about 1-3 minutes on 2 busy cores) is shared by the tests; tests that change a
results folder work on a copy of it. Bad input: an unknown configuration letter, a results folder of
another preset / dataset / length, a failing configuration.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from stargan_lib import __version__, ablation
from stargan_lib.cli import main as cli_main
from stargan_lib.configs_v2 import LETTERS
from stargan_lib.errors import ConfigError
from stargan_lib.presets import get_preset

SMOKE_ITERS = ablation.ablation_iters("smoke")


def _stargan(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stargan_lib", *args], capture_output=True, text=True, env=env,
                          timeout=900)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke ablation, A-F, run once by the real command in a fresh cache and results folder."""
    import os

    base = tmp_path_factory.mktemp("ablation")
    env = dict(os.environ)
    from stargan_lib.utils import cache_root
    env["STARGAN_WEIGHTS"] = str(cache_root() / "weights")      # the provisioned metric weights
    env["STARGAN_CACHE"] = str(base / "cache")                  # data, oracle, FID statistics: fresh
    out = base / "results"
    proc = _stargan("ablation", "--preset", "smoke", "--out", str(out), "--quiet", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Shared with notebook 06, which `make test` runs next under nbval: it shows the smoke table of the
    # checkout's results/ablation_smoke and runs only what is missing there, so the six configurations
    # are trained once per `make test`, not twice. A folder that is already there is left alone.
    shared = ablation.resolve_out_dir(None, "smoke")
    if not shared.exists():
        tmp = shared.with_name(f".{shared.name}.{os.getpid()}.tmp")
        shutil.copytree(out, tmp, ignore=shutil.ignore_patterns("ablation.lock"))
        try:
            tmp.rename(shared)
        except OSError:                  # another process made it meanwhile: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    return out, proc, env


@pytest.fixture
def smoke_copy(smoke_run, tmp_path, monkeypatch):
    """A private copy of the smoke results folder (and the same cache) for tests that change it."""
    out, _, env = smoke_run
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    monkeypatch.setenv("STARGAN_CACHE", env["STARGAN_CACHE"])
    monkeypatch.setenv("STARGAN_WEIGHTS", env["STARGAN_WEIGHTS"])
    return copy


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- the smoke run

def test_smoke_run_prints_one_progress_line_per_configuration(smoke_run):
    _, proc, _ = smoke_run
    # configurations run two at a time on a CPU: the lines come in the order they finish
    done = sorted(line for line in proc.stdout.splitlines() if line.startswith("[") and "FID" in line)
    assert len(done) == 6
    for i, (letter, line) in enumerate(zip(LETTERS, done), 1):
        assert line.startswith(f"[{i}/6] {letter} (") and f"{SMOKE_ITERS} it trained" in line


def test_smoke_run_writes_one_record_per_configuration(smoke_run):
    out, _, _ = smoke_run
    manifest = _json(out / "manifest.json")
    assert (manifest["preset"], manifest["dataset"], manifest["seed"], manifest["iterations"]) == \
        ("smoke", "animals", 0, SMOKE_ITERS)
    sizes = get_preset("smoke").ablation
    for letter in LETTERS:
        rec = _json(out / f"{letter}.json")
        assert rec["status"] == "ok" and rec["config"] == letter
        assert (rec["preset"], rec["dataset"], rec["seed"], rec["iterations"]) == ("smoke", "animals", 0, SMOKE_ITERS)
        assert rec["library_version"] == __version__
        assert rec["config_fields"]["config"] == letter and rec["config_fields"]["total_iters"] == SMOKE_ITERS
        t = rec["timings"]
        assert t["train_s"] > 0 and t["eval_s"] > 0 and t["total_s"] >= t["eval_s"] and t["eval_cpu_s"] > 0
        assert t["step"] == SMOKE_ITERS and t["iters_this_run"] == SMOKE_ITERS
        m = rec["metrics"]
        assert math.isfinite(m["fid"]) and m["fid"] > 0
        assert 0.0 <= m["oracle_accuracy"] <= 1.0
        # A-C: one output per source -> FID of the deterministic mode, no LPIPS; D-F: latent-guided + LPIPS
        if letter in "ABC":
            assert m["mode"] == "deterministic" and m["lpips"] is None
        else:
            assert m["mode"] == "latent" and 0.0 < m["lpips"] < 1.0
        # every configuration's FID sees the same number of images per domain pair
        assert m["images_per_pair"] == sizes.n_sources * sizes.n_outputs
        pairs = rec["protocol"]["modes"][m["mode"]]["pairs"]
        assert sorted(pairs) == sorted(f"{s}->{t}" for s in ("cat", "dog", "wild") for t in ("cat", "dog", "wild")
                                       if s != t)
        assert rec["paper"] == ablation.PAPER_TABLE1[letter]
        assert (out / "runs" / letter / "checkpoint.pt").is_file()


def test_smoke_run_keeps_executed_notebooks_and_grids(smoke_run):
    import nbformat

    out, _, _ = smoke_run
    size = get_preset("smoke").image_size
    for letter in LETTERS:
        nb = nbformat.read(out / "notebooks" / f"experiment_{letter}.ipynb", as_version=4)
        assert nb.metadata.papermill.parameters["CONFIG"] == letter
        assert nb.metadata.papermill.parameters["PRESET"] == "smoke"
        assert not any(o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        grid = Image.open(out / f"{letter}.png")
        # A-C: rows of source + one output per domain (4 columns); D-F: source + 5 latent outputs (6 columns)
        cols = 4 if letter in "ABC" else 6
        assert grid.width == cols * (size + 1) + 1
    assert (out / "E_reference.png").is_file() and (out / "F_reference.png").is_file()
    assert not (out / "D_reference.png").exists()


def test_smoke_run_writes_the_table(smoke_run):
    out, _, _ = smoke_run
    recs = {c: _json(out / f"{c}.json") for c in LETTERS}
    with open(out / "ablation.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["config"] for r in rows] == list(LETTERS)
    for r in rows:
        assert r["status"] == "ok"
        assert float(r["fid"]) == pytest.approx(recs[r["config"]]["metrics"]["fid"])
        assert float(r["paper_fid"]) == ablation.PAPER_TABLE1[r["config"]]["fid"]
        assert (r["lpips"] == "") == (r["config"] in "ABC")
    assert list(rows[0])[:5] == ["config", "fid", "fid_se", "lpips", "lpips_se"]
    for r in rows:
        m = recs[r["config"]]["metrics"]
        # smoke: D-F have one source per domain, nothing to resample: their standard errors are undefined
        # (empty); A-C translate n_sources x n_outputs = 2 sources per domain, so their FID has one
        assert (r["fid_se"] == "") == (r["config"] in "DEF") and r["lpips_se"] == ""
        if r["config"] in "ABC":
            assert float(r["fid_se"]) == pytest.approx(m["fid_se"]) and m["fid_se"] > 0
        # the course metrics, read by the oracle; E-F are also evaluated reference-guided (without its FID),
        # which fills their style agreement
        assert float(r["oracle_fd"]) == pytest.approx(m["oracle_fd"]) and float(r["oracle_fd"]) > 0
        assert 0 <= float(r["oracle_accuracy"]) <= 1 and 0 <= float(r["pose_kept"]) <= 1
        assert (r["style_agreement"] == "") == (r["config"] in "ABCD")
        assert (r["style_agreement_chance"] == "") == (r["config"] in "ABCD")
        assert r["fid_reference"] == "" and (r["lpips_reference"] == "") == (r["config"] in "ABCD")
    text = (out / "ablation.md").read_text()
    assert "Preset `smoke`, dataset `animals`" in text and "oracle FD" in text
    for c, paper in ablation.PAPER_TABLE1.items():
        ours = f"{recs[c]['metrics']['fid']:.1f}"
        line = next(line for line in text.splitlines() if line.startswith(f"| {c} |"))
        assert ours in line and f"{paper['fid']:.1f}" in line
        if paper["lpips"] is not None:
            assert f"{paper['lpips']:.3f}" in line and f"{recs[c]['metrics']['lpips']:.3f}" in line
    assert "## Trend" in text and "LPIPS undefined for A-C (one output per source): holds" in text
    img = Image.open(out / "ablation.png")
    assert img.format == "PNG" and img.width > 500


# ----------------------------------------------------------------------------- resume and skip

def test_second_run_skips_finished_configurations(smoke_copy):
    before = {c: (smoke_copy / f"{c}.json").stat().st_mtime_ns for c in LETTERS}
    lines: list[str] = []
    run = ablation.run_ablation("smoke", out_dir=smoke_copy, progress=False, log=lines.append)
    assert run.status == {c: "skipped" for c in LETTERS}
    assert {c: (smoke_copy / f"{c}.json").stat().st_mtime_ns for c in LETTERS} == before
    assert sum("skipped" in line for line in lines) == 6
    assert [r["config"] for r in run.rows] == list(LETTERS)


def test_force_runs_a_configuration_again_from_scratch(smoke_copy):
    lines: list[str] = []
    run = ablation.run_ablation("smoke", configs="A", out_dir=smoke_copy, force=True, progress=False,
                                log=lines.append)
    assert run.status == {"A": "ran"}
    assert _json(smoke_copy / "A.json")["timings"]["iters_this_run"] == SMOKE_ITERS   # trained again
    assert [r["config"] for r in run.rows] == list(LETTERS)                          # the table: all six


# ----------------------------------------------------------------------------- bad input

def test_unknown_configuration_letter(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"'X'.*A, B, C, D, E, F"):
        ablation.parse_configs("A,X")
    assert ablation.parse_configs("f, a") == ["A", "F"] and ablation.parse_configs("ABF") == ["A", "B", "F"]
    assert cli_main(["ablation", "--preset", "smoke", "--configs", "A,X", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "unknown StarGAN v2 configuration" in err and "'X'" in err
    assert not (tmp_path / "r").exists()                        # refused before any work
    with pytest.raises(ConfigError, match="'G'"):
        ablation.prepare("G", "smoke", out_dir=tmp_path / "r2")  # the experiment notebook's first step


def test_refuses_to_mix_presets_datasets_or_lengths(smoke_copy, capsys):
    before = sorted(p.name for p in smoke_copy.iterdir())
    assert cli_main(["ablation", "--preset", "course", "--out", str(smoke_copy), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "preset 'smoke'" in err and "preset 'course'" in err and "not mixed" in err and str(smoke_copy) in err
    with pytest.raises(ConfigError, match="differs in dataset"):
        ablation.run_ablation("smoke", dataset="faces_gender", out_dir=smoke_copy, log=lambda s: None)
    with pytest.raises(ConfigError, match="differs in iterations"):
        ablation.run_ablation("smoke", iters=SMOKE_ITERS + 1, out_dir=smoke_copy, log=lambda s: None)
    # the experiment notebook refuses too, even when the manifest is gone (the records say the preset)
    (smoke_copy / "manifest.json").unlink()
    with pytest.raises(ConfigError, match="preset 'smoke'"):
        ablation.prepare("A", "course", out_dir=smoke_copy)
    assert sorted(p.name for p in smoke_copy.iterdir()) == sorted(set(before) - {"manifest.json"})


def test_failing_configuration_is_marked_and_the_others_run(smoke_copy, capsys):
    # An interrupted run: C and D trained to the end, but stopped before their records were written,
    # and C's checkpoint was damaged.
    old_d = _json(smoke_copy / "D.json")
    (smoke_copy / "C.json").unlink()
    (smoke_copy / "D.json").unlink()
    (smoke_copy / "runs" / "C" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    rc = cli_main(["ablation", "--preset", "smoke", "--configs", "C,D", "--out", str(smoke_copy), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "[1/2] C (" in out and "FAILED" in out and "[2/2] D (" in out and "failed: C" in out
    rec = _json(smoke_copy / "C.json")
    nb = Path(rec["notebook"])
    assert rec["status"] == "failed" and "CheckpointError" in rec["error"] and "checkpoint.pt" in rec["error"]
    assert nb == smoke_copy.resolve() / "notebooks" / "experiment_C.ipynb" and nb.is_file()
    assert "CheckpointError" in nb.read_text()                  # the executed notebook shows the error
    # the other configuration still ran, resuming from its complete checkpoint (nothing retrained)
    d = _json(smoke_copy / "D.json")
    assert d["status"] == "ok" and d["timings"]["iters_this_run"] == 0 and d["timings"]["step"] == SMOKE_ITERS
    assert d["timings"]["train_s"] == pytest.approx(old_d["timings"]["train_s"])     # its training time kept
    assert d["metrics"]["fid"] == pytest.approx(old_d["metrics"]["fid"], rel=1e-4)  # the same networks
    text = (smoke_copy / "ablation.md").read_text()
    line = next(line for line in text.splitlines() if line.startswith("| C |"))
    assert "**failed**" in line and "experiment_C.ipynb" in line
    assert "## Failed configurations" in text
    rows = {r["config"]: r for r in csv.DictReader(open(smoke_copy / "ablation.csv"))}
    assert rows["C"]["status"] == "failed" and rows["D"]["status"] == "ok" and rows["C"]["fid"] == ""
    # the trend needs A, B and C: not measured rather than a guess
    assert ablation.trend(ablation.collect_results(smoke_copy))["lpips_undefined_A_C"] is None


def test_trend_reads_the_rows():
    def rows(fid, lp):
        return [{"config": c, "status": "ok", "fid": f, "lpips": v} for c, f, v in zip(LETTERS, fid, lp)]
    good = rows([90, 80, 70, 60, 50, 40], [None, None, None, 0.1, 0.2, 0.2])
    assert ablation.trend(good) == {"lpips_undefined_A_C": True, "lpips_D_lt_E_le_F": True, "fid_F_lt_A": True}
    bad = rows([40, 80, 70, 60, 50, 90], [None, None, None, 0.3, 0.2, 0.25])
    assert ablation.trend(bad) == {"lpips_undefined_A_C": True, "lpips_D_lt_E_le_F": False, "fid_F_lt_A": False}
    assert ablation.trend(good[:5])["fid_F_lt_A"] is None


def test_lpips_differences_within_the_noise_are_said_so():
    se = [None, None, None, 0.004, 0.003, 0.003]
    lp = [None, None, None, 0.38, 0.438, 0.440]
    rows = [{"config": c, "description": c, "status": "ok", "fid": 100.0 - i, "lpips": v, "lpips_se": s,
             "oracle_accuracy": None, "paper_fid": 1.0, "paper_lpips": None, "train_s": 1, "eval_s": 1}
            for i, (c, v, s) in enumerate(zip(LETTERS, lp, se))]
    margins = {m["pair"]: m for m in ablation.lpips_margins(rows)}
    assert margins["D->E"]["diff"] == pytest.approx(0.058)
    assert margins["E->F"]["two_se"] == pytest.approx(2 * (0.003 ** 2 * 2) ** 0.5)
    md = ablation.table_markdown(rows)
    assert "0.440 ± 0.003" in md
    line = next(x for x in md.splitlines() if x.startswith("- LPIPS: D < E <= F"))
    assert line.startswith("- LPIPS: D < E <= F (diversity grows): holds, but E->F +0.002 is within the noise")
    assert "D->E" not in line                         # 0.058 is far outside its 2 s.e. (0.010)
    fid_se = [dict(r, fid_se=0.5 + i) for i, r in enumerate(rows)]
    steps = {m["pair"]: m for m in ablation.fid_margins(fid_se)}
    assert list(steps) == ["A->B", "B->C", "C->D", "D->E", "E->F"]
    assert steps["A->B"]["diff"] == pytest.approx(-1.0)
    assert steps["A->B"]["two_se"] == pytest.approx(2 * (0.5 ** 2 + 1.5 ** 2) ** 0.5)
    assert ablation.fid_margins(rows)[0]["diff"] is None                 # no standard errors: not judged
    assert "| 100.0 ± 0.5 |" in ablation.table_markdown(fid_se)
    csv_rows = list(csv.DictReader(ablation.table_csv(fid_se).splitlines()))
    assert [r["fid_se"] for r in csv_rows] == ["0.5", "1.5", "2.5", "3.5", "4.5", "5.5"]
    assert [r["lpips_se"] for r in csv_rows] == ["", "", "", "0.004", "0.003", "0.003"]     # undefined for A-C
    no_se = [dict(r, lpips_se=None) for r in rows]
    assert ablation.lpips_margins(no_se)[1]["diff"] is None
    assert "within the noise" not in ablation.table_markdown(no_se)


# ----------------------------------------------------------------------------- one run per folder (lock)

def test_the_smoke_run_leaves_no_lock(smoke_run):
    out, _, _ = smoke_run
    assert not (out / ablation.LOCK).exists()


def test_lock_refuses_a_second_run_and_names_the_first(tmp_path):
    import os
    import socket

    first = ablation.AblationLock(tmp_path / "r", log=None).acquire()
    record = _json(tmp_path / "r" / ablation.LOCK)
    assert record["pid"] == os.getpid() and record["host"] == socket.gethostname() and record["started"]
    with pytest.raises(ConfigError) as err:
        ablation.AblationLock(tmp_path / "r", log=None).acquire()
    msg = str(err.value)
    assert f"process {os.getpid()} on {socket.gethostname()}" in msg and "still running" in msg
    assert "Wait for it to finish" in msg and f"delete {tmp_path / 'r' / ablation.LOCK}" in msg
    first.release()
    assert not (tmp_path / "r" / ablation.LOCK).exists()
    with ablation.AblationLock(tmp_path / "r", log=None):       # free again
        assert (tmp_path / "r" / ablation.LOCK).exists()
    assert not (tmp_path / "r" / ablation.LOCK).exists()
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == []   # no temporary file left either


def test_stale_lock_of_a_dead_process_is_replaced(tmp_path):
    import socket

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)                                  # that process has exited
    assert not ablation.runner.pid_alive(dead_pid)
    lock = tmp_path / ablation.LOCK
    lock.write_text(json.dumps({"pid": dead_pid, "host": socket.gethostname(), "started": "2020-01-01T00:00:00+00:00"}))
    lines = []
    with ablation.AblationLock(tmp_path, log=lines.append):
        assert _json(lock)["pid"] != dead_pid
    assert len(lines) == 1 and "stale lock" in lines[0] and str(dead_pid) in lines[0]


def test_lock_of_another_machine_or_unreadable_is_refused(tmp_path):
    lock = tmp_path / ablation.LOCK
    lock.write_text(json.dumps({"pid": 1, "host": "another-machine", "started": "2020-01-01T00:00:00+00:00"}))
    with pytest.raises(ConfigError, match="process 1 on another-machine.*cannot be checked.*delete"):
        ablation.AblationLock(tmp_path, log=None).acquire()
    lock.write_text("{not json")
    with pytest.raises(ConfigError, match=f"cannot be read.*delete the lock file \\({lock}\\)"):
        ablation.AblationLock(tmp_path, log=None).acquire()
    assert lock.read_text() == "{not json"                        # a refused run leaves the lock alone


def test_stargan_ablation_refuses_a_folder_another_run_holds(tmp_path, capsys):
    import os
    import socket

    out = tmp_path / "r"
    out.mkdir()
    other = {"pid": os.getppid(), "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00"}
    (out / ablation.LOCK).write_text(json.dumps(other))
    assert cli_main(["ablation", "--preset", "smoke", "--configs", "A", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"process {os.getppid()}" in err and "another `stargan ablation`" in err
    assert sorted(p.name for p in out.iterdir()) == [ablation.LOCK]    # refused before the manifest or any work
    assert _json(out / ablation.LOCK) == other


def test_jobs_in_processes_report_a_failure_and_the_others_go_on():
    # The pool both schedulers (the ablation, the table over the course runs) run their configurations in.
    import math

    from stargan_lib.ablation.runner import run_in_processes

    calls = {"ok": (math.sqrt, (4.0,)), "bad": (math.sqrt, (-1.0,)), "also ok": (math.sqrt, (9.0,))}
    got = {key: (result, error) for key, result, error in run_in_processes(calls, 2)}
    assert got["ok"] == (2.0, None) and got["also ok"] == (3.0, None)
    assert got["bad"][0] is None and got["bad"][1].startswith("ValueError: math domain error")
