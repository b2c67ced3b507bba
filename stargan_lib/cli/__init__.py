"""The `stargan` command (also `python -m stargan_lib`): everything a notebook does, from a shell.

Each sub-command group lives in its own module of this package and exposes
`register(subparsers)`; the module list below is the whole CLI.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from stargan_lib import __version__
from stargan_lib.errors import StarganError
from stargan_lib.threads import THREADS_ENV, available_cores, use_threads

# One module per sub-command group, in the order `stargan --help` lists them.
COMMAND_MODULES = [
    "stargan_lib.cli.data_cmd",
    "stargan_lib.cli.metrics_cmd",
    "stargan_lib.cli.train_cmd",
    "stargan_lib.cli.params_cmd",
    "stargan_lib.cli.ablation_cmd",
    "stargan_lib.cli.course_runs_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    """`stargan` and every sub-command's options (notebook 00 runs `stargan data` from a shell)."""
    parser = argparse.ArgumentParser(
        prog="stargan",
        description="StarGAN course: data, training, sampling and evaluation from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--threads", dest="global_threads", type=int, default=None, metavar="N",
                        help=f"torch CPU threads of this command (default: ${THREADS_ENV} if set, else every "
                             f"available core: {available_cores()} here; `stargan ablation` splits them "
                             "between the configurations it runs side by side)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `stargan ARGS`; a StarganError prints one line and exits 2 (introduced in notebook 00)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        use_threads(args.global_threads)
        result = args.func(args)
    except StarganError as exc:
        print(f"stargan {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)
