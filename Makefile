# StarGAN course: `make setup` once, then `make test`, `make lab`, `make labs`, `make ablation`,
# `make ablation-course-runs`, `make course-runs`.
# Every target runs inside .venv; `make test` (and the others) run `make setup` first when needed.
# No Jupyter kernel is registered for the user: the notebooks declare the standard `python3` kernel, which
# JupyterLab, papermill and nbval started from .venv/bin resolve to .venv's own python (see README).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-done
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

.PHONY: setup test test-unit test-notebooks lab labs notebooks ablation ablation-course-runs course-runs clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make setup PYTHON=/path/to/python3.11'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/stargan weights --quiet
	touch $(STAMP)

test: setup test-unit test-notebooks

# `stargan weights` is instant when the FID/LPIPS weights are cached, and provisions them when not.
test-unit: setup
	$(BIN)/stargan weights --quiet
	$(BIN)/python -m pytest tests -q

# The notebooks and the solutions run at the smoke preset under strict nbval, with a fixed thread count
# (every available core, or $$STARGAN_THREADS): the default policy follows the machine's load, and a change
# of thread count changes float rounding in the last digits of the outputs nbval compares.
test-notebooks: setup
	STARGAN_THREADS=$${STARGAN_THREADS:-$$($(BIN)/python -c 'from stargan_lib.threads import available_cores; print(available_cores())')} \
	STARGAN_PRESET=smoke MPLBACKEND=module://matplotlib_inline.backend_inline \
		$(BIN)/python -m pytest $(NBVAL_FLAGS) notebooks solutions -q

lab: setup
	$(BIN)/jupyter lab --notebook-dir=.

labs: setup
	$(BIN)/python -m stargan_lib.nbtools labs

# Re-execute every notebook and solution at the smoke preset and store its deterministic outputs.
notebooks: setup
	$(BIN)/python -m stargan_lib.nbtools refresh notebooks/*.ipynb solutions/*.ipynb

ablation: setup
	$(BIN)/stargan ablation --preset course

# Table 1 over the shipped course runs: evaluation only, nothing trained (about 16 min on 2 cores).
ablation-course-runs: setup
	$(BIN)/stargan ablation --preset course --course-runs

# The long runs the notebooks load beside their live runs (a few core-hours; resumes when run again).
# `make course-runs ONLY=v2_C,stargan_v1` rebuilds some; PRESET=smoke makes the tiny ones CI loads.
PRESET ?= course
course-runs: setup
	$(BIN)/stargan course-runs --preset $(PRESET) $(if $(ONLY),--only $(ONLY),)

clean-venv:
	rm -rf $(VENV)
