"""``hnn index``: add, search and check models against a database of hash codes.

The database is a SQLite file by default, or a ``postgresql://`` URL for a shared deployment.
Commands that hash models (add, search, check, rehash) load the checkpoint the index is bound
to, so ``--checkpoint`` is needed only the first time (or to name a moved checkpoint file).
``add`` also stores the weight tier of files that carry weights, and ``check`` says which
tier an upload matched (:mod:`hnnframe.commands.index_check` prints it).
"""

from __future__ import annotations

import argparse
from typing import Any

from hnnframe.commands.index_common import hasher_of, open_index
from hnnframe.commands.output import print_json, printable, report_failures
from hnnframe.errors import IndexStoreError

EPILOG = (
    "DB is a SQLite file path (created by the first add) or postgresql://user:pw@host/db"
    "[?schema=NAME]; it defaults to $HNN_INDEX_DB. An index is bound to the checkpoint that "
    "made its codes: codes from another checkpoint or Q are refused (see `hnn index rehash`)."
)


def _parse_meta(items: list[str] | None) -> dict[str, str]:
    meta: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise IndexStoreError(f"--meta expects key=value, got {item!r}")
        meta[key.strip()] = value
    return meta


def _hash_queries(
    args: argparse.Namespace, idx: Any, queries: list[str]
) -> tuple[list[tuple[str, Any]], str | None]:
    """``(label, query)`` per QUERY, and the hasher's fingerprint: ``hex:CODE`` as a code,
    ``id:N`` as the code of stored record N, anything else hashed as a model.

    Every model is hashed (so parsed) before anything is searched.
    """
    hashed: dict[str, Any] = {}
    for q in queries:  # a stored record's code: no checkpoint, no torch
        if q.startswith("id:"):
            rid = q.removeprefix("id:")
            if not rid.isdigit():
                raise IndexStoreError(f"{q!r}: id: takes a record id (a number)")
            hashed[q] = idx.get(int(rid))
    models = [q for q in queries if not q.startswith(("hex:", "id:"))]
    fingerprint = None
    if models:
        hasher, _ = hasher_of(args, idx)
        fingerprint = hasher.fingerprint
        idx.ensure_compatible(hasher.bits, fingerprint)
        from hnnframe.upload import describe_uploads

        # a weights file is hashed through its companion structure (--structure)
        ups = describe_uploads(models, hasher, structure=args.structure, progress=len(models) > 3)
        hashed.update(zip(models, ups, strict=True))
    return [(q, hashed.get(q, q)) for q in queries], fingerprint


def _rec_line(m: Any, same_arch: bool = False) -> str:
    r = m.record
    label = f" [{r.label}]" if r.label else ""
    tag = "  = same architecture" if same_arch else ""
    return (
        f"{m.distance:>4}  #{r.id:<6} {printable(r.name):<24}"
        f"{printable(label)} {printable(r.path)}{tag}"
    )


def _same_arch(idx: Any, q: Any) -> list[Any]:
    """The indexed models of a query's architecture (equal digests), as matches with their
    structural distance to the query; none for a ``hex:`` query."""
    from hnnframe.codes import hamming
    from hnnframe.index import Match

    if isinstance(q, str):
        return []
    return [Match(hamming(bytes(q.code), r.code), r) for r in idx.same_architecture(q)]


def _weights_note(w: dict[str, Any]) -> str:
    """What ``add`` prints of an added model's weights."""
    return f"  + weights: {w['tensors']} tensors, {w['params']:,} parameters ({w['format']})"


def _search_dict(label: str, q: Any, ms: list[Any], arch: list[Any]) -> dict[str, Any]:
    """One query of ``search --json``: its code and digests, its matches (each saying whether
    it is of the query's architecture) and the indexed models of its architecture."""
    same = {a.record.id for a in arch}
    return {
        "query": label,
        "code": q.removeprefix("hex:") if isinstance(q, str) else getattr(q, "hex", None),
        "graph_digest": getattr(q, "graph_digest", None),
        "config_digest": getattr(q, "config_digest", None),
        "matches": [{**m.to_dict(), "same_architecture": m.record.id in same} for m in ms],
        "same_architecture": [a.to_dict() for a in arch],
    }


# -- commands ---------------------------------------------------------------------------------------
def cmd_add(args: argparse.Namespace) -> int:
    meta = _parse_meta(args.meta)
    if args.chunk is not None and args.chunk < 1:
        raise IndexStoreError(f"--chunk must be at least 1, not {args.chunk}")
    with open_index(args, create=True) as idx:
        hasher, ckpt = hasher_of(args, idx)
        results = idx.add_models(
            args.models,
            hasher,
            checkpoint=ckpt,
            label=args.label,
            meta=meta,
            progress=not args.json,
            **({"chunk": args.chunk} if args.chunk is not None else {}),
            weights=not args.no_weights,
            structure=args.structure,
            weight_bits=args.weight_bits,
        )
    failed = [r for r in results if not r.ok]
    n = sum(r.added for r in results)
    if args.json:
        print_json(
            {
                "db": idx.url,
                "added": n,
                "exists": len(results) - n - len(failed),
                "failed": len(failed),
                "results": [r.to_dict() for r in results],
            }
        )
    else:
        for r in results:
            if r.ok:
                w = r.weights
                extra = _weights_note(w) if w else ""
                print(f"{'added ' if r.added else 'exists'}  #{r.id:<6} {printable(r.name)}{extra}")
        tail = f", {len(failed)} failed" if failed else ""
        print(f"{n} added, {len(results) - n - len(failed)} already in {idx.url}{tail}")
    return report_failures(r.to_dict() for r in failed)


