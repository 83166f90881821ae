"""The metadata part of an index's store: ``hnn_meta`` (schema version, creation time, the
binding to a checkpoint and Q, the weight codes' Q, and the epoch that in-memory code arrays
follow), and the binding checks every write and search makes."""

from __future__ import annotations

from typing import Any

from hnnframe.errors import IndexStoreError
from hnnframe.index.connection import Connection
from hnnframe.index.records import Binding


class MetaStore(Connection):
    """``hnn_meta`` and the binding; statements that take a cursor run inside a
    :meth:`~hnnframe.index.connection.Connection.transaction`."""

    def read_meta(self, cur: Any) -> dict[str, str]:
        """Every ``hnn_meta`` entry."""
        cur.execute("SELECT key, value FROM hnn_meta")
        return {k: v for k, v in cur.fetchall()}

    def set_meta(self, cur: Any, key: str, value: Any) -> None:
        """Set ``hnn_meta[key]``; ``None`` deletes it."""
        cur.execute(self.q("DELETE FROM hnn_meta WHERE key = ?"), (key,))
        if value is not None:
            cur.execute(
                self.q("INSERT INTO hnn_meta (key, value) VALUES (?, ?)"), (key, str(value))
            )

    def bump_epoch(self, cur: Any, meta: dict[str, str]) -> None:
        """Tell in-memory code arrays to reload (after a remove or a rehash)."""
        self.set_meta(cur, "epoch", int(meta.get("epoch", 0)) + 1)

    @staticmethod
    def binding_of(meta: dict[str, str]) -> Binding:
        """The binding that ``hnn_meta`` entries describe."""
        return Binding(
            bits=int(meta["bits"]) if meta.get("bits") else None,
            fingerprint=meta.get("fingerprint") or None,
            checkpoint=meta.get("checkpoint") or None,
            epoch=int(meta.get("epoch", 0)),
            weight_bits=int(meta["weight_bits"]) if meta.get("weight_bits") else None,
        )

    def binding(self) -> Binding:
        """The index's binding, read now."""
        with self.transaction(write=False) as cur:
            return self.binding_of(self.read_meta(cur))

    def check_binding(self, b: Binding, bits: int, fingerprint: str | None) -> None:
        """Raise unless a ``bits``-bit code from checkpoint ``fingerprint`` fits binding ``b``."""
        if not b.bound:
            return
        if fingerprint is not None and fingerprint != b.fingerprint:
            raise IndexStoreError(
                f"{self.display} is bound to checkpoint {b.fingerprint[:12]} "
                f"({b.checkpoint or 'path unknown'}); these codes come from checkpoint "
                f"{fingerprint[:12]}. Hash with the index's checkpoint, or re-hash the index "
                "with `hnn index rehash --checkpoint NEW`"
            )
        if bits != b.bits:
            raise IndexStoreError(
                f"{self.display} holds {b.bits}-bit codes; got a {bits}-bit code "
                "(codes of different Q cannot be compared)"
            )

    def bind(
        self,
        cur: Any,
        bits: int,
        fingerprint: str,
        checkpoint: str | None,
        weight_bits: int | None,
        now: str,
    ) -> None:
        """Check a write's codes against the binding, and bind what is not bound yet: an empty
        index to ``fingerprint`` and ``bits``, the weight codes' Q to ``weight_bits`` (inside
        the write transaction; a refusal rolls it back).

        Raises:
            IndexStoreError: Another checkpoint, Q or weight Q than the index's.
        """
        b = self.binding_of(self.read_meta(cur))
        self.check_binding(b, bits, fingerprint)
        if not b.bound:
            self.set_meta(cur, "bits", bits)
            self.set_meta(cur, "fingerprint", fingerprint)
            self.set_meta(cur, "bound_at", now)
        if checkpoint and checkpoint != b.checkpoint:
            self.set_meta(cur, "checkpoint", checkpoint)
        if weight_bits is None:
            return
        if b.weight_bits is None:
            self.set_meta(cur, "weight_bits", weight_bits)
        elif b.weight_bits != weight_bits:
            raise IndexStoreError(
                f"{self.display} holds {b.weight_bits}-bit weight codes; got {weight_bits}-bit "
                "ones (weight codes of different Q cannot be compared)"
            )
