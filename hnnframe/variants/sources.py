"""Model sources of variants: a named module with random weights, or an ONNX file.

* ``torchvision:NAME``, ``timm:NAME``, ``hf:MODEL_TYPE[:...]`` or a transformers config.json:
  the module built without pretrained weights and then given random, non-degenerate weights
  (no two BN or LayerNorm layers equal, no zero bias), so that no tool can fold a layer away
  because its weights happen to be trivial; fed the trigger of its modality
  (:mod:`hnnframe.variants.inputs`); or
* an ONNX file, whose stripped weights are filled with random values when a tool needs them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.files import file_sha256
from hnnframe.frontends import (
    build_module,
    load_onnx_file,
    model_name,
    prepare,
    strip_weights,
    trigger_input,
)
from hnnframe.frontends.hf import build_model, traced_module, trigger
from hnnframe.frontends.named import example_input, hf_config
from hnnframe.frontends.sources import config_json, split_source
from hnnframe.frontends.torch_export import ts_export
from hnnframe.variants.base import VariantUnavailable


def _seed_of(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def randomise_weights(module: Any, seed: int) -> Any:
    """Give every constant-valued parameter and buffer random values, in place.

    torchvision initialises BN scales to 1, shifts, running means and biases to 0 and running
    variances to 1. Exporters and optimisers fold such trivial tensors away (a zero bias is
    dropped, equal tensors are shared), which real trained weights never allow. Kaiming-style
    random weights are kept, so activations stay in range for calibration.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            if not t.dtype.is_floating_point or t.numel() == 0:
                continue
            flat = t.reshape(-1)
            if bool((flat == flat[0]).all()):
                base = float(flat[0])
                noise = torch.rand(t.shape, generator=gen, dtype=t.dtype)
                if base > 0:  # scales and variances stay positive
                    t.copy_(base * (0.8 + 0.4 * noise))
                else:
                    t.copy_(0.2 * (noise - 0.5))
    return module


def fill_weights(model: Any, seed: int = 0) -> Any:
    """Give a weight-stripped ONNX model random initializer values (a copy), for tools that
    execute it (onnxsim, onnxruntime's quantizer and optimiser)."""
    import onnx
    from onnx import numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    rng = np.random.default_rng(seed)
    # BN variances must be positive; the TorchScript exporter may reach them through an
    # Identity of a shared initializer.
    alias = {n.output[0]: n.input[0] for n in out.graph.node if n.op_type == "Identity"}
    positive: set[str] = set()
    for n in out.graph.node:
        if n.op_type == "BatchNormalization" and len(n.input) > 4:
            name = n.input[4]
            while name in alias and name not in positive:
                positive.add(name)
                name = alias[name]
            positive.add(name)
    for k, t in enumerate(out.graph.initializer):
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        dims = tuple(t.dims)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.data_type)
        if np.issubdtype(dtype, np.floating):
            arr = rng.uniform(0.5, 1.5, dims) if t.name in positive else rng.normal(0, 0.05, dims)
        else:
            arr = rng.integers(-8, 8, dims)
        new = numpy_helper.from_array(arr.astype(dtype), t.name)
        out.graph.initializer[k].CopyFrom(new)
    return out


