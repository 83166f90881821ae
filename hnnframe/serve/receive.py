"""One upload taken from a request, in either form the API accepts: the multipart field
``file`` (a model file, or a repository as a tar or zip archive) with form fields beside it,
or a JSON body ``{"path": ...}`` naming a file under the storage root.

A multipart file is copied in chunks from Starlette's spooled temporary file (which holds at
most 1 MB in memory) into a folder of its own, so nothing is held in memory whole.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hnnframe.serve.config import ServeConfig
from hnnframe.serve.uploads import (
    MODEL_SUFFIXES,
    UploadError,
    copy_limited,
    is_archive,
    pick_model,
    remove_tree,
    safe_name,
    under_root,
    unpack,
)

#: Form fields (and JSON keys) an upload may come with.
FIELDS = ("label", "meta", "radius", "fail_on", "weight_threshold", "action", "explain", "k")


@dataclass
class Upload:
    """An upload on disk.

    Attributes:
        source: The model to hash (an archive's model file once unpacked).
        shown: The name the client knows it by (its file name, or the path it gave).
        folder: The folder made for it, removed when done (``None`` for a storage path).
        fields: The form fields or JSON keys sent with it.
    """

    source: Path
    shown: str
    folder: Path | None
    fields: dict[str, Any] = field(default_factory=dict)

    def discard(self) -> None:
        if self.folder is not None:
            remove_tree(self.folder)


async def receive_upload(request: Any, cfg: ServeConfig, under: str = "uploads") -> Upload:
    """The upload of ``request``, put in a new folder under ``DATA_DIR/under``.

    Raises:
        UploadError: No file and no path, a path outside the storage root, an archive that
            breaks the limits or holds no single model.
    """
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        return await _multipart(request, cfg, under)
    if ctype.startswith("application/json"):
        body = await json_body(request)
        if not isinstance(body.get("path"), str) or not body["path"]:
            raise UploadError('send the model as the multipart field "file", or JSON {"path": ...}')
        return Upload(
            under_root(cfg.storage_root, body["path"]),
            body["path"],
            None,
            {k: body[k] for k in FIELDS if k in body},
        )
    raise UploadError('send multipart/form-data with a field "file", or application/json', 415)


async def json_body(request: Any) -> dict[str, Any]:
    """The JSON object of the request body."""
    try:
        body = json.loads(await request.body())
    except ValueError as e:
        raise UploadError(f"the body is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise UploadError("the body must be a JSON object")
    return body


async def _multipart(request: Any, cfg: ServeConfig, under: str) -> Upload:
    async with request.form(max_files=1, max_fields=len(FIELDS) + 1) as form:
        f = form.get("file")
        if not isinstance(f, UploadFile):
            raise UploadError('the multipart field "file" is missing')
        fields = {k: v for k, v in form.items() if k in FIELDS and isinstance(v, str)}
        shown = safe_name(f.filename)
        folder = Path(cfg.data_dir) / under / uuid.uuid4().hex
        folder.mkdir(parents=True)
        try:
            dest = folder / shown
            await f.seek(0)
            # file work off the event loop: other requests go on meanwhile
            await run_in_threadpool(copy_limited, f.file, dest, cfg.limits.upload_bytes, shown)
            source = await run_in_threadpool(_model_in, dest, folder, cfg)
            return Upload(source, shown, folder, fields)
        except BaseException:
            remove_tree(folder)
            raise


def _model_in(dest: Path, folder: Path, cfg: ServeConfig) -> Path:
    """The upload itself, or, for an archive, its one model file once unpacked."""
    # a torch file (.pt, .bin) is a zip archive itself: its suffix says it is a model
    if dest.suffix in MODEL_SUFFIXES or not is_archive(dest):
        return dest
    root = unpack(dest, folder / "unpacked", cfg.limits)
    dest.unlink()
    return pick_model(root)


def int_field(fields: dict[str, Any], name: str, default: int | None = None) -> int | None:
    """An integer field (form fields are text)."""
    v = fields.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        raise UploadError(f"{name} must be an integer, not {v!r}") from None


def meta_field(fields: dict[str, Any]) -> dict[str, Any]:
    """The ``meta`` field: a JSON object (in a form, its text)."""
    v = fields.get("meta")
    if v is None or v == "":
        return {}
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            raise UploadError("meta must be a JSON object") from None
    if not isinstance(v, dict):
        raise UploadError("meta must be a JSON object")
    return {str(k): val for k, val in v.items()}
