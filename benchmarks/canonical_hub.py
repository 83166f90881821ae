"""Canonicalisation beyond the zoo: hub architectures through other exporters and tools.

For a set of architectures (:mod:`canonical_sets`: the fixed set of 43 small timm and
transformers architectures by default, ``--corpus`` for every candidate of the hub corpus under
``hnn corpus build``'s size limits, ``--generality`` for networks the corpus does not hold),
every transform of :mod:`hnnframe.variants` makes a copy with the real tool, and each copy is
compared after hnnframe's canonicalisation with two TorchScript references: the unfolded,
training-preserving export (``VariantSource.reference``) and the folded one (``bn_folded``).
:mod:`canonical_report` compares; :mod:`canonical_markdown` writes the tables: per tool,
per family, and each copy that still differs with its op-level reason. ``corpus`` is the graph
the hub corpus holds (``export_source``: the meta-device dynamo export for transformers, the
TorchScript export for timm and torchvision). **before** columns run the passes and graph
reader of ``--baseline-rev`` on the same ONNX files in a subprocess.

    python benchmarks/canonical_hub.py --cache /tmp/hnn-canon-hub --baseline-rev 62e3c68 \
        --out docs/canonical_hub.md
    python benchmarks/canonical_hub.py --corpus --jobs 8 --shard 0/4 --cache /shared/canon

Everything is cached in ``--cache`` per file and written atomically (exports, variants,
parameter counts, prepared graphs), so a rerun only makes what is missing, and several shards
or machines can fill one cache; a last run without ``--shard`` writes the whole report.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import command as bench_command
from _common import machine
from canonical_report import CORPUS, FOLDED, REFERENCE

if TYPE_CHECKING:
    from hnnframe.corpus.catalog import Candidate

TRANSFORMS = [
    "dynamo",
    "dynamo_noopt",
    "dynamo_opset23",
    "attention",
    "opset11",
    FOLDED,
    "version_converter",
    "onnxsim",
    "onnxslim",
    "ort_basic",
    "ort_extended",
    "ort_transformer",
    "fp16",
    "converter_fp16",
    "ort_fp16",
    "ort_dynamic",
    "qdq",
]
SOURCE_TIMEOUT = 3600  # seconds for one architecture's exports and copies


class _Timeout(BaseException):
    """A source's time limit; a BaseException so that no tool's ``except Exception`` eats it."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def _export(kind: str, c: Candidate, cache: Path, corpus_dir: Path | None) -> Any:
    """The path of the reference or corpus export (made once, then cached), or its error."""
    import onnx

    from hnnframe.files import atomic_write
    from hnnframe.frontends import export_source, strip_weights
    from hnnframe.variants import VariantSource

    if kind == CORPUS and corpus_dir is not None and (corpus_dir / f"{c.key}.onnx").exists():
        return str(corpus_dir / f"{c.key}.onnx")  # the built corpus's own file
    path = cache / kind / f"{c.key}.onnx"
    err = path.with_suffix(".error")
    if not path.exists() and not err.exists():
        try:
            if kind == REFERENCE:
                m = onnx.ModelProto()
                m.CopyFrom(VariantSource(c.spec, c.key).reference())
                proto = strip_weights(m)
            else:
                proto = export_source(c.spec)
            atomic_write(path, proto.SerializeToString(), mkdir=True)
        except Exception as e:  # a model that does not export: recorded, not fatal
            atomic_write(err, f"{type(e).__name__}: {e}".encode()[:400], mkdir=True)
    return str(path) if path.exists() else {"error": err.read_text()}


def _size_check(c: Candidate, corpus_file: Any, cache: Path, limits: dict[str, int]) -> str:
    """Why ``hnn corpus build`` would leave the candidate out (``""``: it would keep it):
    parameters counted on the meta device first, then the exported graph's parameters and
    nodes (:func:`hnnframe.corpus.build.export_candidate`'s order). The zoo is never left out."""
    from canonical_sets import param_count

    from hnnframe.frontends.torchvision import TABLE1

    if c.spec in {f"torchvision:{e.name}" for e in TABLE1}:
        return ""
    mp, mn = limits["max_params"], limits["max_nodes"]
    n = param_count(c, cache) if mp else None
    if n is not None and n > mp:
        return f"{n:,} parameters > {mp:,}"
    if not isinstance(corpus_file, str):
        return ""
    sizes = cache / CORPUS / f"{c.key}.sizes.json"  # the graph's, read once
    if not sizes.exists():
        from hnnframe.files import atomic_write
        from hnnframe.frontends import load_onnx_file
        from hnnframe.ir import from_onnx

        g = from_onnx(load_onnx_file(Path(corpus_file)), c.name)
        atomic_write(sizes, json.dumps([g.total_params, g.num_nodes]).encode(), mkdir=True)
    params, nodes = json.loads(sizes.read_text())
    if mp and params > mp:
        return f"{params:,} parameters > {mp:,}"
    return f"{nodes:,} nodes > {mn:,}" if mn and nodes > mn else ""


