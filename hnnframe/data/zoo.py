"""The model zoo of the paper's Table 1 (section 4.1.3), exported once and cached as graphs.

``build_zoo`` exports each torchvision architecture with ``weights=None`` (structure, FLOPs and
parameter counts do not depend on weight values), strips the weights, and caches per model:

* ``onnx/NAME.onnx``: the weight-stripped ONNX structure (dims kept, values gone);
* ``graphs/NAME.json``: the raw (unmerged, uncanonicalised) OpGraph.

The cache is a few MB. Each file is written to a temporary name and renamed, so a killed build
leaves no half-written entry, and a rebuild skips models that are already cached.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from hnnframe.errors import HnnError
from hnnframe.files import atomic_write, cache_path
from hnnframe.frontends.torchvision import CATEGORIES, CATEGORY_OF, TABLE1, ZooEntry
from hnnframe.ir import OpGraph, from_onnx
from hnnframe.log import get_logger
from hnnframe.sources import to_onnx

log = get_logger(__name__)

# The zoo's list lives beside the torchvision frontend, below the hub corpus that draws on it
__all__ = ["CATEGORIES", "CATEGORY_OF", "TABLE1", "ZooEntry", "build_zoo", "load_zoo", "zoo_dir"]


def zoo_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    return cache_path("zoo", cache_dir)


def export_one(name: str, out_dir: str) -> dict[str, Any]:
    """Export one zoo model into ``out_dir``; runs in a worker process."""
    import time

    import torch

    torch.set_num_threads(1)

    t0 = time.perf_counter()
    out = Path(out_dir)
    model = to_onnx(f"torchvision:{name}")
    graph = from_onnx(model, name)
    atomic_write(out / "onnx" / f"{name}.onnx", model.SerializeToString())
    atomic_write(out / "graphs" / f"{name}.json", json.dumps(graph.to_dict()).encode())
    return {"name": name, "nodes": graph.num_nodes, "seconds": time.perf_counter() - t0}


def build_zoo(
    cache_dir: str | os.PathLike[str] | None = None,
    names: Iterable[str] | None = None,
    jobs: int = 2,
    force: bool = False,
    progress: bool = True,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Export the zoo (or ``names`` of it) into the cache; returns the cache directory."""
    from tqdm import tqdm

    out = zoo_dir(cache_dir)
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    (out / "graphs").mkdir(parents=True, exist_ok=True)
    wanted = list(names) if names else [e.name for e in TABLE1]
    todo = [n for n in wanted if force or not (out / "graphs" / f"{n}.json").exists()]
    bar = tqdm(
        total=len(wanted),
        initial=len(wanted) - len(todo),
        desc="zoo export",
        unit="model",
        disable=not progress,
    )
    # Biggest models first so that the slowest export does not start last.
    todo.sort(key=lambda n: ("vgg" not in n and "densenet" not in n and "inception" not in n, n))
    if jobs <= 1:
        for n in todo:
            info = export_one(n, str(out))
            bar.update(1)
            if on_done:
                on_done(info)
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as ex:
            futs = {ex.submit(export_one, n, str(out)): n for n in todo}
            for fut in as_completed(futs):
                try:
                    info = fut.result()
                except HnnError:
                    raise
                except Exception as e:
                    raise HnnError(f"exporting {futs[fut]} failed: {e}") from e
                bar.set_postfix_str(info["name"])
                bar.update(1)
                if on_done:
                    on_done(info)
    bar.close()
    meta = {
        "models": [{"name": e.name, "category": e.category} for e in TABLE1 if e.name in wanted]
    }
    atomic_write(out / "zoo.json", json.dumps(meta, indent=1).encode())
    return out


def load_zoo(
    cache_dir: str | os.PathLike[str] | None = None, names: Iterable[str] | None = None
) -> list[tuple[ZooEntry, OpGraph]]:
    """Load cached raw graphs; raise a clear error if the zoo has not been built."""
    out = zoo_dir(cache_dir)
    entries = [e for e in TABLE1 if names is None or e.name in set(names)]
    result = []
    for e in entries:
        p = out / "graphs" / f"{e.name}.json"
        if not p.exists():
            raise HnnError(f"zoo model {e.name} is not cached in {out}; run `hnn zoo build`")
        result.append((e, OpGraph.from_dict(json.loads(p.read_text()))))
    return result
