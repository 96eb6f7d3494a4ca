"""Entry point of the `keras-avl` console script.

Each sub-command lives in its own module of this package and exposes
`register(subparsers)`, which adds its parser and sets `func` to a callable
taking the parsed arguments and returning an exit code. Heavy imports
(TensorFlow, PyAV) happen inside those callables, so `--help` stays fast.
"""

import argparse
import importlib
import sys

from keras_avl.cli.errors import reports_errors
from keras_avl.version import __version__

# Module names inside keras_avl.cli, in the order they appear in --help.
COMMAND_MODULES = ("extract", "train", "evaluate", "compare", "localize", "figure", "tune",
                   "models")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-avl",
        description=(
            "Audio-visual event and sound source localization "
            "(Ramaswamy & Das, WACV 2020) in Keras 3."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"keras-avl {__version__}"
    )
    parser.add_argument(
        "--verbose", action="store_true", dest="backend_logs",
        help="also show the backend's log lines (TensorFlow/XLA start-up and "
        "info lines), which are hidden by default",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"keras_avl.cli.{name}").register(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    return _run_with_backend(args)


@reports_errors
def _run_with_backend(args):
    from keras_avl.cli.backend import check_backend_installed
    from keras_avl.quiet import quiet_backend

    check_backend_installed()  # before any command imports Keras
    if not args.backend_logs:
        quiet_backend()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
