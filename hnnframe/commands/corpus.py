"""``hnn corpus``: the hub corpus of protocol (c) — build it, list it, summarise it."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

from hnnframe.commands.options import add_cache_option, add_jobs_option, add_json_option
from hnnframe.commands.output import print_json


def cmd_corpus_build(args: argparse.Namespace) -> int:
    from hnnframe.corpus import build_corpus, candidates, corpus_dir, parse_shard
    from hnnframe.corpus.catalog import candidate_for

    shard = parse_shard(args.shard)
    if args.spec:
        cands = [candidate_for(s) for s in args.spec]
    else:
        cands = candidates(
            [s.strip() for s in args.sources.split(",") if s.strip()], per_family=args.per_family
        )
    t0 = time.perf_counter()
    manifest = build_corpus(
        cands,
        args.cache,
        jobs=args.jobs,
        shard=shard,
        max_params=args.max_params,
        max_nodes=args.max_nodes,
        timeout=args.timeout,
        retry_failed=args.retry_failed,
        progress=not args.json,
    )
    manifest["this_build"]["seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print_json(
            {
                "cache": str(corpus_dir(args.cache)),
                "summary": manifest["summary"],
                "this_build": manifest["this_build"],
                "failed": manifest["failed"],
            }
        )
        return 0
    s, b = manifest["summary"], manifest["this_build"]
    print(
        f"corpus {corpus_dir(args.cache)}: {s['architectures']} architectures "
        f"({s['aliases']} aliases) in {s['families']} families ({s['groups']} groups); "
        f"{s['failed']} failed, {s['filtered']} filtered by size; "
        f"{s['cache_bytes'] / 1e6:.1f} MB"
    )
    print(
        f"this build (shard {b['shard']}): {b['exported_now']} of {b['candidates']} exported "
        f"now in {b['seconds']:.0f} s ({b['ok']} ok, {b['failed']} failed, "
        f"{b['filtered']} filtered)"
    )
    return 0


def cmd_corpus_list(args: argparse.Namespace) -> int:
    from hnnframe.corpus import read_manifest

    m = read_manifest(args.cache)
    rows = [
        a for a in m["architectures"] if not args.family or args.family in (a["family"], a["group"])
    ]
    if args.json:
        print_json(rows)
        return 0
    print(f"{'key':<44} {'family':<28} {'params':>13} {'nodes':>6}")
    for a in rows:
        print(f"{a['key']:<44} {a['family']:<28} {a['params'] or 0:>13,} {a['nodes'] or 0:>6}")
    return 0


def cmd_corpus_stats(args: argparse.Namespace) -> int:
    from hnnframe.corpus import read_manifest

    m = read_manifest(args.cache)
    groups = Counter(a["group"] for a in m["architectures"])
    if args.json:
        print_json(
            {
                **m["summary"],
                "per_group": dict(groups.most_common()),
                "failed": m["failed"],
                "versions": m["versions"],
            }
        )
        return 0
    for k, v in m["summary"].items():
        print(f"{k:<16} {v}")
    print("groups           " + ", ".join(f"{g} {n}" for g, n in groups.most_common()))
    for f in m["failed"]:
        print(f"failed  {f['spec']}: {f['error']}")
    return 0


def register(sub: Any) -> None:
    c = sub.add_parser(
        "corpus",
        help="the hub corpus: hundreds of architectures, graphs only",
        description="Build and inspect the hub corpus of protocol (c): "
        "torchvision, timm and transformers architectures exported without "
        "weights, with a family label each.",
    )
    csub = c.add_subparsers(dest="corpus_command", metavar="CORPUS_COMMAND", required=True)
    _build(csub)
    ls = csub.add_parser(
        "list",
        help="the corpus's architectures",
        description="One line per distinct architecture of the manifest.",
    )
    ls.add_argument("--family", help="only this family or group")
    add_cache_option(ls, "corpus", flag="--cache")
    add_json_option(ls)
    ls.set_defaults(func=cmd_corpus_list)
    st = csub.add_parser(
        "stats",
        help="the manifest's summary, groups and failures",
        description="Counts, sizes, groups and the failure log.",
    )
    add_cache_option(st, "corpus", flag="--cache")
    add_json_option(st)
    st.set_defaults(func=cmd_corpus_stats)


def _build(csub: Any) -> None:
    """The parser of ``hnn corpus build``."""
    b = csub.add_parser(
        "build",
        help="export the candidate architectures and cache their graphs (resumable)",
        description="Export every candidate architecture (or --spec ones) once, weight-stripped, "
        "into the cache; one that fails is recorded with its error and skipped; one over the "
        "size limits is recorded as filtered. A killed build resumes where it stopped. "
        "--shard I/N builds one share of the candidates so several machines can fill one "
        "shared cache; the manifest is rebuilt from all records at the end.",
    )
    b.add_argument(
        "--sources",
        default="torchvision,timm,hf",
        help="comma-separated sources (default torchvision,timm,hf)",
    )
    b.add_argument(
        "--spec",
        action="append",
        help="build exactly this named source (repeatable), e.g. timm:resnet18",
    )
    b.add_argument(
        "--per-family",
        type=int,
        default=4,
        help="timm names per model module, spread over its sizes (default 4)",
    )
    b.add_argument(
        "--max-params",
        type=int,
        default=100_000_000,
        help="skip architectures with more parameters (default 100M; 0: no limit)",
    )
    b.add_argument(
        "--max-nodes",
        type=int,
        default=5000,
        help="skip graphs with more ONNX nodes (default 5000; 0: no limit)",
    )
    b.add_argument("--timeout", type=int, default=600, help="seconds per export (default 600)")
    add_jobs_option(b, "exports")
    b.add_argument("--shard", metavar="I/N", help="build only share I of N (0-based)")
    b.add_argument("--retry-failed", action="store_true", help="export failed ones again")
    add_cache_option(b, "corpus", flag="--cache")
    add_json_option(b, "print a JSON summary, no progress bar")
    b.set_defaults(func=cmd_corpus_build)
