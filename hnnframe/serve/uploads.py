"""Uploads from strangers, put on disk under limits: a model file or a repository archive
(tar or zip) streamed in chunks, never held in memory whole, or a path under the storage root.

An archive is unpacked member by member with every name checked (no absolute path, no ``..``,
no link or device) and its member count and unpacked bytes bounded, counting the bytes that
are actually written rather than the sizes the archive declares.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from hnnframe.errors import HnnError
from hnnframe.serve.config import Limits

CHUNK = 1 << 20
#: Suffixes of the files an archive's model is looked for among.
MODEL_SUFFIXES = (".onnx", ".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".gguf")


class UploadError(HnnError):
    """An upload that cannot be taken; ``status`` is the HTTP status it answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def safe_name(filename: str | None, default: str = "upload.onnx") -> str:
    """A file name to store an upload under: its base name, with nothing but letters,
    digits and ``._-`` (a stranger's name never leaves its folder)."""
    base = PurePosixPath((filename or "").replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")[:120]
    return base or default


def copy_limited(src: IO[bytes], dest: Path, limit: int, what: str) -> int:
    """Copy ``src`` to ``dest`` in chunks; the bytes copied.

    Raises:
        UploadError: 413 once more than ``limit`` bytes have come.
    """
    n = 0
    with open(dest, "wb") as out:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            n += len(chunk)
            if n > limit:
                raise UploadError(f"{what} is larger than the limit of {limit:,} bytes", 413)
            out.write(chunk)
    return n


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a tar (any compression) or zip archive, by its content."""
    if zipfile.is_zipfile(path):
        return True
    try:
        return tarfile.is_tarfile(path)
    except (OSError, tarfile.TarError):
        return False


def _member_path(root: Path, name: str) -> Path:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise UploadError(f"archive member {name!r} points outside the archive")
    return root.joinpath(*p.parts)


def _members(archive: Path) -> Iterator[tuple[str, bool, IO[bytes] | None]]:
    """``(name, is_dir, reader)`` per member; links and devices are refused."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                mode = (info.external_attr >> 16) & 0o170000
                if mode and mode not in (0o100000, 0o040000):  # a symlink or device
                    raise UploadError(f"archive member {info.filename!r} is not a plain file")
                if info.is_dir():
                    yield info.filename, True, None
                else:
                    with z.open(info) as f:
                        yield info.filename, False, f
        return
    with tarfile.open(archive) as t:
        for m in t:
            if m.isdir():
                yield m.name, True, None
            elif m.isfile():
                yield m.name, False, t.extractfile(m)
            else:
                raise UploadError(f"archive member {m.name!r} is not a plain file")


def unpack(archive: Path, dest: Path, limits: Limits) -> Path:
    """Unpack ``archive`` into ``dest`` under ``limits``; ``dest``.

    Raises:
        UploadError: A bad name, a link, too many members or too many bytes (413), or not
            an archive that can be read (400).
    """
    dest.mkdir(parents=True, exist_ok=True)
    count = total = 0
    try:
        for name, is_dir, reader in _members(archive):
            count += 1
            if count > limits.members:
                raise UploadError(f"archive has more than {limits.members} members", 413)
            target = _member_path(dest, name)
            if is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            assert reader is not None
            total += copy_limited(
                reader, target, limits.unpacked_bytes - total, "the unpacked archive"
            )
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise UploadError(f"the archive cannot be unpacked: {e}") from None
    return dest


def pick_model(root: Path) -> Path:
    """The model file of an unpacked repository: its one ONNX file, else its one weights
    file (whose ``config.json`` beside it gives the architecture).

    Raises:
        UploadError: 422 when it holds none, or several of one kind.
    """
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in MODEL_SUFFIXES)
    onnx = [p for p in files if p.suffix == ".onnx"]
    for group in (onnx, files):
        if len(group) == 1:
            return group[0]
        if len(group) > 1:
            names = ", ".join(str(p.relative_to(root)) for p in group[:5])
            raise UploadError(
                f"the archive holds {len(group)} model files ({names}); send one model", 422
            )
    raise UploadError(f"the archive holds no model file ({', '.join(MODEL_SUFFIXES)})", 422)


def under_root(root: str | None, given: str) -> Path:
    """The file ``given`` names under the storage root ``root`` (a relative path is taken
    from the root); never a path outside it, links resolved.

    Raises:
        UploadError: No storage root is configured (400), the path leaves it (403), or
            nothing is there (404).
    """
    if not root:
        raise UploadError("this server takes no storage paths (start it with --storage-root)")
    base = Path(root).resolve()
    p = (base / given).resolve()
    if p != base and base not in p.parents:
        raise UploadError(f"{given}: not under the storage root", 403)
    if not p.exists():
        raise UploadError(f"{given}: no such file under the storage root", 404)
    return p


def remove_tree(path: Path) -> None:
    """Remove an upload's folder (what is left of it)."""
    shutil.rmtree(path, ignore_errors=True)


def scrub(message: str, folder: Path, shown: str) -> str:
    """``message`` on one line, with the upload's folder on this server replaced by the name
    the client sent (a client learns nothing of the server's paths)."""
    text = " ".join(str(message).split())
    return text.replace(f"{folder}{os.sep}", "").replace(str(folder), shown)