def cmd_search(args: argparse.Namespace) -> int:
    with open_index(args) as idx:
        queries, fp = _hash_queries(args, idx, args.queries)
        out = []
        for label, q in queries:
            matches = idx.search(q, k=args.k, radius=args.radius, fingerprint=fp)
            out.append((label, q, matches, _same_arch(idx, q)))
    if args.json:
        print_json([_search_dict(*row) for row in out])
        return 0
    for label, q, ms, arch in out:
        extra = f"  ({q.hex})" if hasattr(q, "hex") else ""
        print(f"query {printable(label)}{extra}")
        if not ms:
            print(
                "   no match" + (f" within radius {args.radius}" if args.radius is not None else "")
            )
        ids = {a.record.id for a in arch}
        for m in ms:
            print(_rec_line(m, m.record.id in ids))
        rest = [a for a in arch if a.record.id not in {m.record.id for m in ms}]
        if rest:
            print(f"   same architecture, beyond the {len(ms)} shown:")
            for a in rest:
                print(_rec_line(a, True))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with open_index(args) as idx:
        recs = idx.list(
            label=args.label, category=args.category, limit=args.limit, offset=args.offset
        )
    if args.json:
        print_json([r.to_dict() for r in recs])
        return 0
    # The hashing network's predicted category is left out (as in `hash` and `check`): it
    # names one of its training groups whatever the model is. The family is the label.
    print(f"{'id':>6}  {'name':<24} {'family':<12} {'code':<18} path")
    for r in recs:
        code = r.hex if len(r.hex) <= 16 else r.hex[:15] + "…"
        name, label, path = printable(r.name), printable(r.label or "-"), printable(r.path)
        print(f"{r.id:>6}  {name:<24} {label:<12} {code:<18} {path}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    if not args.records and args.label is None:
        raise IndexStoreError("name records to remove (ids or sha256) or pass --label")
    with open_index(args) as idx:
        removed = idx.remove(args.records, label=args.label)
    if args.json:
        print_json({"removed": removed})
    else:
        print(f"removed {len(removed)} record(s) from {idx.url}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with open_index(args) as idx:
        s = idx.stats()
        if args.verify:
            s["problems"] = idx.verify()
    if args.json:
        print_json(s)
        return 1 if s.get("problems") else 0
    print(f"index        {s['url']} ({s['backend']}, schema {s['schema_version']})")
    print(f"records      {s['records']:,}")
    if s["fingerprint"]:
        print(f"bound to     {s['fingerprint'][:16]}… Q={s['bits']} {s['checkpoint'] or ''}")
    else:
        print("bound to     nothing yet (the first add binds it)")
    if s["bytes"] is not None:
        print(f"size         {s['bytes'] / 1e6:.2f} MB")
    if s["labels"]:
        print("labels       " + ", ".join(f"{k or '-'} {v}" for k, v in s["labels"].items()))
    w = s["weights"]
    if w["records"]:
        print(
            f"weights      {w['records']:,} record(s) with weights, Q={w['bits']}, "
            f"{w['digests']:,} tensor digests, {w['params']:,} parameters"
        )
    if s["architecture_digests"] < s["records"]:
        print(
            f"architecture {s['records'] - s['architecture_digests']:,} record(s) without a "
            "digest (added before schema 3, or as bare codes): never 'same architecture' "
            "until `hnn index rehash`"
        )
    if args.verify:
        print("verify       " + ("ok" if not s["problems"] else "; ".join(s["problems"])))
    return 1 if s.get("problems") else 0


def cmd_rehash(args: argparse.Namespace) -> int:
    from hnnframe.hashing import Hasher

    with open_index(args) as idx:
        hasher = Hasher.from_checkpoint(args.checkpoint, device=args.device)
        res = idx.rehash(
            hasher,
            checkpoint=args.checkpoint,
            drop_missing=args.drop_missing,
            progress=not args.json,
        )
    if args.json:
        print_json(res)
        return 0
    print(
        f"re-hashed {res['rehashed']} record(s) with {args.checkpoint} "
        f"(Q={res['bits']}, fingerprint {res['fingerprint'][:16]}…)"
    )
    for p in res["dropped"]:
        print(f"dropped   {p}")
    return 0


# -- parser -----------------------------------------------------------------------------------------
