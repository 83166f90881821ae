"""Model repositories as a hub receives them: which files of a snapshot directory carry its
weights, and opening them only inside the upload's folder.

Layouts (transformers' ``save_pretrained`` and PEFT's, see /work/shared/DESIGN.md "Facts
about what a hub receives"):

* ``model.safetensors.index.json`` / ``pytorch_model.bin.index.json``: a ``weight_map`` from
  tensor name to shard file; every shard together is the model;
* ``model.safetensors`` or ``pytorch_model.bin``: one file;
* ``adapter_config.json`` with ``adapter_model.safetensors`` (or ``.bin``): a PEFT adapter.

Uploads come from strangers: every path a directory names (an index's shard, an adapter's
file) is resolved and must stay inside the model's folder, so neither ``../`` nor an absolute
path nor a symlink leaving the folder reads another file of the server. The one exception is
the Hugging Face cache layout, ``models--ORG--NAME/snapshots/<commit>/``, whose files are
symlinks into ``models--ORG--NAME/blobs/``: there the folder is ``models--ORG--NAME``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from hnnframe.errors import ModelLoadError
from hnnframe.files import PathLike, file_sha256, model_sha256
from hnnframe.files import inside as files_inside

#: Index files of sharded saves, in the order they are preferred.
SHARD_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
#: Single-file saves, in the order they are preferred.
SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_model.bin")
#: An index json larger than this is no index (a real one is a few hundred kB at most).
MAX_INDEX_BYTES = 64 << 20
#: File stems that name no model (``model.safetensors``): a record takes its folder's name.
GENERIC_STEMS = ("model", "pytorch_model", "adapter_model", "diffusion_pytorch_model")


def folder_of(directory: PathLike) -> Path:
    """The folder nothing may be read outside of: the directory itself, or the repository
    folder of a Hugging Face cache snapshot (``models--ORG--NAME``)."""
    d = Path(directory).resolve()
    if d.parent.name == "snapshots" and d.parent.parent.name.startswith("models--"):
        return d.parent.parent
    return d


def inside(directory: PathLike, name: str) -> Path:
    """``directory / name`` resolved (symlinks followed), refused if it leaves the folder.

    Raises:
        ModelLoadError: ``name`` is absolute, climbs out, or is a symlink leading outside.
    """
    d = Path(directory)
    if not isinstance(name, str) or not name or os.path.isabs(name) or "\x00" in name:
        raise ModelLoadError(f"{d}: names the file {name!r}, which is not a relative path")
    try:
        root = folder_of(d)
    except (OSError, RuntimeError, ValueError):  # the directory itself is a link loop
        root = None
    p = files_inside(d, name, root) if root is not None else None
    if p is None:
        raise ModelLoadError(
            f"{d}: names {name!r}, which is outside the model's folder or cannot be resolved"
        )
    return p


def read_json(path: Path) -> dict:
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            raise ModelLoadError(f"{path}: {path.stat().st_size:,} bytes, too large for a json")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ModelLoadError(f"{path}: not readable json ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: not a json object")
    return data


def shard_names(index: Path) -> list[str]:
    """The shard files a ``*.index.json`` names (relative to its folder), once each, sorted.

    Raises:
        ModelLoadError: no ``weight_map``, or an entry that is no file name.
    """
    wmap = read_json(index).get("weight_map")
    if not isinstance(wmap, dict) or not wmap:
        raise ModelLoadError(f"{index}: no weight_map")
    if not all(isinstance(v, str) for v in wmap.values()):
        raise ModelLoadError(f"{index}: a weight_map entry is not a file name")
    return sorted(set(wmap.values()))


def weight_names(directory: PathLike) -> list[str]:
    """The files (relative to the directory) that hold a snapshot directory's weights, see
    the module docstring; ``[]`` for a directory without weights or an adapter.

    Raises:
        ModelLoadError: an index json that cannot be read.
    """
    d = Path(directory)
    for name in SHARD_INDEXES:
        if (d / name).is_file():
            return shard_names(inside(d, name))
    for name in SINGLE_FILES:
        if (d / name).is_file():
            return [name]
    return []


def weight_files(directory: PathLike) -> list[Path]:
    """:func:`weight_names` resolved inside the model's folder.

    Raises:
        ModelLoadError: a file outside the folder, or a shard that is missing.
    """
    d = Path(directory)
    out = []
    for n in weight_names(d):
        p = inside(d, n)
        if not p.is_file():
            raise ModelLoadError(f"{d}: its weight file {n} is missing")
        out.append(p)
    return out


def adapter_files(directory: PathLike) -> tuple[Path, Path] | None:
    """``(adapter_config.json, adapter weights)`` of a PEFT adapter directory, else None."""
    d = Path(directory)
    if not (d / ADAPTER_CONFIG).is_file():
        return None
    for name in ADAPTER_FILES:
        if (d / name).is_file():
            return inside(d, ADAPTER_CONFIG), inside(d, name)
    return None


def is_snapshot(path: PathLike) -> bool:
    """Whether ``path`` is a directory that holds a model's weights (see :func:`weight_files`)."""
    p = Path(path)
    return p.is_dir() and any((p / n).is_file() for n in (*SHARD_INDEXES, *SINGLE_FILES))


def is_adapter(path: PathLike) -> bool:
    """Whether ``path`` is a PEFT adapter directory."""
    p = Path(path)
    return p.is_dir() and adapter_files(p) is not None


def directory_sha256(directory: PathLike) -> str:
    """The digest that names a repository directory: of its weight files (their names
    relative to it, and their bytes), so a copied directory has the digest of the original
    wherever it lies. An adapter is named by its config and weights; a directory without
    weights by its ``config.json``.

    Raises:
        ModelLoadError: a directory with neither weights nor a config.json.
    """
    d = Path(directory)
    names = weight_names(d)
    if not names:
        ad = adapter_files(d)
        if ad:
            names = [ADAPTER_CONFIG, next(n for n in ADAPTER_FILES if (d / n).is_file())]
        elif (d / "config.json").is_file():
            names = ["config.json"]
    if not names:
        raise ModelLoadError(
            f"{d}: a directory with no model files (no config.json, weights or adapter)"
        )
    h = hashlib.sha256(b"hnnframe-directory\0")
    for n in names:
        p = inside(d, n)
        if not p.is_file():
            raise ModelLoadError(f"{d}: its file {n} is missing")
        h.update(n.encode() + b"\0")
        h.update(bytes.fromhex(file_sha256(p)))
    return h.hexdigest()


def upload_sha256(path: PathLike) -> str:
    """The digest that keys an upload in the index: :func:`directory_sha256` for a
    directory, :func:`~hnnframe.files.model_sha256` for a file."""
    return directory_sha256(path) if Path(path).is_dir() else model_sha256(path)
