"""How every `keras-avl` command reports bad input: one line on stderr, exit 2."""

import functools
import sys


def reports_errors(command):
    """Makes `command(args)` print bad-input errors (missing or invalid files,
    an existing run folder, a backend that is not installed) as one line on
    stderr and return exit code 2."""

    @functools.wraps(command)
    def wrapped(args):
        try:
            return command(args)
        except (FileNotFoundError, FileExistsError, ValueError) as error:
            print(f"keras-avl {args.command}: error: {error}", file=sys.stderr)
            return 2

    return wrapped
