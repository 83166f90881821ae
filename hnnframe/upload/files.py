"""Which file of a model source carries its weights, and reading them (for the index and
every other caller of :func:`hnnframe.upload.describe_uploads`).

What ``hnn index add`` and ``check`` do with each kind of source (docs/index-guide.md,
"Weights"):

* an **ONNX file whose weights are there** (initializers inline, or external data files
  present beside it): its structure and its weights, from the one file;
* an **ONNX file without its weights** (every hnnframe zoo and corpus file: initializers
  marked external in a file that is absent): its structure only, no weight record, exactly as
  before the weight tier. A file with only *some* of its weights (one external data file
  missing, outside the folder or cut short) is fingerprinted from the tensors that are there,
  and the result says how many were missing: leaving one tensor out must not hide a copy
  (docs/index-guide.md, "Security");
* a **weights file** (safetensors, a ``weights_only`` PyTorch state dict) has no architecture,
  so it is added with a *companion* structure: ``--structure SOURCE`` (an ONNX file, a
  ``config.json``, ``timm:NAME``...) or, without it, the ``config.json`` beside the file (the
  Hugging Face layout). The record is the weights file's (its path, name and sha256), with the
  companion's structural code and the companion's source kept in ``structure``. Without a
  companion the file is refused with a one-line error;
* a **snapshot directory** (``config.json`` beside ``model.safetensors``, shards named by
  ``model.safetensors.index.json``, or ``pytorch_model.bin``) is one model: structure from its
  config, weights from every shard together (:mod:`hnnframe.repo`); a directory with weights
  but no config takes its structure from the one ONNX file inside it, or from a companion
  (``--structure``) as a weights file does;
* a **GGUF file**: structure from its metadata, weights dequantized tensor by tensor;
* named sources, ``config.json`` files, directories without weights and TorchScript files:
  structure only.

Weights are read one tensor at a time (:mod:`hnnframe.weights.readers`), never a whole model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnnframe.errors import ModelLoadError
from hnnframe.files import inside, not_regular
from hnnframe.log import get_logger
from hnnframe.sources import SOURCES, STRUCTURE, WEIGHTS, sniff
from hnnframe.weights.fingerprint import NO_WEIGHTS, WeightFingerprint, fingerprint
from hnnframe.weights.readers import detect_format

log = get_logger(__name__)


@dataclass(frozen=True)
class ModelFiles:
    """Where a model source's structure and weights are read from.

    Attributes:
        source: The source as given (what the record is of).
        structure: What the structural hasher reads (``source``, or its companion).
        weights: The file its weights are read from, or ``None``.
    """

    source: str
    structure: str
    weights: str | None

    @property
    def companion(self) -> bool:
        """Whether the structure comes from another source than the model itself."""
        return self.structure != self.source


def resolve(source: str, structure: str | None = None, weights: bool = True) -> ModelFiles:
    """Where ``source``'s structure and weights come from (see the module docstring).

    Args:
        source: A model file or named source.
        structure: The companion structure of a weights file (ignored for other sources).
        weights: Whether to read weights at all.

    Raises:
        ModelLoadError: ``source`` is a weights file and has no companion structure.
    """
    kind = sniff(source)
    if kind is None:  # a missing file or an unknown format: the hasher says why
        return ModelFiles(source, source, None)
    name = SOURCES.name_of(kind)
    if name == "adapter":
        raise ModelLoadError(
            f"{source}: a PEFT adapter holds no model of its own; `hnn index check` names the "
            "indexed models it can be applied to"
        )
    gives = kind.gives(source)
    if WEIGHTS not in gives:  # names, configs, TorchScript: structure only
        return ModelFiles(source, source, None)
    if STRUCTURE in gives:  # snapshot directories, GGUF, ONNX
        return ModelFiles(source, source, source if weights else None)
    # weights without an architecture: safetensors, a state dict, a directory of weights
    companion = structure
    p = Path(source)
    if companion is None and p.is_file() and (p.parent / "config.json").is_file():
        companion = str(p.parent / "config.json")
    if companion is None and p.is_dir():  # a directory of weights with its ONNX graph inside
        graphs = sorted(p.glob("*.onnx"))
        graph = inside(p, graphs[0].name) if len(graphs) == 1 else None
        companion = str(graph) if graph is not None else None
    return _with_companion(source, name, companion, weights)


def _with_companion(source: str, fmt: str, companion: str | None, weights: bool) -> ModelFiles:
    if companion is None:
        what = "directory of weights" if fmt == "snapshot" else f"{fmt} weights file"
        raise ModelLoadError(
            f"{source}: a {what} carries no architecture; give it one with "
            "--structure SOURCE (an ONNX file, a config.json, timm:NAME, ...) or keep its "
            "config.json beside it"
        )
    return ModelFiles(source, os.fspath(companion), source if weights else None)


def onnx_tensor_data(path: str | os.PathLike) -> tuple[int, int]:
    """``(present, absent)``: how many weight tensors of an ONNX file have their data, and
    how many are external in a file that is not there (a weight-stripped model).

    Weight tensors are the floating-point and 8-bit initializers (quantized weights) of two
    or more elements, and floating-point ``Constant`` nodes; shape constants do not count.
    """
    import onnx
    from onnx import TensorProto as T

    kinds = {T.FLOAT, T.FLOAT16, T.DOUBLE, T.BFLOAT16, T.INT8, T.UINT8}
    model = onnx.load(str(path), load_external_data=False)
    base = Path(path).parent
    tensors = [t for t in model.graph.initializer if t.data_type in kinds]
    tensors += [
        a.t
        for n in model.graph.node
        if n.op_type == "Constant"
        for a in n.attribute
        if a.name == "value" and a.t.data_type in kinds
    ]
    present = absent = 0
    for t in tensors:
        if _elements(t.dims) < 2:
            continue  # a scalar or an empty tensor: no weight
        if t.data_location == T.EXTERNAL:
            loc = {e.key: e.value for e in t.external_data}.get("location", "")
            f = inside(base, loc) if loc else None  # never stat a path outside the folder
            if f is None or not_regular(f):
                absent += 1
                continue
        present += 1
    return present, absent


def _elements(dims: Any) -> int:
    """A declared element count, saturating (a stranger's dims can multiply to anything)."""
    n = 1
    for d in dims:
        n = min(n * max(int(d), 0), 1 << 64)
    return n


def read_weights(
    files: ModelFiles, bits: int, sha256: str | None = None
) -> WeightFingerprint | None:
    """The weight fingerprint of ``files.weights``, or ``None`` when it holds no weights.
    ``sha256``: the source's model_sha256 when the caller already has it (the weights file
    is the source itself).

    Raises:
        ModelLoadError: The file claims weights but they cannot be read (a truncated
            external data file, a corrupted safetensors header...).
    """
    if files.weights is None:
        return None
    path = files.weights
    if detect_format(path) == "onnx":
        try:
            present, absent = onnx_tensor_data(path)
        except Exception:  # noqa: BLE001 - unreadable: the structural hasher names the error
            return None
        if not present:  # weight-stripped (or no weights at all): structure only
            return None
        if absent:
            log.warning(
                "%s: %d of %d weight tensors have no data; fingerprinted from the %d present",
                path,
                absent,
                present + absent,
                present,
            )
    try:
        return fingerprint(path, bits, sha256)
    except ModelLoadError as e:
        msg = str(e)
        if msg.endswith(NO_WEIGHTS):
            log.info("%s holds no weight tensors; indexed by its structure only", path)
            return None
        if msg.startswith(path):
            raise
        raise ModelLoadError(f"{path}: cannot read its weights ({msg})") from e
