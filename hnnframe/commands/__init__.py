"""Subcommands of ``hnn``. Each command module defines ``register(subparsers)`` and its
handlers, which call library functions; :mod:`hnnframe.commands.output` holds what every
command prints (``print_json`` for every ``--json``, ``report_failures``)."""