def _marker(cache: Path, key: str) -> Path:
    """Where :func:`build_source` notes an architecture as done: per version of the variant
    code, whose change may retry a cached failure (:func:`hnnframe.variants.cache.load_cached`)."""
    from hnnframe.variants.cache import maker_version

    return cache / "built" / maker_version() / f"{key}.json"


def built_before(
    c: Candidate,
    transforms: Sequence[str],
    cache: Path,
    limits: Any,
    corpus_dir: Any,
    any_maker: bool = False,
) -> dict[str, Any] | None:
    """:func:`build_source`'s answer from its note, when an earlier run made everything asked
    for now (no worker process needed), else None. ``any_maker``: the newest note of any
    version of the variant code (``--cached-only``: report what a running build has made)."""
    path = _marker(cache, c.key)
    if any_maker:
        notes = sorted((cache / "built").glob(f"*/{c.key}.json"), key=lambda p: p.stat().st_mtime)
        path = notes[-1] if notes else path
    if not path.exists():
        return None
    rec = json.loads(path.read_text())
    if rec["limits"] != limits or rec["corpus_dir"] != corpus_dir:
        return None
    if rec["status"] == "ok" and not set(transforms) <= set(rec["files"]):
        return None
    keep = {REFERENCE, CORPUS, *transforms}
    return {**rec, "files": {k: v for k, v in rec["files"].items() if k in keep}}


def _made(
    c: Candidate,
    transforms: Sequence[str],
    root: Path,
    limits: dict[str, int] | None,
    corpus_dir: str | None,
    quiet: bool,
) -> dict[str, Any]:
    """:func:`build_source`'s work: size limits, the two exports, the copies."""
    from hnnframe.variants import build_variants

    if limits and (why := _size_check(c, None, root, limits)):
        return {"status": "filtered", "error": why, "files": {}}
    files = {CORPUS: _export(CORPUS, c, root, Path(corpus_dir) if corpus_dir else None)}
    if limits and (why := _size_check(c, files[CORPUS], root, limits)):
        return {"status": "filtered", "error": why, "files": {}}
    files[REFERENCE] = _export(REFERENCE, c, root, None)
    out = build_variants([(c.key, c.spec)], transforms, root / "variants", progress=not quiet)
    for t in transforms:
        v, path = out[(t, c.key)], root / "variants" / t / f"{c.key}.onnx"
        files[t] = str(path) if v.ok and path.exists() else {"error": v.error}
    return {"status": "ok", "error": "", "files": files}


