"""Subcommands of ``hnn`` beyond Stage 1. Each module defines ``register(subparsers)``."""
