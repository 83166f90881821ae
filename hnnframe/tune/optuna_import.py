"""Optuna, imported on first use with its logging and experimental warnings quieted.

Optuna is imported lazily so that ``hnn --help`` and the recipe checks stay fast.
"""

from __future__ import annotations

import warnings
from typing import Any


def import_optuna() -> Any:
    """The ``optuna`` module, with its log at WARNING and ExperimentalWarning silenced."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna
