"""The package logger. Every module logs through ``get_logger(__name__)``."""

from __future__ import annotations

import logging

ROOT = "hnnframe"


def get_logger(name: str = ROOT) -> logging.Logger:
    """Return a child of the ``hnnframe`` logger."""
    if not name.startswith(ROOT):
        name = f"{ROOT}.{name}"
    return logging.getLogger(name)


def setup_logging(verbose: int = 0) -> None:
    """Send hnnframe's log records to stderr; ``verbose`` 0 is WARNING, 1 INFO, 2 DEBUG."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logger = logging.getLogger(ROOT)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record arrives (not the one at set-up), so
    a process that swaps stderr (tests capturing it, a daemon) keeps its log."""

    def emit(self, record: logging.LogRecord) -> None:
        import sys

        self.stream = sys.stderr
        super().emit(record)
