"""The verdict of ``check``: the tiers, how a candidate's weights compare with the upload's,
each candidate with the strongest tier it matched, and the policies that make an upload a
suspected copy (docs/index-guide.md, "check: which tier matched")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hnnframe.evidence import CHECK_TIERS, Evidence, Tier
from hnnframe.index.records import IndexRecord, Match

#: The tiers of a check, strongest first (docs/index-guide.md, "check: which tier matched"):
#: the members of :class:`~hnnframe.evidence.Tier` but ``none``. The weight-level ones
#: (:data:`~hnnframe.evidence.WEIGHT_TIERS`) compare weights (or the file itself); ``same
#: architecture``, the digests of the canonical graph or of a config's architecture fields;
#: the last, the structural code.
TIERS = CHECK_TIERS
#: ``check``'s policies for which candidates make an upload a suspected copy (exit 1).
FAIL_ON = ("auto", "exact", "weights", "structure", "none")


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
            },
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
