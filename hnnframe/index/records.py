"""What a hash index takes, holds and returns: hash results and the hasher that makes them,
records (with their weight tier, :mod:`hnnframe.weights`, when the file carried weights),
matches, the binding to a checkpoint. The verdict of a check is in
:mod:`hnnframe.index.verdict`."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from hnnframe.upload.describe import StructureHasher
from hnnframe.weights.fingerprint import WeightFingerprint


@runtime_checkable
class HashLike(Protocol):
    """Anything with the fields of :class:`hnnframe.hashing.HashResult` that an index stores."""

    path: str
    name: str
    sha256: str | None
    code: bytes
    bits: int
    category: str


#: What :meth:`HashIndex.add_models` and :meth:`HashIndex.rehash` need of a hasher: the upload
#: pipeline's hasher protocol (:class:`hnnframe.hashing.Hasher` is one).
HasherLike = StructureHasher


@dataclass
class NewRecord:
    """One model to add: a hash result plus what the index keeps beside it.

    ``key`` is the idempotency key: the file's sha256, or ``uri:PATH`` for a model with no file
    (``torchvision:NAME``).
    """

    name: str
    path: str
    sha256: str | None
    code: bytes
    bits: int
    category: str
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    structure: str | None = None
    weights: WeightFingerprint | None = None
    graph_digest: str | None = None
    config_digest: str | None = None

    @property
    def key(self) -> str:
        return self.sha256 if self.sha256 else f"uri:{self.path}"

    @classmethod
    def from_hash(
        cls,
        result: HashLike,
        label: str | None = None,
        meta: dict[str, Any] | None = None,
        *,
        weights: WeightFingerprint | None = None,
        structure: str | None = None,
    ) -> NewRecord:
        """Build from a :class:`~hnnframe.hashing.HashResult` (or anything shaped like one).

        A file path is stored absolute, so that ``hnn index rehash`` finds the file again from
        any working directory; a ``scheme:NAME`` URI is stored as given.

        Args:
            weights: The file's weight fingerprint, when it carries weights.
            structure: The source the structural code was computed from, when it is another
                one than ``result.path`` (the architecture of a safetensors file).
        """
        path = absolute(str(result.path))
        return cls(
            name=result.name,
            path=path,
            sha256=result.sha256,
            code=bytes(result.code),
            bits=int(result.bits),
            category=result.category,
            label=label,
            meta=dict(meta or {}),
            structure=absolute(structure) if structure is not None else None,
            weights=weights,
            graph_digest=getattr(result, "graph_digest", None),
            config_digest=getattr(result, "config_digest", None),
        )

    @classmethod
    def from_upload(
        cls, upload: HashLike, label: str | None = None, meta: dict[str, Any] | None = None
    ) -> NewRecord:
        """Build from a described upload (:class:`hnnframe.upload.Upload`): its code and
        digests, with its weights and the companion structure it was hashed from."""
        return cls.from_hash(
            upload,
            label,
            meta,
            weights=getattr(upload, "weights", None),
            structure=getattr(upload, "structure", None),
        )


def absolute(path: str) -> str:
    """An existing file's (or folder's) absolute path; a URI or a missing path as given."""
    return os.path.abspath(path) if not is_uri(path) and os.path.exists(path) else path


def is_uri(path: str) -> bool:
    """Whether ``path`` is a ``scheme:NAME`` source (``torchvision:resnet18``), not a file."""
    scheme, sep, _ = path.partition(":")
    return bool(sep) and len(scheme) > 1 and scheme.isidentifier()


@dataclass
class IndexRecord:
    """A stored model.

    Attributes:
        id: Row id, increasing in order of addition.
        name: Model name.
        path: Absolute file path, or a URI such as ``torchvision:resnet18``.
        sha256: sha256 of the file's bytes (``None`` for a URI).
        code: The packed hash code (``np.packbits`` order).
        bits: Code length Q.
        fingerprint: sha256 of the checkpoint that computed the code.
        category: Category predicted by the hashing network.
        label: Free-form label given at ``add`` (for example a source or licence).
        meta: Free-form ``key: value`` metadata.
        added_at: When it was added (ISO 8601, UTC).
        structure: The source its structural code was computed from, when not ``path``.
        weights: Its weight record, or ``None`` when the file carried no weights.
        graph_digest: The digest of its canonical graph (schema 3; ``None`` in a record
            added before, until ``hnn index rehash``).
        config_digest: The digest of its config's architecture fields, for a config source.
    """

    id: int
    name: str
    path: str
    sha256: str | None
    code: bytes
    bits: int
    fingerprint: str
    category: str
    label: str | None
    meta: dict[str, Any]
    added_at: str
    structure: str | None = None
    weights: WeightInfo | None = None
    graph_digest: str | None = None
    config_digest: str | None = None

    @property
    def hex(self) -> str:
        """The code in hex."""
        return self.code.hex()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (codes as hex)."""
        d = asdict(self)
        d["code"] = self.hex
        d["weights"] = self.weights.to_dict() if self.weights else None
        return d


@dataclass
class WeightInfo:
    """What an index keeps of a model's weights beside its tensor digests."""

    format: str  # onnx, safetensors or torch
    bits: int
    code: bytes  # the weight perceptual code
    tensor_set: str  # one digest of all its tensor digests
    tensors: int
    params: int
    largest: int

    @classmethod
    def of(cls, fp: WeightFingerprint) -> WeightInfo:
        return cls(fp.format, fp.bits, fp.code, fp.tensor_set, fp.tensors, fp.params, fp.largest)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["code"] = self.code.hex()
        return d


@dataclass
class Match:
    """A search hit: a record and its Hamming distance to the query."""

    distance: int
    record: IndexRecord

    def to_dict(self) -> dict[str, Any]:
        return {"distance": self.distance, **self.record.to_dict()}


@dataclass
class AddResult:
    """What ``add`` did with one model: ``added`` is False when its key was already present.

    A model of :meth:`HashIndex.add_models` that could not be read or hashed has ``error`` set
    (one line naming the file), no ``id`` and no ``key``.
    """

    id: int | None
    name: str
    key: str | None
    added: bool
    path: str = ""
    error: str | None = None
    weights: dict[str, Any] | None = None  # WeightInfo.to_dict() of an added model's weights

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(cls, name: str, path: str, error: str) -> AddResult:
        return cls(None, name, None, False, path, error)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Binding:
    """The checkpoint an index is bound to; ``None`` fields until the first ``add``."""

    bits: int | None
    fingerprint: str | None
    checkpoint: str | None
    epoch: int
    weight_bits: int | None = None  # Q of the weight codes, from the first record with weights

    @property
    def bound(self) -> bool:
        return self.fingerprint is not None
