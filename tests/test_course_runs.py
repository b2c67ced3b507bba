"""Course runs: the shipped runs load strictly into today's code and are not stale; they reproduce
their manifests' outputs on held-out images; bad files get a clear error; the smoke preset exercises
training, resume, export and loading end to end (`stargan course-runs`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from stargan_lib.experiments import course_runs as cr
from stargan_lib.experiments import course_schedule as sched
from stargan_lib.experiments import course_ship as cs
from stargan_lib.presets import PRESETS

SHIPPED = [(p, n) for p in PRESETS for n in cr.run_names(p) if cs.shipped_paths(n, p)[0].exists()]
MAX_SHIPPED_BYTES = 25_000_000


def test_every_preset_with_course_runs_ships_all_of_them():
    for p in ("smoke", "course"):
        missing = [n for n in cr.run_names(p) if not cs.shipped_paths(n, p)[0].exists()]
        assert not missing, f"preset {p}: course runs not shipped: {missing}; run `make course-runs PRESET={p}`"
    assert cr.run_names("paper") == []


@pytest.mark.parametrize("preset,name", SHIPPED)
def test_shipped_run_is_current(preset, name):
    """Strict load (every key and shape) and the configuration hash of today's long configuration:
    a change to a network, a loss or a preset fails here with `make course-runs`."""
    try:
        run = cs.load_course_run(name, preset)
    except cs.CourseRunError as exc:
        pytest.fail(f"{exc}")
    m = run.state
    assert m["config_hash"] == cr.config_hash(cr.long_config(name, preset))
    assert m["iterations"] == PRESETS[preset].course_runs[name] == run.cfg.total_iters
    for key in ("config", "train_seconds", "device", "commit", "figures", "check", "dtype", "live_iterations"):
        assert key in m, key
    assert m["iterations"] > m["live_iterations"], "a course run is longer than the notebook's live run"
    assert m["dtype"] in ("float16", "float32") and m["fp16_max_figure_change"] <= cs.FP16_TOLERANCE or \
        m["dtype"] == "float32"


@pytest.mark.parametrize("preset,name", SHIPPED)
def test_shipped_run_reproduces_its_outputs(preset, name):
    """The outputs on held-out images (`check_fingerprint`) equal those recorded at export."""
    run = cs.load_course_run(name, preset)
    now = cs.check_fingerprint(name, run, preset)
    for key, value in run.state["check"].items():
        assert now[key] == pytest.approx(value, abs=1e-4), (name, key)


@pytest.mark.parametrize("preset,name", [s for s in SHIPPED if s[0] == "smoke"])
def test_shipped_smoke_figures_are_reproduced(preset, name):
    """The manifest's notebook figures, computed again from the shipped weights."""
    from stargan_lib.experiments.course_figures import figures_of

    run = cs.load_course_run(name, preset)
    now = figures_of(name, run, preset)
    for key, value in run.state["figures"].items():
        if isinstance(value, (int, float)) and value is not None:
            assert now[key] == pytest.approx(value, abs=1e-3), (name, key)


def test_shipped_size_is_small():
    total = sum(f.stat().st_size for f in (cs.shipped_dir("course").parent).rglob("*") if f.is_file())
    assert total <= MAX_SHIPPED_BYTES, f"course runs ship {total / 1e6:.1f} MB (budget 25 MB)"


# ---------------------------------------------------------------------------- bad files
@pytest.fixture
def copy_of_smoke(tmp_path):
    dest = tmp_path / "runs"
    shutil.copytree(cs.shipped_dir("smoke"), dest)
    return dest


def _error(name, folder):
    with pytest.raises(cs.CourseRunError) as info:
        cs.load_course_run(name, "smoke", folder=folder)
    msg = str(info.value)
    assert repr(name) in msg and f"make course-runs ONLY={name}" in msg, msg
    return msg


def test_missing_file_names_the_run(copy_of_smoke):
    (copy_of_smoke / "stargan_v1.pt").unlink()
    assert "does not exist" in _error("stargan_v1", copy_of_smoke)


def test_truncated_file(copy_of_smoke):
    pt = copy_of_smoke / "cyclegan.pt"
    pt.write_bytes(pt.read_bytes()[:200])
    assert "truncated" in _error("cyclegan", copy_of_smoke)


def test_foreign_file(copy_of_smoke):
    torch.save({"state_dict": {}}, copy_of_smoke / "v2_C.pt")
    assert "not a course-run file" in _error("v2_C", copy_of_smoke)
    shutil.copy(copy_of_smoke / "v2_A.pt", copy_of_smoke / "v2_B.pt")      # another run's file
    assert "not a course-run file" in _error("v2_B", copy_of_smoke)


