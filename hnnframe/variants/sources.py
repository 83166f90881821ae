"""Model sources of variants: a torchvision module with random weights, or an ONNX file.

* ``torchvision:NAME``: the module built with ``weights=None`` and then given random,
  non-degenerate weights (no two BN layers equal, no zero bias), so that no tool can fold a
  layer away because its weights happen to be trivial; or
* an ONNX file, whose stripped weights are filled with random values when a tool needs them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.variants.base import VariantUnavailable
from hnnframe.variants.exporters import ts_export


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
    """A model to transform: ``torchvision:NAME`` or a path to an ONNX file.

    Exports are made once per source and shared by the transforms that start from them.
    """

    def __init__(self, spec: str | os.PathLike[str], name: str | None = None) -> None:
        from hnnframe.frontends import model_name
        from hnnframe.frontends.sources import is_named

        self.spec = str(spec)
        self.name = name or model_name(self.spec)
        self.is_module = is_named(self.spec)
        if not self.is_module and not Path(self.spec).is_file():
            raise VariantUnavailable(f"{self.spec}: not a torchvision name or a file")
        self.seed = _seed_of(self.name)
        self._cache: dict[str, Any] = {}

    @property
    def key(self) -> str:
        """Cache key: the model name, plus a content hash for files."""
        if self.is_module:
            return self.name
        if "key" not in self._cache:
            from hnnframe.files import file_sha256

            self._cache["key"] = f"{self.name}-{file_sha256(self.spec)[:12]}"
        return str(self._cache["key"])

    def module(self) -> Any:
        """A fresh eval-mode torch module with random, non-degenerate weights."""
        if not self.is_module:
            raise VariantUnavailable(f"{self.name}: needs a torch module, the source is a file")
        from hnnframe.frontends import build_module

        return randomise_weights(build_module(self.spec), self.seed).eval()

    def example_input(self, size: int | None = None) -> Any:
        """The model's trigger input (the one :mod:`hnnframe.frontends` exports with: the
        zero image of the model's own input size), at ``size`` x ``size`` when given."""
        from hnnframe.frontends import trigger_input
        from hnnframe.frontends.named import example_input

        if "trigger" not in self._cache:
            self._cache["trigger"] = (
                example_input(self.spec) if self.is_module else trigger_input(self.name)
            )
        x = self._cache["trigger"]
        if size is not None:
            x = trigger_input(self.name, (1, x.shape[1], size, size))
        return x

    def reference(self) -> Any:
        """The hnnframe export (TorchScript exporter, BN kept, no folding), with weights.

        For a file: the file with random weights filled in.
        """
        if "reference" not in self._cache:
            if self.is_module:
                self._cache["reference"] = ts_export(self.module(), self.example_input())
            else:
                from hnnframe.frontends import load_onnx_file

                self._cache["reference"] = fill_weights(load_onnx_file(Path(self.spec)), self.seed)
        return self._cache["reference"]

    def structure(self) -> Any:
        """The reference without weights, with inferred shapes."""
        import onnx

        from hnnframe.frontends import prepare, strip_weights

        m = onnx.ModelProto()
        m.CopyFrom(self.reference())
        return prepare(strip_weights(m))

    def deployed(self) -> Any:
        """The TorchScript exporter's defaults (eval mode, constant folding), with weights."""
        if not self.is_module:
            return self.reference()
        if "deployed" not in self._cache:
            import torch

            self._cache["deployed"] = ts_export(
                self.module(),
                self.example_input(),
                training=torch.onnx.TrainingMode.EVAL,
                do_constant_folding=True,
            )
        return self._cache["deployed"]

    def clear(self) -> None:
        """Free the shared exports (after the source's last transform)."""
        self._cache.clear()
