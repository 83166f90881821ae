"""The ``hnn`` command: the parser only; each command lives in :mod:`hnnframe.commands`.

Errors a user can cause (bad file, unknown name, wrong Q) print one line on stderr and exit
with status 2; there is no traceback unless ``HNN_DEBUG=1`` is set. A bug prints one line too
and exits with 70, so that it is never read as a verdict (``check`` uses 1 for SUSPECT). A batch command (``hnn
hash``, ``hnn graph``, ``hnn index add`` over several models) processes every model, names
each one that failed on stderr and exits with status 1 when any did.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import shlex
import sys
from collections.abc import Callable, Sequence

import hnnframe.commands as commands
from hnnframe import limits
from hnnframe.commands.limit_options import limits_of
from hnnframe.commands.output import EXIT_ERROR, EXIT_INTERNAL, printable
from hnnframe.errors import RESOURCE_ERRORS, HnnError, one_line
from hnnframe.log import setup_logging

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hnn",
        description="Perceptual hashes of neural networks (HNN-Net). Turn models into operator "
        "graphs, train a graph hashing network, hash models and search a hash index.",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    # Each module in hnnframe/commands/ adds its subcommands through register(subparsers), so
    # features can add commands without touching this file. Imports there stay cheap.
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"hnnframe.commands.{info.name}")
        if hasattr(module, "register"):  # output.py is a helper, not a command
            module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # key=value overrides may follow options (`hnn train R --out D hash.bits=64`), which
    # argparse's positional matching cannot see once an option has intervened.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if isinstance(getattr(args, "overrides", None), list) and all(
            "=" in e and not e.startswith("-") for e in extra
        ):
            args.overrides += extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    # The command as typed, for the results blocks that name the command behind each figure.
    args.command_line = shlex.join(["hnn", *(sys.argv[1:] if argv is None else argv)])
    setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with limits.applied(limits_of(args)):
            rc = int(args.func(args) or 0)
        # Flush while BrokenPipeError is still caught below: text that fits the buffer would
        # otherwise be written only at exit and, with its reader gone (`hnn index stats |
        # head -3`), end in "Exception ignored ... BrokenPipeError" and status 120.
        sys.stdout.flush()
        return rc
    except HnnError as e:
        if os.environ.get("HNN_DEBUG"):
            raise
        print(f"hnn: error: {printable(e)}", file=sys.stderr)
        return EXIT_ERROR
    except RESOURCE_ERRORS as e:  # memory or recursion blown outside any per-file guard
        if os.environ.get("HNN_DEBUG"):
            raise
        print(f"hnn: error: {printable(one_line(e))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("hnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`hnn index stats --json | head -3`): end quietly, and keep
        # the interpreter's own flush at exit from raising again on the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as e:  # a bug: say so in one line, never as a verdict's exit status
        if os.environ.get("HNN_DEBUG"):
            raise
        print(
            f"hnn: internal error: {printable(one_line(e))} (HNN_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
