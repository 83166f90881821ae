"""Producing variants and caching them.

Variant graphs are cached as ``<cache>/variants/<transform>/<key>.json`` (the raw OpGraph)
beside the stripped ``<key>.onnx``; a transform that fails for a model caches its error, so a
rerun does not retry it (``force=True`` does, and so does a change of the variant code, see
:func:`maker_version`). Files are written atomically. A cached graph is read again from its
ONNX file when the reading code (frontends, ir) has changed since.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hnnframe.errors import HnnError
from hnnframe.files import atomic_write, cache_path, source_digest
from hnnframe.frontends import load_onnx_file, model_name, strip_weights
from hnnframe.ir import OpGraph, from_onnx
from hnnframe.log import get_logger
from hnnframe.sources import to_onnx
from hnnframe.variants.base import VariantError, VariantUnavailable, get_transform
from hnnframe.variants.sources import VariantSource

log = get_logger(__name__)

# 3: strip_weights keeps scalars, so a cached QDQ file keeps its quantizers' ranges.
VARIANT_FORMAT = 3


def variant_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir`` or ``$HNN_CACHE_DIR/variants`` (default ``~/.cache/hnnframe/variants``)."""
    return cache_path("variants", cache_dir)


@dataclass
class Variant:
    """One produced (or failed) variant."""

    transform: str
    model: str
    graph: OpGraph | None
    error: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.graph is not None


def make_variant(name: str, src: VariantSource) -> tuple[Any, OpGraph, dict[str, Any]]:
    """Produce one variant: (the tool's ONNX without weights, raw OpGraph, info).

    Raises :class:`VariantUnavailable` or :class:`VariantError`.
    """
    import onnx

    t = get_transform(name)
    if t.needs_module and not src.is_module:
        raise VariantUnavailable(f"{name} needs a torch module; {src.name} is a file")
    t0 = time.perf_counter()
    try:
        proto = t(src)
    except HnnError:
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise VariantError(f"{name} failed for {src.name}: {msg}") from e
    info: dict[str, Any] = {"seconds": round(time.perf_counter() - t0, 2)}
    # Transforms may return a source's shared export: strip a copy.
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    proto = copy
    if proto.doc_string.startswith("resolution "):
        info["input_size"] = int(proto.doc_string.split()[1])
    proto.graph.name = src.name
    # The upload is the tool's file without weights; it is read as hnnframe reads any file
    # (shapes inferred from the file alone), so the cached file always reads the same.
    stripped = strip_weights(proto)
    graph = from_onnx(to_onnx(onnx.ModelProto.FromString(stripped.SerializeToString())), src.name)
    info["nodes"] = graph.num_nodes
    return stripped, graph, info


_READER: list[str] = []
_MAKER: list[str] = []


def maker_version() -> str:
    """Fingerprint of the code that makes variants (this package).

    A cached *failure* made by other code is retried: a fix in a transform or a source (a
    trigger, an exporter symbolic) reaches the variants that failed before it. Variants that
    were made stay valid.
    """
    if not _MAKER:
        h = hashlib.sha256()
        for f in sorted(Path(__file__).parent.glob("*.py")):
            h.update(f.read_bytes())
        _MAKER.append(h.hexdigest()[:16])
    return _MAKER[0]


def reader_version() -> str:
    """Fingerprint of the code that reads an ONNX file into an OpGraph (frontends, ir).

    A cached graph made by other reader code is read again from its cached ONNX file, so a
    fix in shape inference or FLOP counting reaches cached variants without a rebuild.
    """
    if not _READER:
        import onnx

        # Every module of both packages: FLOP rules live in ir/flops.py, tensor reads in
        # frontends/tensors.py, not in the packages' __init__.
        _READER.append(source_digest("frontends", "ir", extra=onnx.__version__))
    return _READER[0]


def load_cached(path: Path) -> Variant | None:
    """A cached variant; its graph is re-read from the cached ONNX when the reader changed."""
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if d.get("format") != VARIANT_FORMAT:
        return None
    if d.get("error") and d.get("maker") != maker_version():
        return None
    g = OpGraph.from_dict(d["graph"]) if d.get("graph") else None
    onnx_path = path.with_suffix(".onnx")
    if g is not None and d.get("reader") != reader_version() and onnx_path.exists():
        g = from_onnx(load_onnx_file(onnx_path), d["model"])
        d.update(graph=g.to_dict(), reader=reader_version())
        atomic_write(path, json.dumps(d).encode(), mkdir=True)
    return Variant(d["transform"], d["model"], g, d.get("error", ""), d.get("info", {}))


def build_variants(
    sources: Sequence[tuple[str, str]],
    transforms: Iterable[str],
    cache_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool = True,
    save_onnx: bool = True,
) -> dict[tuple[str, str], Variant]:
    """Produce (or load from the cache) every transform of every ``(name, spec)`` source.

    Returns ``{(transform, name): Variant}``; a variant that a transform cannot make has
    ``graph=None`` and its error (a transform that needs a module, for a file, says so).
    """
    from tqdm import tqdm

    names = list(transforms)
    for t in names:
        get_transform(t)
    root = variant_dir(cache_dir)
    out: dict[tuple[str, str], Variant] = {}
    todo: list[tuple[str, str, VariantSource]] = []
    for name, spec in sources:
        try:
            src = VariantSource(spec, name)
        except VariantUnavailable as e:
            for t in names:
                out[(t, name)] = Variant(t, name, None, str(e))
            continue
        for t in names:
            if get_transform(t).needs_module and not src.is_module:
                out[(t, name)] = Variant(t, name, None, f"{t} needs a torch module")
                continue
            cached = None if force else load_cached(root / t / f"{src.key}.json")
            if cached is not None:
                out[(t, name)] = cached
            else:
                todo.append((t, name, src))
    bar = tqdm(total=len(todo), desc="variants", unit="variant", disable=not progress or not todo)
    last = {id(src): k for k, (_, _, src) in enumerate(todo)}
    for k, (t, name, src) in enumerate(todo):
        bar.set_postfix_str(f"{t}:{name}")
        path = root / t / f"{src.key}.json"
        record: dict[str, Any] = {
            "format": VARIANT_FORMAT,
            "transform": t,
            "model": name,
            "source": src.spec,
            "reader": reader_version(),
            "maker": maker_version(),
        }
        try:
            proto, graph, info = make_variant(t, src)
            record.update(graph=graph.to_dict(), info=info)
            if save_onnx:
                atomic_write(path.with_suffix(".onnx"), proto.SerializeToString(), mkdir=True)
            out[(t, name)] = Variant(t, name, graph, "", info)
        except HnnError as e:
            log.warning("%s", e)
            record.update(error=str(e))
            out[(t, name)] = Variant(t, name, None, str(e))
        atomic_write(path, json.dumps(record).encode(), mkdir=True)
        bar.update(1)
        if last[id(src)] == k:  # the source's last transform: free its exports
            src.clear()
    bar.close()
    return out


def variant_graph(
    transform_name: str,
    spec: str,
    name: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> OpGraph | None:
    """The raw OpGraph of one variant (cached), or None when the transform does not apply."""
    name = name or model_name(spec)
    v = build_variants([(name, spec)], [transform_name], cache_dir, progress=False)
    return v[(transform_name, name)].graph
