"""Build argparse options from a config dataclass, so the CLI and the configs never drift apart.

Each field becomes `--field-name`, typed from its default, with the field's `metadata["help"]`
as help text and `metadata["choices"]` (if any) as allowed values. Only fields given on the
command line override the config; the rest keep the preset's values.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from stargan_lib.utils import replace_checked  # noqa: F401  (re-exported: the CLI builds configs with it)


def _int_at_least(text: str, minimum: int, expected: str) -> int:
    """`text` as an integer of at least `minimum`, else an argparse error "expected <expected>, got ..."."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type for counts and sizes: an integer of at least 1, with a readable error.

    Introduced in `notebooks/00_setup_and_data.ipynb` (the `stargan data` commands); every command's
    count and size options use it.
    """
    return _int_at_least(text, 1, "a positive integer")


def nonneg_int(text: str) -> int:
    """argparse type for a count that may be 0 (such as `--n-test 0`: no held-out images).

    Introduced in `notebooks/00_setup_and_data.ipynb` (`stargan data export`).
    """
    return _int_at_least(text, 0, "an integer >= 0")


def count_or_auto(text: str) -> int:
    """argparse type for `--threads` / `--jobs` style options: 0 (the default policy) or a positive count.

    Introduced in `notebooks/06_ablation_table.ipynb` (`stargan ablation`).
    """
    return _int_at_least(text, 0, "0 (the default policy) or a positive count")


def image_px(text: str) -> int:
    """argparse type for an image size in pixels: an integer from 8 to `utils.MAX_IMAGE_SIZE` (1024).

    Introduced in `notebooks/00_setup_and_data.ipynb` (`stargan data export|preview --size`).
    """
    from stargan_lib.utils import MAX_IMAGE_SIZE

    value = positive_int(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"image size {value} is too small; use 8 px or more (16, 32, 64, 128 ...)")
    if value > MAX_IMAGE_SIZE:
        raise argparse.ArgumentTypeError(f"image size {value} is too large to allocate; use at most {MAX_IMAGE_SIZE} "
                                         "px (the papers use 128-256)")
    return value


def add_on_bad_arg(parser: argparse.ArgumentParser, default: str) -> None:
    """`--on-bad skip|error` for a command that reads image files (the library's `on_bad` argument).

    Introduced in `notebooks/00_setup_and_data.ipynb` (`stargan data preview|info`; the loaders' `on_bad`).
    """
    from stargan_lib.data.image_files import ON_BAD_CHOICES

    parser.add_argument(
        "--on-bad", choices=ON_BAD_CHOICES, default=default,
        help="what to do with an image file that cannot be read (corrupt, truncated, not an image, a broken or "
             "looping symbolic link): skip = leave it out with a warning, error = stop with an error naming it "
             f"(the Python functions' on_bad argument; default {default})")


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, exclude: tuple[str, ...] = ()) -> None:
    """Add one option per field of dataclass `cls` (defaults stay `None` = "not given").

    Introduced in `notebooks/01_cyclegan_baseline.ipynb` (`stargan train`: every config field is a flag).
    """
    group = parser.add_argument_group(f"{cls.__name__} options (default: the preset's value)")
    for f in dataclasses.fields(cls):
        if f.name in exclude or not f.init:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        kind = type(default)
        if kind is bool:
            conv = _parse_bool
        elif kind in (int, float, str):
            conv = kind
        else:
            continue  # tuples / nested values are set through presets, not flags
        group.add_argument(
            f"--{f.name.replace('_', '-')}", dest=f"cfg_{f.name}", type=conv, default=None,
            choices=f.metadata.get("choices"), metavar=f.name.upper() if kind is not bool else "BOOL",
            help=f"{f.metadata.get('help', '')} [paper default: {default}]",
        )


def dataclass_overrides(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields the user actually gave on the command line.

    Introduced in `notebooks/01_cyclegan_baseline.ipynb` (`stargan train`: flags override the preset).
    """
    out = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f"cfg_{f.name}", None)
        if value is not None:
            out[f.name] = value
    return out
