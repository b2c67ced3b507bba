"""Notebooks 04 and 05 write their headline figures (`FIGURES_JSON`, `stargan_lib.figures`) when papermill
sets the parameter: run at the smoke preset (a few training iterations per configuration, the data, oracle
and runs cached as in `make test`), then read the JSON back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

KEYS = {
    "04_stargan_v2_A_to_C": ["target_acc_A", "target_acc_B", "target_acc_C", "pose_kept_C"],
    "05_stargan_v2_D_to_F": ["target_acc_D", "target_acc_E", "target_acc_F", "lpips_D", "lpips_E", "lpips_F",
                             "ref_style_agreement_E", "ref_style_agreement_F", "pose_kept_F"],
}


def _papermill(name: str, tmp_path: Path, figures: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, STARGAN_PRESET="smoke", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "papermill", str(REPO / "notebooks" / f"{name}.ipynb"),
                           str(tmp_path / f"{name}.out.ipynb"), "-p", "PRESET", "smoke", "-p", "PROGRESS", "False",
                           "-p", "FIGURES_JSON", figures, "--cwd", str(REPO / "notebooks")],
                          capture_output=True, text=True, env=env, timeout=1200)


@pytest.mark.parametrize("name", sorted(KEYS))
def test_notebook_writes_its_figures(name, tmp_path):
    out = tmp_path / "figures.json"
    proc = _papermill(name, tmp_path, str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    missing = [k for k in KEYS[name] if k not in figures]
    assert not missing, f"{name} wrote no {missing}"
    assert figures["preset"] == "smoke"
    for key in KEYS[name]:
        assert isinstance(figures[key], float), (key, figures[key])
        if not key.startswith("lpips_"):
            assert 0.0 <= figures[key] <= 1.0, (key, figures[key])
        else:
            assert figures[key] > 0.0, (key, figures[key])       # D-F give different outputs per code

