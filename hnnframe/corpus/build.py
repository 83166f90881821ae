"""``hnn corpus build``: export every candidate architecture once and cache its graph.

Per architecture the cache holds ``<key>.onnx`` (the weight-stripped ONNX structure, weights
never kept) and ``<key>.json``: its record (source, family, parameters, FLOPs, nodes, the raw
OpGraph) or, for one that failed or was filtered out by size, the reason. Records are written
atomically as each export finishes, so a killed build resumes where it stopped, and
``manifest.json`` is rebuilt from the records at the end of every build.

``--shard I/N`` takes the candidates whose key hashes to ``I`` modulo ``N``: several machines
(or processes) can build one corpus into a shared cache without a scheduler, each taking its
share, and any of them rewrites the manifest from whatever records exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from hnnframe.corpus.catalog import Candidate
from hnnframe.corpus.store import corpus_dir, write_manifest
from hnnframe.errors import ConfigError, HnnError
from hnnframe.files import atomic_write
from hnnframe.frontends import build_module
from hnnframe.frontends.torchvision import TABLE1
from hnnframe.ir import from_onnx
from hnnframe.log import get_logger
from hnnframe.sources import to_onnx

log = get_logger(__name__)

RECORD_FORMAT = 1
DEFAULT_MAX_PARAMS = 100_000_000
DEFAULT_MAX_NODES = 5000
DEFAULT_TIMEOUT = 600


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; None -> ``(0, 1)``."""
    if not text:
        return 0, 1
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard takes I/N (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {text}: need 0 <= I < N")
    return i, n


def in_shard(key: str, shard: tuple[int, int]) -> bool:
    i, n = shard
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % n == i


class _Timeout(BaseException):
    """The export's time limit. A BaseException, so that an exporter's or shape inference's
    ``except Exception`` cannot swallow it (the alarm fires once)."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def count_params(spec: str) -> int | None:
    """Parameters of a named source built on the meta device (no memory, no init cost); None
    when it cannot be built there (the build then counts the exported graph's instead)."""
    import torch

    try:
        with torch.device("meta"):
            module = build_module(spec)
    except Exception:  # a source that cannot be built on meta: count after export instead
        return None
    return int(sum(p.numel() for p in module.parameters()))


def export_candidate(c: dict[str, str], out_dir: str, limits: dict[str, int]) -> dict[str, Any]:
    """Export one candidate into ``out_dir`` (runs in a worker process); returns its record."""
    import torch

    torch.set_num_threads(1)

    out = Path(out_dir)
    rec: dict[str, Any] = {"format": RECORD_FORMAT, **c, "status": "ok", "error": ""}
    t0 = time.perf_counter()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(limits["timeout"]))
    try:
        params = count_params(c["spec"]) if limits["max_params"] else None
        if params is not None and params > limits["max_params"]:
            rec.update(
                status="filtered",
                error=f"{params:,} parameters > {limits['max_params']:,}",
                params=params,
            )
        else:
            proto = to_onnx(c["spec"])
            graph = from_onnx(proto, c["name"])
            rec.update(
                params=graph.total_params,
                flops=graph.total_flops,
                nodes=graph.num_nodes,
                edges=graph.num_edges,
                structure=graph.structure_hash(),
            )
            if limits["max_params"] and graph.total_params > limits["max_params"]:
                rec.update(
                    status="filtered",
                    error=f"{graph.total_params:,} parameters > {limits['max_params']:,}",
                )
            elif limits["max_nodes"] and graph.num_nodes > limits["max_nodes"]:
                rec.update(
                    status="filtered", error=f"{graph.num_nodes:,} nodes > {limits['max_nodes']:,}"
                )
            else:
                atomic_write(out / f"{c['key']}.onnx", proto.SerializeToString())
                rec["graph"] = graph.to_dict()
    except _Timeout:
        rec.update(status="failed", error=f"export took longer than {limits['timeout']} s")
    except HnnError as e:
        rec.update(status="failed", error=str(e).splitlines()[0][:300])
    except Exception as e:  # any exporter crash is one architecture's failure, not the build's
        msg = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        rec.update(status="failed", error=f"{type(e).__name__}: {msg}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    rec["seconds"] = round(time.perf_counter() - t0, 2)
    atomic_write(out / f"{c['key']}.json", json.dumps(rec).encode())
    return {k: v for k, v in rec.items() if k != "graph"}


def _done(out: Path, key: str, retry_failed: bool) -> bool:
    """Whether the candidate has a readable record (a failed one counts unless retried)."""
    try:
        status = json.loads((out / f"{key}.json").read_text()).get("status")
    except (OSError, ValueError):  # no record, or one that cannot be read: export it
        return False
    return not (retry_failed and status == "failed")


def _pool(jobs: int) -> ProcessPoolExecutor:
    import multiprocessing as mp

    return ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=mp.get_context("spawn"))


def _export_alone(c: Candidate, out: Path, limits: dict[str, int]) -> dict[str, Any]:
    """Export one candidate in a pool of its own; a worker that dies here is its failure."""
    with _pool(1) as ex:
        try:
            return ex.submit(export_candidate, c.as_dict(), str(out), limits).result()
        except Exception as e:  # the worker died (out of memory, segfault)
            rec = {
                "format": RECORD_FORMAT,
                **c.as_dict(),
                "status": "failed",
                "error": f"worker died: {type(e).__name__}: {e}",
            }
            atomic_write(out / f"{c.key}.json", json.dumps(rec).encode())
            return rec


def build_corpus(
    cands: Sequence[Candidate],
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    jobs: int = 2,
    shard: tuple[int, int] = (0, 1),
    max_params: int = DEFAULT_MAX_PARAMS,
    max_nodes: int = DEFAULT_MAX_NODES,
    timeout: int = DEFAULT_TIMEOUT,
    retry_failed: bool = False,
    progress: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Export this shard's candidates that have no record yet; returns the new manifest."""
    from tqdm import tqdm

    out = corpus_dir(cache_dir)
    out.mkdir(parents=True, exist_ok=True)
    mine = [c for c in cands if in_shard(c.key, shard)]
    todo = [c for c in mine if not _done(out, c.key, retry_failed)]
    limits = {"max_params": max_params, "max_nodes": max_nodes, "timeout": timeout}
    # The paper's zoo is always in the corpus, whatever the size limits (vgg16 has 138M).
    zoo = {f"torchvision:{e.name}" for e in TABLE1}
    unlimited = {**limits, "max_params": 0, "max_nodes": 0}
    bar = tqdm(
        total=len(mine),
        initial=len(mine) - len(todo),
        desc="corpus export",
        unit="arch",
        disable=not progress,
    )
    counts = {"ok": 0, "failed": 0, "filtered": 0}
    # Fresh workers every few exports: exporters keep caches that grow with every model.
    # (One pool per batch: max_tasks_per_child deadlocks the executor in Python 3.11.)
    batch = max(1, jobs) * 12

    def record(c: Candidate, rec: dict[str, Any]) -> None:
        counts[rec["status"]] = counts.get(rec["status"], 0) + 1
        if rec["status"] == "failed":
            log.warning("%s: %s", c.spec, rec["error"])
        bar.set_postfix_str(f"{c.name} {rec['status']}")
        bar.update(1)
        if on_record:
            on_record(rec)

    for start in range(0, len(todo), batch):
        part = todo[start : start + batch]
        lost: list[Candidate] = []
        with _pool(jobs) as ex:
            futs = {
                ex.submit(
                    export_candidate, c.as_dict(), str(out), unlimited if c.spec in zoo else limits
                ): c
                for c in part
            }
            for fut in as_completed(futs):
                try:
                    rec = fut.result()
                except Exception:
                    # A worker died (out of memory, segfault). The pool is broken and every
                    # export still pending in it fails the same way: each is tried again
                    # alone below, so only the one that kills its worker is recorded failed.
                    lost.append(futs[fut])
                    continue
                record(futs[fut], rec)
        for c in lost:
            record(c, _export_alone(c, out, unlimited if c.spec in zoo else limits))
    bar.close()
    manifest = write_manifest(out)
    manifest["this_build"] = {
        "shard": f"{shard[0]}/{shard[1]}",
        "candidates": len(mine),
        "exported_now": len(todo),
        **counts,
    }
    return manifest
