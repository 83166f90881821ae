"""What the ``hnn index`` commands share: opening the index and loading its hasher."""

from __future__ import annotations

import argparse
import os
from typing import Any

from hnnframe.errors import IndexStoreError

DB_ENV = "HNN_INDEX_DB"


def open_index(args: argparse.Namespace, create: bool = False) -> Any:
    """The index of ``--db`` (or $HNN_INDEX_DB)."""
    import hnnframe.index

    if not args.db:
        raise IndexStoreError(f"no index given: pass --db DB or set ${DB_ENV}")
    return hnnframe.index.open(args.db, create=create)


def hasher_of(args: argparse.Namespace, idx: Any) -> tuple[Any, str]:
    """The hasher of ``--checkpoint``, else of the checkpoint the index records."""
    from hnnframe.hashing import Hasher

    b = idx.binding
    path = args.checkpoint or b.checkpoint
    if not path:
        if not b.bound:
            raise IndexStoreError(f"{idx.url} is empty; pass --checkpoint to create it")
        raise IndexStoreError(f"{idx.url} records no checkpoint path; pass --checkpoint")
    if not args.checkpoint and not os.path.exists(path):
        raise IndexStoreError(
            f"{idx.url} is bound to checkpoint {path}, which no longer exists; pass "
            "--checkpoint with its new location"
        )
    hasher = Hasher.from_checkpoint(path, device=args.device)
    return hasher, path
