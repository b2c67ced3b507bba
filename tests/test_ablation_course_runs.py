"""`stargan ablation --course-runs`: Table 1 over the shipped course runs (smoke runs here), evaluated
without training; missing or stale runs refused with the command that rebuilds them; the table's
per-step verdicts."""

from __future__ import annotations

import dataclasses
import json

import pytest

from stargan_lib import ablation
from stargan_lib.ablation import course_table
from stargan_lib.cli import main as cli_main
from stargan_lib.experiments import course_runs as cr
from stargan_lib.experiments import course_ship
from stargan_lib.experiments.course_ship import CourseRunError


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("course_table")
    run = ablation.run_course_table("smoke", configs="A,E", out_dir=out, jobs=1, threads=1, progress=False,
                                    log=lambda s: None)
    return run


def test_evaluates_the_shipped_runs_without_training(table_run):
    assert table_run.status == {"A": "ran", "E": "ran"} and not table_run.failed
    for letter in "AE":
        rec = json.loads((table_run.out_dir / f"{letter}.json").read_text())
        shipped = course_ship.read_manifest(f"v2_{letter}", "smoke")
        assert rec["checkpoint"].endswith(f"course_runs/smoke/v2_{letter}.pt")
        assert rec["iterations"] == shipped["iterations"]
        assert rec["timings"]["train_s"] == pytest.approx(shipped["train_seconds"])   # its training, not ours
        assert not (table_run.out_dir / "runs").exists()                            # nothing was trained
    m = json.loads((table_run.out_dir / "manifest.json").read_text())
    assert m["course_runs"]["E"]["config_hash"] == cr.config_hash(cr.long_config("v2_E", "smoke"))


def test_style_columns_fill_for_E_without_a_reference_fid(table_run):
    rows = {r["config"]: r for r in table_run.rows}
    assert rows["E"]["style_agreement"] is not None and rows["E"]["lpips_reference"] is not None
    assert rows["E"]["fid_reference"] is None             # reference_fid=False at smoke and course
    assert rows["A"]["style_agreement"] is None
    md = table_run.files["md"].read_text()
    assert "shipped course runs" in md and "Which steps of Table 1 hold" in md


def test_second_call_skips_finished_configurations(table_run):
    logs = []
    run = ablation.run_course_table("smoke", configs="A", out_dir=table_run.out_dir, jobs=1, progress=False,
                                    log=logs.append)
    assert run.status == {"A": "skipped"} and any("skipped" in s for s in logs)


def test_stale_run_is_refused_with_the_rebuild_command(monkeypatch, tmp_path):
    real = cr.long_config

    def changed(name, preset, seed=0):
        cfg = real(name, preset, seed)
        return dataclasses.replace(cfg, lambda_cyc=cfg.lambda_cyc + 1) if name == "v2_B" else cfg

    monkeypatch.setattr(cr, "long_config", changed)
    with pytest.raises(CourseRunError, match=r"v2_B.*stale.*make course-runs ONLY=v2_B"):
        ablation.run_course_table("smoke", configs="A,B", out_dir=tmp_path / "t", progress=False)
    assert not (tmp_path / "t").exists()                 # refused before any work


def test_missing_run_is_refused_with_the_rebuild_command(monkeypatch, tmp_path):
    monkeypatch.setattr(course_ship, "shipped_dir", lambda preset: tmp_path / "nothing")
    with pytest.raises(CourseRunError, match=r"v2_A.*missing.*make course-runs ONLY=v2_A"):
        course_table.check_course_runs("A", "smoke")


def test_cli_refuses_training_flags_with_course_runs(capsys, tmp_path):
    assert cli_main(["ablation", "--preset", "smoke", "--course-runs", "--iters", "5", "--out", str(tmp_path)]) == 2
    assert "--iters" in capsys.readouterr().out


