"""FLOPs of one ONNX node from its inferred shapes, and when they cannot be known.

Convention (documented in docs/graph-generator.md): one multiply-add is **2 FLOPs**; biases
add one FLOP per output element; elementwise ops and activations (comparisons and CumSum too)
cost one FLOP per output element; batch normalisation (inference form) costs 2 per element;
pooling costs one per window element; Softmax 3 and LayerNormalization 5 (+2 with affine) per
element. Data movement (Reshape, Concat, Gather, ...) costs 0. The trigger input has batch
size 1.

A node's FLOPs are *unknown* (:func:`flops_unknown`) when its rule needs a shape that shape
inference could not find (an ONNX file shipped without the data of its shape constants), or
when the op has no rule here and is not data movement (Einsum, Resize, QuantizeLinear,
custom-domain ops; quantized kernels count as their float operator, see :data:`QUANTIZED`).
Its FLOPs are then the known part, often 0, and ``hnn graph`` says how
many nodes are unknown instead of passing the 0 off as a count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnx

Shape = tuple[int | None, ...] | None

ELEMENTWISE = {
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Where",
    "Equal",
    "Less",
    "Greater",
    "And",
    "Or",
    "Not",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Clip",
    "LeakyRelu",
    "PRelu",
    "HardSigmoid",
    "HardSwish",
    "Elu",
    "Selu",
    "Celu",
    "Gelu",
    "Erf",
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Neg",
    "Abs",
    "Softplus",
    "Softsign",
    "Mish",
    "ThresholdedRelu",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Sin",
    "Cos",
    # comparisons, bitwise ops and running sums (attention masks of transformers)
    "LessOrEqual",
    "GreaterOrEqual",
    "Xor",
    "Mod",
    "IsNaN",
    "IsInf",
    "BitwiseAnd",
    "BitwiseOr",
    "BitwiseXor",
    "BitwiseNot",
    "BitShift",
    "CumSum",
}
REDUCE = {
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceL2",
    "ReduceProd",
    "GlobalAveragePool",
    "GlobalMaxPool",
}
# Ops with a FLOP rule in node_flops besides the elementwise and reduction sets.
_RULED = {
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "BatchNormalization",
    "MaxPool",
    "AveragePool",
    "LpPool",
    "Softmax",
    "LogSoftmax",
    "LayerNormalization",
    "InstanceNormalization",
    "GroupNormalization",
    "LRN",
}
# Quantized operators (QOperator format, dynamic quantization, onnxruntime's contrib kernels):
# the float operator each computes, and the input positions of its data, weight and bias
# (None: no bias input). Their FLOPs are the float operator's; their weights (int8) and
# biases (int32 or float) are its parameters (hnnframe.ir.onnx), scales and zero points are not.
QUANTIZED: dict[str, tuple[str, int, int, int | None]] = {
    "ConvInteger": ("Conv", 0, 1, None),
    "QLinearConv": ("Conv", 0, 3, 8),
    "MatMulInteger": ("MatMul", 0, 1, None),
    "QLinearMatMul": ("MatMul", 0, 3, None),
    "MatMulIntegerToFloat": ("MatMul", 0, 1, 6),
    "DynamicQuantizeMatMul": ("MatMul", 0, 1, 4),
    "QGemm": ("Gemm", 0, 3, 6),
}
# DynamicQuantizeLinear finds its input's range (a min and a max reduction) and quantizes it
# elementwise: 2 FLOPs per element by this convention (QuantizeLinear has no rule yet).
DYNAMIC_QUANTIZE_FLOPS = 2
# Ops that only move, select, reshape or describe data: 0 FLOPs by convention, and known.
DATA_MOVEMENT = {
    "Identity",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Concat",
    "Split",
    "Slice",
    "Gather",
    "GatherElements",
    "GatherND",
    "Scatter",
    "ScatterElements",
    "ScatterND",
    "Expand",
    "Tile",
    "Pad",
    "Shape",
    "Size",
    "Cast",
    "CastLike",
    "Constant",
    "ConstantOfShape",
    "Range",
    "Dropout",
    "DepthToSpace",
    "SpaceToDepth",
    "Trilu",
    "OneHot",
    "NonZero",
    "EyeLike",
    "Compress",
    "ReverseSequence",
    "SplitToSequence",
    "SequenceAt",
    "SequenceConstruct",
    "SequenceEmpty",
    "SequenceInsert",
    "SequenceErase",
    "SequenceLength",
    "ConcatFromSequence",
    "Optional",
    "OptionalGetElement",
    "OptionalHasElement",
}


def numel(shape: Sequence[int | None] | None) -> int:
    """Elements of a shape; 0 when it, or any of its dims, is unknown."""
    if not shape or any(s is None for s in shape):
        return 0 if shape is None or any(s is None for s in shape) else 1
    return int(math.prod(shape))  # type: ignore[arg-type]


def attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    """An ONNX node attribute's value, or ``default``."""
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def node_flops(node: onnx.NodeProto, in_shapes: list[Shape], out_shape: Shape) -> int:
    """FLOPs of one ONNX node from its inferred shapes (see the module docstring)."""
    op = node.op_type
    if op in QUANTIZED:
        op, in_shapes = _float_view(op, in_shapes)
    out = numel(out_shape)
    if op == "DynamicQuantizeLinear":
        return DYNAMIC_QUANTIZE_FLOPS * out
    x = in_shapes[0] if in_shapes else None
    w = in_shapes[1] if len(in_shapes) > 1 else None
    has_bias = len(in_shapes) > 2 and in_shapes[2] is not None
    if op == "Conv" and w:
        # weight [Cout, Cin/group, k...]: MACs per output element = Cin/group * prod(k)
        macs_per = numel(w[1:])
        return 2 * out * macs_per + (out if has_bias else 0)
    if op == "ConvTranspose" and w and x:
        # weight [Cin, Cout/group, k...]: every input element scatters into Cout/group*prod(k)
        return 2 * numel(x) * numel(w[1:]) + (out if has_bias else 0)
    if op == "Gemm" and x and w:
        k = x[0] if attr(node, "transA", 0) else x[-1]
        return 2 * out * int(k or 0) + (out if has_bias else 0)
    if op == "MatMul" and x:
        return 2 * out * int(x[-1] or 0)
    if op == "BatchNormalization":
        return 2 * out
    if op in ("MaxPool", "AveragePool", "LpPool"):
        return out * int(math.prod(attr(node, "kernel_shape", [1])))
    if op in REDUCE:
        return numel(x)
    if op in ("Softmax", "LogSoftmax"):
        return 3 * out
    if op == "LayerNormalization":
        return 5 * out + (2 * out if len(in_shapes) > 1 else 0)
    if op in ("InstanceNormalization", "GroupNormalization"):
        return 7 * out
    if op == "LRN":
        return out * (2 * int(attr(node, "size", 1)) + 3)
    if op in ELEMENTWISE:
        return out
    return 0


