"""``hnn index check``: per upload, the tier it matched and its candidates (text or
``--json``), and the exit status under ``--fail-on``. The parser is in
:mod:`hnnframe.commands.index`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hnnframe.commands.index_common import hasher_of, open_index
from hnnframe.commands.output import (
    EXIT_CLEAN,
    EXIT_SUSPECT,
    EXIT_UNREADABLE,
    print_json,
    printable,
)
from hnnframe.evidence import EVIDENCE, Tier
from hnnframe.repo import is_adapter

#: ``--fail-on`` choices (hnnframe.index.records.FAIL_ON; not imported, so that building the
#: parser does not load numpy) and what each means.
FAIL_ON_HELP = {
    "auto": "a weight-level tier (exact file, exact tensors, weight match), or a structural "
    "neighbour (same architecture or structure only) whose weights the index does not hold, "
    "or of an upload with some weight tensors missing or unreadable (the default)",
    "exact": "exact file or exact tensors only",
    "weights": "a weight-level tier only: a structural neighbour alone (same architecture "
    "included) never fails",
    "structure": "any candidate, structural neighbours included (before the weight tier, "
    "every check was this)",
    "none": "never: exit 0 whatever matched (2 stays for errors)",
}


def _weights_line(c: Any, upload_has_weights: bool) -> str | None:
    w = c.weights
    if w.compared:
        fpr = f", FPR {w.fpr:.2%}" if w.fpr is not None else ", threshold given"
        return (
            f"      weights: code distance {w.distance} of {w.bits} bits (threshold "
            f"{w.threshold}{fpr}); {w.shared:.1%} of the tensors identical"
        )
    if upload_has_weights or c.record.weights is not None:
        return f"      weights: not compared ({w.reason})"
    return None


def _summary(v: Any) -> str:
    within = f"{len(v.matches)} indexed model(s) within radius {v.radius}"
    top = v.candidates[0]
    other = " (other weights)" if all(c.weights.compared for c in v.candidates) else ""
    if top.tier == Tier.STRUCTURE_ONLY:
        return f"structure only{other}; {within}"
    if top.tier == Tier.SAME_ARCHITECTURE:
        return (
            f"same architecture as #{top.record.id} {printable(top.record.name)}{other}; {within}"
        )
    return f"{top.tier} (#{top.record.id} {printable(top.record.name)}); {within}"


def _who(r: Any) -> str:
    """An indexed model's name with its family: the label it was indexed under (the hashing
    network's predicted category is never shown; it means nothing outside its groups)."""
    return printable(f"{r.name} [{r.label}]" if r.label else r.name)


def _missing_line(v: Any) -> str | None:
    w = v.weights or {}
    if not w.get("missing"):
        return None
    return (
        f"      upload: {w['missing']} of {w['missing'] + w['tensors']} weight tensors "
        "missing or unreadable; compared on the rest"
    )


def _print_verdict(label: str, v: Any, nearest: list[Any], policy: str) -> None:
    if hasattr(v, "adapter"):  # a PEFT adapter's verdict (hnnframe.index.adapters)
        _print_adapter(label, v, policy)
        return
    label = printable(label)
    if v.clean:
        near = (
            f" (nearest: {_who(nearest[0].record)} at distance {nearest[0].distance})"
            if nearest
            else ""
        )
        print(f"clean    {label}: no indexed model within radius {v.radius}{near}")
        return
    word = "SUSPECT" if v.fails(policy) else "clean"
    print(f"{word:<8} {label}: {_summary(v)}")
    missing = _missing_line(v)
    if missing:
        print(missing)
    print("dist  id      name                     family       tier")
    for c in v.candidates:
        r = c.record
        fam = printable(r.label) if r.label else "-"
        print(
            f"{c.distance:>4}  #{r.id:<6} {printable(r.name):<24} {fam:<12} "
            f"{c.tier:<17} {printable(r.path)}"
        )
        line = _weights_line(c, v.weights is not None)
        if line:
            print(line)
        for e in c.evidence:  # what a plugin's evidence signal said (hnnframe.evidence)
            print(f"      {_evidence_line(e)}")


def _evidence_line(e: Any) -> str:
    return printable(EVIDENCE.build(e.signal).line(e))


