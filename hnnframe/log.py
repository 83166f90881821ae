"""The package logger, and what may reach a terminal. Every module logs through
``get_logger(__name__)``; every name, path, label or error a stranger could have chosen goes
through :func:`printable` before it is printed as text (log records included)."""

from __future__ import annotations

import logging

ROOT = "hnnframe"


def printable(text: object) -> str:
    """``text`` with every character a terminal would act on escaped: control characters
    (a newline in a file name would forge a line of output, ESC would drive the terminal),
    bidirectional overrides and other format characters (which reorder what is shown), and
    line or paragraph separators. ``--json`` output keeps names exact instead."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in s)


class _PrintableFormatter(logging.Formatter):
    """Escapes the message (its arguments may be a stranger's file names); a traceback that
    follows it keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = printable(record.message)
        return super().formatMessage(record)


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
        handler.setFormatter(_PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record arrives (not the one at set-up), so
    a process that swaps stderr (tests capturing it, a daemon) keeps its log."""

    def emit(self, record: logging.LogRecord) -> None:
        import sys

        self.stream = sys.stderr
        super().emit(record)
