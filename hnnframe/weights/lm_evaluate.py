"""The weight tier on the language-model bed (:mod:`hnnframe.weights.lm_testbed`), through
the path ``hnn weights compare`` and ``hnn index check`` use: ``fingerprint`` of each saved
directory or GGUF file, ``match`` of a copy with its base.

*Independent pairs*: every pair of independently trained models of one architecture (bases,
other seeds, other data), each unordered pair once. Per copy kind: the AUC of the copy's
distance to its base against the independent pairs of its architecture (worst architecture),
the share detected (a verdict other than ``none``) at the shipped threshold, the largest
distance; and the threshold re-derived from the independent pairs at the stated
false-positive rate, as ``hnn weights eval`` derives it on the digits bed (at most ``fpr`` of
every architecture's pairs at or below it), with the detection there. The expected number of
false weight matches an upload draws against 1,000 indexed models of its architecture is the
measured FPR times 1,000, with the 95% upper bound when none was seen (3 / pairs, the rule
of three).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.codes import hamming
from hnnframe.weights.block_signal import block_distance
from hnnframe.weights.calibrate import Pair, Thresholds, derive, flagged
from hnnframe.weights.evaluate import FPR, auc
from hnnframe.weights.fingerprint import WeightFingerprint, fingerprint, load_threshold, match
from hnnframe.weights.lm_testbed import EXACT_KINDS, KINDS, load_lm_manifest


def fingerprint_lm_bed(
    root: Path, bits: int, progress: Callable[[str], None] | None = None
) -> tuple[dict[str, Any], dict[str, WeightFingerprint]]:
    """The manifest and the fingerprint of every model of the bed at ``root``."""
    manifest = load_lm_manifest(root)
    prints = {}
    for mid, e in manifest["models"].items():
        prints[mid] = fingerprint(Path(root) / e["path"], bits)
        if progress:
            progress(mid)
    return manifest, prints


def independent_pairs(models: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Per architecture, every unordered pair of its independently trained models."""
    out: dict[str, list[tuple[str, str]]] = {}
    for arch in sorted({e["arch"] for e in models.values()}):
        ids = sorted(m for m, e in models.items() if e["arch"] == arch and e["role"] != "copy")
        out[arch] = list(combinations(ids, 2))
    return out


def verdict_score(pair: Pair, code: int, block: int | None) -> float:
    """The pair's distance in units of its threshold, the nearer of code and block: at most
    1 is a weight match (``calibrate.flagged``); one number to rank pairs by, for an AUC of
    the verdict rather than of the code alone."""
    c, b = pair
    by_block = b / max(block, 1) if b is not None and block is not None else float("inf")
    return min(c / max(code, 1), by_block)


def _kind_row(
    rows: list[dict[str, Any]],
    neg: dict[str, list[int]],
    shipped: tuple[int, int | None],
    rederived: Thresholds,
    neg_scores: dict[str, list[float]],
) -> dict[str, Any]:
    ds = [r["distance"] for r in rows]
    archs = sorted({r["arch"] for r in rows})
    per_arch = {a: auc([r["distance"] for r in rows if r["arch"] == a], neg[a]) for a in archs}
    scores = {
        a: [verdict_score((r["distance"], r["block"]), *shipped) for r in rows if r["arch"] == a]
        for a in archs
    }
    again = flagged([(r["distance"], r["block"]) for r in rows], rederived.code, rederived.block)
    return {
        "n": len(rows),
        "auc": min(per_arch.values()),
        "auc_per_arch": per_arch,
        "auc_verdict": min(auc(scores[a], neg_scores[a]) for a in archs),
        "detected": sum(r["verdict"] != "none" for r in rows),
        "detected_code_alone": sum(r["distance"] <= shipped[0] for r in rows),
        "exact": sum(r["verdict"] in ("exact file", "exact tensors") for r in rows),
        "detected_rederived": sum(
            bool(hit) or r["verdict"].startswith("exact")
            for hit, r in zip(again, rows, strict=True)
        ),
        "median": float(np.median(ds)),
        "max": int(max(ds)),
        "max_block": max((r["block"] for r in rows if r["block"] is not None), default=None),
        "max_per_arch": {a: max(r["distance"] for r in rows if r["arch"] == a) for a in archs},
        "missed": [r["copy"] for r in rows if r["verdict"] == "none"],
        "threshold": shipped[0],
    }


def lm_negatives(
    root: Path, bits: int, progress: Callable[[str], None] | None = None
) -> dict[str, list[Pair]]:
    """Per architecture, ``(code distance, nearest block distance)`` of every pair of the
    bed's independently trained models (what ``hnn weights eval --lm-bed`` pools into the
    shipped thresholds)."""
    models = load_lm_manifest(root)["models"]
    pairs = independent_pairs(models)
    prints = {}
    for m in sorted({m for ps in pairs.values() for p in ps for m in p}):
        prints[m] = fingerprint(Path(root) / models[m]["path"], bits)
        if progress:
            progress(m)
    return {a: [_pair(prints[x], prints[y]) for x, y in ps] for a, ps in pairs.items()}


def _pair(a: WeightFingerprint, b: WeightFingerprint) -> Pair:
    return hamming(a.code, b.code), block_distance(a, b)