def build_source(
    c: Candidate,
    transforms: Sequence[str],
    cache: str,
    limits: dict[str, int] | None,
    corpus_dir: str | None,
    quiet: bool = True,
) -> dict[str, Any]:
    """One architecture (runs in a worker process): ``{status, error, files}``, ``files``
    mapping ``reference``, ``corpus`` and each transform to an ONNX path or ``{error}``."""
    import torch

    from hnnframe.files import atomic_write

    torch.set_num_threads(1)  # a shared machine; every tool here runs single-threaded
    root = Path(cache)
    timed_out = root / "status" / f"{c.key}.json"
    if timed_out.exists():
        return json.loads(timed_out.read_text())
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SOURCE_TIMEOUT)
    try:
        rec = _made(c, transforms, root, limits, corpus_dir, quiet)
        note = {**rec, "limits": limits, "corpus_dir": corpus_dir}
        atomic_write(_marker(root, c.key), json.dumps(note).encode(), mkdir=True)
        return rec
    except _Timeout:
        rec = {"status": "failed", "error": f"took longer than {SOURCE_TIMEOUT} s", "files": {}}
        atomic_write(timed_out, json.dumps(rec).encode(), mkdir=True)
        return rec
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def build(
    cands: Sequence[Candidate],
    transforms: Sequence[str],
    cache: Path,
    jobs: int,
    limits: dict[str, int] | None,
    corpus_dir: Path | None,
) -> dict[str, Any]:
    """:func:`build_source` of every candidate, in ``jobs`` worker processes; fresh workers
    every few architectures, as ``hnn corpus build`` does (exporters' caches grow)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    args = (list(transforms), str(cache), limits, str(corpus_dir) if corpus_dir else None)
    out: dict[str, Any] = {}
    for c in cands:
        if (rec := built_before(c, transforms, cache, limits, args[3])) is not None:
            out[c.key] = rec
    todo = [c for c in cands if c.key not in out]
    bar = tqdm(total=len(cands), initial=len(out), desc="architectures", unit="arch")
    batch = max(1, jobs) * 12
    for start in range(0, len(todo), batch):
        part = todo[start : start + batch]
        with ProcessPoolExecutor(max(1, jobs), mp_context=mp.get_context("spawn")) as ex:
            futs = {ex.submit(build_source, c, *args): c for c in part}
            for fut in as_completed(futs):
                c = futs[fut]
                try:
                    out[c.key] = fut.result()
                except Exception as e:  # a worker died (out of memory, segfault)
                    out[c.key] = {"status": "failed", "error": f"worker died: {e}", "files": {}}
                bar.set_postfix_str(f"{c.name} {out[c.key]['status']}")
                bar.update(1)
    bar.close()
    return {c.key: out[c.key] for c in cands}


def sources(args: argparse.Namespace, cache: Path) -> tuple[list[Candidate], str, str]:
    """The set the options name, its name, and a line saying where it came from."""
    from canonical_sets import HF, TIMM, corpus_set, fixed_set, generality_set, manifest_set

    if args.corpus_manifest:
        cands = manifest_set(Path(args.corpus_manifest))
        return cands, "corpus", f"The distinct architectures of `{args.corpus_manifest}`."
    if args.corpus:
        return corpus_set(), "corpus", "Every candidate of the hub corpus catalog."
    if args.generality:
        cands, note = generality_set(cache)
        return cands, "generality", note
    timm_names = args.timm.split(",") if args.timm else TIMM
    hf_types = args.hf.split(",") if args.hf else HF
    return fixed_set(timm_names, hf_types), "fixed", "The fixed set of small architectures."


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--cache", default="/tmp/hnn-canon-hub", help="export and variant cache")
    ap.add_argument("--baseline-rev", default="62e3c68", help="git revision of 'before'")
    ap.add_argument("--no-baseline", action="store_true", help="skip the 'before' columns")
    ap.add_argument("--timm", help="comma-separated timm names (default the fixed set)")
    ap.add_argument("--hf", help="comma-separated transformers model types (default the set)")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--corpus", action="store_true", help="every hub corpus candidate")
    which.add_argument("--corpus-manifest", help="the architectures of a built manifest.json")
    which.add_argument("--generality", action="store_true", help="networks not in the corpus")
    ap.add_argument("--max-params", type=int, default=None, help="corpus size limit")
    ap.add_argument("--max-nodes", type=int, default=None, help="corpus node limit")
    ap.add_argument("--shard", metavar="I/N", help="only share I of N of the architectures")
    ap.add_argument("--families", help="comma-separated families only (timm.resnet, hf.bert)")
    ap.add_argument("--limit", type=int, help="only the first N architectures")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument(
        "--cached-only",
        action="store_true",
        help="report only the architectures whose copies are all in --cache (a run still "
        "filling it elsewhere); the report says how many of the set that is",
    )
    ap.add_argument("--transforms", help="comma-separated transforms (default the set)")
    ap.add_argument("--out", help="markdown file to write (docs/canonical_hub.md)")
    ap.add_argument("--json", help="also write the full result as JSON")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from canonical_markdown import markdown
    from canonical_report import (
        baseline_codes,
        compare_all,
        family_shares,
        misses,
        shared_graphs,
        tool_summary,
    )
    from canonical_sets import select

    from hnnframe.corpus.build import DEFAULT_MAX_NODES, DEFAULT_MAX_PARAMS, parse_shard

    t0 = time.perf_counter()
    cache = Path(args.cache)
    cands, kind, note = sources(args, cache)
    families = args.families.split(",") if args.families else None
    cands = select(cands, parse_shard(args.shard), families, args.limit)
    transforms = args.transforms.split(",") if args.transforms else list(TRANSFORMS)
    if FOLDED not in transforms:  # the second reference
        transforms.append(FOLDED)
    limits = None
    if kind == "corpus":
        limits = {
            "max_params": DEFAULT_MAX_PARAMS if args.max_params is None else args.max_params,
            "max_nodes": DEFAULT_MAX_NODES if args.max_nodes is None else args.max_nodes,
        }
    manifest_dir = Path(args.corpus_manifest).parent if args.corpus_manifest else None
    corpus_dir = str(manifest_dir) if manifest_dir else None
    if args.cached_only:
        done = {c.key: built_before(c, transforms, cache, limits, corpus_dir, True) for c in cands}
        note += (
            f" Only the {sum(1 for v in done.values() if v)} of {len(cands)} architectures "
            "already in the cache."
        )
        cands = [c for c in cands if done[c.key]]
        built = {c.key: done[c.key] for c in cands}
    else:
        built = build(cands, transforms, cache, args.jobs, limits, manifest_dir)
    files = {k: b["files"] for k, b in built.items() if b["status"] == "ok"}
    details = compare_all(files, cache, args.jobs)
    paths = sorted({p for f in files.values() for p in f.values() if isinstance(p, str)})
    before = None if args.no_baseline else baseline_codes(paths, args.baseline_rev, cache)
    kinds = [FOLDED, CORPUS, *[t for t in transforms if t != FOLDED]]
    fam = {c.key: c.family for c in cands}
    result = {
        "set": kind,
        "note": note,
        "seconds": time.perf_counter() - t0,
        "machine": machine(),
        "limits": limits,
        "sources": {
            c.key: {**c.as_dict(), **{k: built[c.key][k] for k in ("status", "error")}}
            for c in cands
        },
        "baseline": "-" if args.no_baseline else args.baseline_rev,
        "summary": tool_summary(details, kinds, before, files),
        "families": family_shares(details, fam, transforms),
        "misses": misses(details, transforms),
        "shared": shared_graphs(details, fam),
        "details": details,
    }
    text = markdown(result, bench_command(__file__, argv).strip())
    if args.out:
        Path(args.out).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
