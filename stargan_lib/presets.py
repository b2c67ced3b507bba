"""The three presets of the course, in one place: smoke (CI), course (a 2-core laptop), paper (GPU).

Every notebook's papermill `parameters` cell reads `PRESET = default_preset_name()`, which is
`$STARGAN_PRESET` or "course", so nbval (smoke) and papermill drive the same notebook.
Introduced in `notebooks/00_setup_and_data.ipynb`.

A preset holds the data-level settings shared by every model, plus, per model, a small dict of
overrides applied on top of that model's dataclass config defaults (which are the paper's values).
Only what differs from the paper is written down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from stargan_lib.errors import ConfigError

PRESET_ENV = "STARGAN_PRESET"
DEFAULT_PRESET = "course"


@dataclass(frozen=True)
class Preset:
    """Data and evaluation sizes of one preset, and per-model config overrides."""

    name: str
    image_size: int          # synthetic images are rendered at this size
    n_train: int             # synthetic training images per dataset
    n_test: int              # held-out synthetic images per dataset
    oracle_epochs: int       # epochs of the oracle classifier (metrics on synthetic data)
    eval_sources: int        # source images per domain in the StarGAN v2 evaluation protocol
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def overrides(self, model: str) -> dict[str, Any]:
        """The config overrides this preset applies to `model` ("cyclegan", "stargan_v1", ...)."""
        return dict(self.models.get(model, {}))


def _frozen(d: dict[str, dict[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    return MappingProxyType({k: MappingProxyType(v) for k, v in d.items()})


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke", image_size=16, n_train=96, n_test=48, oracle_epochs=2, eval_sources=2,
        models=_frozen({
            "cyclegan": {},
            "stargan_v1": {},
            "stargan_v2": {},
        }),
    ),
    "course": Preset(
        name="course", image_size=32, n_train=6000, n_test=1000, oracle_epochs=6, eval_sources=20,
        models=_frozen({
            "cyclegan": {},
            "stargan_v1": {},
            "stargan_v2": {},
        }),
    ),
    # The paper preset trains on the real datasets; image_size is the v1 paper's 128 px
    # (StarGAN v2 configs override it to 256). n_train/n_test apply only to synthetic stand-ins.
    "paper": Preset(
        name="paper", image_size=128, n_train=20000, n_test=2000, oracle_epochs=10, eval_sources=1000,
        models=_frozen({
            "cyclegan": {},
            "stargan_v1": {},
            "stargan_v2": {},
        }),
    ),
}


def default_preset_name() -> str:
    """`$STARGAN_PRESET` if set, else "course" (the default of every notebook's parameters cell)."""
    return os.environ.get(PRESET_ENV, DEFAULT_PRESET)


def get_preset(name: str | None = None) -> Preset:
    """The preset called `name` (default: `default_preset_name()`), with a clear error if unknown."""
    name = default_preset_name() if name is None else name
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r} (from argument or ${PRESET_ENV}); "
                          f"choose one of {sorted(PRESETS)}") from None
