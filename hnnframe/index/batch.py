"""Adding many model files to an index, and reading uploads for ``check``: structural codes
through the hasher (:class:`hnnframe.hashing.Hasher`), weight fingerprints through
:mod:`hnnframe.index.weightfiles`, one file at a time.

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

from hnnframe import limits
from hnnframe.errors import HnnError, IndexStoreError, ModelLoadError, upload_error
from hnnframe.index.records import AddResult, HasherLike, NewRecord, is_uri
from hnnframe.index.store import Store
from hnnframe.index.weightfiles import ModelFiles, read_weights, resolve
from hnnframe.log import get_logger
from hnnframe.repo import is_adapter, is_snapshot
from hnnframe.weights.code import DEFAULT_WEIGHT_BITS, check_weight_bits
from hnnframe.weights.fingerprint import WeightFingerprint, load_threshold

log = get_logger(__name__)


def _as_hnn(source: str, e: Exception) -> HnnError:
    return e if isinstance(e, HnnError) else ModelLoadError(upload_error(source, e))


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


def _with_weights(
    pairs: list[tuple[int, Any]], files: dict[int, ModelFiles], q: int | None, progress: bool
) -> tuple[list[tuple[int, Any, WeightFingerprint | None]], dict[int, str]]:
    """Each hashed model with its weights read (one file at a time); errors by position."""
    good, errors = [], {}
    for i, r in _bar(pairs, "weights", progress and q is not None and len(pairs) > 1):
        try:
            # r.sha256 is the source's digest, computed once before hashing.
            with limits.deadline(files[i].source):
                w = read_weights(files[i], q, r.sha256) if q is not None else None
        except Exception as e:  # noqa: BLE001 - one upload's error, never the batch's
            errors[i] = upload_error(str(files[i].source), e)
            continue
        good.append((i, r, w))
    return good, errors


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
    from hnnframe.frontends import model_name
    from hnnframe.repo import upload_sha256

    if chunk < 1:
        raise IndexStoreError(f"chunk must be at least 1, not {chunk}")
    store.check_binding(store.binding(), hasher.bits, hasher.fingerprint)
    q = weight_q(store, weight_bits) if weights else None
    srcs = [os.fspath(s) for s in sources]
    out: list[AddResult | None] = [None] * len(srcs)
    keys: list[str | None] = [None] * len(srcs)  # None: no file there; the hasher says why
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
    todo = [i for i in range(len(srcs)) if out[i] is None]
    log.info(
        "%s: %d of %d model(s) already indexed; hashing %d",
        store.display, sum(k in known for k in keys), len(srcs), len(todo),
    )  # fmt: skip
    files: dict[int, ModelFiles] = {}
    for i in todo:
        try:
            files[i] = resolve(srcs[i], structure, weights)
        except Exception as e:  # noqa: BLE001 - one upload's error, never the batch's
            out[i] = AddResult.failed(model_name(srcs[i]), srcs[i], upload_error(srcs[i], e))
    todo = [i for i in todo if out[i] is None]

    def commit(part: list[tuple[int, Any]]) -> None:
        good, errors = _with_weights([(i, r) for i, r in part if r.ok], files, q, progress)
        recs = [NewRecord.from_hash(r, label=label, meta=meta, weights=w,
                                    structure=files[i].structure if files[i].companion else None)
                for i, r, w in good]  # fmt: skip
        added = store.add(recs, hasher.fingerprint, checkpoint)
        for (i, _, _), a in zip(good, added, strict=True):
            out[i] = replace(a, path=srcs[i])
        for i, r in part:
            if not r.ok:
                out[i] = AddResult.failed(model_name(srcs[i]), srcs[i], r.error)
            elif i in errors:
                out[i] = AddResult.failed(model_name(srcs[i]), srcs[i], errors[i])

    # Models that are their own structure: hashed chunk by chunk, as they come.
    plain = [i for i in todo if not files[i].companion]
    paired = [i for i in todo if files[i].companion]
    pending = iter(plain)
    shas = [None if is_uri(srcs[i]) else keys[i] for i in plain]
    if plain or not paired:  # (an empty batch still goes through the hasher, as before)
        for results in hasher.iter_hash([srcs[i] for i in plain], chunk=chunk,
                                        progress=progress, shas=shas):  # fmt: skip
            commit([(next(pending), r) for r in results])
    # Weights files: each distinct companion structure is hashed once for all its files.
    if paired:
        structures = list(dict.fromkeys(files[i].structure for i in paired))
        hashed = dict(zip(structures, hasher.hash_many(structures, errors="collect"), strict=True))
        for start in range(0, len(paired), chunk):
            part = []
            for i in paired[start : start + chunk]:
                r = hashed[files[i].structure]
                if r.ok:  # the record is the weights file's: its path, name and sha256
                    r = replace(r, path=srcs[i], name=model_name(srcs[i]), sha256=keys[i])
                else:
                    r = replace(r, error=f"{srcs[i]}: its structure {r.error}")
                part.append((i, r))
            commit(part)
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
    """Hash uploads and read their weights (``weight_bits`` None: do not read weights), every
    one before anything is searched. A weights file's result takes its own path, name and
    sha256, with its companion's structural code.

    Args:
        errors: ``"raise"`` stops at the first upload that cannot be read; ``"collect"``
            gives it a :class:`~hnnframe.hashing.HashFailure` (and no weights) and goes on,
            so one bad upload never hides the verdicts of the others.

    Raises:
        HnnError: With ``errors="raise"``, an upload cannot be read, hashed or fingerprinted
            (the error names it).
    """
    from hnnframe.hashing import HashFailure

    srcs = [os.fspath(s) for s in sources]
    files: list[ModelFiles | HashFailure] = []
    for s in srcs:
        try:
            files.append(resolve(s, structure, weight_bits is not None))
        except Exception as e:  # noqa: BLE001 - one upload's error, never the batch's
            if errors == "raise":
                raise _as_hnn(s, e) from e
            files.append(HashFailure(s, upload_error(s, e)))
    todo = [f.structure for f in files if isinstance(f, ModelFiles)]
    hashed = iter(hasher.hash_many(todo, progress=progress, errors=errors))
    out: list[tuple[Any, WeightFingerprint | None]] = []
    for s, f in zip(srcs, files, strict=True):
        r = f if isinstance(f, HashFailure) else next(hashed)
        if not r.ok:
            out.append((r, None))
            continue
        try:
            out.append(_read_one(s, f, r, weight_bits))
        except Exception as e:  # noqa: BLE001 - one upload's error, never the batch's
            if errors == "raise":
                raise _as_hnn(s, e) from e
            out.append((HashFailure(s, upload_error(s, e)), None))
    return out


def _read_one(
    source: str, files: ModelFiles, r: Any, weight_bits: int | None
) -> tuple[Any, WeightFingerprint | None]:
    """One hashed upload with its weights read (a companion's result renamed to the file)."""
    from hnnframe.frontends import model_name
    from hnnframe.repo import upload_sha256

    with limits.deadline(source):
        if files.companion:
            r = replace(r, path=source, name=model_name(source), sha256=upload_sha256(source))
        w = read_weights(files, weight_bits, r.sha256) if weight_bits is not None else None
    return r, w
