"""Variants of a model: the same network as it reaches a platform through other tools.

A pirate does not upload our exact ONNX file. The same network is re-exported with the other
torch exporter, folded, simplified, quantized, wrapped, or exported at another input size,
and its graph changes a lot. Each entry of :data:`TRANSFORMS` produces one such variant with
the real tool (torch.onnx, onnxsim, onnxruntime), from

* ``torchvision:NAME``: the module built with ``weights=None`` and then given random,
  non-degenerate weights (no two BN layers equal, no zero bias), so that no tool can fold a
  layer away because its weights happen to be trivial; or
* an ONNX file, whose stripped weights are filled with random values when a tool needs them.
  Transforms that need the torch module (another exporter, another input size) do not apply
  to files and raise :class:`VariantUnavailable`.

Weights matter only inside the tools: every variant is weight-stripped
(:func:`hnnframe.frontends.strip_weights`) and read as the platform would read an upload
(:func:`hnnframe.frontends.to_onnx`, then :func:`hnnframe.ir.from_onnx`).

``listed`` transforms are those named in the robustness issue; the others are evaluated
separately as a check that the invariance is general (``docs/robustness.md``).

Variant graphs are cached as ``<cache>/variants/<transform>/<key>.json`` (the raw OpGraph)
beside the stripped ``<key>.onnx``; a transform that fails for a model caches its error, so a
rerun does not retry it (``force=True`` does). Files are written atomically. A cached graph
is read again from its ONNX file when the reading code (frontends, ir) has changed since.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.errors import HnnError
from hnnframe.ir import OpGraph
from hnnframe.log import get_logger

log = get_logger(__name__)

# 3: strip_weights keeps scalars, so a cached QDQ file keeps its quantizers' ranges.
VARIANT_FORMAT = 3


class VariantUnavailable(HnnError):
    """A transform does not apply to a model source (e.g. it needs the torch module)."""


class VariantError(HnnError):
    """A tool failed to produce a variant."""


@dataclass(frozen=True)
class Transform:
    """One way the same network reaches a platform.

    Attributes:
        name: registered name (lower snake case).
        fn: ``source -> onnx.ModelProto`` (weights may be present; they are stripped).
        listed: named in the robustness issue (False: a held-out generalisation check).
        needs_module: needs the torch module, so it does not apply to ONNX files.
        description: one line for tables.
    """

    name: str
    fn: Callable[[VariantSource], Any]
    listed: bool
    needs_module: bool
    description: str


TRANSFORMS: dict[str, Transform] = {}


def transform(
    name: str, *, listed: bool, needs_module: bool, description: str
) -> Callable[[Callable[[VariantSource], Any]], Callable[[VariantSource], Any]]:
    """Register a transform function under ``name``."""

    def deco(fn: Callable[[VariantSource], Any]) -> Callable[[VariantSource], Any]:
        if name in TRANSFORMS:
            raise ValueError(f"transform {name!r} is already registered")
        TRANSFORMS[name] = Transform(name, fn, listed, needs_module, description)
        return fn

    return deco


def get_transform(name: str) -> Transform:
    if name not in TRANSFORMS:
        raise HnnError(f"unknown transform {name!r}; valid: {', '.join(TRANSFORMS)}")
    return TRANSFORMS[name]


def listed_transforms() -> list[str]:
    return [t.name for t in TRANSFORMS.values() if t.listed]


def unlisted_transforms() -> list[str]:
    return [t.name for t in TRANSFORMS.values() if not t.listed]


# -- model sources --------------------------------------------------------------------------------
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

        self.spec = str(spec)
        self.name = name or model_name(self.spec)
        from hnnframe.frontends.sources import is_named

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
        from hnnframe.frontends import trigger_input

        x = trigger_input(self.name)
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


@contextlib.contextmanager
def quiet_fds() -> Iterator[None]:
    """Silence stdout and stderr at the file-descriptor level.

    The TorchScript exporter logs the whole TorchScript graph from C++ when an export fails
    (torch enables its ONNX log unconditionally), which Python's redirection cannot catch.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def ts_export(
    module: Any,
    x: Any,
    opset: int = 17,
    training: Any = None,
    do_constant_folding: bool = False,
    dynamic_batch: bool = False,
) -> Any:
    """torch.onnx.export with the TorchScript exporter, returning the ModelProto with weights."""
    import onnx
    import torch

    buf = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings(), quiet_fds():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (x,),
            buf,
            dynamo=False,
            opset_version=opset,
            training=torch.onnx.TrainingMode.PRESERVE if training is None else training,
            do_constant_folding=do_constant_folding,
            input_names=["input"],
            output_names=["output"],
            **kwargs,
        )
    return onnx.load_from_string(buf.getvalue())


