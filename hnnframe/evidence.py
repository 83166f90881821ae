"""The verdict as ordered evidence: one :class:`Tier` vocabulary and a registry of evidence
signals, each of which compares two models into an :class:`Evidence`.

A signal (:class:`Signal`) extracts a value from a model (:class:`Subject`), compares two values
into an :class:`Evidence` of its tier, and says how the index finds candidates for it and, when
it keeps values of its own, which columns it stores. The verdict is one fold over the signals,
strongest first: the first that matches decides (:func:`strongest`), as the first rule of
onnxscript's ``RewriteRuleSet`` that matches is the one applied; every signal is still
evaluated, as PyKEEN's metric classes are, so the report carries all the numbers.

The built-in signals are registered where their data lives: the weight tiers in
:mod:`hnnframe.weights.signals`, the architecture digest and the structural code in
:mod:`hnnframe.index.signals`. A new signal is one module with one :class:`Signal` subclass
registered in :data:`EVIDENCE` (docs/layout.md, "A new evidence signal").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from hnnframe.registry import Registry


class Tier(StrEnum):
    """The tiers of a verdict, strongest first; the value is the word shown and stored.

    Members compare by strength: ``Tier.EXACT_FILE < Tier.WEIGHT_MATCH`` (stronger is
    smaller, as the first of a list sorted strongest first).
    """

    EXACT_FILE = "exact file"
    EXACT_TENSORS = "exact tensors"
    WEIGHT_MATCH = "weight match"
    SAME_ARCHITECTURE = "same architecture"
    STRUCTURE_ONLY = "structure only"
    NONE = "none"

    @property
    def rank(self) -> int:
        """Position from the strongest (0) to ``none``."""
        return _ORDER.index(self)

    @property
    def exact(self) -> bool:
        """The same file or the same tensors."""
        return self.rank <= Tier.EXACT_TENSORS.rank

    @property
    def weight_level(self) -> bool:
        """Decided by the weights (or the file itself), not by structure."""
        return self.rank <= Tier.WEIGHT_MATCH.rank

    def __lt__(self, other: object) -> bool:
        r = _rank(other)
        return self.rank < r if r is not None else NotImplemented

    def __le__(self, other: object) -> bool:
        r = _rank(other)
        return self.rank <= r if r is not None else NotImplemented

    def __gt__(self, other: object) -> bool:
        r = _rank(other)
        return self.rank > r if r is not None else NotImplemented

    def __ge__(self, other: object) -> bool:
        r = _rank(other)
        return self.rank >= r if r is not None else NotImplemented


def _rank(other: object) -> int | None:
    """The rank of a tier or of a tier's word; ``None`` for anything else (which then
    compares as a string does)."""
    try:
        return Tier(other).rank
    except ValueError:
        return None


_ORDER = list(Tier)
#: The tiers that compare weights (or the file itself), strongest first.
WEIGHT_TIERS = tuple(t for t in Tier if t.weight_level)
#: The tiers an index check gives a candidate, strongest first (every tier but ``none``).
CHECK_TIERS = tuple(t for t in Tier if t is not Tier.NONE)


@dataclass
class Subject:
    """What the signals read of one model: an upload, a record being added, a stored record.

    ``weights`` is its weight fingerprint (:class:`hnnframe.weights.fingerprint.
    WeightFingerprint`) or ``None``; ``values`` the values of signals that keep their own
    columns, as the index read them back (``signal name -> value``).
    """

    sha256: str | None = None
    code: bytes | None = None
    weights: Any = None
    graph_digest: str | None = None
    config_digest: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, model: Any, weights: Any = None, **values: Any) -> Subject:
        """A subject from anything with some of its fields (a hash result, a record)."""
        return cls(
            sha256=getattr(model, "sha256", None),
            code=getattr(model, "code", None),
            weights=weights,
            graph_digest=getattr(model, "graph_digest", None),
            config_digest=getattr(model, "config_digest", None),
            values=dict(values),
        )


@dataclass(frozen=True)
class Context:
    """The settings a comparison needs: the weight-code threshold and the structural radius;
    ``limits``: other signals' thresholds by signal name, where a caller sets them (an
    evaluation deriving them); a signal without one here uses its shipped value."""

    threshold: int | None = None
    radius: int | None = None
    limits: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """What one signal says of two models: ``hit`` when they agree on its ``tier``, with its
    ``distance`` (or score) and the numbers behind it in ``detail``."""

    signal: str
    tier: Tier
    hit: bool
    distance: float | int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "tier": str(self.tier),
            "hit": self.hit,
            "distance": self.distance,
            "detail": dict(self.detail),
        }


class Finder(Protocol):
    """How a signal finds the index's candidates (the index supplies it; a signal never
    writes SQL): exact look-ups in a table, or Hamming searches of the stored codes."""

    def exact(
        self, table: str, column: str, values: Iterable[Any], key: str = "model_id"
    ) -> set[int]:
        """Ids of the records whose ``table.column`` is one of ``values``."""

    def near_codes(self, code: bytes, radius: int) -> set[int]:
        """Ids of the records whose structural code is within ``radius``."""

    def near_weights(self, code: bytes, threshold: int) -> set[int]:
        """Ids of the records whose weight code is within ``threshold``."""


class Signal(ABC):
    """One kind of evidence.

    Attributes:
        tier: The tier a hit gives.
        field: The :class:`Subject` field that is the signal's value, for a signal that
            does not :meth:`extract` its own.
        columns: ``column -> kind`` (``text``, ``int``, ``real`` or ``bytes``) of the table
            the index keeps for this signal, ``hnn_signal_<name>`` (created and migrated by
            :mod:`hnnframe.index.signal_store`); empty for the built-in signals, whose columns
            are the index's own (``docs/index-guide.md``).
        lookup: The column of that table that is looked up exactly for candidates.
        reported: Whether ``index check`` shows this evidence (text and JSON); the built-in
            signals are shown by the lines they always had.
    """

    tier: ClassVar[Tier]
    field: ClassVar[str | None] = None
    columns: ClassVar[dict[str, str]] = {}
    lookup: ClassVar[str | None] = None
    reported: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return EVIDENCE.name_of(self)

    def extract(self, subject: Subject) -> Any:
        """The signal's value of a model, or ``None`` when it has none (default: the
        subject's field named by :attr:`field`)."""
        return getattr(subject, self.field) if self.field else None

    @abstractmethod
    def compare(self, a: Any, b: Any, ctx: Context) -> Evidence | None:
        """The evidence of two values, neither ``None`` (``None``: not comparable, e.g.
        without a setting it needs from ``ctx``)."""

    def value(self, subject: Subject) -> Any:
        """The stored value when the index read one back, else :meth:`extract`."""
        if self.name in subject.values:
            return subject.values[self.name]
        return self.extract(subject)

    def candidates(self, finder: Finder, value: Any, ctx: Context) -> set[int]:
        """Ids of stored models this signal may match, for the upload's ``value`` (never
        ``None``); default: an exact look-up of :attr:`lookup` in the signal's own table."""
        if not self.lookup:
            return set()
        return finder.exact(table_of(self.name), self.lookup, [self.to_row(value)[0]])

    def to_row(self, value: Any) -> tuple[Any, ...]:
        """The value as a row of :attr:`columns` (default: a one-column table)."""
        return (value,)

    def from_row(self, row: Sequence[Any]) -> Any:
        """A value back from its row (inverse of :meth:`to_row`)."""
        return row[0]

    def line(self, ev: Evidence) -> str:
        """One line of ``index check``'s text output."""
        said = str(self.tier) if ev.hit else "no"
        dist = f", distance {ev.distance}" if ev.distance is not None else ""
        return f"{self.name}: {said}{dist}"

    def hit(self, **detail: Any) -> Evidence:
        return Evidence(self.name, self.tier, True, detail.pop("distance", None), detail)

    def miss(self, **detail: Any) -> Evidence:
        return Evidence(self.name, self.tier, False, detail.pop("distance", None), detail)


