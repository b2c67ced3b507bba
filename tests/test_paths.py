"""stargan_lib.paths: the notebooks find the checkout's files from any working directory, and a
non-editable install (a wheel) carries the resources `stargan ablation` and `stargan weights` need."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stargan_lib import ablation, paths
from stargan_lib.errors import ConfigError
from stargan_lib.metrics import weights, weights_provision

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(REPO.glob("notebooks/*.ipynb")) + sorted(REPO.glob("solutions/*.ipynb")) + \
    sorted(REPO.glob("labs/*.ipynb"))


def test_checkout_folders():
    assert paths.repo_root() == REPO
    assert paths.notebooks_dir() == REPO / "notebooks"
    assert paths.results_dir("nb04") == REPO / "results" / "nb04"
    assert (paths.samples_dir("afhq") / "cat").is_dir()
    assert paths.official_checkpoint_dir() == REPO / "expr" / "checkpoints" / "afhq"
    with pytest.raises(ConfigError, match="sample photos folder .*lsun.* is missing"):
        paths.samples_dir("lsun")


def test_package_resources():
    nb = paths.experiment_notebook()
    assert nb.parent == paths.package_dir() / "resources"
    assert nb.read_bytes() == (REPO / "notebooks" / "experiment.ipynb").read_bytes()   # one notebook, linked
    assert ablation.experiment_notebook() == nb
    assert weights_provision.lpips_reference_dir() == paths.lpips_reference_dir()
    assert {"ex_ref.png", "ex_p0.png", "ex_p1.png", "LICENSE.PerceptualSimilarity"} <= \
        {p.name for p in paths.lpips_reference_dir().iterdir()}
    with pytest.raises(ConfigError, match="package resource .*nothing.txt is missing.*Reinstall"):
        paths.resource("nothing.txt")


def test_ablation_results_default_to_the_checkout(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)                      # the working directory plays no part
    assert ablation.resolve_out_dir(None, "smoke") == REPO / "results" / "ablation_smoke"
    assert ablation.resolve_out_dir(None, "course") == REPO / "results" / "ablation"
    assert ablation.resolve_out_dir("../results/ablation", "smoke") == REPO / "results" / "ablation_smoke"
    assert ablation.resolve_out_dir(tmp_path / "mine", "smoke") == tmp_path / "mine"


def test_installed_without_a_checkout_says_so(monkeypatch, tmp_path):
    site = tmp_path / "site-packages" / "stargan_lib"
    site.mkdir(parents=True)
    monkeypatch.setattr(paths, "package_dir", lambda: site)      # as after `pip install .`
    monkeypatch.chdir(tmp_path)
    assert paths.find_repo_root() is None
    with pytest.raises(ConfigError, match=r"not here.*pip install -e \."):
        paths.repo_root()
    monkeypatch.chdir(REPO / "notebooks")                           # run from inside a clone: found again
    assert paths.repo_root() == REPO
    assert paths.shorten(REPO / "results" / "x") == "<repo>/results/x"


def test_notebooks_build_no_path_from_the_working_directory():
    # Path("..") / "../" in code would tie a notebook to the notebooks/ working directory.
    for path in NOTEBOOKS:
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"])
            assert not re.search(r"Path\(\s*['\"]\.\.?['\"]\s*\)|['\"]\.\./", src), \
                f"{path.relative_to(REPO)} cell {i} builds a path from the working directory; use stargan_lib.paths"


def _papermill(cwd: Path, out: Path) -> None:
    env = {**os.environ, "STARGAN_PRESET": "smoke", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-m", "papermill", str(REPO / "notebooks" / "00_setup_and_data.ipynb"), str(out),
                    "-k", "python3", "--no-progress-bar"], cwd=cwd, env=env, check=True, capture_output=True,
                   text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["repo root", "elsewhere"])
def test_notebook_00_runs_from_any_directory_and_writes_inside_the_repo(where, tmp_path):
    # The README's papermill example runs from the repository root; before stargan_lib.paths notebook 00
    # failed there (FileNotFoundError: '../tests/fixtures/samples/afhq') and wrote results outside the repo.
    cwd = REPO if where == "repo root" else tmp_path / "a" / "b"
    cwd.mkdir(parents=True, exist_ok=True)
    work = REPO / "results" / "nb00"
    shutil.rmtree(work, ignore_errors=True)
    outside = cwd.parent / "results"
    existed = outside.exists()
    _papermill(cwd, tmp_path / "out.ipynb")
    assert (work / "afhq" / "train" / "cat").is_dir() and (work / "celeba" / "list_attr_celeba.txt").is_file()
    assert outside.exists() == existed, f"notebook 00 wrote {outside}, outside the repository"
    if where == "elsewhere":
        assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["out.ipynb"]
    text = (tmp_path / "out.ipynb").read_text()
    assert "<repo>/results/nb00/afhq holds split folders" in text


def _wheel_source(dst: Path) -> Path:
    """The files a wheel is built from, copied (the repository's own tree stays free of build/)."""
    dst.mkdir()
    shutil.copy(REPO / "pyproject.toml", dst)
    shutil.copy(REPO / "README.md", dst)
    (dst / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks" / "experiment.ipynb", dst / "notebooks")
    shutil.copytree(REPO / "stargan_lib", dst / "stargan_lib", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dst


@pytest.mark.slow
def test_wheel_ships_the_resources_and_finds_them_without_a_checkout(tmp_path):
    src = _wheel_source(tmp_path / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True, text=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("stargan_course-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in ("experiment.ipynb", "lpips/ex_ref.png", "lpips/ex_p0.png", "lpips/ex_p1.png",
                     "lpips/LICENSE.PerceptualSimilarity"):
            assert f"stargan_lib/resources/{name}" in names, f"the wheel lacks stargan_lib/resources/{name}"
        # the link is shipped as the notebook itself
        assert zf.read("stargan_lib/resources/experiment.ipynb") == (REPO / "notebooks" / "experiment.ipynb").read_bytes()
        site = tmp_path / "site"
        zf.extractall(site)
    # A non-editable install: the package alone, imported from somewhere that is no checkout.
    probe = ("import json; from stargan_lib import ablation, paths; from stargan_lib.metrics import weights_provision\n"
             "out = {'nb': str(ablation.experiment_notebook()), 'lpips': str(weights_provision.lpips_reference_dir()),\n"
             "       'pkg': str(paths.package_dir())}\n"
             "try:\n    paths.repo_root()\nexcept Exception as exc:\n    out['error'] = f'{type(exc).__name__}: {exc}'\n"
             "print(json.dumps(out))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["pkg"] == str((site / "stargan_lib").resolve())
    assert Path(found["nb"]) == site / "stargan_lib" / "resources" / "experiment.ipynb"
    assert Path(found["lpips"]) == site / "stargan_lib" / "resources" / "lpips"
    assert found["error"].startswith("ConfigError: the course's repository files")


def test_lpips_reference_check_never_skips_silently(monkeypatch, tmp_path):
    # `stargan weights --check` used to report "lpips_reference: None" when the images were not found.
    trunk, _ = weights.alexnet_features_state(online=False)
    values = weights_provision.verify_lpips_reference(trunk)
    assert {k: round(v, 3) for k, v in values.items()} == weights.LPIPS_REFERENCE
    monkeypatch.setattr(paths, "package_dir", lambda: tmp_path)     # an install without its resources
    with pytest.raises(ConfigError, match=r"resources/lpips is missing"):
        weights_provision.verify_lpips_reference(trunk)
