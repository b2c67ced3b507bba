"""The FIGURES_JSON papermill parameter of notebooks 01-05: the headline figures a test or script reads.

Each notebook runs once at the smoke preset through papermill (as `make ablation` and the README's
examples run notebooks) with FIGURES_JSON set; the JSON must hold the issues' keys, fractions in
[0, 1]. The values themselves are meaningless at smoke size; the course-preset figures are in the README.
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
                     "wrong_mask_", "pose_kept_", "ref_style_agreement_")


def _papermill(name: str, folder: Path) -> tuple[subprocess.CompletedProcess, Path]:
    figures = folder / f"{name}.json"
    env = {**os.environ, "STARGAN_PRESET": "smoke", "MPLBACKEND": "Agg", "STARGAN_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    extra = ["-p", "PROGRESS", "False"] if name.startswith(("04", "05")) else []
    proc = subprocess.run([sys.executable, "-m", "papermill", str(REPO / "notebooks" / f"{name}.ipynb"),
                           str(folder / f"{name}.out.ipynb"), "-k", "python3", "--no-progress-bar",
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
def test_notebook_writes_its_figures(name, runs):
    proc, figures = runs[name]
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(figures.read_text())
    missing = [k for k in EXPECTED[name] if k not in got]
    assert not missing, f"{name} wrote {sorted(got)}, without {missing}"
    for key in EXPECTED[name]:
        assert isinstance(got[key], (int, float)), (key, got[key])
    for key, value in got.items():
        if key.startswith(FRACTION_PREFIXES) and value is not None:
            assert 0.0 <= value <= 1.0, f"{name}: {key} = {value} is not a fraction"
    for key in ("lpips_D", "lpips_E", "lpips_F"):
        if key in EXPECTED[name]:
            assert got[key] > 0.0, (key, got[key])       # D-F give different outputs per latent code
    assert got["preset"] == "smoke"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_papermill_sees_the_figures_parameter(name):
    # papermill infers parameters from the tagged cell's `NAME = value  # comment` lines; a comment it
    # cannot parse hides the name and `-p FIGURES_JSON ...` then warns "Passed unknown parameter".
    import papermill

    assert "FIGURES_JSON" in papermill.inspect_notebook(str(REPO / "notebooks" / f"{name}.ipynb"))
