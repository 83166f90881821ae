"""What a weight reader may allocate, and what it could not read (docs/index-guide.md,
"Security").

Readers ask their :class:`ReadGuard` before they allocate a tensor: the declared element count
is checked against the limits in force (:mod:`hnnframe.limits`) and the model's running total,
and the model's clock is checked. A tensor whose bytes are absent or unreadable (an external
data file that is missing, refused or too short, a safetensors file cut short) is *recorded*
and skipped rather than failing the model: the rest is still fingerprinted, so an upload
cannot hide a copy by leaving one tensor out (the hostile-uploads issue, case 3).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hnnframe import limits
from hnnframe.log import get_logger

log = get_logger(__name__)


@dataclass
class ReadGuard:
    """Limits and bookkeeping of one model's read.

    Attributes:
        path: The model file (named in every error).
        missing: ``(tensor name, why)`` of each weight tensor that could not be read.
        params: Elements allocated so far.
    """

    path: Any
    missing: list[tuple[str, str]] = field(default_factory=list)
    params: int = 0

    def tensor(self, name: str, count: int) -> None:
        """Admit a tensor of ``count`` elements before it is allocated.

        Raises:
            LimitError: the tensor, or the model's total, is over its limit, or the model's
                seconds are spent.
        """
        limits.check_time()
        limits.check("max_tensor", count, self.path, f"tensor {name!r} declares")
        self.params += count
        limits.check("max_params", self.params, self.path, "the model's tensors declare")

    def skip(self, name: str, why: str) -> None:
        """Record a weight tensor that is not there to read."""
        if not self.missing:
            log.warning("%s: tensor %r not read (%s)", os.fspath(self.path), name, why)
        self.missing.append((name, why))

    def summary(self) -> str:
        """``N tensor(s) not read (first reason)``, or ``""``."""
        if not self.missing:
            return ""
        return f"{len(self.missing)} tensor(s) not read ({self.missing[0][1]})"
