"""Everything the hash index stores of an upload, computed in one place.

A model source (a file, a snapshot directory, a named source, or an in-memory graph) becomes
an :class:`Upload`: its structural code, the digest of its canonical graph and, for a config
source, of its architecture fields (from the hasher, :meth:`hnnframe.hashing.Hasher.hash_many`),
its sha256, and, when it carries weights, its weight fingerprint (exact tensor digests and the
weight perceptual code, :mod:`hnnframe.weights.fingerprint`) read one tensor at a time through
:mod:`hnnframe.upload.files`. A weights file takes its structure from a companion (``--structure``
or the ``config.json`` beside it) and keeps its own path, name and sha256.

``hnn index add`` (:func:`iter_uploads`, chunk by chunk), ``hnn index check``
(:func:`describe_uploads`), ``hnn demo`` and protocol (c) (:func:`describe_uploads` of graphs,
with the coder of :mod:`hnnframe.protocol_c.coders` as the hasher) all describe uploads here, so
the index is fed one way. One upload that cannot be read gets a
:class:`~hnnframe.hashing.HashFailure` naming it (``errors="collect"``) and the others go on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from hnnframe import limits
from hnnframe.errors import HnnError, ModelLoadError, upload_error
from hnnframe.frontends import model_name
from hnnframe.hashing import HashFailure
from hnnframe.repo import upload_sha256
from hnnframe.upload.files import ModelFiles, read_weights, resolve
from hnnframe.weights.digests import TensorDigest
from hnnframe.weights.fingerprint import WeightFingerprint


class StructureHasher(Protocol):
    """What describing an upload needs of a hasher (:class:`hnnframe.hashing.Hasher` is one;
    so are protocol (c)'s coders of in-memory graphs).

    ``hash_many`` gives one result per source, in order: a hash result (``ok`` True, with
    ``path``, ``name``, ``sha256``, ``code``, ``bits``, ``category``) or, with
    ``errors="collect"``, a failure (``ok`` False, ``path`` and ``error``). ``iter_hash``
    yields them per chunk (``errors="collect"``), ``shas`` being the files' sha256 when the
    caller has them.
    """

    bits: int
    fingerprint: str

    def hash_many(
        self, sources: Sequence[Any], progress: bool = False, *, errors: str = "raise"
    ) -> list[Any]: ...

    def iter_hash(
        self,
        sources: Sequence[Any],
        chunk: int = 32,
        progress: bool = False,
        shas: Sequence[str | None] | None = None,
    ) -> Iterator[list[Any]]: ...


@dataclass
class Upload:
    """One model source, as the index stores it (and as ``check`` compares it).

    Attributes:
        path: The source as given (``graph:NAME`` for an in-memory graph).
        name: Its short name.
        sha256: The file's sha256 (a directory's: of its weights); ``None`` without a file.
        code: The packed structural code.
        bits: Its length Q (a multiple of 8: the packed bytes' bits).
        category: The hashing network's predicted category.
        graph_digest: The digest of its canonical graph (the ``same architecture`` tier).
        config_digest: The digest of its config's architecture fields (config sources).
        structure: The companion source its code was computed from, when not ``path``.
        weights: Its weight fingerprint (tensor digests and weight code), or ``None``.
        embedding: The network's continuous embedding, when the hasher gives one.
    """

    path: str
    name: str
    sha256: str | None
    code: bytes
    bits: int
    category: str = ""
    graph_digest: str | None = None
    config_digest: str | None = None
    structure: str | None = None
    weights: WeightFingerprint | None = None
    embedding: Any = field(default=None, repr=False)

    ok = True

    @property
    def hex(self) -> str:
        """The structural code in hex."""
        return self.code.hex()

    @property
    def tensor_digests(self) -> list[TensorDigest]:
        """The exact digests of its weight tensors (none without weights)."""
        return list(self.weights.digests) if self.weights is not None else []

    @property
    def weight_code(self) -> bytes | None:
        """The weight perceptual code, or ``None`` without weights."""
        return self.weights.code if self.weights is not None else None

    @classmethod
    def of(
        cls,
        result: Any,
        *,
        weights: WeightFingerprint | None = None,
        structure: str | None = None,
    ) -> Upload:
        """From a hash result (:class:`~hnnframe.hashing.HashResult` or one shaped like it)."""
        return cls(
            path=str(result.path),
            name=result.name,
            sha256=result.sha256,
            code=bytes(result.code),
            bits=int(result.bits),
            category=getattr(result, "category", ""),
            graph_digest=getattr(result, "graph_digest", None),
            config_digest=getattr(result, "config_digest", None),
            structure=structure,
            weights=weights,
            embedding=getattr(result, "embedding", None),
        )

    def as_dict(self) -> dict[str, Any]:
        """What ``hnn hash --json`` shows of a hash result (no predicted category)."""
        return {
            "path": self.path,
            "code": self.hex,
            "bits": self.bits,
            "graph_digest": self.graph_digest,
            "config_digest": self.config_digest,
        }


Described = Upload | HashFailure


def _is_path(source: Any) -> bool:
    return isinstance(source, (str, os.PathLike))


def _as_hnn(source: str, e: Exception) -> HnnError:
    return e if isinstance(e, HnnError) else ModelLoadError(upload_error(source, e))


def files_of(source: Any, structure: str | None, weights: bool) -> ModelFiles:
    """Where ``source``'s structure and weights are read from; an in-memory source (a
    graph) is its own structure and has no weights."""
    if not _is_path(source):
        return ModelFiles(source, source, None)
    return resolve(os.fspath(source), structure, weights)


def assemble(
    source: Any,
    files: ModelFiles,
    result: Any,
    weight_bits: int | None,
    sha256: str | None = None,
) -> Described:
    """One upload from its hasher's result: a weights file's result renamed to the file
    itself (its path, name and sha256, ``sha256`` when the caller has it), then its weights
    read (``weight_bits`` None: not read). The one place where code, digests, sha256 and
    weights meet.

    Raises:
        Exception: Reading the weights failed (the caller names the upload).
    """
    if not result.ok:
        if files.companion:
            return HashFailure(str(source), f"{source}: its structure {result.error}")
        return result
    src = str(source)
    with limits.deadline(src):
        if files.companion:
            sha = sha256 or upload_sha256(src)
            result = replace(result, path=src, name=model_name(src), sha256=sha)
        w = read_weights(files, weight_bits, result.sha256) if weight_bits is not None else None
    return Upload.of(result, weights=w, structure=files.structure if files.companion else None)


def _named(u: Described, source: Any, name: str | None) -> Described:
    """An in-memory source's upload under ``graph:NAME``."""
    if not u.ok:
        return u
    name = name or getattr(source, "name", None) or u.name
    return replace(u, path=f"graph:{name}", name=name)


