"""Headline figures of a notebook, written for a test or a script to read (the `FIGURES_JSON`
papermill parameter of notebooks 01-06).

A notebook collects its figures in a flat dict (`{"target_acc_a2b": 0.97, ...}`) and calls
`write_figures(FIGURES_JSON, figures)` at its end; with the default empty path nothing is written.
Fractions are stored in [0, 1] (`check_fraction`), never as percentages. Introduced in
`notebooks/01_cyclegan_baseline.ipynb`.

    papermill notebooks/02_stargan_v1.ipynb out.ipynb -p FIGURES_JSON results/figures_02.json
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

from stargan_lib.errors import ConfigError
from stargan_lib.utils import atomic_write_bytes


def check_fraction(name: str, value: Any) -> float:
    """`value` as a float in [0, 1], or a ConfigError that names the figure (a percentage is refused)."""
    v = float(value)
    if not (0.0 <= v <= 1.0):
        raise ConfigError(f"figure {name!r} = {v!r} is a fraction and must lie in [0, 1] "
                          "(give 0.95, not 95)")
    return v


def write_figures(path: str | Path | None, figures: Mapping[str, Any],
                  fractions: tuple[str, ...] = ()) -> Path | None:
    """Write `figures` (a flat {name: number or string}) as one JSON object to `path`, atomically.

    An empty `path` writes nothing and returns None (the notebooks' default). Every name that starts
    with one of `fractions` (e.g. "target_acc_") must be a fraction in [0, 1]. Values must be plain
    numbers, strings, booleans or None; NaN and ±infinity are written as null, so the file is strict
    JSON (no `NaN` / `Infinity` tokens) that any JSON reader accepts. Returns the path written.
    """
    if not path:
        return None
    out: dict[str, Any] = {}
    for name, value in figures.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"figure names must be non-empty strings, got {name!r}")
        if isinstance(value, (Mapping, list, tuple, set)):
            raise ConfigError(f"figure {name!r} is a {type(value).__name__}: FIGURES_JSON holds one flat object "
                              "of numbers; give each entry its own key")
        if hasattr(value, "item"):                       # numpy / torch scalars
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None                                 # NaN, inf, -inf: not representable in strict JSON
        elif value is not None and any(name.startswith(p) for p in fractions):
            value = check_fraction(name, value)
        out[name] = value
    # strict JSON (allow_nan=False: a non-finite value left would be an error, never an `Infinity` token)
    atomic_write_bytes(path, (json.dumps(out, indent=2, allow_nan=False, default=str) + "\n").encode())
    return Path(path)
