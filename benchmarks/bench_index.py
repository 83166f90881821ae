"""Benchmark Hamming top-k search for the hash index and write docs/bench_index.md.

Compares, on the same codes and queries in one run:

* ``numpy``: :class:`hnnframe.index.scan.HammingScanner` (what the index uses): XOR and
  ``np.bitwise_count`` over uint64 words, block by block, with a running top-k threshold;
* ``faiss-flat``: faiss ``IndexBinaryFlat`` (exact), when faiss-cpu is installed;
* ``faiss-hash``: faiss ``IndexBinaryHash`` (approximate: only buckets within ``--nflip`` bits
  of the query's first ``--hash-bits`` bits are searched; its recall is reported);
* ``unpackbits``: the plain numpy scan, ``np.unpackbits(codes ^ q, axis=1).sum(1)`` then
  ``argpartition`` (in blocks of 1M rows to bound memory).

Each query is timed alone (one query per call, as ``hnn index search`` does). Queries are stored
codes with a few bits flipped, so each has near neighbours. ``--data clustered`` draws codes
around 1,000 centres instead of uniformly. With ``--store-size`` it also times the SQLite (and,
with ``--postgres-url``, PostgreSQL) index end to end: add, first search (loads the codes) and
warm searches.

Example:
    python benchmarks/bench_index.py --sizes 10000 100000 1000000 10000000 --bits 64 128 256
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import command as bench_command
from _common import machine, sh_block

from hnnframe.index.scan import HammingScanner

try:
    import faiss
except ImportError:  # faiss-cpu is optional: only this benchmark uses it
    faiss = None

BASELINE_BLOCK = 1_000_000


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def trim_heap() -> None:
    """Collect garbage and return freed heap memory to the OS, so RSS growth means something."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def make_codes(n: int, bits: int, data: str, rng: np.random.Generator) -> np.ndarray:
    """``(n, bits // 8)`` uint8 codes, uniform or clustered around 1,000 centres."""
    nbytes = bits // 8
    if data == "uniform":
        return rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
    centres = rng.integers(0, 256, (1000, nbytes), dtype=np.uint8)
    codes = centres[rng.integers(0, 1000, n)]
    # flip about bits/16 random bits per code
    for _ in range(max(1, bits // 16)):
        pos = rng.integers(0, bits, n)
        codes[np.arange(n), pos // 8] ^= (1 << (7 - pos % 8)).astype(np.uint8)
    return codes


def make_queries(codes: np.ndarray, nq: int, rng: np.random.Generator) -> np.ndarray:
    """Stored codes with 1 to 4 bits flipped."""
    q = codes[rng.integers(0, codes.shape[0], nq)].copy()
    bits = codes.shape[1] * 8
    for i in range(nq):
        for pos in rng.choice(bits, rng.integers(1, 5), replace=False):
            q[i, pos // 8] ^= np.uint8(1 << (7 - pos % 8))
    return q


def time_queries(
    fn: Callable[[np.ndarray], Any], queries: np.ndarray
) -> tuple[list[float], list[Any]]:
    fn(queries[0])  # warm-up
    times, results = [], []
    for q in queries:
        t0 = time.perf_counter()
        r = fn(q)
        times.append((time.perf_counter() - t0) * 1e3)
        results.append(r)
    return times, results


def unpackbits_topk(codes: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The plain scan: unpack the XOR to bits, sum per row, partial sort."""
    d = np.empty(codes.shape[0], dtype=np.uint16)
    for s in range(0, codes.shape[0], BASELINE_BLOCK):
        block = codes[s : s + BASELINE_BLOCK]
        d[s : s + block.shape[0]] = np.unpackbits(block ^ q, axis=1).sum(axis=1, dtype=np.uint16)
    top = np.argpartition(d, min(k, d.shape[0] - 1))[:k]
    top = top[np.lexsort((top, d[top]))]
    return top, d[top]


def summarise(times: list[float]) -> dict[str, float]:
    s = sorted(times)
    return {"median": statistics.median(s), "p95": s[min(len(s) - 1, int(0.95 * len(s)))]}


def bench_one(
    n: int, bits: int, args: argparse.Namespace, rng: np.random.Generator
) -> dict[str, Any]:
    codes = make_codes(n, bits, args.data, rng)
    queries = make_queries(codes, args.queries, rng)
    out: dict[str, Any] = {"n": n, "bits": bits, "code_bytes": codes.nbytes, "methods": {}}
    k = args.k

    # numpy scanner (the index's)
    gc.collect()
    t0 = time.perf_counter()
    sc = HammingScanner(bits)
    sc.add(np.arange(1, n + 1, dtype=np.int64), codes)
    build = time.perf_counter() - t0
    tracemalloc.start()
    sc.search(queries[0].tobytes(), k=k)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times, res = time_queries(lambda q: sc.search(q.tobytes(), k=k), queries)
    exact = [np.sort(r[1]) for r in res]
    out["methods"]["numpy"] = {
        **summarise(times),
        "build_s": build,
        "index_bytes": sc.nbytes,
        "query_peak_bytes": peak,
    }

    if faiss is not None and "faiss-flat" in args.methods:
        faiss.omp_set_num_threads(args.threads)
        t0 = time.perf_counter()
        fl = faiss.IndexBinaryFlat(bits)
        fl.add(codes)
        build = time.perf_counter() - t0
        mem = fl.xb.size()  # the stored codes, exactly
        times, res = time_queries(lambda q: fl.search(q[None, :], k), queries)
        ok = all(np.array_equal(np.sort(d[0]), e) for (d, _), e in zip(res, exact, strict=True))
        out["methods"]["faiss-flat"] = {
            **summarise(times),
            "build_s": build,
            "index_bytes": mem,
            "exact_match": ok,
        }
        del fl

    if faiss is not None and "faiss-hash" in args.methods:
        faiss.omp_set_num_threads(args.threads)
        trim_heap()
        r0 = rss_bytes()
        t0 = time.perf_counter()
        hb = min(args.hash_bits, bits)
        hx = faiss.IndexBinaryHash(bits, hb)
        hx.nflip = args.nflip
        hx.add(codes)
        build = time.perf_counter() - t0
        mem = rss_bytes() - r0
        times, res = time_queries(lambda q: hx.search(q[None, :], k), queries)
        recall = []
        for (d, _), e in zip(res, exact, strict=True):
            got = d[0][d[0] >= 0]  # -1 pads missing results
            kth = e[-1]
            recall.append(min(1.0, np.count_nonzero(got <= kth) / len(e)))
        out["methods"]["faiss-hash"] = {
            **summarise(times),
            "build_s": build,
            "index_bytes": mem,
            "recall": float(np.mean(recall)),
            "hash_bits": hb,
        }
        del hx

    if "unpackbits" in args.methods:
        bq = queries[: args.baseline_queries]
        times, res = time_queries(lambda q: unpackbits_topk(codes, q, k), bq)
        ok = all(
            np.array_equal(np.sort(r[1]).astype(np.int32), e)
            for r, e in zip(res, exact[: len(bq)], strict=True)
        )
        out["methods"]["unpackbits"] = {**summarise(times), "exact_match": ok, "queries": len(bq)}
    return out


def bench_store(
    n: int, url: str, bits: int, rng: np.random.Generator, nq: int, k: int
) -> dict[str, Any]:
    """End to end through hnnframe.index: add ``n`` records, first and warm searches."""
    import hnnframe.index as hindex
    from hnnframe.hashing import HashResult

    codes = make_codes(n, bits, "uniform", rng)
    queries = make_queries(codes, nq, rng)
    recs = [
        HashResult(
            path=f"/bench/m{i}.onnx",
            name=f"m{i}",
            sha256=f"{i:064x}",
            code=codes[i].tobytes(),
            bits=bits,
            category="bench",
            embedding=None,
        )  # type: ignore[arg-type]
        for i in range(n)
    ]
    out: dict[str, Any] = {"n": n, "bits": bits}
    with hindex.open(url) as idx:
        out["backend"] = idx.backend
        t0 = time.perf_counter()
        for s in range(0, n, 10000):
            idx.add(recs[s : s + 10000], fingerprint="f" * 64)
        out["add_per_s"] = n / (time.perf_counter() - t0)
    modes = ["auto"] if not url.startswith("postgresql") else ["sql", "memory"]
    for mode in modes:
        with hindex.open(url, search=mode) as idx:
            t0 = time.perf_counter()
            idx.search(queries[0].tobytes(), k=k)
            first = (time.perf_counter() - t0) * 1e3
            times, _ = time_queries(lambda q, idx=idx: idx.search(q.tobytes(), k=k), queries)
            out[mode] = {"first_ms": first, **summarise(times)}
    return out


# -- report -----------------------------------------------------------------------------------------
def fmt_ms(m: dict[str, Any] | None) -> str:
    if not m:
        return "–"
    return f"{m['median']:.2f} ({m['p95']:.2f})"


def fmt_n(n: int) -> str:
    return f"{n:,}"


def report(
    results: list[dict[str, Any]],
    stores: list[dict[str, Any]],
    args: argparse.Namespace,
    command: str,
    wall: float,
) -> str:
    L: list[str] = []
    L.append("# Hash index search benchmark\n")
    L.append("Generated by:\n")
    L.append("\n".join(sh_block(command)) + "\n")
    L.append(
        f"Machine: {machine()} (shared with other work); "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"faiss {'not installed' if faiss is None else faiss.__version__} "
        f"({args.threads} thread{'s' if args.threads > 1 else ''}). Data: {args.data} codes; "
        f"{args.queries} queries per cell (each a stored code with 1-4 bits flipped), one query "
        f"per call, top-{args.k}. Wall time of the run: {wall:.0f} s.\n"
    )
    L.append("Times are milliseconds per query: median (95th percentile).\n")
    methods = ["numpy", "faiss-flat", "faiss-hash", "unpackbits"]
    methods = [m for m in methods if any(m in r["methods"] for r in results)]
    for bits in args.bits:
        rows = [r for r in results if r["bits"] == bits]
        if not rows:
            continue
        L.append(f"\n## Q = {bits} bits: top-{args.k} latency by database size\n")
        L.append("| codes | " + " | ".join(methods) + " | numpy speed-up over unpackbits |")
        L.append("|---:|" + "---:|" * len(methods) + "---:|")
        for r in rows:
            cells = [fmt_ms(r["methods"].get(m)) for m in methods]
            up = r["methods"].get("unpackbits")
            speed = f"{up['median'] / r['methods']['numpy']['median']:.0f}x" if up else "–"
            L.append(f"| {fmt_n(r['n'])} | " + " | ".join(cells) + f" | {speed} |")
    L.append("\n## Growth of the numpy scan with size and Q (median ms)\n")
    sizes = sorted({r["n"] for r in results})
    L.append("| Q \\ codes | " + " | ".join(fmt_n(n) for n in sizes) + " |")
    L.append("|---|" + "---:|" * len(sizes))
    for bits in args.bits:
        cells = []
        for n in sizes:
            r = next((x for x in results if x["n"] == n and x["bits"] == bits), None)
            cells.append(f"{r['methods']['numpy']['median']:.2f}" if r else "–")
        L.append(f"| {bits} | " + " | ".join(cells) + " |")

    L.append("\n## Memory\n")
    L.append(
        "Codes: the packed codes themselves. numpy: the scanner's arrays (codes as uint64 words "
        "plus uint32 ids; spare capacity included), and the peak of temporary allocations "
        "during one query (tracemalloc). faiss-flat: its stored code vector. faiss-hash: growth "
        "of the process RSS while building (approximate).\n"
    )
    L.append(
        "| Q | codes | codes MB | numpy index MB | numpy query temp MB | faiss-flat MB | faiss-hash MB |"
    )
    L.append("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        m = r["methods"]
        ff, fh = m.get("faiss-flat"), m.get("faiss-hash")
        ffs = f"{ff['index_bytes'] / 1e6:.1f}" if ff else "–"
        fhs = f"{fh['index_bytes'] / 1e6:.1f}" if fh else "–"
        L.append(
            f"| {r['bits']} | {fmt_n(r['n'])} | {r['code_bytes'] / 1e6:.1f} | "
            f"{m['numpy']['index_bytes'] / 1e6:.1f} | {m['numpy']['query_peak_bytes'] / 1e6:.2f} | "
            f"{ffs} | {fhs} |"
        )

    if any("faiss-hash" in r["methods"] for r in results):
        L.append(f"\n## faiss IndexBinaryHash recall@{args.k}\n")
        L.append(
            f"Hash on the first min(Q, {args.hash_bits}) bits, nflip={args.nflip}. Recall: share "
            f"of the exact top-{args.k} distances that it returns.\n"
        )
        L.append("| Q | codes | recall |")
        L.append("|---:|---:|---:|")
        for r in results:
            fh = r["methods"].get("faiss-hash")
            if fh:
                L.append(f"| {r['bits']} | {fmt_n(r['n'])} | {fh['recall']:.2f} |")

    checks = []
    for r in results:
        for v in r["methods"].values():
            if "exact_match" in v:
                checks.append(v["exact_match"])
    L.append(
        "\nExactness: faiss-flat and unpackbits returned the same top-k distances as the numpy "
        f"scan in {sum(checks)} of {len(checks)} cells.\n"
    )

    if stores:
        L.append("\n## End to end through `hnnframe.index`\n")
        L.append(
            f"{stores[0]['n']:,} random 64-bit records added 10,000 per transaction, then "
            "searched by a freshly opened index. First search: in memory mode it loads every code "
            "from the database. Warm: later searches, median (p95) ms. PostgreSQL runs on the "
            "same machine.\n"
        )
        L.append(
            "| backend | Q | records | add records/s | mode | first search ms | warm search ms |"
        )
        L.append("|---|---:|---:|---:|---|---:|---:|")
        for s in stores:
            for mode in ("auto", "sql", "memory"):
                if mode in s:
                    name = {"auto": "memory"}.get(mode, mode)
                    L.append(
                        f"| {s['backend']} | {s['bits']} | {fmt_n(s['n'])} | {s['add_per_s']:,.0f} | "
                        f"{name} | {s[mode]['first_ms']:.0f} | {fmt_ms(s[mode])} |"
                    )

    L.append("\n## Targets\n")
    for n, target in [(1_000_000, 20.0), (10_000_000, 200.0)]:
        r = next((x for x in results if x["n"] == n and x["bits"] == 64), None)
        if r:
            t = r["methods"]["numpy"]
            ok = "met" if t["p95"] <= target else "NOT met"
            L.append(
                f"- top-{args.k} among {fmt_n(n)} 64-bit codes: median {t['median']:.2f} ms, "
                f"p95 {t['p95']:.2f} ms (target <= {target:.0f} ms: {ok})"
            )
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[10_000, 100_000, 1_000_000, 10_000_000],
        help="database sizes (number of codes)",
    )
    p.add_argument("--bits", type=int, nargs="+", default=[64, 128, 256], help="code lengths Q")
    p.add_argument("-k", type=int, default=10, help="top-k (default 10)")
    p.add_argument("--queries", type=int, default=50, help="timed queries per cell (default 50)")
    p.add_argument("--baseline-queries", type=int, default=5, help="timed queries for unpackbits")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["numpy", "faiss-flat", "faiss-hash", "unpackbits"],
        help="methods to run (numpy always runs: it is the reference)",
    )
    p.add_argument(
        "--data", choices=["uniform", "clustered"], default="uniform", help="code distribution"
    )
    p.add_argument("--threads", type=int, default=1, help="faiss OpenMP threads (numpy uses one)")
    p.add_argument("--hash-bits", type=int, default=24, help="IndexBinaryHash bits hashed")
    p.add_argument("--nflip", type=int, default=2, help="IndexBinaryHash bit flips probed")
    p.add_argument(
        "--store-size",
        type=int,
        default=0,
        help="also time the SQLite index with this many records",
    )
    p.add_argument(
        "--postgres-url", help="also time a PostgreSQL index (a fresh schema, dropped after)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out", default="docs/bench_index.md", help="markdown report ('-' for stdout only)"
    )
    args = p.parse_args(argv)

    command = bench_command(__file__, argv)
    rng = np.random.default_rng(args.seed)
    t_start = time.perf_counter()
    results = []
    for bits in args.bits:
        for n in args.sizes:
            r = bench_one(n, bits, args, rng)
            results.append(r)
            line = ", ".join(f"{m} {v['median']:.2f}ms" for m, v in r["methods"].items())
            print(f"Q={bits:<3} n={n:>11,}: {line}", flush=True)
    stores = []
    if args.store_size:
        with tempfile.TemporaryDirectory() as tmp:
            s = bench_store(
                args.store_size, str(Path(tmp) / "bench.db"), 64, rng, args.queries, args.k
            )
            stores.append(s)
            print(f"store sqlite: {s}", flush=True)
        if args.postgres_url:
            schema = f"hnn_bench_{uuid.uuid4().hex[:8]}"
            sep = "&" if "?" in args.postgres_url else "?"
            try:
                s = bench_store(
                    args.store_size,
                    f"{args.postgres_url}{sep}schema={schema}",
                    64,
                    rng,
                    args.queries,
                    args.k,
                )
                stores.append(s)
                print(f"store postgres: {s}", flush=True)
            finally:
                import psycopg2

                conn = psycopg2.connect(args.postgres_url)
                conn.autocommit = True
                conn.cursor().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                conn.close()
    text = report(results, stores, args, command, time.perf_counter() - t_start)
    if args.out == "-":
        print(text)
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