def describe_uploads(
    sources: Sequence[Any],
    hasher: StructureHasher,
    *,
    structure: str | None = None,
    weight_bits: int | None = None,
    names: Sequence[str] | None = None,
    errors: str = "raise",
    progress: bool = False,
) -> list[Described]:
    """Every upload of ``sources`` described, in order: hashed in one ``hash_many`` call,
    then each one's weights read.

    Args:
        sources: Model files, named sources or in-memory graphs.
        hasher: The structural hasher (:class:`StructureHasher`).
        structure: The companion structure of weights files.
        weight_bits: Q of the weight codes to compute (``None``: weights are not read).
        names: The names of in-memory sources (default: the graph's own name); their
            ``path`` becomes ``graph:NAME``.
        errors: ``"raise"`` stops at the first upload that cannot be read; ``"collect"``
            gives it a :class:`~hnnframe.hashing.HashFailure` and goes on.

    Raises:
        HnnError: With ``errors="raise"``, an upload cannot be read, hashed or fingerprinted
            (the error names it).
    """
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', got {errors!r}")
    srcs = [os.fspath(s) if _is_path(s) else s for s in sources]
    files: list[ModelFiles | HashFailure] = []
    for s in srcs:
        try:
            files.append(files_of(s, structure, weight_bits is not None))
        except Exception as e:  # noqa: BLE001 - one upload's error, never the batch's
            if errors == "raise":
                raise _as_hnn(str(s), e) from e
            files.append(HashFailure(str(s), upload_error(str(s), e)))
    todo = [f.structure for f in files if isinstance(f, ModelFiles)]
    hashed = iter(hasher.hash_many(todo, progress=progress, errors=errors))
    out: list[Described] = []
    for k, (s, f) in enumerate(zip(srcs, files, strict=True)):
        r = f if isinstance(f, HashFailure) else next(hashed)
        if not _is_path(s):  # an in-memory graph: its code only, under graph:NAME
            out.append(_named(Upload.of(r) if r.ok else r, s, names[k] if names else None))
            continue
        if isinstance(f, ModelFiles):
            try:
                r = assemble(s, f, r, weight_bits)
            except Exception as e:  # noqa: BLE001 - one upload's error, never the batch's
                if errors == "raise":
                    raise _as_hnn(s, e) from e
                r = HashFailure(s, upload_error(s, e))
        out.append(r)
    return out


