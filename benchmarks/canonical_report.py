"""The comparison of ``benchmarks/canonical_hub.py``: each copy's canonical graph against both
TorchScript references, the op-level reason of each miss, and the aggregates per tool and per
family.

The canonical graph is protocol (c)'s canonical WL coder's (``WLCoder(64, canonical=True)``):
``ROBUST_PASSES`` and the robust merge rules (:func:`hnnframe.pipeline.prepare_graph`), then
the WL SimHash. *Same G* is equality up to node order (:meth:`OpGraph.structure_hash`); the
reason of a miss is :func:`hnnframe.canonical.diff.graph_difference` (op histograms, then node
labels, then wiring). The references are the unfolded, training-preserving TorchScript export
(``reference``, :meth:`VariantSource.reference`) and the folded one (the ``bn_folded``
variant). Per architecture the result is cached under ``compare/<code version>/`` (the
version hashes the reading and canonicalisation code), stamped with the size and mtime of the
files it read, so a rerun only prepares what changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

REFERENCE = "reference"
FOLDED = "bn_folded"
CORPUS = "corpus"
BITS = 64
# What a prepared graph depends on: the ONNX reader, the passes and merge rules, the WL coder.
CODE_PACKAGES = (
    "frontends",
    "ir",
    "canonical",
    "merge",
    "pipeline",
    "presets",
    "baselines",
    "wl",
    "protocol_c",
)


def code_version() -> str:
    import onnx

    from hnnframe.files import source_digest

    return source_digest(*CODE_PACKAGES, extra=onnx.__version__)


def prepared(path: str) -> tuple[Any, dict[str, Any]]:
    """The canonical graph of one ONNX file and ``{code, structure, nodes, hist}``."""
    import hnnframe
    from hnnframe.frontends import load_onnx_file
    from hnnframe.ir import from_onnx
    from hnnframe.pipeline import prepare_graph
    from hnnframe.protocol_c.coders import WLCoder

    # A baseline revision before presets.py (62e3c68) held the lists elsewhere. The file is
    # looked for, not imported: the editable install's finder would serve this checkout's.
    if (Path(hnnframe.__file__).parent / "presets.py").exists():
        from hnnframe.presets import ROBUST_MERGE, ROBUST_PASSES
    else:
        from hnnframe.canonical import ROBUST_PASSES  # type: ignore[attr-defined]
        from hnnframe.protocol_c.coders import ROBUST_MERGE  # type: ignore[attr-defined]

    # The canonical WL coder's pipeline, without its per-object cache of prepared graphs.
    cfg = {"canonical": list(ROBUST_PASSES), "merge": list(ROBUST_MERGE)}
    raw = from_onnx(load_onnx_file(Path(path)), Path(path).stem)
    g = prepare_graph(raw, cfg)[0]
    code = WLCoder(BITS, canonical=True).wl.codes([g])["codes"][0]
    return g, {
        "code": "".join(map(str, code.tolist())),
        "structure": g.structure_hash(),
        "raw": raw.structure_hash(),
        "nodes": g.num_nodes,
        "hist": g.op_histogram(),
    }


def _stamp(files: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, p in files.items():
        if isinstance(p, str):
            st = Path(p).stat()
            out[kind] = [p, st.st_size, st.st_mtime_ns]
        else:
            out[kind] = p
    return out


# Bumped when compare_source's result gains a field (2: each graph's raw structure hash).
COMPARE_FORMAT = 2


def _compared(cache: str, key: str) -> Path:
    return Path(cache) / "compare" / f"{code_version()}-{COMPARE_FORMAT}" / f"{key}.json"


def shared_graphs(details: Mapping[str, Any], family: Mapping[str, str]) -> list[dict[str, Any]]:
    """Architectures whose references have one canonical graph (the exact-architecture tier
    would call them one architecture): per group its keys, families, and whether their raw
    graphs were already equal (one network under two names) or only became so."""
    by: dict[str, list[str]] = {}
    for key, d in details.items():
        ref = d["graphs"].get(REFERENCE, {})
        if "structure" in ref:
            by.setdefault(ref["structure"], []).append(key)
    out = []
    for keys in by.values():
        if len(keys) > 1:
            raws = {details[k]["graphs"][REFERENCE].get("raw") for k in keys}
            out.append(
                {
                    "keys": sorted(keys),
                    "families": sorted({family.get(k, "") for k in keys}),
                    "raw_equal": None if None in raws else len(raws) == 1,
                }
            )
    return sorted(out, key=lambda g: g["keys"])


def compared_before(key: str, files: Mapping[str, Any], cache: str) -> dict[str, Any] | None:
    """:func:`compare_source`'s cached result, if made by this code from these very files."""
    path = _compared(cache, key)
    if not path.exists():
        return None
    old = json.loads(path.read_text())
    return old["result"] if old.get("stamp") == _stamp(files) else None