def evaluate_lm(
    manifest: dict[str, Any], prints: dict[str, WeightFingerprint], fpr: float = FPR
) -> dict[str, Any]:
    """Per-kind and independent-pair figures (see the module docstring)."""
    models = manifest["models"]
    bits = next(iter(prints.values())).bits
    shipped = load_threshold(bits)
    pairs = independent_pairs(models)
    verdicts = {a: [match(prints[x], prints[y]) for x, y in p] for a, p in pairs.items()}
    neg = {a: [v.distance for v in vs] for a, vs in verdicts.items()}
    flagged_n = {a: sum(v.verdict != "none" for v in vs) for a, vs in verdicts.items()}
    # the verdicts already hold both distances of every pair
    neg_pairs = {a: [(v.distance, v.block_distance) for v in vs] for a, vs in verdicts.items()}
    rederived = derive(neg_pairs, fpr, bits)
    rows: dict[str, list[dict[str, Any]]] = {}
    for mid, e in models.items():
        if e["role"] != "copy":
            continue
        v = match(prints[mid], prints[e["base"]])
        rows.setdefault(e["kind"], []).append(
            {
                "copy": mid,
                "arch": e["arch"],
                "distance": v.distance,
                "verdict": v.verdict,
                "block": v.block_distance,
            }
        )
    code_thr = int(shipped["threshold"])
    both = (code_thr, shipped.get("block_threshold"))
    neg_scores = {a: [verdict_score(p, *both) for p in v] for a, v in neg_pairs.items()}
    kinds = {k: _kind_row(rows[k], neg, both, rederived, neg_scores) for k in KINDS if k in rows}
    n_pairs = sum(len(p) for p in pairs.values())
    n_flagged = sum(flagged_n.values())
    all_neg = [d for v in neg.values() for d in v]
    blocks = [b for v in neg_pairs.values() for _, b in v if b is not None]
    measured = n_flagged / n_pairs if n_pairs else float("nan")
    return {
        "bits": bits,
        "threshold": code_thr,
        "block_threshold": shipped.get("block_threshold"),
        "fpr_target": fpr,
        "rederived_threshold": rederived.code,
        "rederived_block_threshold": rederived.block,
        "independents": {a: len({m for p in ps for m in p}) for a, ps in pairs.items()},
        "pairs": n_pairs,
        "pairs_per_arch": {a: len(p) for a, p in pairs.items()},
        "flagged": n_flagged,
        "fpr": measured,
        "fpr_per_arch": {a: flagged_n[a] / len(pairs[a]) for a in pairs if pairs[a]},
        "fpr_rederived": rederived.fpr,
        "false_per_1000": 1000 * measured,
        "false_per_1000_upper95": 1000
        * (3 / n_pairs if n_flagged == 0 else _upper95(n_flagged, n_pairs)),
        "negative_min": int(min(all_neg)),
        "negative_min_per_arch": {a: int(min(v)) for a, v in neg.items() if v},
        "negative_median": float(np.median(all_neg)),
        "block_negative_min": min(blocks, default=None),
        "block_negative_median": float(np.median(blocks)) if blocks else None,
        "kinds": kinds,
        "exact_missed": {k: kinds[k]["n"] - kinds[k]["exact"] for k in EXACT_KINDS if k in kinds},
        "models": len(models),
    }


def _upper95(k: int, n: int) -> float:
    """One-sided 95% upper bound of a binomial rate (Clopper-Pearson)."""
    from scipy.stats import beta

    return float(beta.ppf(0.95, k + 1, n - k))


def _coder(path: Path, bits: int) -> Any:
    """The :class:`~hnnframe.weights.code.WeightCoder` of one model, its per-block features
    kept (the tensors ``fingerprint`` codes: informative ones, a tied tensor once)."""
    from hnnframe.weights.code import WeightCoder
    from hnnframe.weights.digests import digest, informative
    from hnnframe.weights.readers import iter_tensors

    coder, seen = WeightCoder(bits), set()
    for _name, arr in iter_tensors(path):
        if informative(arr) and (d := digest(arr)) not in seen:
            seen.add(d)
            coder.add(arr)
    return coder


def block_agreement(
    root: Path, manifest: dict[str, Any], arch: str, limit: int = 12, bits: int = 256
) -> list[dict[str, Any]]:
    """Per block of the code (half, tensor shape, axis): the mean cosine of its features over
    pairs of ``arch``'s first ``limit`` independent models, and its mean norm (its weight in
    the half's sum). A block whose features agree between independent models carries what
    every model of the data learns, not what one model is."""
    ids = sorted(
        m for m, e in manifest["models"].items() if e["arch"] == arch and e["role"] != "copy"
    )[:limit]
    coders = [_coder(Path(root) / manifest["models"][m]["path"], bits) for m in ids]
    out = []
    for half in ("clouds", "grams"):
        for key in sorted(getattr(coders[0], half), key=repr):
            fs = [getattr(c, half).get(key) for c in coders]
            if any(f is None for f in fs):
                continue
            cos = [
                float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
                for a, b in combinations(fs, 2)
            ]
            norm = float(np.mean([np.linalg.norm(f) for f in fs]))
            out.append(
                {
                    "half": half[:-1],
                    "shape": list(key[0]),
                    "axis": key[1],
                    "cosine": float(np.mean(cos)),
                    "norm": norm,
                }
            )
    return out