def test_step_verdicts_follow_the_papers_direction():
    assert ablation.verdict(-5.0, 2.0, lower_is_better=True) == "holds"
    assert ablation.verdict(+5.0, 2.0, lower_is_better=True) == "reversed"
    assert ablation.verdict(+0.05, 0.02, lower_is_better=False) == "holds"
    assert ablation.verdict(1.0, 2.0, lower_is_better=True) == "noise"
    assert ablation.verdict(None, None, lower_is_better=True) == "not measured"
    rows = [{"config": c, "status": "ok", "fid": f, "fid_se": 1.0, "oracle_fd": o, "oracle_fd_se": 0.1,
             "lpips": lp, "lpips_se": 0.005}
            for c, f, o, lp in (("A", 100, 5.0, None), ("B", 90, 4.0, None), ("C", 89, 4.5, None),
                                ("D", 60, 3.0, 0.30), ("E", 50, 2.0, 0.40), ("F", 49, 1.9, 0.41))]
    v = ablation.step_verdicts(rows)
    assert v["A->B"]["fid"].endswith("**holds**") and v["B->C"]["fid"].endswith("**noise**")
    assert v["B->C"]["oracle_fd"].endswith("**reversed**") and v["D->E"]["lpips"].endswith("**holds**")
    assert "lpips" not in v["A->B"]


def test_per_configuration_lengths_and_the_time_estimate():
    from stargan_lib.ablation import runner, settings
    from stargan_lib.presets import get_preset

    course = get_preset("course")
    its = {c: settings.ablation_iters(course, None, c) for c in "ABCDEF"}
    assert its == {c: course.ablation.iters.get(c, course.ablation.total_iters) for c in "ABCDEF"}
    assert settings.ablation_iters(course, 7, "A") == 7                 # a user's length applies to all
    assert settings.experiment_config("B", course).total_iters == its["B"]
    assert settings.iterations_of("smoke") == settings.ablation_iters("smoke")
    # the estimate: the measured costs, scaled by the probe, scheduled two at a time
    one = runner.estimate_seconds(["A"], {"A": 100}, jobs=2, probe=runner.PROBE_S)
    assert one == pytest.approx(100 * runner.COURSE_COSTS["A"][0] + runner.COURSE_COSTS["A"][1] + runner.OVERHEAD_S)
    assert runner.estimate_seconds(["A"], {"A": 100}, jobs=2, probe=2 * runner.PROBE_S) == pytest.approx(2 * one)
    both = runner.estimate_seconds(["A", "B"], {"A": 100, "B": 100}, jobs=2, probe=runner.PROBE_S)
    serial = runner.estimate_seconds(["A", "B"], {"A": 100, "B": 100}, jobs=1, probe=runner.PROBE_S)
    assert both < serial and serial == pytest.approx(one + 100 * runner.COURSE_COSTS["B"][0]
                                                     + runner.COURSE_COSTS["B"][1] + runner.OVERHEAD_S)
    assert runner.schedule_order(list("ABCDEF")) == list("AFEDCB")
    assert runner.speed_probe() > 0


def test_notebook_06_shows_the_grids_as_pictures(tmp_path, tmp_cache):
    # The grids are matplotlib Figures built without pyplot; a fresh kernel showed them as the text
    # "<Figure size ... with 6 Axes>" until a pyplot figure had been drawn. Run the notebook as a student's
    # kernel would (papermill, inline backend) and look for the pictures in the grid cells' outputs.
    import os
    import subprocess
    import sys
    from pathlib import Path

    import nbformat

    repo = Path(__file__).resolve().parent.parent
    out = tmp_path / "06.ipynb"
    env = {**os.environ, "STARGAN_PRESET": "smoke", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "STARGAN_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "papermill", str(repo / "notebooks" / "06_ablation_table.ipynb"),
                           str(out), "-k", "python3", "--no-progress-bar", "--cwd", str(repo / "notebooks"),
                           "-p", "RESULTS_DIR", str(tmp_path / "scratch"), "-p", "RUN_MISSING", "False",
                           "-p", "COURSE_RESULTS_DIR", str(tmp_path / "course")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cells = [c for c in nbformat.read(out, as_version=4).cells
             if c.cell_type == "code" and "grid_figures(course_rows" in c.source]
    assert len(cells) == 1
    kinds = [list(o.get("data", {})) for o in cells[0].outputs if o.output_type == "display_data"]
    assert len(kinds) == 2 and all("image/png" in k for k in kinds), kinds     # Fig. 3 and Fig. 4 grids