#: Every evidence signal, by name (built-in ones registered where their data lives).
EVIDENCE: Registry[Signal] = Registry("evidence signal")


def table_of(name: str) -> str:
    """The table of a signal that keeps its own columns."""
    return f"hnn_signal_{name}"


def signals(tiers: Iterable[Tier] | None = None) -> list[Signal]:
    """One instance of every registered signal, strongest tier first (then by name); only
    those of ``tiers`` when given."""
    keep = set(tiers) if tiers is not None else None
    out = [EVIDENCE.build(n) for n in EVIDENCE.names()]
    out = [s for s in out if keep is None or s.tier in keep]
    return sorted(out, key=lambda s: (s.tier.rank, s.name))


def evaluate(sigs: Sequence[Signal], a: Subject, b: Subject, ctx: Context) -> list[Evidence]:
    """Every signal's evidence of ``a`` against ``b``, in the order of ``sigs``; a signal is
    left out when either side has no value for it, or its :meth:`~Signal.compare` says they
    cannot be compared."""
    out = []
    for s in sigs:
        va, vb = s.value(a), s.value(b)
        if va is None or vb is None:
            continue  # a side without this evidence: nothing to compare
        ev = s.compare(va, vb, ctx)
        if ev is not None:
            out.append(ev)
    return out


def strongest(evidence: Iterable[Evidence]) -> Tier:
    """The verdict of a fold: the strongest tier with a hit, else :attr:`Tier.NONE`."""
    return min((e.tier for e in evidence if e.hit), default=Tier.NONE)
