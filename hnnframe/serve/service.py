"""The warm state of one worker: the index kept open and the checkpoint's hasher loaded once,
so a check costs the hashing of one upload, not the start of a process (issue 24: a cold
``hnn index check`` spends seconds on imports and the checkpoint).

Every upload is read under the deployment's ``--max-*`` bounds (:mod:`hnnframe.limits`, put
in force in the thread that reads it). Every call goes through :class:`hnnframe.index.HashIndex` (``add_models``, ``check_models``,
``search``, ``remove``), the same functions the ``hnn index`` commands use, so the checks the
index applies to uploads apply to the server too. One lock serialises a worker's use of its
index connection; workers (processes) give the parallelism.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import hnnframe.index
from hnnframe import limits
from hnnframe.errors import ConfigError, IndexStoreError
from hnnframe.hashing import Hasher
from hnnframe.index.batch import read_uploads
from hnnframe.index.report import verdict_dict
from hnnframe.log import get_logger
from hnnframe.serve.config import ServeConfig

log = get_logger(__name__)


class Service:
    """The index and the hasher of one worker.

    Args:
        cfg: The deployment's configuration.

    Raises:
        ConfigError: No checkpoint is given and the index is bound to none (or to a file
            that is gone).
    """

    def __init__(self, cfg: ServeConfig) -> None:
        self.cfg = cfg
        self.lock = threading.RLock()
        self.reading = cfg.reader_limits()
        self.idx = hnnframe.index.open(cfg.db, create=True)
        try:
            b = self.idx.binding
            path = cfg.checkpoint or b.checkpoint
            if not path:
                raise ConfigError(f"{self.idx.url} is bound to no checkpoint; pass --checkpoint")
            if not os.path.exists(path):
                raise ConfigError(f"checkpoint {path} does not exist; pass --checkpoint")
            self.checkpoint = os.path.abspath(path)
            self.hasher = Hasher.from_checkpoint(path, device=cfg.device)
            self.idx.ensure_compatible(self.hasher.bits, self.hasher.fingerprint)
        except BaseException:
            self.idx.close()
            raise

    def close(self) -> None:
        self.idx.close()

    # -- the index's operations ------------------------------------------------------------------
    def check(
        self,
        source: Path,
        shown: str,
        *,
        radius: int | None = None,
        fail_on: str | None = None,
        weight_threshold: int | None = None,
    ) -> dict[str, Any]:
        """The verdict of one upload: the object of ``hnn index check --json``."""
        policy = fail_on or self.cfg.fail_on
        fp = self.hasher.fingerprint
        with self.lock, limits.applied(self.reading):
            [(r, v)] = self.idx.check_models(
                [source], self.hasher, radius, weight_threshold=weight_threshold
            )
            nearest = v.matches[:1] or self.idx.search(r, k=1, fingerprint=fp)
        return verdict_dict(shown, v, nearest, policy)

    def add(self, source: Path, label: str | None, meta: dict[str, Any]) -> Any:
        """Add one model; its :class:`hnnframe.index.AddResult`."""
        with self.lock, limits.applied(self.reading):
            [res] = self.idx.add_models(
                [source], self.hasher, checkpoint=self.checkpoint, label=label, meta=meta
            )
        return res

    def search(self, query: Any, k: int, radius: int | None) -> tuple[Any, list[Any]]:
        """The query (a record, a hex code or an upload's hash result) and its matches."""
        fp = self.hasher.fingerprint
        with self.lock, limits.applied(self.reading):
            if isinstance(query, Path):
                self.idx.ensure_compatible(self.hasher.bits, fp)
                [(query, _)] = read_uploads([query], self.hasher)
            elif isinstance(query, int):
                query = self.idx.get(query)
            return query, self.idx.search(query, k=k, radius=radius, fingerprint=fp)

    def same_architecture(self, query: Any) -> list[Any]:
        """The indexed models of a query's architecture (none for a hex code)."""
        if isinstance(query, str):
            return []
        with self.lock:
            return self.idx.same_architecture(query)

    def get(self, record_id: int) -> Any:
        with self.lock:
            return self.idx.get(record_id)

    def remove(self, record_id: int) -> list[int]:
        with self.lock:
            self.idx.get(record_id)  # a missing id is a 404, not a failed transaction
            return self.idx.remove([record_id])

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return self.idx.stats()

    def healthy(self) -> dict[str, Any]:
        """Whether the index answers; raises :class:`IndexStoreError` when it does not."""
        with self.lock:
            n = len(self.idx)
        if n < 0:
            raise IndexStoreError("negative record count")
        return {"records": n, "backend": self.idx.backend, "checkpoint": self.checkpoint}

    def op_histogram(self, source: str | Path) -> dict[str, int]:
        """Operator counts of a model's prepared graph (the page's structural comparison)."""
        with self.lock, limits.applied(self.reading):
            g = self.hasher.graph(os.fspath(source))
        return dict(Counter(n.op for n in g.nodes))
