"""Reading the corpus cache: records, the manifest, and one entry per distinct architecture.

Two candidates can be the same network under two names (a timm alias, torchvision's and timm's
``vgg16``): their raw graphs are equal up to node order (:meth:`OpGraph.structure_hash`). The
corpus keeps the first of them (torchvision before timm before transformers, then by key) as
the architecture and lists the others as its aliases, so a database holds one entry per
network.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hnnframe.corpus.catalog import family_group
from hnnframe.errors import HnnError
from hnnframe.files import atomic_write, cache_path
from hnnframe.ir import OpGraph

MANIFEST = "manifest.json"
_SOURCE_ORDER = {"torchvision": 0, "timm": 1, "hf": 2}


@dataclass
class CorpusEntry:
    """One distinct architecture of the corpus and its raw graph."""

    key: str
    spec: str
    source: str
    family: str
    group: str
    name: str
    graph: OpGraph = field(repr=False)
    params: int = 0
    flops: int = 0
    aliases: list[str] = field(default_factory=list)


def corpus_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir`` or ``$HNN_CACHE_DIR/corpus`` (default ``~/.cache/hnnframe/corpus``)."""
    return cache_path("corpus", cache_dir)


def records(cache_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Every record in the cache (ok, failed and filtered), without graphs, sorted by key."""
    out = []
    for p in sorted(corpus_dir(cache_dir).glob("*.json")):
        if p.name == MANIFEST:
            continue
        try:
            rec = json.loads(p.read_text())
        except ValueError:  # a record being written by another shard right now
            continue
        rec.pop("graph", None)
        out.append(rec)
    return out


def _distinct(ok: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Records of distinct architectures, and each kept key's aliases."""
    ordered = sorted(ok, key=lambda r: (_SOURCE_ORDER.get(r["source"], 9), r["key"]))
    first: dict[str, str] = {}
    aliases: dict[str, list[str]] = {}
    keep = []
    for r in ordered:
        s = r.get("structure") or r["key"]
        if s in first:
            aliases[first[s]].append(r["key"])
            continue
        first[s] = r["key"]
        aliases[r["key"]] = []
        keep.append(r)
    return sorted(keep, key=lambda r: r["key"]), aliases


def write_manifest(cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Rebuild ``manifest.json`` from the records: architectures, aliases, failures, sizes."""
    import platform

    out = corpus_dir(cache_dir)

    # Groups come from the family labels as the catalog maps them now, so a corrected alias
    # reaches records exported before it.
    recs = [
        {**r, "group": family_group(r["family"])} if r.get("family") else r for r in records(out)
    ]
    ok = [r for r in recs if r.get("status") == "ok"]
    keep, aliases = _distinct(ok)
    fields = (
        "key",
        "name",
        "spec",
        "source",
        "family",
        "group",
        "params",
        "flops",
        "nodes",
        "edges",
    )
    versions = {}
    for pkg in ("torch", "torchvision", "timm", "transformers", "onnx"):
        try:
            from importlib.metadata import version

            versions[pkg] = version(pkg)
        except Exception:
            versions[pkg] = None
    manifest = {
        "format": 1,
        "architectures": [
            {**{k: r.get(k) for k in fields}, "aliases": aliases[r["key"]]} for r in keep
        ],
        "failed": [
            {k: r.get(k) for k in ("key", "spec", "family", "error")}
            for r in recs
            if r.get("status") == "failed"
        ],
        "filtered": [
            {k: r.get(k) for k in ("key", "spec", "family", "error")}
            for r in recs
            if r.get("status") == "filtered"
        ],
        "summary": {
            "architectures": len(keep),
            "aliases": sum(len(a) for a in aliases.values()),
            "families": len({r["family"] for r in keep}),
            "groups": len({r["group"] for r in keep}),
            "failed": sum(r.get("status") == "failed" for r in recs),
            "filtered": sum(r.get("status") == "filtered" for r in recs),
            "by_source": dict(Counter(r["source"] for r in keep)),
            "export_seconds": round(sum(float(r.get("seconds", 0)) for r in recs), 1),
            "cache_bytes": sum(f.stat().st_size for f in out.iterdir() if f.is_file()),
        },
        "versions": {**versions, "python": platform.python_version()},
    }
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def read_manifest(cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    p = corpus_dir(cache_dir) / MANIFEST
    if not p.exists():
        raise HnnError(f"no corpus in {p.parent}; run `hnn corpus build`")
    return json.loads(p.read_text())


def load_corpus(
    cache_dir: str | os.PathLike[str] | None = None, keys: set[str] | None = None
) -> list[CorpusEntry]:
    """One :class:`CorpusEntry` per distinct architecture (graphs read from the records)."""
    out = corpus_dir(cache_dir)
    manifest = read_manifest(out)
    entries = []
    for a in manifest["architectures"]:
        if keys is not None and a["key"] not in keys:
            continue
        rec = json.loads((out / f"{a['key']}.json").read_text())
        entries.append(
            CorpusEntry(
                a["key"],
                a["spec"],
                a["source"],
                a["family"],
                family_group(a["family"]),
                a["name"],
                OpGraph.from_dict(rec["graph"]),
                int(a.get("params") or 0),
                int(a.get("flops") or 0),
                list(a.get("aliases") or []),
            )
        )
    if not entries:
        raise HnnError(f"the corpus in {out} holds no architecture")
    return entries
