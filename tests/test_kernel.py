"""The Jupyter kernel: no user-wide registration by `make setup`; the notebooks' `python3` kernel is the
environment's own python for JupyterLab, papermill and nbval alike."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(REPO.glob("notebooks/*.ipynb")) + sorted(REPO.glob("solutions/*.ipynb")) + \
    sorted(REPO.glob("labs/*.ipynb"))


def test_makefile_registers_no_user_wide_kernel():
    # `ipykernel install --user` wrote ~/.local/share/jupyter/kernels/<name>: the last checkout set up won.
    makefile = (REPO / "Makefile").read_text()
    for line in makefile.splitlines():
        if re.search(r"ipykernel\s+install|kernelspec\s+install", line):
            assert "--user" not in line, f"the Makefile registers a kernel for the whole user: {line.strip()}"
    assert "--user" not in makefile


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_declare_the_standard_python3_kernel(path):
    spec = json.loads(path.read_text())["metadata"].get("kernelspec", {})
    assert spec.get("name") == "python3", f"{path.name} declares kernel {spec.get('name')!r}; use python3"


def test_python3_kernel_is_this_environments_python(tmp_path):
    # What papermill (-k python3, or the notebooks' own kernelspec), nbclient and JupyterLab do: ask
    # jupyter_client for the kernel named python3 and build its command line.
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.connection_file = str(tmp_path / "kernel.json")
    argv = km.format_kernel_cmd()
    assert argv[0] == sys.executable, f"the python3 kernel runs {argv[0]}, not this environment's {sys.executable}"
    assert Path(argv[0]).parent.parent == Path(sys.prefix)        # .venv/bin/python under `make test`
    assert argv[1:3] == ["-m", "ipykernel_launcher"]