def compare_source(key: str, files: Mapping[str, Any], cache: str) -> dict[str, Any]:
    """``{graphs: {kind: entry}, vs: {kind: {reference: ..., bn_folded: ...}}}`` for one
    architecture (runs in a worker process); each comparison is ``{bits, same, reason}`` or
    ``{error}``."""
    import torch

    from hnnframe.canonical.diff import graph_difference
    from hnnframe.files import atomic_write

    torch.set_num_threads(1)
    if (done := compared_before(key, files, cache)) is not None:
        return done
    graphs: dict[str, Any] = {}
    entries: dict[str, Any] = {}
    for kind, p in files.items():
        if not isinstance(p, str):
            entries[kind] = {"error": p.get("error", "") or "not made"}
            continue
        try:
            graphs[kind], entries[kind] = prepared(p)
        except Exception as e:  # a file the reader cannot read is that copy's failure
            entries[kind] = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
    vs: dict[str, Any] = {}
    for kind in files:
        vs[kind] = {}
        for ref in (REFERENCE, FOLDED):
            if kind not in graphs or ref not in graphs:
                missing = kind if kind not in graphs else ref
                vs[kind][ref] = {"error": entries.get(missing, {}).get("error", "not made")}
                continue
            pair = code_pair(entries[ref], entries[kind])
            reason = "" if pair["same"] else graph_difference(graphs[ref], graphs[kind])
            vs[kind][ref] = {**pair, "reason": reason}
    result = {"graphs": entries, "vs": vs}
    note = {"stamp": _stamp(files), "result": result}
    atomic_write(_compared(cache, key), json.dumps(note).encode(), mkdir=True)
    return result


def compare_all(files: Mapping[str, Mapping[str, Any]], cache: Path, jobs: int) -> dict[str, Any]:
    """:func:`compare_source` of every architecture, in ``jobs`` worker processes."""
    import multiprocessing as mp

    from tqdm import tqdm

    out: dict[str, Any] = {}
    for k, f in files.items():
        if (done := compared_before(k, f, str(cache))) is not None:
            out[k] = done
    todo = [k for k in files if k not in out]
    bar = tqdm(total=len(files), initial=len(out), desc="canonical graphs", unit="arch")
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as ex:
        futs = {ex.submit(compare_source, k, dict(files[k]), str(cache)): k for k in todo}
        for fut in as_completed(futs):
            out[futs[fut]] = fut.result()
            bar.update(1)
    bar.close()
    return {k: out[k] for k in files}


def pair_codes(codes: Mapping[str, Any], ref: Any, var: Any) -> dict[str, Any]:
    """``{bits, same}`` of two files' codes of one checkout (the baseline's), or ``{error}``."""
    if not isinstance(ref, str) or not isinstance(var, str):
        return {"error": "not made"}
    a, b = codes.get(ref, {}), codes.get(var, {})
    if "code" not in a or "code" not in b:
        return {"error": a.get("error") or b.get("error") or "unread"}
    return code_pair(a, b)