def describe_upload(
    source: Any,
    hasher: StructureHasher,
    *,
    structure: str | None = None,
    weight_bits: int | None = None,
) -> Upload:
    """:func:`describe_uploads` of one source (raising when it cannot be read)."""
    [u] = describe_uploads([source], hasher, structure=structure, weight_bits=weight_bits)
    assert isinstance(u, Upload)
    return u


def _collected(source: str, files: ModelFiles, r: Any, q: int | None, sha: str | None) -> Any:
    try:
        return assemble(source, files, r, q, sha)
    except Exception as e:  # noqa: BLE001 - one upload's error, never the batch's
        return HashFailure(source, upload_error(source, e))


def iter_uploads(
    sources: Sequence[str],
    hasher: StructureHasher,
    *,
    chunk: int = 32,
    structure: str | None = None,
    weight_bits: int | None = None,
    shas: Sequence[str | None] | None = None,
    progress: bool = False,
) -> Iterator[list[tuple[int, Described]]]:
    """:func:`describe_uploads` of model files chunk by chunk, errors collected, so that a
    caller can store each chunk before the next is read (``hnn index add``: a killed batch
    keeps its work). Yields ``(position in sources, upload or failure)`` lists.

    Sources that are their own structure go through ``hasher.iter_hash`` as they come, with
    ``shas`` (their sha256, computed by the caller, so no file is digested twice); then the
    weights files, each distinct companion structure hashed once for all its files.
    """
    srcs = list(sources)
    files: dict[int, ModelFiles] = {}
    failed = []
    for k, s in enumerate(srcs):
        try:
            files[k] = files_of(s, structure, weight_bits is not None)
        except Exception as e:  # noqa: BLE001 - one upload's error, never the batch's
            failed.append((k, HashFailure(s, upload_error(s, e))))
    if failed:
        yield failed
    plain = [k for k in files if not files[k].companion]
    paired = [k for k in files if files[k].companion]
    sha = list(shas) if shas is not None else [None] * len(srcs)
    if plain or not paired:  # (an empty batch still goes through the hasher, as before)
        pending = iter(plain)
        sub = [sha[k] for k in plain] if shas is not None else None
        for results in hasher.iter_hash(
            [srcs[k] for k in plain], chunk=chunk, progress=progress, shas=sub
        ):
            part = [(next(pending), r) for r in results]
            yield [(k, _collected(srcs[k], files[k], r, weight_bits, None)) for k, r in part]
    if paired:
        structures = list(dict.fromkeys(files[k].structure for k in paired))
        hashed = dict(zip(structures, hasher.hash_many(structures, errors="collect"), strict=True))
        for start in range(0, len(paired), chunk):
            part = paired[start : start + chunk]
            yield [
                (k, _collected(srcs[k], files[k], hashed[files[k].structure], weight_bits, sha[k]))
                for k in part
            ]
