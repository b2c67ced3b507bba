"""The FIGURES_JSON papermill parameter of notebooks 01-05: the headline figures a test or script reads.

Each notebook runs once at the smoke preset through papermill (as `make ablation` and the README's
examples run notebooks) with FIGURES_JSON set; the JSON must hold the issues' keys, fractions in
[0, 1]. The values themselves are meaningless at smoke size; the course-preset figures are in the README.
Every notebook writes the shipped course run's figures under these keys and its live run's under
`live_<key>`, with `"course_run": true` (04-05 also `iterations` of the course runs and
`live_iterations` of the live ones); with `COURSE_RUNS=False` only the `live_` keys and
`"course_run": false`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ATTRS = ("Black", "Blond", "Brown", "Gender", "Aged")
EXPECTED = {
    "01_cyclegan_baseline": ["target_acc_a2b", "target_acc_b2a", "kept"],
    "02_stargan_v1": [f"single_acc_{a}" for a in ATTRS] + [f"multi_acc_{m}" for m in ("H+G", "H+A", "G+A", "H+G+A")]
    + ["kept", "content_error", "table3_error_stargan", "table3_error_cyclegan"],
    "03_mask_vector_joint_training": ["jnt_expr_acc", "sng_expr_acc", "wrong_mask_expr_acc", "wrong_mask_aged"],
    "04_stargan_v2_A_to_C": ["target_acc_A", "target_acc_B", "target_acc_C", "pose_kept_C"],
    "05_stargan_v2_D_to_F": ["target_acc_D", "target_acc_E", "target_acc_F", "lpips_D", "lpips_E", "lpips_F",
                             "ref_style_agreement_E", "ref_style_agreement_F", "pose_kept_F"],
}
FRACTION_PREFIXES = ("target_acc_", "single_acc_", "multi_acc_", "kept", "table3_error_", "jnt_expr", "sng_expr",
                     "wrong_mask_", "unchanged_expr", "pose_kept_", "ref_style_agreement_")
# Notebooks 04-05 also give the iterations of the course runs (`iterations`) and of the live runs.
WITH_ITERATIONS = ("04_stargan_v2_A_to_C", "05_stargan_v2_D_to_F")


def _papermill(name: str, folder: Path, **params: object) -> tuple[subprocess.CompletedProcess, Path]:
    """Run notebook `name` at smoke with FIGURES_JSON (and `params`, e.g. COURSE_RUNS=False) set."""
    suffix = "".join(f"_{k}-{v}" for k, v in params.items())
    figures = folder / f"{name}{suffix}.json"
    env = {**os.environ, "STARGAN_PRESET": "smoke", "MPLBACKEND": "Agg", "STARGAN_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    extra = ["-p", "PROGRESS", "False"] if name.startswith(("04", "05")) else []
    for key, value in params.items():
        extra += ["-p", key, str(value)]
    proc = subprocess.run([sys.executable, "-m", "papermill", str(REPO / "notebooks" / f"{name}.ipynb"),
                           str(folder / f"{name}{suffix}.out.ipynb"), "-k", "python3", "--no-progress-bar",
                           "-p", "FIGURES_JSON", str(figures), *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    return proc, figures


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """All five notebooks, two at a time on one thread each (their kernels mostly wait on Python, not BLAS)."""
    folder = tmp_path_factory.mktemp("figures")
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(EXPECTED, pool.map(lambda name: _papermill(name, folder), EXPECTED)))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_writes_the_live_and_the_course_run(name, runs):
    proc, figures = runs[name]
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(figures.read_text())
    assert got.get("course_run") is True, f"{name}: course_run = {got.get('course_run')!r}"   # smoke ships them
    expected = [*EXPECTED[name], *(f"live_{k}" for k in EXPECTED[name])]
    if name in WITH_ITERATIONS:
        expected += ["iterations", "live_iterations"]
    missing = [k for k in expected if k not in got]
    assert not missing, f"{name} wrote {sorted(got)}, without {missing}"
    for key in expected:
        assert isinstance(got[key], (int, float)), (key, got[key])
    if name in WITH_ITERATIONS:
        assert got["iterations"] > got["live_iterations"] > 0          # the course run is the longer one
    for key, value in got.items():
        if key.removeprefix("live_").startswith(FRACTION_PREFIXES) and value is not None:
            assert 0.0 <= value <= 1.0, f"{name}: {key} = {value} is not a fraction"
    for key in ("lpips_D", "lpips_E", "lpips_F"):
        if key in EXPECTED[name]:                    # D-F give different outputs per latent code
            assert got[key] > 0.0 and got[f"live_{key}"] > 0.0, (key, got[key])
    assert got["preset"] == "smoke"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_cyclegan_baseline", "04_stargan_v2_A_to_C"])
def test_notebook_without_course_runs_writes_only_the_live_run(name, tmp_path):
    # COURSE_RUNS=False: the live part runs, the course-run cells show nothing, FIGURES_JSON holds only the
    # live run (01 and 04, the cheapest of the v1 and v2 notebooks; the others share the pattern).
    proc, figures = _papermill(name, tmp_path, COURSE_RUNS=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(figures.read_text())
    assert got["course_run"] is False
    live = [*EXPECTED[name], *(["iterations"] if name in WITH_ITERATIONS else [])]
    assert [k for k in live if f"live_{k}" not in got] == []
    others = sorted(k for k in got if not k.startswith("live_") and k not in ("course_run", "preset"))
    assert others == [], f"{name} with COURSE_RUNS=False wrote course-run keys {others}"
    for key, value in got.items():
        if key.removeprefix("live_").startswith(FRACTION_PREFIXES) and value is not None:
            assert 0.0 <= value <= 1.0, f"{name}: {key} = {value} is not a fraction"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_papermill_sees_every_parameter(name):
    # papermill infers parameters from the tagged cell's `NAME = value  # comment` lines; a comment it
    # cannot parse hides the name (`-p FIGURES_JSON ...` then warns "Passed unknown parameter"). Every
    # `NAME = value` line of the parameters cell, FIGURES_JSON and COURSE_RUNS included, must be one.
    import re

    import papermill

    path = REPO / "notebooks" / f"{name}.ipynb"
    cell = next(c for c in json.loads(path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
    assigned = re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", "".join(cell["source"]), re.MULTILINE)
    assert {"FIGURES_JSON", "COURSE_RUNS"} <= set(assigned)
    assert list(papermill.inspect_notebook(str(path))) == assigned