def code_pair(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """``{bits, same}`` of two prepared graphs' entries: the WL codes' Hamming distance, and
    whether their canonical graphs are equal up to node order."""
    bits = sum(x != y for x, y in zip(a["code"], b["code"], strict=True))
    return {"bits": bits, "same": a["structure"] == b["structure"]}


def stats(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Of the comparisons that were made: how many, the share with the same canonical graph,
    median and largest WL distance, how many differ by more than 4 bits."""
    ok = [r for r in rows if "bits" in r]
    bits = np.array([r["bits"] for r in ok], dtype=float)
    return {
        "n": len(ok),
        "same": float(np.mean([r["same"] for r in ok])) if ok else None,
        "median": float(np.median(bits)) if ok else None,
        "max": int(bits.max()) if ok else None,
        "over4": int((bits > 4).sum()) if ok else None,
    }


def tool_summary(
    details: Mapping[str, Any],
    kinds: Sequence[str],
    before: Mapping[str, Any] | None = None,
    files: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Per kind: :func:`stats` against each reference, after and (with the baseline's codes)
    before, and how many copies could not be made or read."""
    out: dict[str, Any] = {}
    for t in kinds:
        row: dict[str, Any] = {}
        for ref in (REFERENCE, FOLDED):
            row[ref] = stats([d["vs"][t][ref] for d in details.values() if t in d["vs"]])
            if before is not None and files is not None:
                row[f"{ref}_before"] = stats(
                    [pair_codes(before, f.get(ref), f.get(t)) for f in files.values()]
                )
        row["failed"] = sum(
            1 for d in details.values() if t in d["vs"] and "error" in d["vs"][t][REFERENCE]
        )
        out[t] = row
    return out


def family_shares(
    details: Mapping[str, Any], families: Mapping[str, str], tools: Sequence[str]
) -> dict[str, Any]:
    """Per family, over all ``tools``' copies of its architectures that were made: how many,
    the share with the same canonical graph as each reference, and the misses per tool
    (against the unfolded reference). Sorted by that share, lowest first, then by name."""
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"architectures": 0, "copies": 0, REFERENCE: 0, FOLDED: 0, "misses": Counter()}
    )
    for key, d in details.items():
        f = acc[families[key]]
        f["architectures"] += 1
        for t in tools:
            c = d["vs"].get(t, {})
            if "bits" not in c.get(REFERENCE, {}) or "bits" not in c.get(FOLDED, {}):
                continue
            f["copies"] += 1
            f[REFERENCE] += c[REFERENCE]["same"]
            f[FOLDED] += c[FOLDED]["same"]
            if not c[REFERENCE]["same"]:
                f["misses"][t] += 1
    out = {}
    for fam, f in acc.items():
        n = f["copies"]
        out[fam] = {
            "architectures": f["architectures"],
            "copies": n,
            "same": f[REFERENCE] / n if n else None,
            "same_folded": f[FOLDED] / n if n else None,
            "misses": dict(f["misses"].most_common()),
        }
    return dict(sorted(out.items(), key=lambda kv: (kv[1]["same"] is None, kv[1]["same"], kv[0])))


def misses(details: Mapping[str, Any], tools: Sequence[str]) -> list[dict[str, Any]]:
    """Each (architecture, tool) whose canonical graph is not the unfolded reference's, with
    the reason, grouped by :func:`hnnframe.canonical.diff.reason_kind`: ``[{kind, count,
    items: [{key, tool, reason}]}]``, the largest group first."""
    from hnnframe.canonical.diff import reason_kind

    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for key, d in details.items():
        for t in tools:
            c = d["vs"].get(t, {}).get(REFERENCE, {})
            if "bits" in c and not c["same"]:
                groups[reason_kind(c["reason"])].append(
                    {"key": key, "tool": t, "reason": c["reason"]}
                )
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [{"kind": k, "count": len(v), "items": v} for k, v in ordered]


def baseline_codes(paths: list[str], rev: str, cache: Path) -> dict[str, Any]:
    """``{path: {code, structure}}`` from the hnnframe package of git revision ``rev``."""
    repo = Path(__file__).resolve().parent.parent
    result = cache / f"baseline-{rev}.json"
    done: dict[str, Any] = json.loads(result.read_text()) if result.exists() else {}
    todo = [p for p in paths if p not in done]
    if todo:
        with tempfile.TemporaryDirectory() as d:
            archive = subprocess.run(
                ["git", "-C", str(repo), "archive", rev, "hnnframe"],
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", d], input=archive, check=True)
            lst = Path(d) / "paths.json"
            lst.write_text(json.dumps(todo))
            part = Path(d) / "result.json"
            env = {**os.environ, "PYTHONPATH": d}
            cmd = [sys.executable, __file__, str(lst), str(part)]
            subprocess.run(cmd, env=env, check=True, cwd=d)
            done.update(json.loads(part.read_text()))
        result.write_text(json.dumps(done))
    return done


def worker_codes(paths: list[str]) -> dict[str, Any]:
    """Inside the baseline subprocess: each file's code and structure with the hnnframe that
    is imported there (the baseline revision)."""
    import torch

    torch.set_num_threads(1)
    out: dict[str, Any] = {}
    for p in paths:
        try:
            entry = prepared(p)[1]
            out[p] = {"code": entry["code"], "structure": entry["structure"]}
        except Exception as e:  # an old reader that cannot read a file
            out[p] = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
    return out


if __name__ == "__main__":  # the baseline subprocess: PATHS.json OUT.json
    Path(sys.argv[2]).write_text(
        json.dumps(worker_codes(json.loads(Path(sys.argv[1]).read_text())))
    )
