"""Adding many model files to an index, and reading uploads for ``check``: each upload is
described by :mod:`hnnframe.upload` (structural code, architecture digests, sha256, tensor
digests and weight code), the one place that assembles them; this module decides what is
added and commits it.

A batch survives bad files and interruptions (docs/index-guide.md, "Adding many models"):
files whose sha256 is indexed are neither hashed nor read again; a file that cannot be read,
hashed or fingerprinted gets a result with ``error`` set and the others go on; each chunk is
committed, structural codes and weights together, once it is done, so a killed batch keeps
its chunks and a rerun does the rest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from hnnframe.errors import IndexStoreError, upload_error
from hnnframe.frontends import model_name
from hnnframe.index.records import AddResult, HasherLike, NewRecord, is_uri
from hnnframe.index.store import Store
from hnnframe.log import get_logger
from hnnframe.repo import is_adapter, is_snapshot, upload_sha256
from hnnframe.upload import Described, describe_uploads, iter_uploads
from hnnframe.weights.code import DEFAULT_WEIGHT_BITS, check_weight_bits
from hnnframe.weights.fingerprint import WeightFingerprint, load_threshold

log = get_logger(__name__)

__all__ = ["add_model_files", "read_uploads", "upload_error", "weight_q"]


def weight_q(store: Store, given: int | None = None) -> int:
    """The Q of the weight codes to compute for ``store``: the index's once it holds weights,
    else ``given`` or the default (a Q without a shipped threshold is refused).

    Raises:
        IndexStoreError: ``given`` differs from the index's Q.
        ConfigError: No threshold was measured for that Q.
    """
    bound = store.binding().weight_bits
    if bound is not None:
        if given is not None and int(given) != bound:
            raise IndexStoreError(
                f"{store.display} holds {bound}-bit weight codes; --weight-bits {given} "
                "cannot be compared with them"
            )
        return bound
    q = check_weight_bits(given if given is not None else DEFAULT_WEIGHT_BITS)
    load_threshold(q)
    return q


def _bar(items: Any, desc: str, progress: bool, **kw: Any) -> Any:
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="file", disable=not progress, leave=False, **kw)


def _keys(
    store: Store, srcs: list[str], progress: bool
) -> tuple[list[AddResult | None], list[str | None]]:
    """Each source's key (its sha256, or ``uri:NAME``; ``None``: no file there, the hasher
    says why) and the results of those already indexed or whose digest failed."""
    out: list[AddResult | None] = [None] * len(srcs)
    keys: list[str | None] = [None] * len(srcs)
    for i, s in enumerate(_bar(srcs, "sha256", progress and len(srcs) > 1)):
        if is_uri(s):
            keys[i] = f"uri:{s}"
        elif os.path.isfile(s) or is_snapshot(s) or is_adapter(s):
            try:  # a directory is keyed by its weights, so a copy of it is "already in"
                keys[i] = upload_sha256(s)
            except Exception as e:  # noqa: BLE001 - one upload's error, never the batch's
                out[i] = AddResult.failed(model_name(s), s, upload_error(s, e))
    known = store.existing([k for k in keys if k is not None])
    for i, key in enumerate(keys):
        if key in known:
            rid, name = known[key]
            out[i] = AddResult(rid, name, key, False, srcs[i])
    log.info(
        "%s: %d of %d model(s) already indexed; hashing %d",
        store.display,
        sum(k in known for k in keys),
        len(srcs),
        sum(r is None for r in out),
    )
    return out, keys


def _commit(
    store: Store,
    part: list[tuple[int, Described]],
    srcs: list[str],
    out: list[AddResult | None],
    *,
    fingerprint: str,
    checkpoint: str | None,
    label: str | None,
    meta: dict[str, Any] | None,
) -> None:
    """Add the described uploads of one chunk in one transaction; a failure's result names it."""
    good = [(i, u) for i, u in part if u.ok]
    recs = [NewRecord.from_upload(u, label=label, meta=meta) for _, u in good]
    for (i, _), a in zip(good, store.add(recs, fingerprint, checkpoint), strict=True):
        out[i] = replace(a, path=srcs[i])
    for i, u in part:
        if not u.ok:
            out[i] = AddResult.failed(model_name(srcs[i]), srcs[i], u.error)


def add_model_files(
    store: Store,
    sources: Sequence[str | os.PathLike],
    hasher: HasherLike,
    *,
    checkpoint: str | None,
    label: str | None,
    meta: dict[str, Any] | None,
    progress: bool,
    chunk: int,
    weights: bool = True,
    structure: str | None = None,
    weight_bits: int | None = None,
) -> list[AddResult]:
    """:meth:`hnnframe.index.HashIndex.add_models` (which documents the arguments)."""
    if chunk < 1:
        raise IndexStoreError(f"chunk must be at least 1, not {chunk}")
    store.check_binding(store.binding(), hasher.bits, hasher.fingerprint)
    q = weight_q(store, weight_bits) if weights else None
    srcs = [os.fspath(s) for s in sources]
    out, keys = _keys(store, srcs, progress)
    todo = [i for i in range(len(srcs)) if out[i] is None]
    described = iter_uploads(
        [srcs[i] for i in todo],
        hasher,
        chunk=chunk,
        structure=structure,
        weight_bits=q,
        shas=[None if is_uri(srcs[i]) else keys[i] for i in todo],
        progress=progress,
    )
    for part in described:
        part = [(todo[k], u) for k, u in part]
        _commit(
            store,
            part,
            srcs,
            out,
            fingerprint=hasher.fingerprint,
            checkpoint=checkpoint,
            label=label,
            meta=meta,
        )
    done = [r for r in out if r is not None]
    if len(done) != len(srcs):
        raise ValueError("the hasher returned fewer results than it was given models")
    return done


def read_uploads(
    sources: Sequence[str | os.PathLike],
    hasher: HasherLike,
    *,
    structure: str | None = None,
    weight_bits: int | None = None,
    progress: bool = False,
    errors: str = "raise",
) -> list[tuple[Any, WeightFingerprint | None]]:
    """Uploads described for ``check`` (:func:`hnnframe.upload.describe_uploads`; every one
    before anything is searched), each with its weight fingerprint (``weight_bits`` None:
    weights are not read). A weights file's upload takes its own path, name and sha256, with
    its companion's structural code.

    Args:
        errors: ``"raise"`` stops at the first upload that cannot be read; ``"collect"``
            gives it a :class:`~hnnframe.hashing.HashFailure` (and no weights) and goes on,
            so one bad upload never hides the verdicts of the others.

    Raises:
        HnnError: With ``errors="raise"``, an upload cannot be read, hashed or fingerprinted
            (the error names it).
    """
    ups = describe_uploads(
        sources,
        hasher,
        structure=structure,
        weight_bits=weight_bits,
        errors=errors,
        progress=progress,
    )
    return [(u, u.weights if u.ok else None) for u in ups]
