"""What a hash index takes, holds and returns: hash results and the hasher that makes them,
records (with their weight tier, :mod:`hnnframe.weights`, when the file carried weights),
matches, the tiers of a check, the binding to a checkpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from hnnframe.evidence import CHECK_TIERS, Evidence, Tier
from hnnframe.weights.fingerprint import WeightFingerprint

#: The tiers of a check, strongest first (docs/index-guide.md, "check: which tier matched"):
#: the members of :class:`~hnnframe.evidence.Tier` but ``none``. The weight-level ones
#: (:data:`~hnnframe.evidence.WEIGHT_TIERS`) compare weights (or the file itself); ``same
#: architecture``, the digests of the canonical graph or of a config's architecture fields;
#: the last, the structural code.
TIERS = CHECK_TIERS
#: ``check``'s policies for which candidates make an upload a suspected copy (exit 1).
FAIL_ON = ("auto", "exact", "weights", "structure", "none")


@runtime_checkable
class HashLike(Protocol):
    """Anything with the fields of :class:`hnnframe.hashing.HashResult` that an index stores."""

    path: str
    name: str
    sha256: str | None
    code: bytes
    bits: int
    category: str


class HasherLike(Protocol):
    """What :meth:`HashIndex.add_models` and :meth:`HashIndex.rehash` need of a hasher
    (:class:`hnnframe.hashing.Hasher` is one).

    ``iter_hash`` yields, per chunk of sources, one result per source: a hash result
    (``ok`` True) or a failure with ``path`` and ``error`` (``ok`` False). ``shas`` are the
    files' sha256 when the caller has them, so that no file is digested twice.
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
class WeightComparison:
    """How a candidate's weights compare with the upload's (:func:`hnnframe.weights.match`).

    ``compared`` is False when either side has no weights (``reason`` says which); then the
    other fields are ``None``. ``threshold`` and ``fpr`` are the weight-code threshold used
    and its false-positive rate measured on the test bed (``threshold.json``).
    """

    compared: bool
    verdict: Tier | None = None  # exact file, exact tensors, weight match or none
    distance: int | None = None
    threshold: int | None = None
    bits: int | None = None
    fpr: float | None = None
    shared: float | None = None  # share of the smaller model's elements in the same tensors
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = str(self.verdict) if self.verdict is not None else None
        return d


@dataclass
class Candidate:
    """One indexed model that a check found, with the strongest tier it matched on.

    Attributes:
        tier: One of :data:`TIERS`.
        record: The indexed model.
        distance: Hamming distance between the structural codes.
        within_radius: Whether ``distance`` is within the check's radius.
        weights: How the weights compare.
        same_arch: Whether the digests say it is the upload's architecture (also true of a
            candidate whose tier is a weight tier).
        evidence: What the signals that report themselves said (a plugin's signal; the
            built-in ones are the fields above).
    """

    tier: Tier
    record: IndexRecord
    distance: int
    within_radius: bool
    weights: WeightComparison
    same_arch: bool = False
    evidence: list[Evidence] = field(default_factory=list)

    def fails(self, policy: str = "auto", partial: bool = False) -> bool:
        """Whether this candidate makes the upload a suspected copy under ``policy``.

        ``auto``: a weight-level tier, or a structural neighbour whose weights the index does
        not hold (structure is all it knows of that model, as in an index of weight-stripped
        files) or whose comparison the upload made incomplete (``partial``: some of its
        weight tensors are missing or unreadable, and weights withheld cannot clear it);
        ``exact``: the exact tiers; ``weights``: the weight-level tiers; ``structure``: every
        candidate; ``none``: never. ``same architecture`` is structural evidence, however
        exact: under every policy it counts as a structural neighbour does, so an
        independently trained model of the architecture clears ``auto`` by its weights.
        """
        if policy not in FAIL_ON:
            raise ValueError(f"policy must be one of {', '.join(FAIL_ON)}, not {policy!r}")
        if policy == "none":
            return False
        if policy == "structure":
            return True
        tier = Tier(self.tier)
        if policy == "exact":
            return tier.exact
        if tier.weight_level:
            return True
        return policy == "auto" and (self.record.weights is None or partial)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "tier": str(self.tier),
            "structure": {
                "distance": self.distance,
                "within_radius": self.within_radius,
                "same_architecture": self.same_arch,
            },  # fmt: skip
            "weights": self.weights.to_dict(),
            "record": self.record.to_dict(),
        }
        if self.evidence:
            out["evidence"] = [e.to_dict() for e in self.evidence]
        return out


@dataclass
class CheckResult:
    """The verdict of ``check``.

    ``matches`` are the structural neighbours within ``radius`` (as before the weight tier);
    ``candidates`` every indexed model found on any tier, strongest tier first, then by
    structural distance and id. ``clean`` is True when there is no candidate at all;
    :meth:`fails` says whether the upload is a suspected copy under a policy.
    """

    radius: int
    matches: list[Match]
    candidates: list[Candidate] = field(default_factory=list)
    weights: dict[str, Any] | None = None  # the upload's weights (WeightInfo.to_dict()), if any
    threshold: dict[str, Any] | None = None  # the weight-code threshold used, with its FPR

    @property
    def clean(self) -> bool:
        return not self.candidates and not self.matches

    @property
    def tier(self) -> Tier:
        """The strongest tier matched, or ``none``."""
        return Tier(self.candidates[0].tier) if self.candidates else Tier.NONE

    @property
    def partial(self) -> bool:
        """Whether some of the upload's weight tensors were missing or unreadable."""
        return bool(self.weights and self.weights.get("missing"))

    def fails(self, policy: str = "auto") -> bool:
        """Whether any candidate makes the upload a suspected copy (:meth:`Candidate.fails`)."""
        return any(c.fails(policy, self.partial) for c in self.candidates)

    def to_dict(self, policy: str = "auto") -> dict[str, Any]:
        return {
            "clean": self.clean,
            "tier": str(self.tier),
            "suspect": self.fails(policy),
            "fail_on": policy,
            "radius": self.radius,
            "weights": self.weights,
            "threshold": self.threshold,
            "matches": [m.to_dict() for m in self.matches],
            "candidates": [c.to_dict() for c in self.candidates],
        }


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
