"""The repository's own plumbing: packaging, environment files, presets, notebooks, labs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from stargan_lib.errors import ConfigError
from stargan_lib.nbtools import lab_text, strip_solutions
from stargan_lib.presets import PRESETS, get_preset

REPO = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


CONDA_NAMES = {"pytorch": "torch"}


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = {_name(r): r for r in pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["dev"]}
    lines = (REPO / "environment.yml").read_text().splitlines()
    conda, pip = {}, {}
    section = None
    for line in lines:
        s = line.strip()
        if s == "dependencies:":
            section = "conda"
        elif s == "- pip:":
            section = "pip"
        elif s.startswith("- ") and section:
            spec = s[2:].strip()
            if spec in ("pip", "-e .") or spec.startswith("python="):
                continue
            name = _name(spec)
            (pip if section == "pip" else conda)[CONDA_NAMES.get(name, name)] = spec
    env = {**conda, **pip}
    assert set(env) == set(wanted), f"only in environment.yml: {set(env) - set(wanted)}; only in pyproject: {set(wanted) - set(env)}"
    for name, spec in env.items():
        pins_env = re.sub(r"^[\w\-]+", "", spec).replace("=", "==").replace("====", "==").replace("<==", "<=").replace(">==", ">=")
        pins_py = re.sub(r"^[\w\-\[\]]+", "", wanted[name])
        assert pins_env.replace(" ", "") == pins_py.replace(" ", ""), f"{name}: environment.yml {spec!r} vs pyproject {wanted[name]!r}"
    assert "-e ." in (REPO / "environment.yml").read_text()


def test_torch_is_capped_not_pinned_newer():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_req = next(d for d in deps if _name(d) == "torch")
    assert "<=2.14.1" in torch_req


def test_presets_in_one_place():
    assert list(PRESETS) == ["smoke", "course", "paper"]
    assert get_preset("course").image_size == 32
    assert get_preset("smoke").image_size < get_preset("course").image_size
    with pytest.raises(ConfigError, match="unknown preset 'huge'.*smoke"):
        get_preset("huge")


def test_preset_from_environment(monkeypatch):
    monkeypatch.setenv("STARGAN_PRESET", "smoke")
    assert get_preset().name == "smoke"
    monkeypatch.delenv("STARGAN_PRESET")
    assert get_preset().name == "course"


def test_cli_entry_points():
    out = subprocess.run([sys.executable, "-m", "stargan_lib", "--help"], capture_output=True, text=True, check=True)
    assert "data" in out.stdout


NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted((REPO / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{path.name}: needs exactly one cell tagged 'parameters' for papermill"
    assert "default_preset_name()" in params[0].source, f"{path.name}: PRESET must default to $STARGAN_PRESET"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_outputs_hold_no_machine_paths(path):
    text = path.read_text()
    for needle in ("/work/", "/root/", "/home/", "/tmp/"):
        assert needle not in text, f"{path.name} stores the machine path {needle!r}; mark the cell # NBVAL_IGNORE_OUTPUT and run make notebooks"


def test_strip_solutions_keeps_indentation():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert strip_solutions(src) == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    with pytest.raises(ValueError, match="unbalanced"):
        strip_solutions("### BEGIN SOLUTION\nx = 1\n")


SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("sol", SOLUTIONS, ids=lambda p: p.name)
def test_labs_are_up_to_date(sol):
    lab = REPO / "labs" / sol.name
    assert lab.exists(), f"labs/{sol.name} is missing: run `make labs`"
    assert lab.read_text() == lab_text(sol), f"labs/{sol.name} is out of date with solutions/: run `make labs`"
    assert "### BEGIN SOLUTION" not in lab.read_text()


def test_every_lab_has_a_solution():
    labs = {p.name for p in (REPO / "labs").glob("*.ipynb")}
    assert labs == {p.name for p in SOLUTIONS}, "labs/ and solutions/ hold different notebooks: run `make labs`"


@pytest.mark.parametrize("path", sorted(p.relative_to(REPO).as_posix() for folder in ("notebooks", "labs", "solutions")
                                        for p in (REPO / folder).glob("*.ipynb")))
def test_notebook_file_is_valid_nbformat(path):
    # A cell id in an nbformat 4.4 file (written by a 4.5 cell constructor) makes papermill and
    # Jupyter print a validation error on every run.
    nbformat.validate(nbformat.read(REPO / path, as_version=4))