def test_stale_configuration_names_what_differs(copy_of_smoke):
    pt = copy_of_smoke / "stargan_v1.pt"
    payload = torch.load(pt, weights_only=True)
    payload["config"]["lambda_rec"] = 99.0
    torch.save(payload, pt)
    msg = _error("stargan_v1", copy_of_smoke)
    assert "stale" in msg and "lambda_rec" in msg and "99.0" in msg


def test_manifest_of_another_run(copy_of_smoke):
    m = json.loads((copy_of_smoke / "jnt.json").read_text())
    m["config_hash"] = "0" * 16
    (copy_of_smoke / "jnt.json").write_text(json.dumps(m))
    assert "manifest" in _error("jnt", copy_of_smoke)


def test_non_finite_weights(copy_of_smoke):
    pt = copy_of_smoke / "sng.pt"
    payload = torch.load(pt, weights_only=True)
    key = next(k for k, v in payload["nets"]["G"].items() if v.is_floating_point())
    payload["nets"]["G"][key] = payload["nets"]["G"][key] * float("nan")
    torch.save(payload, pt)
    assert "non-finite" in _error("sng", copy_of_smoke)


def test_unknown_run_and_preset_without_runs():
    with pytest.raises(Exception, match="choose from"):
        cs.load_course_run("v3_Z", "smoke")
    with pytest.raises(Exception, match="no course runs"):
        cs.load_course_run("stargan_v1", "paper")


def test_notebook_form_prints_and_goes_on(capsys, monkeypatch, copy_of_smoke):
    assert cs.course_run_or_none("stargan_v1", "smoke", enabled=False) is None
    assert cs.course_run_or_none("stargan_v1", "paper") is None
    assert "ships no course run" in capsys.readouterr().out
    monkeypatch.setattr(cs, "shipped_dir", lambda preset: copy_of_smoke)
    (copy_of_smoke / "cyclegan.pt").unlink()
    assert cs.course_run_or_none("cyclegan", "smoke") is None
    assert "make course-runs ONLY=cyclegan" in capsys.readouterr().out
    run = cs.course_run_or_none("stargan_v1", "smoke")
    assert run is not None and "trained 2.0x longer" in cs.describe(run)


# ---------------------------------------------------------------------------- the whole path at smoke
@pytest.mark.slow
def test_course_runs_command_trains_resumes_and_exports(tmp_path, monkeypatch):
    """`stargan course-runs --preset smoke --only ...`: trains in the cache (two processes), a second
    call finds them finished, and the exported files load; an interrupted run resumes its checkpoint."""
    from stargan_lib.cli import main
    from stargan_lib.utils import cache_root

    cache = tmp_path / "cache"
    cache.mkdir()
    for sub in ("weights", "oracle", "data"):             # warm: metric weights, oracles, synthetic sets
        if (cache_root() / sub).exists():
            (cache / sub).symlink_to(cache_root() / sub)
    monkeypatch.setenv("STARGAN_CACHE", str(cache))
    dest = tmp_path / "ship"
    # an interrupted run: half of table3_happy's 12 iterations, checkpointed
    from stargan_lib.train.cyclegan import train
    cfg = cr.long_config("table3_happy", "smoke")
    import dataclasses
    half = dataclasses.replace(cfg, ckpt_every=6)
    train(half, cr.run_dir("table3_happy", "smoke", cfg), preset="smoke", progress=False, stop_after=6)
    assert cr.run_state("table3_happy", "smoke") is None and sched.logged_step("table3_happy", "smoke") == 6
    rc = main(["course-runs", "--preset", "smoke", "--only", "table3_happy,v2_A", "--dest", str(dest),
               "--report-every", "1"])
    assert rc == 0
    state = cr.run_state("table3_happy", "smoke")
    assert state["step"] == 12
    history = (cr.run_dir("table3_happy", "smoke") / "history.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in history[1:]] == list(range(1, 13)), "resumed from step 6, one row per step"
    for n in ("table3_happy", "v2_A"):
        run = cs.load_course_run(n, "smoke", folder=dest)
        assert run.state["iterations"] == PRESETS["smoke"].course_runs[n]
    mtime = (dest / "v2_A.pt").stat().st_mtime
    assert main(["course-runs", "--preset", "smoke", "--only", "v2_A", "--dest", str(dest)]) == 0
    assert (dest / "v2_A.pt").stat().st_mtime == mtime, "a finished, exported run is neither trained nor exported again"


def test_course_runs_command_refuses_bad_names(capsys):
    from stargan_lib.cli import main

    assert main(["course-runs", "--preset", "smoke", "--only", "v2_Z"]) == 2
    assert "v2_Z" in capsys.readouterr().err
    assert main(["course-runs", "--preset", "paper"]) == 2