def exit_status(verdicts: list[tuple[str, Any, list[Any]]], policy: str, unreadable: int) -> int:
    """1 when any readable upload is suspect, else 3 when any upload could not be read, else
    0 (docs/index-guide.md, "Exit status")."""
    if any(v.fails(policy) for _, v, _ in verdicts):
        return EXIT_SUSPECT
    return EXIT_UNREADABLE if unreadable else EXIT_CLEAN


def render(
    verdicts: list[tuple[str, Any, list[Any]]],
    policy: str,
    as_json: bool,
    failures: list[tuple[str, str]] | None = None,
    order: list[str] | None = None,
) -> int:
    """Print every verdict and one error line per upload that could not be read (``--json``:
    one list, uploads in the order given, a failed one as ``{"upload", "error"}``); the exit
    status (:func:`exit_status`)."""
    failures = failures or []
    status = exit_status(verdicts, policy, len(failures))
    if as_json:
        from hnnframe.index.report import verdict_dict

        rows = {label: verdict_dict(label, v, nearest, policy) for label, v, nearest in verdicts}
        rows.update(
            {label: {"upload": label, "error": err, "unreadable": True} for label, err in failures}
        )
        print_json([rows[label] for label in (order or list(rows))])
        return status
    for label, v, nearest in verdicts:
        _print_verdict(label, v, nearest, policy)
    for _label, err in failures:
        print(f"hnn: error: {printable(err)}", file=sys.stderr)
    return status


def _print_adapter(label: str, v: Any, policy: str) -> None:
    """An adapter's verdict: the architecture it fits and the indexed models it applies to."""
    word = "SUSPECT" if v.fails(policy) else "clean"
    what = v.verdict if v.fits else "no indexed model it can be applied to"
    print(f"{word:<8} {printable(label)}: {what}; {printable(v.adapter.describe())}")
    for r in v.fits:
        held = v.shared.get(r.id, 0)
        extra = f", holds {held} of its saved tensors" if held else ""
        if r.id in v.aligned:  # z of the lora_A rows along its weights (about 0 if unrelated)
            extra += f", lora_A alignment z = {v.aligned[r.id].z:g}"
        print(f"      fits #{r.id} {_who(r)}{extra} {printable(r.path)}")


def _check_adapters(idx: Any, labels: list[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Each PEFT adapter's verdict, or its own one-line error (the others go on)."""
    from hnnframe.index.batch import upload_error

    out, failures = {}, []
    for label in labels:
        try:
            out[label] = idx.check_adapter(label)
        except Exception as e:  # noqa: BLE001 - one upload's error, never the batch's
            failures.append((label, upload_error(label, e)))
    return out, failures


def cmd_check(args: argparse.Namespace) -> int:
    with open_index(args) as idx:
        # A PEFT adapter holds no model: it is checked by the models it fits.
        adapters, failures = _check_adapters(idx, [q for q in args.uploads if is_adapter(q)])
        models = [q for q in args.uploads if not q.startswith("hex:") and not is_adapter(q)]
        checked: dict[str, tuple[Any, Any]] = {}
        fp = None
        if models:  # every model is hashed and read before anything is searched
            hasher, _ = hasher_of(args, idx)
            fp = hasher.fingerprint
            pairs = idx.check_models(
                models,
                hasher,
                args.radius,
                weights=not args.no_weights,
                structure=args.structure,
                weight_threshold=args.weight_threshold,
                progress=len(models) > 3,
                errors="collect",
            )
            for label, (q, res) in zip(models, pairs, strict=True):
                if res is None:
                    failures.append((label, q.error))
                else:
                    checked[label] = (q, res)
        verdicts = []
        for label in args.uploads:
            if label in adapters:
                verdicts.append((label, adapters[label], []))
                continue
            if is_adapter(label):
                continue  # its error is in failures
            if label in checked:
                q, res = checked[label]
            elif label in models:
                continue
            else:
                q, res = label, idx.check(label, radius=args.radius, fingerprint=fp)
            nearest = res.matches[:1] or idx.search(q, k=1, fingerprint=fp)
            verdicts.append((label, res, nearest))
    return render(verdicts, args.fail_on, args.json, failures, list(args.uploads))
