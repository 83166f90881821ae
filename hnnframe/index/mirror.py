"""In-memory copies of an index's codes that follow the database: the structural codes of
``hnn_models`` and the weight codes of ``hnn_weights``, each in a
:class:`~hnnframe.index.scan.HammingScanner` keyed by record id.

Writers hold the index's write lock from before they draw ids until they commit (on both
backends), and a record's weight row is written in the same transaction as the record, so rows
of both tables commit in id order: appending the rows with an id above the largest held is
enough. A remove or rehash bumps the epoch in ``hnn_meta``, which forces a reload.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hnnframe.errors import IndexStoreError
from hnnframe.index.scan import HammingScanner
from hnnframe.index.store import Store
from hnnframe.log import get_logger

log = get_logger(__name__)

#: What each kind of code is read from: table, id column, and the ``Binding`` field of its Q.
KINDS = {
    "structure": ("hnn_models", "id", "bits"),
    "weights": ("hnn_weights", "model_id", "weight_bits"),
}
PAGE = 65536

Sink = Callable[[np.ndarray, list[bytes]], None]


def code_state(store: Store, kind: str) -> tuple[int, int, int | None]:
    """``(epoch, max id, bits)`` of one kind of code, read in one snapshot."""
    table, col, field = KINDS[kind]
    with store.transaction(write=False) as cur:
        b = store.binding_of(store.read_meta(cur))
        cur.execute(f"SELECT MAX({col}) FROM {table}")
        mx = cur.fetchone()[0]
    return b.epoch, int(mx or 0), getattr(b, field)


def load_codes(
    store: Store, kind: str, after_id: int, sink: Sink, bits: int
) -> tuple[int, int | None]:
    """Pass every code with ``id > after_id`` to ``sink(ids, codes)``, in id order.

    One read snapshot, in pages of 65,536 rows, so memory stays bounded. Nothing is passed if
    the index's Q for this kind is no longer ``bits`` (a rehash happened).

    Returns:
        The snapshot's ``(epoch, bits)``.
    """
    table, col, field = KINDS[kind]
    with store.transaction(write=False) as cur:
        b = store.binding_of(store.read_meta(cur))
        q = getattr(b, field)
        if q != bits:
            return b.epoch, q
        last = after_id
        sql = store.q(
            f"SELECT {col}, code FROM {table} WHERE {col} > ? ORDER BY {col} LIMIT {PAGE}"
        )
        while True:
            cur.execute(sql, (last,))
            rows = cur.fetchall()
            if not rows:
                break
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            sink(ids, [bytes(r[1]) for r in rows])
            last = int(ids[-1])
    return b.epoch, q


class CodeMirror:
    """One kind of code of ``store``, held in memory and brought up to date on each use.

    Args:
        store: The index's store.
        kind: ``"structure"`` or ``"weights"`` (:data:`KINDS`).
    """

    def __init__(self, store: Store, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        self.store, self.kind = store, kind
        self.scanner: HammingScanner | None = None
        self.epoch = -1

    @property
    def nbytes(self) -> int:
        """Bytes held (0 before the first use)."""
        return self.scanner.nbytes if self.scanner is not None else 0

    def reset(self) -> None:
        """Drop the codes; the next :meth:`sync` loads them again."""
        self.scanner = None

    def sync(self) -> HammingScanner | None:
        """The codes, up to date with the database (``None`` while there are none bound)."""
        for _ in range(10):
            epoch, max_id, bits = code_state(self.store, self.kind)
            if bits is None:
                self.scanner = None
                return None
            sc = self.scanner
            if sc is not None and sc.bits == bits and epoch == self.epoch:
                if max_id > sc.max_id:
                    ep2, _ = load_codes(self.store, self.kind, sc.max_id, sc.add, bits)
                    if ep2 == epoch:
                        return sc
                    self.scanner = None
                    continue
                return sc
            new = HammingScanner(bits)
            ep2, bits2 = load_codes(self.store, self.kind, 0, new.add, bits)
            if (ep2, bits2) != (epoch, bits):
                continue  # removed or re-hashed meanwhile
            self.scanner, self.epoch = new, ep2
            log.debug("loaded %d %s codes from %s", len(new), self.kind, self.store.display)
            return new
        raise IndexStoreError(
            f"{self.store.display} kept changing while its codes were loaded; try again"
        )
