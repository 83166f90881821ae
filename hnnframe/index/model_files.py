"""The index's operations on model files: each upload described by :mod:`hnnframe.upload`
(structural code, architecture digests, sha256, tensor digests and weight code), then added
in chunks or checked; and PEFT adapters, checked by the indexed models they fit.

:class:`ModelFileOps` is a part of :class:`hnnframe.index.HashIndex`, which supplies the store,
the binding and :meth:`~hnnframe.index.HashIndex.check`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hnnframe.index.batch import add_model_files
from hnnframe.index.records import AddResult, Binding, HasherLike, IndexRecord
from hnnframe.index.store import Store
from hnnframe.index.verdict import CheckResult
from hnnframe.upload import describe_uploads

if TYPE_CHECKING:
    from hnnframe.weights.fingerprint import WeightFingerprint

#: Models hashed and committed per transaction by :meth:`ModelFileOps.add_models`.
ADD_CHUNK = 32


class ModelFileOps:
    """Adding and checking model files (a part of :class:`hnnframe.index.HashIndex`)."""

    _store: Store

    if TYPE_CHECKING:  # supplied by HashIndex

        @property
        def binding(self) -> Binding: ...

        def ensure_compatible(self, bits: int, fingerprint: str | None) -> None: ...

        def list(self) -> list[IndexRecord]: ...

        def check(
            self,
            query: Any,
            radius: int | None = None,
            *,
            fingerprint: str | None = None,
            weights: WeightFingerprint | None = None,
            weight_threshold: int | None = None,
        ) -> CheckResult: ...

    def add_models(
        self,
        sources: Sequence[str | os.PathLike],
        hasher: HasherLike,
        *,
        checkpoint: str | os.PathLike | None = None,
        label: str | None = None,
        meta: dict[str, Any] | None = None,
        progress: bool = False,
        chunk: int = ADD_CHUNK,
        weights: bool = True,
        structure: str | os.PathLike | None = None,
        weight_bits: int | None = None,
    ) -> list[AddResult]:
        """Hash model files with ``hasher`` and add them, one transaction per ``chunk`` models;
        a file that carries weights gets its weight fingerprint stored beside its code.

        A batch survives bad files and interruptions (docs/index-guide.md, "Adding many
        models"): files whose sha256 is indexed are not hashed again; a file that cannot be
        read or hashed gets a result with ``error`` set and the others go on; each chunk is
        committed once hashed, so a killed batch keeps its chunks and a rerun hashes the rest.

        Weights (:mod:`hnnframe.upload.files`): an ONNX file with its weights present
        gets a weight record (tensor digests and weight code, read one tensor at a time); a
        weight-stripped file gets none, as before; a weights file (safetensors, a
        ``weights_only`` state dict) takes its structure from ``structure`` or the
        ``config.json`` beside it, and fails without one.

        The binding is checked before anything is hashed, and by every chunk's transaction.
        What stops the whole batch (another checkpoint or Q, a database error) raises
        :class:`IndexStoreError`; the chunks committed before it stay.

        Args:
            weights: Read weights (False: structure only, as before the weight tier).
            structure: The companion structure of weights files.
            weight_bits: Q of the weight codes of an index that holds none yet (default
                256); once it holds some, its own Q is used and another is refused.

        Returns:
            One :class:`AddResult` per source, in order, with ``path`` as given; an added
            model with weights has ``weights`` set.
        """
        return add_model_files(
            self._store,
            sources,
            hasher,
            checkpoint=os.path.abspath(checkpoint) if checkpoint is not None else None,
            label=label,
            meta=meta,
            progress=progress,
            chunk=chunk,
            weights=weights,
            structure=os.fspath(structure) if structure is not None else None,
            weight_bits=weight_bits,
        )

    def check_adapter(self, path: str | os.PathLike) -> Any:
        """The indexed models a PEFT adapter can be applied to, and the verdict
        ``adapter for #N`` (:mod:`hnnframe.index.adapters`)."""
        from hnnframe.index.adapters import check_adapter

        return check_adapter(self._store, self.list(), os.fspath(path))

    def check_models(
        self,
        sources: Sequence[str | os.PathLike],
        hasher: HasherLike,
        radius: int | None = None,
        *,
        weights: bool = True,
        structure: str | os.PathLike | None = None,
        weight_threshold: int | None = None,
        progress: bool = False,
        errors: str = "raise",
    ) -> list[tuple[Any, CheckResult | None]]:
        """Describe uploads (:func:`hnnframe.upload.describe_uploads`: hashed, weights read one
        tensor at a time) and :meth:`check` each.

        Every upload is hashed and read before anything is searched. Weights are read only
        when the index holds some (otherwise there is nothing to compare them with).

        Args:
            sources: Model files (or named sources); weights files need ``structure`` or a
                ``config.json`` beside them.
            hasher: The index's checkpoint's hasher.
            radius: As in :meth:`check`.
            weights: Read the uploads' weights (False: structure and sha256 only).
            structure: The companion structure of weights files.
            weight_threshold: As in :meth:`check`.
            errors: ``"collect"``: an upload that cannot be read gives ``(HashFailure,
                None)`` and the others are still checked; ``"raise"``: the first one raises.

        Returns:
            ``(upload, CheckResult)`` per source, in order (an :class:`~hnnframe.upload.Upload`,
            or with ``errors="collect"`` a failure and ``None``).

        Raises:
            HnnError: With ``errors="raise"``, an upload cannot be read (the error names it).
        """
        self.ensure_compatible(hasher.bits, hasher.fingerprint)
        ups = describe_uploads(
            sources,
            hasher,
            structure=os.fspath(structure) if structure is not None else None,
            weight_bits=self.binding.weight_bits if weights else None,
            progress=progress,
            errors=errors,
        )
        fp, t = hasher.fingerprint, weight_threshold
        return [
            (u, self.check(u, radius, fingerprint=fp, weights=u.weights, weight_threshold=t))
            if u.ok
            else (u, None)
            for u in ups
        ]
