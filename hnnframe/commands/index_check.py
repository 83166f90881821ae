"""``hnn index check``: per upload, the tier it matched and its candidates (text or
``--json``), and the exit status under ``--fail-on``. The parser is in
:mod:`hnnframe.commands.index`."""

from __future__ import annotations

import argparse
from typing import Any

from hnnframe.commands.index_common import hasher_of, open_index
from hnnframe.commands.output import print_json

#: ``--fail-on`` choices (hnnframe.index.records.FAIL_ON; not imported, so that building the
#: parser does not load numpy) and what each means.
FAIL_ON_HELP = {
    "auto": "a weight-level tier (exact file, exact tensors, weight match), or a structural "
    "neighbour whose weights the index does not hold (the default)",
    "exact": "exact file or exact tensors only",
    "weights": "a weight-level tier only: a structural neighbour alone never fails",
    "structure": "any candidate, structural neighbours included (before the weight tier, "
    "every check was this)",
    "none": "never: exit 0 whatever matched (2 stays for errors)",
}


def _weights_line(c: Any, upload_has_weights: bool) -> str | None:
    w = c.weights
    if w.compared:
        fpr = f", FPR {w.fpr:.2%}" if w.fpr is not None else ", threshold given"
        return (f"      weights: code distance {w.distance} of {w.bits} bits (threshold "
                f"{w.threshold}{fpr}); {w.shared:.1%} of the tensors identical")  # fmt: skip
    if upload_has_weights or c.record.weights is not None:
        return f"      weights: not compared ({w.reason})"
    return None


def _summary(v: Any) -> str:
    within = f"{len(v.matches)} indexed model(s) within radius {v.radius}"
    top = v.candidates[0]
    if top.tier == "structure only":
        other = all(c.weights.compared for c in v.candidates)
        return f"structure only{' (other weights)' if other else ''}; {within}"
    return f"{top.tier} (#{top.record.id} {top.record.name}); {within}"


def render(verdicts: list[tuple[str, Any, list[Any]]], policy: str, as_json: bool) -> int:
    """Print the verdicts; the exit status (1 if an upload fails ``policy``, else 0)."""
    suspect = any(v.fails(policy) for _, v, _ in verdicts)
    if as_json:
        print_json([
            {"upload": label, **v.to_dict(policy),
             "nearest": nearest[0].to_dict() if nearest else None}
            for label, v, nearest in verdicts
        ])  # fmt: skip
        return 1 if suspect else 0
    for label, v, nearest in verdicts:
        if v.clean:
            near = (
                f" (nearest: {nearest[0].record.name} at distance {nearest[0].distance})"
                if nearest
                else ""
            )
            print(f"clean    {label}: no indexed model within radius {v.radius}{near}")
            continue
        word = "SUSPECT" if v.fails(policy) else "clean"
        print(f"{word:<8} {label}: {_summary(v)}")
        print("dist  id      name                     category     tier")
        for c in v.candidates:
            r = c.record
            lab = f" [{r.label}]" if r.label else ""
            print(f"{c.distance:>4}  #{r.id:<6} {r.name:<24} {r.category:<12} {c.tier:<14}"
                  f"{lab} {r.path}")  # fmt: skip
            line = _weights_line(c, v.weights is not None)
            if line:
                print(line)
    return 1 if suspect else 0


def cmd_check(args: argparse.Namespace) -> int:
    with open_index(args) as idx:
        models = [q for q in args.uploads if not q.startswith("hex:")]
        checked: dict[str, tuple[Any, Any]] = {}
        fp = None
        if models:  # every model is hashed and read before anything is searched
            hasher, _ = hasher_of(args, idx)
            fp = hasher.fingerprint
            pairs = idx.check_models(
                models, hasher, args.radius, weights=not args.no_weights,
                structure=args.structure, weight_threshold=args.weight_threshold,
                progress=len(models) > 3,
            )  # fmt: skip
            checked = dict(zip(models, pairs, strict=True))
        verdicts = []
        for label in args.uploads:
            if label in checked:
                q, res = checked[label]
            else:
                q, res = label, idx.check(label, radius=args.radius, fingerprint=fp)
            nearest = res.matches[:1] or idx.search(q, k=1, fingerprint=fp)
            verdicts.append((label, res, nearest))
    return render(verdicts, args.fail_on, args.json)
