"""Notebook housekeeping for the course: generating labs from solutions, refreshing stored outputs.

`python -m stargan_lib.nbtools labs` (= `make labs`) turns every `solutions/*.ipynb` into the
student version in `labs/`: each region between `### BEGIN SOLUTION` and `### END SOLUTION` becomes
`# YOUR CODE HERE` + `raise NotImplementedError()`, outputs are cleared. The markers and the placeholder
are nbgrader's, but nothing else is: no nbgrader cell metadata is written, so nbgrader itself does not
process these notebooks.

`python -m stargan_lib.nbtools refresh NB...` (= `make notebooks`) executes notebooks at the smoke
preset and keeps only outputs that nbval checks: cells marked `# NBVAL_IGNORE_OUTPUT` are stored
without outputs, so the repository holds no machine paths, timings or smoke-sized pictures.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
IGNORE_MARK = "# NBVAL_IGNORE_OUTPUT"
_REGION = re.compile(r"^([ \t]*)" + re.escape(BEGIN) + r"[^\n]*\n.*?^[ \t]*" + re.escape(END) + r"[^\n]*(\n|$)",
                     re.MULTILINE | re.DOTALL)


def strip_solutions(source: str) -> str:
    """Replace each solution region of a cell's source by the student placeholder, same indentation."""
    def repl(m: re.Match) -> str:
        indent = m.group(1)
        return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError(){m.group(2)}"
    out = _REGION.sub(repl, source)
    if BEGIN in out or END in out:
        raise ValueError(f"unbalanced {BEGIN!r} / {END!r} markers in cell:\n{source}")
    return out


def make_lab(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version of a solution notebook."""
    lab = nbformat.from_dict(solution)
    for cell in lab.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
            cell.outputs = []
            cell.execution_count = None
        cell.pop("id", None)
    lab.metadata.pop("papermill", None)
    return lab


def _dump(nb: nbformat.NotebookNode) -> str:
    nbformat.validator.normalize(nb)
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat, nb.nbformat_minor = 4, 4
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def lab_text(solution_path: Path) -> str:
    """The exact text `make labs` writes for one solution notebook (tests compare it with labs/)."""
    return _dump(make_lab(nbformat.read(solution_path, as_version=4)))


def write_labs(solutions_dir: Path, labs_dir: Path) -> list[Path]:
    """Write the lab of every solution notebook (`make labs`), e.g. `labs/01_cyclegan_lab.ipynb` of notebook 01."""
    labs_dir.mkdir(exist_ok=True)
    written = []
    for sol in sorted(solutions_dir.glob("*.ipynb")):
        out = labs_dir / sol.name
        out.write_text(lab_text(sol))
        written.append(out)
    return written


def refresh(path: Path, preset: str = "smoke", timeout: int = 600) -> None:
    """Execute a notebook at `preset` in its own folder; keep outputs only of checked cells."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("STARGAN_PRESET")
    os.environ["STARGAN_PRESET"] = preset
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if env_before is None:
            os.environ.pop("STARGAN_PRESET", None)
        else:
            os.environ["STARGAN_PRESET"] = env_before
    for i, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code":
            continue
        cell.execution_count = i
        cell.metadata.pop("execution", None)  # timestamps
        if IGNORE_MARK in cell.source:
            cell.outputs = []
        for out in cell.outputs:
            if "execution_count" in out:
                out["execution_count"] = i
    nb.metadata.pop("widgets", None)
    path.write_text(_dump(nb))


def main(argv: list[str] | None = None) -> int:
    """`python -m stargan_lib.nbtools labs|refresh`: `make labs` writes the labs notebooks 01-05 introduce."""
    parser = argparse.ArgumentParser(prog="python -m stargan_lib.nbtools", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_labs = sub.add_parser("labs", help="regenerate labs/ from solutions/")
    p_labs.add_argument("--solutions", type=Path, default=None, help="default: solutions/ of the checkout")
    p_labs.add_argument("--labs", type=Path, default=None, help="default: labs/ of the checkout")
    p_ref = sub.add_parser("refresh", help="execute notebooks at a preset and store their checked outputs")
    p_ref.add_argument("notebooks", nargs="+", type=Path)
    p_ref.add_argument("--preset", default="smoke")
    args = parser.parse_args(argv)
    if args.cmd == "labs":
        from stargan_lib import paths

        args.solutions = args.solutions or paths.repo_root() / "solutions"
        args.labs = args.labs or paths.repo_root() / "labs"
        if not args.solutions.is_dir():
            print(f"error: solutions folder {args.solutions} not found", file=sys.stderr)
            return 2
        for p in write_labs(args.solutions, args.labs):
            print(f"wrote {p}")
    else:
        for nb in args.notebooks:
            print(f"executing {nb} at preset {args.preset} ...", flush=True)
            refresh(nb, args.preset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
