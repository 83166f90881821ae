"""A model file's weight fingerprint and the one comparison of two fingerprints.

``fingerprint(path)`` reads the weights one tensor at a time (:mod:`.readers`) and keeps, per
tensor, only its digest (:mod:`.digests`) and its share of the weight code (:mod:`.code`).
``match(a, b)`` says which tier two fingerprints agree on, strongest first (one fold over the
weight-level signals of :mod:`hnnframe.weights.signals`):

* ``exact file``: the same bytes (sha256; and the same tensors, which differ under one sha256
  only when an ONNX file's external data files were swapped);
* ``exact tensors``: every informative tensor of the smaller model is in the other one
  (digests, whatever the names, order, format or a transposed storage);
* ``weight match``: weight codes within the shipped Hamming threshold
  (``threshold.json``, written by ``hnn weights eval`` from the test bed at a stated
  false-positive rate);
* ``none``.

Both are plain library code on numpy; torch is imported only to read a state dict.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hnnframe import limits
from hnnframe.errors import ConfigError, HnnError, ModelLoadError
from hnnframe.evidence import WEIGHT_TIERS, Context, Subject, Tier, evaluate, signals, strongest
from hnnframe.files import PathLike
from hnnframe.repo import upload_sha256
from hnnframe.sources.guard import ReadGuard
from hnnframe.weights.block_signal import BLOCK_MATCH, shipped_block_threshold
from hnnframe.weights.code import DEFAULT_WEIGHT_BITS, WeightCoder, check_weight_bits
from hnnframe.weights.digests import (
    TensorDigest,
    canonical,
    digest_canonical,
    informative,
    set_digest,
)
from hnnframe.weights.readers import detect_format, iter_tensors
from hnnframe.weights.signals import EXACT_TENSORS, WEIGHT_MATCH

# re-exported: callers read the shipped thresholds from here as before
from hnnframe.weights.threshold import THRESHOLD_FILE as THRESHOLD_FILE
from hnnframe.weights.threshold import load_threshold as load_threshold

#: How :func:`fingerprint`'s error ends for a file that holds no weights (a weight-stripped
#: model), so a caller can tell it from a file it could not read.
NO_WEIGHTS = "no floating-point weight tensors"


@dataclass
class WeightFingerprint:
    """What the weight tier keeps of one model file."""

    path: str
    format: str
    sha256: str
    bits: int
    code: bytes
    digests: list[TensorDigest] = field(default_factory=list)
    tensors: int = 0  # informative tensors read
    params: int = 0  # their elements
    largest: int = 0  # elements of the largest tensor
    seconds: float = 0.0
    missing: int = 0  # weight tensors the file names but whose data is absent or unreadable
    #: block name -> hex of its block code (``WeightCoder.blocks``; empty for a model without
    #: hidden-axis blocks, and for fingerprints written before block codes existed)
    blocks: dict[str, str] = field(default_factory=dict)

    @property
    def tensor_set(self) -> str:
        """One digest of all tensor digests (equal for models with the same tensors)."""
        return set_digest(self.digests)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["code"] = self.code.hex()
        d["digests"] = [[t.digest, t.numel] for t in self.digests]
        d["tensor_set"] = self.tensor_set
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WeightFingerprint:
        d = {k: v for k, v in d.items() if k != "tensor_set"}
        d.setdefault("missing", 0)
        d.setdefault("blocks", {})
        d["code"] = bytes.fromhex(d["code"])
        d["digests"] = [TensorDigest(h, int(n)) for h, n in d["digests"]]
        return cls(**d)


def fingerprint(
    path: PathLike, bits: int = DEFAULT_WEIGHT_BITS, sha256: str | None = None
) -> WeightFingerprint:
    """Read the weights at ``path`` tensor by tensor and fingerprint them. ``sha256``: the
    file's :func:`~hnnframe.files.model_sha256` when the caller has it, so that the file (and
    its external data) is not read a second time to digest it.

    A tensor whose data is absent or unreadable is left out and counted in ``missing``: the
    rest is still fingerprinted, so leaving one tensor out cannot hide a copy.

    Raises:
        ModelLoadError: the file is missing or unreadable, holds no weights, or none of the
            weight tensors it names could be read.
        LimitError: a declared size, or the time spent, is over a limit.
    """
    t0 = time.perf_counter()
    fmt = detect_format(path)
    coder = WeightCoder(check_weight_bits(bits))
    digests: list[TensorDigest] = []
    seen: set[str] = set()
    largest = 0
    guard = ReadGuard(path)
    # The upload's sha256 is a second read of every byte: it runs in a thread beside the
    # tensor work (hashlib and numpy release the GIL), not after it.
    pool = ThreadPoolExecutor(1)
    file_sha = None if sha256 else pool.submit(upload_sha256, path)
    # Each tensor's digest is hashed in another thread while its share of the code is
    # computed here, on the one float32 copy both read (the code is added only once the
    # digest says it is not a tied copy of a tensor already coded).
    hasher = ThreadPoolExecutor(1)
    try:
        for _name, arr in iter_tensors(path, fmt, guard):
            limits.check_time()
            if not informative(arr):
                continue
            a = canonical(arr)
            del arr
            pending = hasher.submit(digest_canonical, a)
            with np.errstate(all="ignore"):  # a stranger's inf/NaN weights: one code
                part = coder.features(a)
            d = pending.result()
            digests.append(TensorDigest(d, int(a.size)))
            largest = max(largest, int(a.size))
            if d not in seen:  # a tied tensor stored twice counts once in the code
                seen.add(d)
                coder.accept(part)
            del a, part
    finally:
        hasher.shutdown(wait=True, cancel_futures=True)
        pool.shutdown(wait=False, cancel_futures=True)  # an error is reported at once
    if not digests and guard.missing:
        raise ModelLoadError(f"{path}: none of its weights could be read ({guard.summary()})")
    if not digests:
        raise ModelLoadError(f"{path}: {NO_WEIGHTS}")
    digests.sort(key=lambda t: (t.digest, t.numel))
    return WeightFingerprint(
        path=str(path),
        format=fmt,
        sha256=file_sha.result() if file_sha else str(sha256),
        bits=coder.bits,
        code=_code(coder),
        blocks={k: v.hex() for k, v in coder.blocks().items()},
        digests=digests,
        tensors=len(digests),
        params=sum(t.numel for t in digests),
        largest=largest,
        seconds=round(time.perf_counter() - t0, 4),
        missing=len(guard.missing),
    )


def _code(coder: WeightCoder) -> bytes:
    with np.errstate(all="ignore"):
        return coder.code()


@dataclass(frozen=True)
class Verdict:
    """Which tier two fingerprints agree on, with the numbers behind it."""

    verdict: Tier
    distance: int | None
    threshold: int | None
    shared: float  # share of the smaller model's elements in the same tensors
    bits: int | None
    #: distance of the nearest shared hidden-axis block (``block_signal``), when both have one
    block_distance: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": str(self.verdict)}


def match(
    a: WeightFingerprint,
    b: WeightFingerprint,
    threshold: int | None = None,
    block_threshold: int | None = None,
) -> Verdict:
    """Compare two fingerprints: one fold over the weight-level evidence signals, strongest
    first (:mod:`hnnframe.weights.signals`; the index's check folds over the same ones).

    Args:
        threshold: Hamming threshold of the weight codes for "weight match"; default the
            shipped one for Q.
        block_threshold: the same for the nearest shared block (:mod:`.block_signal`);
            default the shipped one.

    Raises:
        HnnError: the codes have different lengths.
    """
    if a.bits != b.bits:
        raise HnnError(f"weight codes of different lengths ({a.bits} and {b.bits} bits)")
    if threshold is None:
        entry = load_threshold(a.bits)
        threshold = int(entry["threshold"])
        if block_threshold is None:
            block_threshold = entry.get("block_threshold")
    elif block_threshold is None:
        block_threshold = shipped_block_threshold(a.bits)
    found = evaluate(
        signals(WEIGHT_TIERS),
        Subject(a.sha256, weights=a),
        Subject(b.sha256, weights=b),
        Context(
            threshold,
            limits={} if block_threshold is None else {BLOCK_MATCH: int(block_threshold)},
        ),
    )
    by = {e.signal: e for e in found}
    dist, shared = by[WEIGHT_MATCH].distance, by[EXACT_TENSORS].detail["shared"]
    block = by[BLOCK_MATCH].distance if BLOCK_MATCH in by else None
    return Verdict(strongest(found), dist, threshold, shared, a.bits, block)


def validate_threshold(value: Any) -> int:
    """A user-given threshold as a non-negative int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"a weight-code threshold is a non-negative integer, got {value!r}")
    return value
