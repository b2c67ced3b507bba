"""Where the course's files are, whatever the working directory.

Introduced in `notebooks/00_setup_and_data.ipynb`. Every notebook, lab and solution builds its paths
from these functions rather than from `Path("..")`, so it runs the same from JupyterLab, from
papermill started in the repository root or in `notebooks/`, and under nbval.

Two kinds of files:

- checkout files (`notebooks/`, `results/`, `tests/fixtures/samples/`, `expr/`) live in the course
  checkout. It is found next to this package when the package is imported from the clone or installed
  editable (`pip install -e .`, what `make setup` does); after a non-editable install (`pip install .`)
  it is the nearest folder at or above the working directory that holds a checkout. Without one,
  `repo_root` raises a `ConfigError` that says so and how to get one.
- package resources (`stargan_lib/resources/`) ship inside the wheel, so every install has them: the
  experiment notebook that `stargan ablation` runs (`resources/experiment.ipynb` is a link to
  `notebooks/experiment.ipynb`, one file in the repository; the wheel holds a copy) and the LPIPS
  authors' reference images that `stargan weights --check` verifies the LPIPS weights with.
"""

from __future__ import annotations

import os
from pathlib import Path

from stargan_lib.errors import ConfigError

_MARKER = Path("notebooks") / "00_setup_and_data.ipynb"   # a file only a course checkout has


def package_dir() -> Path:
    """The installed `stargan_lib` folder."""
    return Path(__file__).resolve().parent


def _is_checkout(folder: Path) -> bool:
    return (folder / _MARKER).is_file() and (folder / "stargan_lib").is_dir()


def find_repo_root(start: str | Path | None = None) -> Path | None:
    """The course checkout, or None: the folder above this package if it is one (editable install or
    a clone on `sys.path`), else the nearest checkout at or above `start` (default: the working directory)."""
    beside = package_dir().parent
    if _is_checkout(beside):
        return beside
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if _is_checkout(folder):
            return folder
    return None


def repo_root() -> Path:
    """The course checkout (see the module docstring); a `ConfigError` that says what to do without one."""
    root = find_repo_root()
    if root is None:
        raise ConfigError(
            f"the course's repository files (notebooks/, tests/fixtures/, results/) are not here: stargan_lib is "
            f"installed at {package_dir()} without its checkout, and no folder at or above the working directory "
            f"{Path.cwd()} holds one. Clone the course and install it editable (`make setup`, or "
            "`pip install -e .` in the clone), or run from inside the clone")
    return root


def notebooks_dir() -> Path:
    """`notebooks/` of the checkout."""
    return repo_root() / "notebooks"


def results_dir(*parts: str) -> Path:
    """`results/` of the checkout (trained runs, tables, the notebooks' outputs), or a folder inside it:
    `results_dir("02_stargan_v1", "smoke")`. Nothing is created."""
    return repo_root().joinpath("results", *parts)


def samples_dir(dataset: str | None = None) -> Path:
    """The few real AFHQ / CelebA-HQ photos of the checkout (`tests/fixtures/samples/`, or one dataset's folder)."""
    folder = repo_root() / "tests" / "fixtures" / "samples"
    folder = folder / dataset if dataset else folder
    if not folder.is_dir():
        raise ConfigError(f"the sample photos folder {folder} is missing from the checkout at {repo_root()}; "
                          "restore it with `git checkout -- tests/fixtures/samples`")
    return folder


def official_checkpoint_dir(dataset: str = "afhq") -> Path:
    """Where the StarGAN v2 download script puts a released network: `expr/checkpoints/<dataset>/`
    of the checkout (nothing is created)."""
    return repo_root() / "expr" / "checkpoints" / dataset


def resource(*parts: str) -> Path:
    """A file or folder shipped in `stargan_lib/resources/`; a `ConfigError` naming it when it is missing."""
    path = package_dir().joinpath("resources", *parts)
    if not path.exists():
        raise ConfigError(f"the package resource {path} is missing: the installed stargan_lib is incomplete. "
                          "Reinstall the course (`pip install -e .` in the clone, or `pip install .`)")
    return path


def experiment_notebook() -> Path:
    """The parameterised experiment notebook `stargan ablation` runs through papermill (shipped with the package)."""
    return resource("experiment.ipynb")


def lpips_reference_dir() -> Path:
    """The LPIPS authors' reference images (ex_ref.png, ex_p0.png, ex_p1.png; BSD licence beside them)."""
    return resource("lpips")


def shorten(text: object) -> str:
    """`text` with the checkout's absolute path written as `<repo>`, so printed paths read the same on
    every machine (and in the notebooks' stored outputs)."""
    s = str(text)
    root = find_repo_root()
    return s.replace(str(root), "<repo>") if root is not None else s


__all__ = ["package_dir", "find_repo_root", "repo_root", "notebooks_dir", "results_dir", "samples_dir",
           "official_checkpoint_dir", "resource", "experiment_notebook", "lpips_reference_dir", "shorten"]
