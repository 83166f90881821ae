"""How the test bed derives copies of a trained model: function-preserving permutations,
magnitude pruning, ONNX exports (two exporters, a transposed rewrite), onnxruntime int8
quantization (dynamic and static QDQ), fp16, and the files each copy is stored as.

Every writer goes through :func:`hnnframe.files.atomic_write` (or writes a temporary file
that is renamed into place), so an interrupted build never leaves a half-written copy.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hnnframe.files import atomic_write
from hnnframe.frontends.torch_export import dynamo_export, ts_export

State = dict[str, torch.Tensor]


# ---- permutations that keep the function -----------------------------------------------------


def _perm(rng: np.random.Generator, n: int) -> torch.Tensor:
    return torch.from_numpy(rng.permutation(n))


def permute_state(arch: str, state: State, seed: int) -> State:
    """A copy of ``state`` with hidden units permuted so that the function is unchanged.

    MLP: each hidden layer's units. CNN: both conv layers' channels (with their BatchNorm
    statistics and the next layer's input channels, through the flatten) and the hidden
    Linear's units. Transformer: every FFN's hidden units, the attention heads, the dimensions
    inside each head (shared by q and k, by v and o) and the residual stream itself (every
    embedding, LayerNorm and projection that touches it).
    """
    rng = np.random.default_rng(seed)
    s = {k: v.clone() for k, v in state.items()}
    if arch == "mlp":
        n = len([k for k in s if k.startswith("hidden.") and k.endswith(".weight")])
        for i in range(n):
            p = _perm(rng, s[f"hidden.{i}.weight"].shape[0])
            nxt = f"hidden.{i + 1}" if i + 1 < n else "out"
            s[f"hidden.{i}.weight"], s[f"hidden.{i}.bias"] = (
                s[f"hidden.{i}.weight"][p],
                s[f"hidden.{i}.bias"][p],
            )
            s[f"{nxt}.weight"] = s[f"{nxt}.weight"][:, p]
        return s
    if arch == "cnn":
        for conv, bn, nxt in (("conv1", "bn1", "conv2"), ("conv2", "bn2", "fc1")):
            c = s[f"{conv}.weight"].shape[0]
            p = _perm(rng, c)
            for k in (f"{conv}.weight", f"{conv}.bias") + tuple(
                f"{bn}.{x}" for x in ("weight", "bias", "running_mean", "running_var")
            ):
                s[k] = s[k][p]
            w = s[f"{nxt}.weight"]
            if nxt == "fc1":  # flatten is channel-major: each channel owns 16 columns
                s[f"{nxt}.weight"] = w.reshape(w.shape[0], c, -1)[:, p].reshape(w.shape)
            else:
                s[f"{nxt}.weight"] = w[:, p]
        p = _perm(rng, s["fc1.weight"].shape[0])
        s["fc1.weight"], s["fc1.bias"] = s["fc1.weight"][p], s["fc1.bias"][p]
        s["fc2.weight"] = s["fc2.weight"][:, p]
        return s
    return _permute_transformer(s, rng)


def _permute_transformer(s: State, rng: np.random.Generator) -> State:
    d = s["emb.weight"].shape[1]
    heads = 4
    hd = d // heads
    blocks = sorted({k.split(".")[1] for k in s if k.startswith("blocks.")})
    r = _perm(rng, d)  # the residual stream
    s["emb.weight"], s["pos"] = s["emb.weight"][:, r], s["pos"][:, r]
    for name in ("lnf.weight", "lnf.bias"):
        s[name] = s[name][r]
    s["head.weight"] = s["head.weight"][:, r]
    for b in blocks:
        pre = f"blocks.{b}."
        for ln in ("ln1", "ln2"):
            s[pre + ln + ".weight"], s[pre + ln + ".bias"] = (
                s[pre + ln + ".weight"][r],
                s[pre + ln + ".bias"][r],
            )
        # heads, then dimensions within each head (q,k share one; v,o another)
        hp = rng.permutation(heads)
        qk = np.concatenate([h * hd + rng.permutation(hd) for h in hp])
        vo = np.concatenate([h * hd + rng.permutation(hd) for h in hp])
        qk_t, vo_t = torch.from_numpy(qk), torch.from_numpy(vo)
        for name, p in (("q", qk_t), ("k", qk_t), ("v", vo_t)):
            s[f"{pre}{name}.weight"] = s[f"{pre}{name}.weight"][p][:, r]
            s[f"{pre}{name}.bias"] = s[f"{pre}{name}.bias"][p]
        s[pre + "o.weight"] = s[pre + "o.weight"][:, vo_t][r]
        s[pre + "o.bias"] = s[pre + "o.bias"][r]
        f = _perm(rng, s[pre + "ff1.weight"].shape[0])
        s[pre + "ff1.weight"] = s[pre + "ff1.weight"][f][:, r]
        s[pre + "ff1.bias"] = s[pre + "ff1.bias"][f]
        s[pre + "ff2.weight"] = s[pre + "ff2.weight"][:, f][r]
        s[pre + "ff2.bias"] = s[pre + "ff2.bias"][r]
    return s


def prune_state(state: State, amount: float) -> State:
    """Layer-wise magnitude pruning: in every weight of two or more dimensions, the
    ``amount`` fraction of entries smallest in absolute value set to zero."""
    out = {}
    for k, v in state.items():
        if v.is_floating_point() and v.dim() >= 2 and amount > 0:
            n = int(round(amount * v.numel()))
            flat = v.abs().flatten()
            keep = torch.ones_like(flat, dtype=torch.bool)
            keep[torch.argsort(flat)[:n]] = False
            v = v * keep.view_as(v)
        out[k] = v.clone()
    return out


def same_function(a: nn.Module, b: nn.Module, x: torch.Tensor, atol: float = 1e-4) -> float:
    """The largest output difference of ``a`` and ``b`` on ``x``; raises if over ``atol``."""
    with torch.no_grad():
        diff = float((a(x) - b(x)).abs().max())
    if diff > atol:
        raise AssertionError(f"the permuted copy computes another function (max diff {diff:g})")
    return diff


# ---- files ---------------------------------------------------------------------------------


def save_safetensors(state: State, path: Path, rename_seed: int | None = None) -> None:
    """``state`` as safetensors; with ``rename_seed`` every tensor gets a new meaningless name
    in a shuffled order (a re-export that renames and reorders)."""
    from safetensors.torch import save

    tensors = {k: v.detach().contiguous() for k, v in state.items()}
    if rename_seed is not None:
        keys = list(tensors)
        order = np.random.default_rng(rename_seed).permutation(len(keys))
        tensors = {f"t{i:04d}_{rename_seed}": tensors[keys[j]] for i, j in enumerate(order)}
    atomic_write(path, save(tensors), mkdir=True)


def save_state_dict(state: State, path: Path) -> None:
    """``state`` as a ``torch.save`` file that ``torch.load(weights_only=True)`` reads."""
    buf = io.BytesIO()
    torch.save({k: v.detach().clone() for k, v in state.items()}, buf)
    atomic_write(path, buf.getvalue(), mkdir=True)


def load_state(path: Path) -> State:
    """A state dict back from a safetensors file."""
    from safetensors.torch import load_file

    return load_file(str(path))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Exporters and quantizers print warnings and progress that say nothing to a user here."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            root.setLevel(level)


def export_onnx(
    model: nn.Module, x: torch.Tensor, path: Path, dynamo: bool = False, fold: bool = False
) -> None:
    """ONNX export. The TorchScript exporter keeps every tensor as trained (an exact copy):
    without constant folding BatchNorm stays a node; with ``fold`` (models without
    BatchNorm) the Linear weights of 3-D inputs are stored transposed for ``MatMul``, which
    onnxruntime's quantizers need. The dynamo exporter (its own opset and optimiser) folds
    BatchNorm into the convolutions (a re-export that changes tensors)."""
    model.eval()
    # opset 20, torch's default when these copies were first made: the bed's files and
    # figures stay as they were
    if dynamo:
        proto = dynamo_export(model, x, opset=20, input_names=["x"], output_names=["y"])
    else:
        proto = ts_export(
            model,
            x,
            opset=20,
            training=torch.onnx.TrainingMode.EVAL,
            do_constant_folding=fold,
            dynamic_batch=True,
            input_names=["x"],
            output_name="y",
        )
    atomic_write(path, proto.SerializeToString(), mkdir=True)


def transposed_rewrite(src: Path, dst: Path) -> None:
    """Another exporter's spelling of the same model: every ``Gemm(transB=1)`` becomes
    ``MatMul`` with the transposed weight stored, followed by ``Add`` of the bias, and every
    initializer is renamed. The tensors are the same up to transposition (exact tensors)."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(src))
    inits = {t.name: t for t in m.graph.initializer}
    nodes = []
    for node in m.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Gemm" and attrs.get("transB") == 1 and node.input[1] in inits:
            w = numpy_helper.to_array(inits[node.input[1]])
            inits[node.input[1]].CopyFrom(numpy_helper.from_array(w.T.copy(), node.input[1]))
            mm = node.output[0] + "_mm"
            nodes.append(helper.make_node("MatMul", [node.input[0], node.input[1]], [mm]))
            if len(node.input) > 2:
                nodes.append(helper.make_node("Add", [mm, node.input[2]], [node.output[0]]))
            else:
                nodes[-1].output[0] = node.output[0]
        else:
            nodes.append(node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    rename = {name: f"W{i:03d}" for i, name in enumerate(sorted(inits))}
    for t in m.graph.initializer:
        t.name = rename[t.name]
    for node in m.graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = rename.get(name, name)
    atomic_write(dst, m.SerializeToString(), mkdir=True)


def _atomic_path(dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    return dst.with_name(f".{dst.name}.{os.getpid()}.tmp")


def quantize_dynamic(src: Path, dst: Path) -> None:
    """onnxruntime dynamic quantization: int8 weights (MatMulInteger, ConvInteger)."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as qd

    tmp = _atomic_path(dst)
    with _quiet():
        qd(str(src), str(tmp), weight_type=QuantType.QInt8)
    os.replace(tmp, dst)


def quantize_static(src: Path, dst: Path, calibration: list[np.ndarray]) -> None:
    """onnxruntime static quantization, QDQ format, int8 weights per channel, calibrated on
    ``calibration`` (input batches)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
    )
    from onnxruntime.quantization import quantize_static as qs

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration)

        def get_next(self) -> dict[str, Any] | None:
            x = next(self.items, None)
            return None if x is None else {"x": x}

    tmp = _atomic_path(dst)
    with _quiet():
        qs(
            str(src),
            str(tmp),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
        )
    os.replace(tmp, dst)


def to_fp16(src: Path, dst: Path) -> None:
    """onnxruntime's float16 converter: fp16 initializers, float32 inputs and outputs."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with _quiet():
        m = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    atomic_write(dst, m.SerializeToString(), mkdir=True)


def onnx_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    """Run an ONNX copy with onnxruntime (to check that it still computes the model)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]
