"""The ``--max-*`` options of every command that reads an upload (docs/index-guide.md,
"Security"): one definition, added to each such command's parser."""

from __future__ import annotations

import argparse

from hnnframe.limits import FLAGS, Limits

_HELP = {
    "max_tensor": "elements of the largest tensor read (default {:,})",
    "max_params": "elements read over one model's tensors (default {:,})",
    "max_nodes": "nodes of one ONNX graph (default {:,})",
    "max_layers": "layer count of a config, per field and summed (default {:,})",
    "max_width": "any other size field of a config (default {:,})",
    "max_seconds": "seconds for one model's structure, and for its weights; 0 for none "
    "(default {:g})",
}


def add_limit_options(p: argparse.ArgumentParser) -> None:
    """Add the ``--max-*`` options (a group of their own in ``--help``)."""
    g = p.add_argument_group(
        "limits", "bounds on what one upload may make hnnframe read; over one is a one-line error"
    )
    default = Limits()
    for name, flag in FLAGS.items():
        kind = float if name == "max_seconds" else int
        g.add_argument(
            flag,
            type=kind,
            default=None,
            metavar="N",
            help=_HELP[name].format(getattr(default, name)),
        )


def limits_of(args: argparse.Namespace) -> Limits:
    """The limits the options give (the defaults where none was given, or for a command that
    has no such options)."""
    return Limits().with_values(**{name: getattr(args, name, None) for name in FLAGS})
