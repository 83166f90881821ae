"""GED of many pairs of a dataset: computed once, in parallel, cached on disk.

Used to build the targets of the topology loss (paper section 3.4, eq. 7) for every training
pair. Graphs with equal content (:meth:`~hnnframe.ir.OpGraph.content_hash`) are computed once,
and a pair of equal graphs is 0 without computing. Workers are separate processes that import
only numpy, scipy and the GED modules (never torch); each prepares every graph it meets once.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

import numpy as np

from hnnframe.errors import ConfigError
from hnnframe.ged.base import GEDMethod, build_ged_method
from hnnframe.ged.cache import GEDCache, Key, pair_key
from hnnframe.ir import OpGraph
from hnnframe.log import get_logger

log = get_logger(__name__)

# Below this many pairs to compute, starting worker processes costs more than it saves.
PARALLEL_MIN_PAIRS = 200

_WORKER: dict[str, Any] = {}


def _prepares(method: GEDMethod) -> bool:
    return type(method).distance is not GEDMethod.distance


class _Evaluator:
    """Computes pairs of a fixed list of graphs, preparing each graph once."""

    def __init__(self, graphs: Sequence[OpGraph], method: GEDMethod) -> None:
        self.graphs, self.method = graphs, method
        self.prepared: dict[int, Any] = {}
        self.use_prepare = _prepares(method)

    def _get(self, i: int) -> Any:
        p = self.prepared.get(i)
        if p is None:
            p = self.prepared[i] = self.method.prepare(self.graphs[i])
        return p

    def __call__(self, chunk: Sequence[tuple[int, int]]) -> list[float]:
        if self.use_prepare:
            return [float(self.method.distance(self._get(i), self._get(j))) for i, j in chunk]
        return [float(self.method(self.graphs[i], self.graphs[j])) for i, j in chunk]


def _init_worker(graphs: Sequence[OpGraph], method: GEDMethod) -> None:
    _WORKER["eval"] = _Evaluator(graphs, method)


def _run_chunk(chunk: Sequence[tuple[int, int]]) -> list[float]:
    return _WORKER["eval"](chunk)


def _normalise_pairs(n: int, pairs: Sequence[tuple[int, int]] | None) -> np.ndarray:
    if pairs is None:
        i, j = np.triu_indices(n, k=1)
        return np.stack([i, j], axis=1).astype(np.int64)
    arr = np.asarray(pairs, dtype=np.int64)
    if arr.size == 0:
        return arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ConfigError(f"pairs must be a sequence of (i, j) index pairs, got shape {arr.shape}")
    if arr.min() < 0 or arr.max() >= n:
        raise ConfigError(f"pair indices must be in [0, {n}), got {arr.min()}..{arr.max()}")
    return arr


def pairwise_ged(
    graphs: Sequence[OpGraph],
    pairs: Sequence[tuple[int, int]] | None = None,
    method: str | Mapping[str, Any] | GEDMethod = "bipartite",
    jobs: int | None = 2,
    cache: str | os.PathLike[str] | GEDCache | None = None,
    progress: bool = True,
    chunk_size: int | None = None,
    mp_context: str = "spawn",
) -> np.ndarray:
    """GED of pairs of graphs (paper section 3.4, eq. 7), in parallel and cached.

    Args:
        graphs: the dataset's graphs.
        pairs: ``(i, j)`` index pairs; None means every pair.
        method: a GED method name, ``{"type": name, **kwargs}`` spec or instance
            (default: Riesen-Bunke ``bipartite``).
        jobs: worker processes; None means ``os.cpu_count()``. Fewer than
            :data:`PARALLEL_MIN_PAIRS` pairs to compute run in this process.
        cache: an SQLite file (or a directory for ``ged.sqlite`` in it) or a :class:`GEDCache`;
            values are keyed by the content hashes of both graphs and the method's
            :meth:`~hnnframe.ged.GEDMethod.cache_key`, and written in committed batches as they
            arrive, so a killed run keeps what it had computed. None: no cache.
        progress: show a tqdm progress bar (on stderr).
        chunk_size: pairs per task (and per cache commit); None chooses one from the work.
        mp_context: ``"spawn"`` (default; safe when the caller has threads, e.g. torch's) or
            ``"fork"`` (faster start on Linux).

    Returns:
        The symmetric ``[N, N]`` matrix with a zero diagonal when ``pairs`` is None, else a
        ``[len(pairs)]`` array aligned with ``pairs`` (float64).

    Raises:
        ConfigError: bad pairs, jobs or chunk size.
        RegistryError: an unknown method name.
    """
    m = build_ged_method(method)
    if jobs is None:
        jobs = os.cpu_count() or 1
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    if chunk_size is not None and chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    n = len(graphs)
    idx = _normalise_pairs(n, pairs)
    hashes = [g.content_hash() for g in graphs]
    keys: list[Key] = [pair_key(hashes[i], hashes[j]) for i, j in idx.tolist()]
    values = _distances(graphs, hashes, keys, m, cache, jobs, progress, chunk_size, mp_context)

    flat = np.array([values.get(k, 0.0) for k in keys], dtype=np.float64)
    if pairs is not None:
        return flat
    out = np.zeros((n, n), dtype=np.float64)
    out[idx[:, 0], idx[:, 1]] = flat
    out[idx[:, 1], idx[:, 0]] = flat
    return out


def _distances(
    graphs: Sequence[OpGraph],
    hashes: Sequence[str],
    keys: Sequence[Key],
    m: GEDMethod,
    cache: str | os.PathLike[str] | GEDCache | None,
    jobs: int,
    progress: bool,
    chunk_size: int | None,
    mp_context: str,
) -> dict[Key, float]:
    """The GED of every distinct pair of unequal graphs among ``keys``: what the cache holds,
    the rest computed (and written to the cache as it arrives)."""
    need = {k for k in keys if k[0] != k[1]}
    mkey = m.cache_key()

    own_cache = cache is not None and not isinstance(cache, GEDCache)
    store = GEDCache(cache) if own_cache else cache  # type: ignore[arg-type]
    try:
        values: dict[Key, float] = store.get_many(mkey, need) if store is not None else {}
        todo = sorted(need - values.keys())
        log.info(
            "GED %s: %d pairs, %d distinct, %d cached, %d to compute",
            mkey,
            len(keys),
            len(need),
            len(values),
            len(todo),
        )
        if todo:
            values.update(
                _compute(
                    graphs,
                    hashes,
                    todo,
                    m,
                    jobs,
                    store,
                    progress,
                    chunk_size,
                    mp_context,
                    done=len(values),
                    total=len(need),
                )
            )
    finally:
        if own_cache and store is not None:
            store.close()
    return values


def _compute(
    graphs: Sequence[OpGraph],
    hashes: Sequence[str],
    todo: Sequence[Key],
    method: GEDMethod,
    jobs: int,
    store: GEDCache | None,
    progress: bool,
    chunk_size: int | None,
    mp_context: str,
    done: int,
    total: int,
) -> dict[Key, float]:
    from tqdm.auto import tqdm

    first: dict[str, int] = {}
    for i, h in enumerate(hashes):
        first.setdefault(h, i)
    used = sorted({first[h] for k in todo for h in k})
    local = {g: u for u, g in enumerate(used)}
    sub = [graphs[g] for g in used]
    sizes = np.array([len(g) for g in sub], dtype=np.float64)
    tasks = [(local[first[a]], local[first[b]]) for a, b in todo]
    # Largest pairs first, so that the last chunks are small and the workers finish together.
    est = [sizes[i] * sizes[j] * (sizes[i] + sizes[j]) for i, j in tasks]
    order = sorted(range(len(tasks)), key=lambda t: -est[t])
    parallel = jobs > 1 and len(tasks) >= PARALLEL_MIN_PAIRS
    if chunk_size is None:
        chunk_size = max(1, min(256, math.ceil(len(tasks) / (16 * (jobs if parallel else 1)))))
    chunks = [order[s : s + chunk_size] for s in range(0, len(order), chunk_size)]

    results: dict[Key, float] = {}
    bar = tqdm(
        total=total,
        initial=done,
        disable=not progress,
        unit="pair",
        desc=f"GED {method.name or type(method).__name__}",
    )

    def collect(chunk: list[int], vals: list[float]) -> None:
        items = [(todo[t], v) for t, v in zip(chunk, vals, strict=True)]
        results.update(items)
        if store is not None:
            store.put_many(method.cache_key(), items)
        bar.update(len(chunk))

    try:
        if not parallel:
            ev = _Evaluator(sub, method)
            for chunk in chunks:
                collect(chunk, ev([tasks[t] for t in chunk]))
        else:
            ctx = multiprocessing.get_context(mp_context)
            workers = min(jobs, len(chunks))
            with ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=_init_worker, initargs=(sub, method)
            ) as ex:
                pending: dict[Future[list[float]], list[int]] = {}
                try:
                    for chunk in chunks:
                        pending[ex.submit(_run_chunk, [tasks[t] for t in chunk])] = chunk
                    while pending:
                        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            collect(pending.pop(fut), fut.result())
                except BaseException:
                    ex.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        bar.close()
    return results
