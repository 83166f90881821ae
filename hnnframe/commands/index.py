"""``hnn index``: add, search and check models against a database of hash codes.

The database is a SQLite file by default, or a ``postgresql://`` URL for a shared deployment.
Commands that hash models (add, search, check, rehash) load the checkpoint the index is bound
to, so ``--checkpoint`` is needed only the first time (or to name a moved checkpoint file).
``add`` also stores the weight tier of files that carry weights, and ``check`` says which
tier an upload matched (:mod:`hnnframe.commands.index_check` prints it).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from hnnframe.commands.index_check import FAIL_ON_HELP, cmd_check
from hnnframe.commands.index_common import DB_ENV, hasher_of, open_index
from hnnframe.commands.limit_options import add_limit_options
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
        from hnnframe.index.batch import read_uploads

        # a weights file is hashed through its companion structure (--structure)
        ups = read_uploads(models, hasher, structure=args.structure, progress=len(models) > 3)
        for q, (r, _) in zip(models, ups, strict=True):
            hashed[q] = r
    return [(q, hashed.get(q, q)) for q in queries], fingerprint


def _rec_line(m: Any, same_arch: bool = False) -> str:
    r = m.record
    label = f" [{r.label}]" if r.label else ""
    tag = "  = same architecture" if same_arch else ""
    return (f"{m.distance:>4}  #{r.id:<6} {printable(r.name):<24}"
            f"{printable(label)} {printable(r.path)}{tag}")  # fmt: skip


def _same_arch(idx: Any, q: Any) -> list[Any]:
    """The indexed models of a query's architecture (equal digests), as matches with their
    structural distance to the query; none for a ``hex:`` query."""
    from hnnframe.codes import hamming
    from hnnframe.index import Match

    if isinstance(q, str):
        return []
    return [Match(hamming(bytes(q.code), r.code), r) for r in idx.same_architecture(q)]


# -- commands ---------------------------------------------------------------------------------------
def cmd_add(args: argparse.Namespace) -> int:
    meta = _parse_meta(args.meta)
    if args.chunk is not None and args.chunk < 1:
        raise IndexStoreError(f"--chunk must be at least 1, not {args.chunk}")
    with open_index(args, create=True) as idx:
        hasher, ckpt = hasher_of(args, idx)
        results = idx.add_models(
            args.models, hasher, checkpoint=ckpt, label=args.label, meta=meta,
            progress=not args.json, **({"chunk": args.chunk} if args.chunk is not None else {}),
            weights=not args.no_weights, structure=args.structure, weight_bits=args.weight_bits,
        )  # fmt: skip
    failed = [r for r in results if not r.ok]
    n = sum(r.added for r in results)
    if args.json:
        print_json({
            "db": idx.url, "added": n, "exists": len(results) - n - len(failed),
            "failed": len(failed), "results": [r.to_dict() for r in results],
        })  # fmt: skip
    else:
        for r in results:
            if r.ok:
                w = r.weights
                extra = (f"  + weights: {w['tensors']} tensors, {w['params']:,} parameters "
                         f"({w['format']})") if w else ""  # fmt: skip
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
        print_json([
            {"query": label, "code": getattr(q, "hex", q.removeprefix("hex:") if isinstance(q, str) else None),
             "graph_digest": getattr(q, "graph_digest", None),
             "config_digest": getattr(q, "config_digest", None),
             "matches": [{**m.to_dict(), "same_architecture": m.record.id in {a.record.id for a in arch}}
                         for m in ms],
             "same_architecture": [a.to_dict() for a in arch]}
            for label, q, ms, arch in out
        ])  # fmt: skip
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
        print(f"weights      {w['records']:,} record(s) with weights, Q={w['bits']}, "
              f"{w['digests']:,} tensor digests, {w['params']:,} parameters")  # fmt: skip
    if s["architecture_digests"] < s["records"]:
        print(f"architecture {s['records'] - s['architecture_digests']:,} record(s) without a "
              "digest (added before schema 3, or as bare codes): never 'same architecture' "
              "until `hnn index rehash`")  # fmt: skip
    if args.verify:
        print("verify       " + ("ok" if not s["problems"] else "; ".join(s["problems"])))
    return 1 if s.get("problems") else 0


def cmd_rehash(args: argparse.Namespace) -> int:
    from hnnframe.hashing import Hasher

    with open_index(args) as idx:
        hasher = Hasher.from_checkpoint(args.checkpoint, device=args.device)
        res = idx.rehash(
            hasher, checkpoint=args.checkpoint, drop_missing=args.drop_missing,
            progress=not args.json,
        )  # fmt: skip
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
def register(sub: Any) -> None:
    """Add ``hnn index`` and its subcommands."""
    ix = sub.add_parser(
        "index",
        help="add, search and check models against a database of hash codes",
        description="A database of model hash codes: add models, search the nearest ones by "
        "Hamming distance, and check an upload for suspected copies. " + EPILOG,
    )
    isub = ix.add_subparsers(dest="index_command", metavar="INDEX_COMMAND", required=True)

    def common(p: argparse.ArgumentParser, json_help: str = "print JSON instead of text") -> None:
        p.add_argument(
            "--db",
            default=os.environ.get(DB_ENV),
            help=f"index file or postgresql:// URL (${DB_ENV})",
        )
        p.add_argument("--json", action="store_true", help=json_help)

    def weight_args(p: argparse.ArgumentParser, cmd: str) -> None:
        p.add_argument(
            "--structure",
            metavar="SOURCE",
            help="the architecture of weights files (.safetensors, state dicts), which have "
            "none: an ONNX file, a config.json, timm:NAME... (default: the config.json beside "
            "the file)",
        )
        p.add_argument(
            "--no-weights",
            action="store_true",
            help=f"{cmd} by structure (and sha256) only: read no weights",
        )

    def hashing(p: argparse.ArgumentParser, ckpt_help: str) -> None:
        p.add_argument("--checkpoint", metavar="CKPT", help=ckpt_help)
        p.add_argument("--device", default="cpu", help="torch device for hashing (default cpu)")

    a = isub.add_parser(
        "add",
        help="hash models and add them to the index",
        description="Hash models with the checkpoint and add them, committing every --chunk "
        "models, so an interrupted batch keeps what it committed. A model whose file (sha256) "
        "is already indexed is reported as 'exists', left unchanged and not hashed again, so a "
        "rerun of a batch hashes only the rest. A model that cannot be read is named on stderr "
        "(hnn: error: PATH: reason) and skipped; the others are added and the exit status is 1. "
        "Exit status 2: an error that stops the whole command (another checkpoint or Q, an "
        "unreadable index). The first add creates the index and binds it to the checkpoint. "
        + EPILOG,
    )
    a.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help=".onnx, TorchScript, a GGUF file, torchvision:NAME, timm:NAME, hf:TYPE, a "
        "config.json, a snapshot directory (config.json with model.safetensors, shards or "
        "pytorch_model.bin: one record named after the directory, keyed by its weights), or "
        "a weights file or directory of weights with --structure",
    )
    hashing(a, "model.pt from `hnn train` (default: the checkpoint the index is bound to)")
    a.add_argument("--label", help="a label stored with every added model (e.g. zoo, licence)")
    a.add_argument(
        "--meta",
        action="append",
        metavar="KEY=VALUE",
        help="metadata stored with every added model (repeatable)",
    )
    weight_args(a, "add")
    a.add_argument(
        "--weight-bits",
        type=int,
        metavar="Q",
        help="Q of the weight codes of an index that holds none yet (default 256; a Q with a "
        "threshold in hnnframe/weights/threshold.json); later adds use the index's",
    )
    a.add_argument(
        "--chunk",
        type=int,
        metavar="N",
        # The default lives in hnnframe.index.core.ADD_CHUNK; importing it here would load
        # numpy whenever the parser is built.
        help="models hashed and committed per transaction (default 32)",
    )
    common(a)
    add_limit_options(a)
    a.set_defaults(func=cmd_add)

    s = isub.add_parser(
        "search",
        help="the k indexed models nearest to each query",
        description="Hash each QUERY (a model file, a named source such as torchvision:NAME, "
        "hex:CODE for a code already computed, or id:N for the code of indexed record N) and print the k nearest indexed models by Hamming distance, ties "
        "broken by order of addition; an indexed model of the query's architecture (the same "
        "canonical graph, or config architecture fields) is marked '= same architecture' and "
        "listed even beyond the k nearest. " + EPILOG,
    )
    s.add_argument("queries", nargs="+", metavar="QUERY", help="a model, hex:CODE or id:N")
    s.add_argument("-k", type=int, default=10, help="matches per query (default 10)")
    s.add_argument(
        "--structure",
        metavar="SOURCE",
        help="the architecture of queries that are weights files (default: the config.json "
        "beside the file)",
    )
    s.add_argument("--radius", type=int, help="only matches within this Hamming distance")
    hashing(s, "hash queries with this checkpoint (must be the index's; default: the index's)")
    common(s)
    add_limit_options(s)
    s.set_defaults(func=cmd_search)

    c = isub.add_parser(
        "check",
        help="is an upload a copy of an indexed model, and on which tier? (exit 1: copy)",
        description="Hash the upload (and read its weights, when it carries them and the index "
        "holds some) and list every indexed model it matches, each with the strongest tier: "
        "exact file (sha256), exact tensors (tensor digests), weight match (weight codes "
        "within the shipped threshold, whose false-positive rate is printed), same "
        "architecture (the same digest of the canonical graph, or of a config's architecture "
        "fields), or structure only (structural code within --radius, default Q/8). Exit "
        "status 1: a suspected copy under --fail-on (by default a weight-level tier, or a "
        "structural neighbour whose weights the index does not hold); 0: none (an "
        "independently trained model of the same architecture is same architecture with "
        "other weights, and exits 0); 2: error (an upload that cannot be "
        "parsed, an unreadable index, a checkpoint mismatch). A PEFT adapter directory is "
        "checked by what it fits: the base architecture named from its tensor shapes, the "
        "indexed models it can be applied to, and 'adapter for #N' (exit 1). " + EPILOG,
    )
    c.add_argument("uploads", nargs="+", metavar="UPLOAD",
                   help="a model (file, snapshot directory, GGUF), a PEFT adapter directory, "
                   "or hex:CODE")  # fmt: skip
    c.add_argument(
        "--radius", type=int, help="largest structural distance that counts (default Q/8)"
    )
    c.add_argument(
        "--fail-on",
        choices=list(FAIL_ON_HELP),
        default="auto",
        help="which candidates make exit status 1: "
        + "; ".join(f"{k}: {v}" for k, v in FAIL_ON_HELP.items()),
    )
    c.add_argument(
        "--weight-threshold",
        type=int,
        metavar="T",
        help="Hamming threshold of a weight match (default: the shipped one, measured on the "
        "weight test bed, whose false-positive rate is printed)",
    )
    weight_args(c, "check")
    hashing(c, "hash with this checkpoint (must be the index's; default: the index's)")
    common(c)
    add_limit_options(c)
    c.set_defaults(func=cmd_check)

    ls = isub.add_parser(
        "list", help="list indexed models", description="List indexed models in order of addition."
    )
    ls.add_argument("--label", help="only models with this label")
    ls.add_argument(
        "--category", help="only models the hashing network put in this group (not shown)"
    )
    ls.add_argument("--limit", type=int, help="at most this many")
    ls.add_argument("--offset", type=int, default=0, help="skip this many first")
    common(ls)
    ls.set_defaults(func=cmd_list)

    rm = isub.add_parser(
        "remove",
        help="remove models from the index",
        description="Remove records by id or sha256 (a unique prefix of 8+ hex digits will "
        "do), and/or every record with --label, in one transaction: if one RECORD matches "
        "nothing, nothing is removed.",
    )
    rm.add_argument("records", nargs="*", metavar="RECORD", help="record id or sha256")
    rm.add_argument("--label", help="remove every record with this label")
    common(rm)
    rm.set_defaults(func=cmd_remove)

    st = isub.add_parser(
        "stats",
        help="record count, binding, labels, size",
        description="Summarise the index. --verify also runs a full integrity check (SQLite "
        "integrity_check, code lengths, fingerprints) and exits 1 if it finds a problem.",
    )
    st.add_argument("--verify", action="store_true", help="run a full integrity check")
    common(st)
    st.set_defaults(func=cmd_stats)

    rh = isub.add_parser(
        "rehash",
        help="re-hash every indexed model with a new checkpoint",
        description="Hash every indexed model again (from its stored path) with a new "
        "checkpoint, then replace all codes and bind the index to the new checkpoint in one "
        "transaction. Fails, changing nothing, if a model file is gone or changed, unless "
        "--drop-missing removes those records.",
    )
    rh.add_argument("--checkpoint", metavar="CKPT", required=True, help="the new model.pt")
    rh.add_argument("--device", default="cpu", help="torch device for hashing (default cpu)")
    rh.add_argument(
        "--drop-missing",
        action="store_true",
        help="remove records whose model file is gone or changed",
    )
    common(rh)
    rh.set_defaults(func=cmd_rehash)