def dynamo_export(module: Any, x: Any, opset: int = 18, optimize: bool = True) -> Any:
    import torch

    with torch.no_grad(), warnings.catch_warnings(), quiet_fds():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(
            module, (x,), dynamo=True, opset_version=opset, optimize=optimize, verbose=False
        )
    return prog.model_proto


def _input_name(model: Any) -> str:
    inits = {t.name for t in model.graph.initializer}
    return next(i.name for i in model.graph.input if i.name not in inits)


def _input_shape(model: Any) -> list[int]:
    inits = {t.name for t in model.graph.initializer}
    vi = next(i for i in model.graph.input if i.name not in inits)
    return [d.dim_value if d.dim_value > 0 else 1 for d in vi.type.tensor_type.shape.dim]


def _shapes(model: Any) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for vi in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            out[vi.name] = [d.dim_value for d in t.shape.dim]
    return out


def _run_quiet(fn: Callable[[], Any]) -> Any:
    """Run a tool with Python warnings and onnxruntime's logging silenced."""
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    finally:
        root.setLevel(level)


# -- the transformations ------------------------------------------------------------------
@transform(
    "dynamo",
    listed=True,
    needs_module=True,
    description="torch.onnx.export(dynamo=True), default optimisation (BN folded, ReduceMean)",
)
def _dynamo(src: VariantSource) -> Any:
    return dynamo_export(src.module(), src.example_input())


@transform(
    "bn_folded",
    listed=True,
    needs_module=True,
    description="TorchScript exporter in eval mode with constant folding (BN folded into Conv)",
)
def _bn_folded(src: VariantSource) -> Any:
    return src.deployed()


@transform(
    "opset11",
    listed=True,
    needs_module=True,
    description="TorchScript exporter at opset 11 instead of 17",
)
def _opset11(src: VariantSource) -> Any:
    return ts_export(src.module(), src.example_input(), opset=11)


@transform(
    "onnxsim",
    listed=True,
    needs_module=False,
    description="onnxsim.simplify (constant folding, BN fusion, shape plumbing removed)",
)
def _onnxsim(src: VariantSource) -> Any:
    import onnxsim

    model, ok = _run_quiet(lambda: onnxsim.simplify(src.reference()))
    if not ok:
        raise VariantError("onnxsim could not validate the simplified model")
    return model


