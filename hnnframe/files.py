"""Files: atomic writes, content digests and the cache layout, for every module that writes.

Everything hnnframe caches lives under one root, ``$HNN_CACHE_DIR`` or ``~/.cache/hnnframe``:

* ``zoo/``: the Table-1 zoo (:mod:`hnnframe.data.zoo`);
* ``variants/``: transformed copies of models (:mod:`hnnframe.variants`);
* ``ged.sqlite``: pairwise graph edit distances (:mod:`hnnframe.ged`).

Every file is written through :func:`atomic_write` (a synced temporary file renamed over the
target), so a reader never sees a half-written file and a killed process leaves the old one.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

PathLike = str | os.PathLike[str]


def default_cache_dir() -> Path:
    """``$HNN_CACHE_DIR`` or ``~/.cache/hnnframe``."""
    return Path(os.environ.get("HNN_CACHE_DIR", Path.home() / ".cache" / "hnnframe"))


def cache_path(name: str, given: PathLike | None = None) -> Path:
    """``given`` when set, else ``name`` under :func:`default_cache_dir` (``zoo``, ...)."""
    return Path(given) if given else default_cache_dir() / name


def atomic_write(path: PathLike, data: bytes, mkdir: bool = False) -> None:
    """Write ``data`` to ``path`` through a synced temporary file: a reader never sees a
    half-written file, and a killed process leaves the old one."""
    path = Path(path)
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def file_sha256(path: PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def not_regular(path: PathLike) -> str | None:
    """Why ``path`` is no regular file to read (``None`` when it is one): missing, a
    directory, a symbolic link loop, a FIFO, a socket or a device. Checked with ``stat``
    before anything opens it, since opening a FIFO would wait for a writer forever."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no such file"
    except PermissionError:
        return "permission denied"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link loop"
        return e.strerror or type(e).__name__
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISDIR(st.st_mode):
        return "a directory, not a file"
    kind = (
        "a FIFO"
        if stat.S_ISFIFO(st.st_mode)
        else "a socket"
        if stat.S_ISSOCK(st.st_mode)
        else "a device"
    )
    return f"not a regular file ({kind})"


def inside(base: PathLike, name: str, root: PathLike | None = None) -> Path | None:
    """``base / name`` with every symbolic link resolved, or ``None`` when that leaves
    ``root`` (default ``base``: an absolute path, ``../``, a link pointing elsewhere) or
    cannot be resolved.

    An upload names files beside it; a path elsewhere on the server is never opened, not
    even to digest it (that would tell a stranger whether, and what, a server file is).
    """
    try:
        target = (Path(base).resolve() / name).resolve()
        folder = Path(root if root is not None else base).resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte in the name
        return None
    return target if target.is_relative_to(folder) else None


def _onnx_external_locations(path: Path) -> list[str]:
    """The external data files an ONNX file's tensors name, in first-use order."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # not parseable here: the reader reports it; the bytes still digest
        return []
    seen: dict[str, None] = {}
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            for kv in t.external_data:
                if kv.key == "location":
                    seen.setdefault(kv.value, None)
    return list(seen)


def model_sha256(path: PathLike) -> str:
    """The digest that names a model file: its sha256, and for an ONNX file whose tensors live
    in external data files, the digest of the file with those files (missing ones marked).

    Two models exported the same way can have byte-identical ``.onnx`` files and different
    weights in their data files; an ``.onnx`` whose data file is absent is not the same model
    as the one with it. Only ONNX files with external data differ from :func:`file_sha256`.
    """
    p = Path(path)
    own = file_sha256(p)
    locations = _onnx_external_locations(p) if p.suffix.lower() == ".onnx" else []
    if not locations:
        return own
    h = hashlib.sha256(bytes.fromhex(own))
    for loc in locations:
        f = inside(p.parent, loc)
        h.update(loc.encode("utf-8", "surrogateescape") + b"\0")
        if f is None:
            h.update(b"outside")  # refused by the reader too; never opened
        elif not_regular(f) is None:
            h.update(bytes.fromhex(file_sha256(f)))
        else:
            h.update(b"missing")
    return h.hexdigest()


def source_digest(*packages: str, extra: str = "") -> str:
    """sha256 prefix of every ``*.py`` file of the named ``hnnframe`` subpackages (and of
    ``extra``): the version of the code behind a cached result, so a change to it makes the
    cache miss instead of serving a result the current code would not give."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256(extra.encode())
    for pkg in packages:
        d = root / pkg
        for f in sorted(d.glob("*.py")) if d.is_dir() else [d.with_suffix(".py")]:
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


# -- Markdown blocks ------------------------------------------------------------------------------
# Generated figures live in docs/ and README.md between `<!-- NAME:begin -->` and
# `<!-- NAME:end -->` markers; the text around them is written by hand and never touched, so
# the commands that write figures share this one writer.
def block_markers(name: str) -> tuple[str, str]:
    """``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def read_block(path: PathLike, name: str) -> str | None:
    """The text between the markers of block ``name`` in ``path``; None when it has none."""
    p = Path(path)
    begin, end = block_markers(name)
    doc = p.read_text() if p.exists() else ""
    if begin not in doc or end not in doc:
        return None
    return doc.split(begin, 1)[1].split(end, 1)[0].removeprefix("\n")


def write_block(path: PathLike, name: str, text: str, new_file: str = "") -> None:
    """Replace block ``name`` of ``path`` with ``text``, or append it when absent.

    ``text`` goes in as given, with a line break added when it lacks one; the text around the
    block stays byte for byte. An appended block follows a blank line; a missing file starts as
    ``new_file``.
    """
    p = Path(path)
    begin, end = block_markers(name)
    newline = "" if text.endswith("\n") else "\n"
    body = f"{begin}\n{text}{newline}{end}\n"
    old = p.read_text() if p.exists() else new_file
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + body.removesuffix("\n") + rest.split(end, 1)[1]
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + body
    atomic_write(p, new.encode())