def _float_view(op: str, in_shapes: list[Shape]) -> tuple[str, list[Shape]]:
    """A quantized op as its float op: ``(op, [data, weight(, bias)])`` (see QUANTIZED)."""
    float_op, xi, wi, bi = QUANTIZED[op]

    def at(k: int | None) -> Shape:
        return in_shapes[k] if k is not None and k < len(in_shapes) else None

    # QLinearMatMul and MatMulInteger multiply A x B whichever is the weight: A's last dim
    # is the reduction either way, as for MatMul.
    shapes = [at(xi), at(wi)]
    if at(bi) is not None:
        shapes.append(at(bi))
    return float_op, shapes


def _known(shape: Shape) -> bool:
    return shape is not None and all(d is not None for d in shape)


def flops_unknown(node: onnx.NodeProto, in_shapes: list[Shape], out_shape: Shape) -> bool:
    """Whether :func:`node_flops` could not count this node (see the module docstring)."""
    op = node.op_type
    if op in DATA_MOVEMENT:
        return False
    if op == "DynamicQuantizeLinear":
        return not _known(out_shape)
    if op in QUANTIZED:
        op, in_shapes = _float_view(op, in_shapes)
    if op not in _RULED and op not in ELEMENTWISE and op not in REDUCE:
        return True
    x = in_shapes[0] if in_shapes else None
    w = in_shapes[1] if len(in_shapes) > 1 else None
    if op == "Conv":
        needed = [w, out_shape]
    elif op == "ConvTranspose":
        has_bias = len(in_shapes) > 2 and in_shapes[2] is not None
        needed = [x, w, *([out_shape] if has_bias else [])]
    elif op == "Gemm":
        needed = [x, w, out_shape]
    elif op == "MatMul":
        needed = [x, out_shape]
    elif op in REDUCE:
        needed = [x]
    else:
        needed = [out_shape]
    return not all(_known(s) for s in needed)