def _quantize(src: VariantSource, fmt: str) -> Any:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class RandomReader(CalibrationDataReader):
        """Calibration data for onnxruntime's quantizer: two random inputs."""

        def __init__(self, name: str, shape: Sequence[int], seed: int) -> None:
            rng = np.random.default_rng(seed)
            self.items = iter([{name: rng.random(shape, dtype=np.float32)} for _ in range(2)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    model = src.deployed()
    reader = RandomReader(_input_name(model), _input_shape(model), src.seed)
    with tempfile.TemporaryDirectory() as d:
        fp32, q = Path(d) / "fp32.onnx", Path(d) / "q.onnx"
        fp32.write_bytes(model.SerializeToString())
        _run_quiet(
            lambda: quantize_static(
                str(fp32), str(q), reader, quant_format=getattr(QuantFormat, fmt)
            )
        )
        return onnx.load(str(q))


@transform(
    "qdq",
    listed=True,
    needs_module=False,
    description="onnxruntime quantize_static, QDQ format, int8 (QuantizeLinear/DequantizeLinear)",
)
def _qdq(src: VariantSource) -> Any:
    return _quantize(src, "QDQ")


@transform(
    "plumbing",
    listed=True,
    needs_module=False,
    description="Identity, Reshape and Flatten->Reshape inserted after every activation",
)
def _plumbing(src: VariantSource) -> Any:
    import onnx
    from onnx import helper, numpy_helper

    model = src.structure()
    shapes = _shapes(model)
    graph = model.graph
    outputs = {o.name for o in graph.output}
    rename: dict[str, str] = {}
    nodes: list[Any] = []
    inits: list[Any] = []

    def fresh(base: str, tag: str) -> str:
        return f"{base}__{tag}"

    inp = _input_name(model)
    rename[inp] = fresh(inp, "id")
    nodes.append(helper.make_node("Identity", [inp], [rename[inp]], name=f"{inp}/identity"))
    k = 0
    for node in graph.node:
        node.input[:] = [rename.get(i, i) for i in node.input]
        nodes.append(node)
        if node.op_type == "Constant" or not node.output:
            continue
        out = node.output[0]
        shp = shapes.get(out)
        if out in outputs or shp is None or len(shp) < 2:
            continue
        kind = k % 3
        k += 1
        if kind == 0:
            rename[out] = fresh(out, "id")
            nodes.append(helper.make_node("Identity", [out], [rename[out]]))
        elif kind == 1:
            target = fresh(out, "shape")
            inits.append(numpy_helper.from_array(np.array(shp, dtype=np.int64), target))
            rename[out] = fresh(out, "reshaped")
            nodes.append(helper.make_node("Reshape", [out, target], [rename[out]]))
        elif len(shp) == 4:
            target = fresh(out, "shape")
            inits.append(numpy_helper.from_array(np.array(shp, dtype=np.int64), target))
            flat = fresh(out, "flat")
            rename[out] = fresh(out, "unflat")
            nodes.append(helper.make_node("Flatten", [out], [flat], axis=1))
            nodes.append(helper.make_node("Reshape", [flat, target], [rename[out]]))
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(inits)
    del graph.value_info[:]
    return onnx.ModelProto.FromString(model.SerializeToString())


RESOLUTIONS = (256, 448, 416, 320, 288, 192)


@transform(
    "resolution",
    listed=True,
    needs_module=True,
    description="exported at another input size (first of 256, 448, 416, 320, ... that exports)",
)
def _resolution(src: VariantSource) -> Any:
    from hnnframe.frontends import INPUT_SIZES

    base = INPUT_SIZES.get(src.name, (3, 224, 224))[-1]
    errors = []
    for size in RESOLUTIONS:
        if size == base:
            continue
        try:
            model = ts_export(src.module(), src.example_input(size))
        except Exception as e:  # adaptive pooling to a size that does not divide the map
            errors.append(f"{size}: {str(e).splitlines()[0][:80]}")
            continue
        model.doc_string = f"resolution {size}"
        return model
    raise VariantError("no input size exports: " + "; ".join(errors))


def _normalize_module() -> Any:
    import torch
    from torch import nn

    class Normalize(nn.Module):
        """torchvision's ImageNet normalisation as a layer."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x - self.mean) / self.std

    return Normalize()


@transform(
    "normalize",
    listed=True,
    needs_module=False,
    description="a wrapper module that normalises the input ((x - mean) / std) in front",
)
def _normalize(src: VariantSource) -> Any:
    from torch import nn

    if src.is_module:
        return ts_export(nn.Sequential(_normalize_module(), src.module()), src.example_input())
    import onnx
    from onnx import helper, numpy_helper

    model = src.structure()
    shape = _input_shape(model)
    if len(shape) != 4:
        raise VariantUnavailable(f"{src.name}: the input is not an image batch")
    c = shape[1]
    inp = _input_name(model)
    rng = np.random.default_rng(src.seed)
    mean = numpy_helper.from_array(rng.random((1, c, 1, 1), dtype=np.float32), "norm_mean")
    std = numpy_helper.from_array(
        rng.random((1, c, 1, 1), dtype=np.float32) + 0.5, "norm_std"
    )  # fmt: skip
    for node in model.graph.node:
        node.input[:] = ["norm_out" if i == inp else i for i in node.input]
    pre = [
        helper.make_node("Sub", [inp, "norm_mean"], ["norm_centred"]),
        helper.make_node("Div", ["norm_centred", "norm_std"], ["norm_out"]),
    ]
    nodes = pre + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend([mean, std])
    del model.graph.value_info[:]
    return onnx.ModelProto.FromString(model.SerializeToString())


# -- held-out transformations (not in the list) -------------------------------------------
@transform(
    "dynamo_noopt",
    listed=False,
    needs_module=True,
    description="torch.onnx.export(dynamo=True, optimize=False): BN kept, bias plumbing",
)
def _dynamo_noopt(src: VariantSource) -> Any:
    return dynamo_export(src.module(), src.example_input(), optimize=False)


@transform(
    "ort_basic",
    listed=False,
    needs_module=False,
    description="onnxruntime offline graph optimisation (basic level) saved as ONNX",
)
def _ort_basic(src: VariantSource) -> Any:
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as d:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        so.optimized_model_filepath = str(Path(d) / "opt.onnx")
        so.intra_op_num_threads = 1
        so.log_severity_level = 3
        blob = src.reference().SerializeToString()
        _run_quiet(lambda: ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"]))
        return onnx.load(so.optimized_model_filepath)


def _rename_output(g: Any, new: str) -> str:
    """Let the node that writes the graph's first output write ``new``; returns the old name."""
    out = str(g.output[0].name)
    for node in g.node:
        node.output[:] = [new if o == out else o for o in node.output]
    return out


@transform(
    "fp16",
    listed=False,
    needs_module=False,
    description="float16 weights and compute, Cast at the input and output",
)
def _fp16(src: VariantSource) -> Any:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = src.structure()
    g = model.graph
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT:
            t.data_type = TensorProto.FLOAT16
    for node in g.node:
        for a in node.attribute:
            if a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                arr = numpy_helper.to_array(a.t).astype(np.float16)
                a.t.CopyFrom(numpy_helper.from_array(arr, a.t.name))
            if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
    inp = _input_name(model)
    for node in g.node:
        node.input[:] = ["input_fp16" if i == inp else i for i in node.input]
    out = _rename_output(g, "output_fp16")
    nodes = [
        helper.make_node("Cast", [inp], ["input_fp16"], to=TensorProto.FLOAT16),
        *g.node,
        helper.make_node("Cast", ["output_fp16"], [out], to=TensorProto.FLOAT),
    ]
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    return onnx.ModelProto.FromString(model.SerializeToString())


@transform(
    "train_mode",
    listed=False,
    needs_module=True,
    description="TorchScript exporter in training mode (Dropout kept, BN with batch statistics)",
)
def _train_mode(src: VariantSource) -> Any:
    import torch

    module = src.module().train()
    return ts_export(module, src.example_input(), training=torch.onnx.TrainingMode.TRAINING)


@transform(
    "softmax_head",
    listed=False,
    needs_module=False,
    description="a Softmax appended to the logits (a deployment wrapper)",
)
def _softmax_head(src: VariantSource) -> Any:
    import onnx
    from onnx import helper

    model = src.structure()
    g = model.graph
    out = _rename_output(g, "logits")
    g.node.append(helper.make_node("Softmax", ["logits"], [out], axis=-1))
    del g.value_info[:]
    return onnx.ModelProto.FromString(model.SerializeToString())


@transform(
    "dynamic_batch",
    listed=False,
    needs_module=False,
    description="exported with a dynamic batch axis (symbolic first input dimension)",
)
def _dynamic_batch(src: VariantSource) -> Any:
    if src.is_module:
        return ts_export(src.module(), src.example_input(), dynamic_batch=True)
    import onnx

    model = src.structure()
    for vi in [*model.graph.input, *model.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "batch"
    del model.graph.value_info[:]
    return onnx.ModelProto.FromString(model.SerializeToString())


# -- producing and caching variants ---------------------------------------------------------------
def variant_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir`` or ``$HNN_CACHE_DIR/variants`` (default ``~/.cache/hnnframe/variants``)."""
    from hnnframe.files import cache_path

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
    from hnnframe.frontends import strip_weights, to_onnx
    from hnnframe.ir import from_onnx

    t = get_transform(name)
    if t.needs_module and not src.is_module:
        raise VariantUnavailable(f"{name} needs a torch module; {src.name} is a file")
    t0 = time.perf_counter()
    try:
        proto = t.fn(src)
    except HnnError:
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise VariantError(f"{name} failed for {src.name}: {msg}") from e
    info: dict[str, Any] = {"seconds": round(time.perf_counter() - t0, 2)}
    # Transforms may return a source's shared export: strip a copy.
    import onnx

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


def _atomic_write(path: Path, data: bytes) -> None:
    from hnnframe.files import atomic_write

    atomic_write(path, data, mkdir=True)


_READER: list[str] = []


def reader_version() -> str:
    """Fingerprint of the code that reads an ONNX file into an OpGraph (frontends, ir).

    A cached graph made by other reader code is read again from its cached ONNX file, so a
    fix in shape inference or FLOP counting reaches cached variants without a rebuild.
    """
    if not _READER:
        import onnx

        import hnnframe.frontends
        import hnnframe.frontends.shapes
        import hnnframe.ir

        h = hashlib.sha256(onnx.__version__.encode())
        for mod in (hnnframe.frontends, hnnframe.frontends.shapes, hnnframe.ir):
            h.update(Path(str(mod.__file__)).read_bytes())
        _READER.append(h.hexdigest()[:16])
    return _READER[0]


def load_cached(path: Path) -> Variant | None:
    """A cached variant; its graph is re-read from the cached ONNX when the reader changed."""
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if d.get("format") != VARIANT_FORMAT:
        return None
    g = OpGraph.from_dict(d["graph"]) if d.get("graph") else None
    onnx_path = path.with_suffix(".onnx")
    if g is not None and d.get("reader") != reader_version() and onnx_path.exists():
        from hnnframe.frontends import load_onnx_file
        from hnnframe.ir import from_onnx

        g = from_onnx(load_onnx_file(onnx_path), d["model"])
        d.update(graph=g.to_dict(), reader=reader_version())
        _atomic_write(path, json.dumps(d).encode())
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
        record: dict[str, Any] = {"format": VARIANT_FORMAT, "transform": t, "model": name,
                                  "source": src.spec, "reader": reader_version()}  # fmt: skip
        try:
            proto, graph, info = make_variant(t, src)
            record.update(graph=graph.to_dict(), info=info)
            if save_onnx:
                _atomic_write(path.with_suffix(".onnx"), proto.SerializeToString())
            out[(t, name)] = Variant(t, name, graph, "", info)
        except HnnError as e:
            log.warning("%s", e)
            record.update(error=str(e))
            out[(t, name)] = Variant(t, name, None, str(e))
        _atomic_write(path, json.dumps(record).encode())
        bar.update(1)
        if last[id(src)] == k:  # the source's last transform: free its exports
            src._cache.clear()
    bar.close()
    return out


def variant_graph(
    transform_name: str,
    spec: str,
    name: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> OpGraph | None:
    """The raw OpGraph of one variant (cached), or None when the transform does not apply."""
    from hnnframe.frontends import model_name

    name = name or model_name(spec)
    v = build_variants([(name, spec)], [transform_name], cache_dir, progress=False)
    return v[(transform_name, name)].graph


__all__ = [
    "TRANSFORMS",
    "Transform",
    "Variant",
    "VariantError",
    "VariantSource",
    "VariantUnavailable",
    "build_variants",
    "listed_transforms",
    "make_variant",
    "unlisted_transforms",
    "variant_graph",
]