class VariantSource:
    """A model to transform: a named source (``torchvision:NAME``, ``timm:NAME``,
    ``hf:MODEL_TYPE[:...]``), a transformers ``config.json`` (or a directory holding one), or
    a path to an ONNX file.

    A module source is built with random, non-degenerate weights (:func:`randomise_weights`)
    and fed the trigger of its modality (:mod:`hnnframe.variants.inputs`): the zero image of
    its own input size, or token ids for text. Exports are made once per source and shared by
    the transforms that start from them.
    """

    def __init__(self, spec: str | os.PathLike[str], name: str | None = None) -> None:
        self.spec = str(spec)
        self.name = name or model_name(self.spec)
        parts = split_source(self.spec)
        self.scheme = parts[0] if parts else ("hf" if config_json(self.spec) else "file")
        self.is_module = self.scheme != "file"
        if not self.is_module and not Path(self.spec).is_file():
            raise VariantUnavailable(f"{self.spec}: not a named model source or a file")
        self.seed = _seed_of(self.name)
        self._cache: dict[str, Any] = {}

    @property
    def key(self) -> str:
        """Cache key: the model name, plus a content hash for files."""
        if self.is_module:
            return self.name
        if "key" not in self._cache:
            self._cache["key"] = f"{self.name}-{file_sha256(self.spec)[:12]}"
        return str(self._cache["key"])

    def config(self) -> Any:
        """The transformers config of an ``hf:`` source or config.json (VariantUnavailable
        for other sources)."""
        if self.scheme != "hf":
            raise VariantUnavailable(f"{self.name}: not a transformers source")
        if "config" not in self._cache:
            self._cache["config"] = hf_config(self.spec)
        return self._cache["config"]

    def module(self, attn: str | None = None, config: Any = None) -> Any:
        """A fresh eval-mode torch module with random, non-degenerate weights.

        ``attn`` picks a transformers model's attention implementation (``eager``, the
        frontends' choice and the default, or ``sdpa``); ``config`` builds another
        transformers config than the source's own (a derived architecture) the same way.
        """
        if not self.is_module:
            raise VariantUnavailable(f"{self.name}: needs a torch module, the source is a file")
        if self.scheme == "hf":
            model = build_model(config or self.config(), attn=attn or "eager")
            module = traced_module(model, self.input_names())
        else:
            if attn is not None:
                raise VariantUnavailable(f"{self.name}: only transformers choose attention")
            module = build_module(self.spec)
        return randomise_weights(module, self.seed).eval()

    def _trigger(self) -> tuple[list[str], Any]:
        if "trigger" not in self._cache:
            if self.scheme == "hf":
                names, xs = trigger(build_model(self.config(), device="meta"), self.config())
                self._cache["trigger"] = (names, xs)
            elif self.is_module:
                self._cache["trigger"] = (["input"], example_input(self.spec))
            else:
                self._cache["trigger"] = (["input"], trigger_input(self.name))
        names, x = self._cache["trigger"]
        return list(names), x

    def input_names(self) -> list[str]:
        """The names of the module's inputs (``input`` for an image model)."""
        return self._trigger()[0]

    @property
    def modality(self) -> str:
        """``image``, ``text``, ``audio``, ``raw_audio`` or ``other``
        (:mod:`hnnframe.variants.inputs`)."""
        from hnnframe.variants.inputs import IMAGE, MAIN_INPUTS, file_modality

        if self.scheme == "hf":
            return MAIN_INPUTS[self.input_names()[0]]
        if self.is_module:
            return IMAGE
        if "modality" not in self._cache:
            self._cache["modality"] = file_modality(load_onnx_file(Path(self.spec)))
        return str(self._cache["modality"])

    def example_input(self, size: int | None = None) -> Any:
        """The model's trigger input (the one :mod:`hnnframe.frontends` exports with): the
        zero image of the model's own input size, or for transformers the tuple of zero
        inputs of its modality. ``size`` changes the image to ``size`` x ``size``, or the
        text to ``size`` tokens; other modalities have a fixed length
        (:class:`VariantUnavailable`)."""
        from hnnframe.variants.inputs import IMAGE, TEXT

        _, x = self._trigger()
        if size is None:
            return x
        if self.modality == TEXT:
            import torch

            return tuple(torch.zeros(1, size, dtype=t.dtype) for t in x)
        if self.modality != IMAGE:
            raise VariantUnavailable(f"{self.name}: a {self.modality} input has a fixed size")
        if isinstance(x, tuple):
            return (trigger_input(self.name, (1, x[0].shape[1], size, size)),)
        return trigger_input(self.name, (1, x.shape[1], size, size))

    def base_size(self) -> int:
        """The trigger's size: an image's width, or a text's length in tokens."""
        _, x = self._trigger()
        t = x[0] if isinstance(x, tuple) else x
        return int(t.shape[-1])

    def export(self, module: Any = None, x: Any = None, **kwargs: Any) -> Any:
        """The TorchScript export of ``module`` (default :meth:`module`) on ``x`` (default
        the trigger), with the source's input names; ``kwargs`` go to :func:`ts_export`."""
        module = self.module() if module is None else module
        x = self.example_input() if x is None else x
        names = self.input_names() if isinstance(x, tuple) else None
        return ts_export(module, x, input_names=names, **kwargs)

    def reference(self) -> Any:
        """The hnnframe export (TorchScript exporter, BN kept, no folding), with weights.

        For a file: the file with random weights filled in.
        """
        if "reference" not in self._cache:
            if self.is_module:
                self._cache["reference"] = self.export()
            else:
                self._cache["reference"] = fill_weights(load_onnx_file(Path(self.spec)), self.seed)
        return self._cache["reference"]

    def structure(self) -> Any:
        """The reference without weights, with inferred shapes."""
        import onnx

        m = onnx.ModelProto()
        m.CopyFrom(self.reference())
        return prepare(strip_weights(m))

    def deployed(self) -> Any:
        """The TorchScript exporter's defaults (eval mode, constant folding), with weights."""
        if not self.is_module:
            return self.reference()
        if "deployed" not in self._cache:
            import torch

            self._cache["deployed"] = self.export(
                training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True
            )
        return self._cache["deployed"]

    def clear(self) -> None:
        """Free the shared exports (after the source's last transform)."""
        self._cache.clear()
