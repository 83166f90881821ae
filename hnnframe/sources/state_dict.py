"""A PyTorch state dict (``torch.save(model.state_dict())``): weights only, read with
``weights_only=True`` (no code runs); the structure comes from ``--structure`` or the
config.json beside it. A pickled whole module (``torch.save(model)``) is the same archive; its
structure is exported only with ``trust_pickle``, because unpickling runs the file's code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hnnframe.errors import ModelLoadError
from hnnframe.formats import head, zip_kind
from hnnframe.frontends.export import export_module
from hnnframe.sources.base import SOURCES, WEIGHTS, Source
from hnnframe.sources.guard import ReadGuard

Tensor = tuple[str, Any]


@SOURCES.register("state_dict")
class StateDict(Source):
    GIVES = frozenset({WEIGHTS})
    order = 35  # after TorchScript, which is a zip archive too
    describe = "a weights_only PyTorch state dict (.pt/.bin; structure from --structure)"
    weights_format = "torch"

    def sniff(self, spec: str) -> bool:
        if head(spec, 1) == b"\x80":  # a legacy pickle
            return True
        return zip_kind(spec) in ("pickle", "zip")

    def to_onnx(
        self, spec: str, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
    ) -> Any:
        path = Path(spec)
        kind = zip_kind(path)
        if kind == "pickle":
            return _pickled_module(path, example_input, opset, dynamo, trust_pickle)
        if kind is not None:
            raise ModelLoadError(
                f"{path}: a zip archive that is neither TorchScript nor torch.save"
            )
        return super().to_onnx(spec, example_input, opset, dynamo, trust_pickle)

    def tensors(self, spec: str, guard: ReadGuard) -> Iterator[Tensor]:
        yield from _torch_tensors(Path(spec), guard)


def _pickled_module(
    path: Path, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
) -> Any:
    """The module of ``torch.save(model)``, exported; refused without ``trust_pickle``."""
    import torch

    if not trust_pickle:
        raise ModelLoadError(
            f"{path}: a pickled torch checkpoint; loading it runs code from the file. "
            "Pass --trust-pickle (trust_pickle=True) only if you trust its source"
        )
    obj = torch.load(str(path), map_location="cpu", weights_only=False)
    if not isinstance(obj, torch.nn.Module):
        raise ModelLoadError(
            f"{path}: holds a {type(obj).__name__}, not an nn.Module "
            "(a state dict has no architecture)"
        )
    return export_module(obj, example_input, path.stem, opset, dynamo)


def _torch_tensors(path: Path, guard: ReadGuard) -> Iterator[Tensor]:
    import pickle

    import torch

    try:
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:  # legacy (non-zip) files cannot be memory-mapped
            if "mmap" not in str(e):
                raise
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0]
        raise ModelLoadError(f"{path}: not a weights_only state dict ({first})") from e
    if isinstance(obj, torch.Tensor):
        obj = {"tensor": obj}
    if not isinstance(obj, dict):
        raise ModelLoadError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    found = False
    for name, t in _flatten(obj):
        found = True
        if t.is_floating_point():
            guard.tensor(name, int(t.numel()))
            yield name, t.detach().to(torch.float32).numpy()
    if not found:
        raise ModelLoadError(f"{path}: no tensors in this state dict")


# Training checkpoints keep the model's weights under one of these keys...
MODEL_KEYS = ("state_dict", "model_state_dict", "model", "module", "net")
# ...beside state that is not the model's: an optimizer's moments have the weights' shapes and
# would pull the code of the same weights saved with and without them apart.
TRAINING_STATE_KEYS = frozenset(
    {
        "optimizer",
        "optimizer_state_dict",
        "optim",
        "scheduler",
        "lr_scheduler",
        "scaler",
        "ema",
        "model_ema",
    }
)


def _flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """The model's tensors of a (possibly nested) state dict: under a model key when the
    checkpoint has one, never an optimizer's or scheduler's state."""
    import torch

    if not prefix:
        for key in MODEL_KEYS:
            if isinstance(obj.get(key), dict):
                yield from _flatten(obj[key], key + ".")
                return
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, torch.Tensor):
            yield name, v
        elif isinstance(v, dict) and str(k) not in TRAINING_STATE_KEYS:
            yield from _flatten(v, name + ".")
