"""The pass that removes quantization: ``fold_qdq``.

QuantizeLinear/DequantizeLinear pairs (onnxruntime.quantization's QDQ format) are removed; a
dequantized int8 weight counts as the float parameter it stands for, and a ReLU the quantizer
deleted (a quantization range that starts at 0 right after a Conv, Gemm or Add) is put back.
Dynamic quantization (``DynamicQuantizeLinear``, ``ConvInteger``/``MatMulInteger`` and the Cast
and scale Mul that dequantize their result) becomes the float operator.
"""

from __future__ import annotations

from collections import defaultdict

from hnnframe.canonical.base import CANONICALISERS, CanonicalPass, bypass, numel
from hnnframe.ir import OpGraph, OpNode

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})
# Quantized operator spellings (QOperator format, dynamic quantization, contrib ops) and the
# float operator each stands for. Only the op type is mapped: their weights are int8, so
# FLOPs and parameters of these nodes stay as the IR counted them.
QUANTIZED_OPS: dict[str, str] = {
    "QLinearConv": "Conv",
    "ConvInteger": "Conv",
    "QLinearConvTranspose": "ConvTranspose",
    "MatMulInteger": "MatMul",
    "QLinearMatMul": "MatMul",
    "DynamicQuantizeMatMul": "MatMul",
    "MatMulIntegerToFloat": "MatMul",
    "QGemm": "Gemm",
    "QLinearAdd": "Add",
    "QLinearMul": "Mul",
    "QLinearGlobalAveragePool": "GlobalAveragePool",
    "QLinearAveragePool": "AveragePool",
    "QLinearConcat": "Concat",
    "QLinearSigmoid": "Sigmoid",
    "QLinearLeakyRelu": "LeakyRelu",
    "QLinearSoftmax": "Softmax",
    "QLinearReduceMean": "ReduceMean",
    "QLinearWhere": "Where",
    "QAttention": "Attention",
}


@CANONICALISERS.register("fold_qdq")
class FoldQdq(CanonicalPass):
    """Remove QuantizeLinear/DequantizeLinear pairs and map quantized ops to float ones.

    A DequantizeLinear fed by no other node dequantizes a weight: its output's element count
    moves to its consumer as parameters (what ``fold_constants`` does for graphs that know
    their constant nodes). Every other Q/DQ node is bridged over, except one that stands for
    a deleted ReLU: onnxruntime's QDQ quantizer removes a Relu or Clip after a quantized
    tensor and lets the QuantizeLinear's range (zero point at the type's minimum, so the range
    starts at 0) do the clipping. A QuantizeLinear whose range starts at 0, whose producer
    can output negative values (:attr:`SIGNED`) and feeds nothing else, and whose value goes
    on to another operator (not straight to the graph output) becomes a ``Relu``, or a
    ``Clip`` (ReLU6, as the exporters spell it) when the range ends at 6: calibration data
    that drives a ReLU6 into saturation, as real data does, sets the range to exactly [0, 6].
    With calibration data that never reaches 6, a ReLU6 comes back as ``Relu``. Needs the Q's
    scale and zero point (see :attr:`hnnframe.ir.OpNode.clamp`; ``strip_weights`` keeps
    scalars).
    """

    # Producers after which onnxruntime deletes an activation; their output has either sign.
    SIGNED = frozenset(
        {
            "Conv",
            "ConvTranspose",
            "Gemm",
            "MatMul",
            "Add",
            "Sub",
            "BatchNormalization",
            "QLinearConv",
            "QLinearMatMul",
            "QLinearAdd",
            "QGemm",
        }
    )

    def __call__(self, graph: OpGraph) -> OpGraph:
        extra: dict[int, int] = defaultdict(int)
        drop, scales = dequantize_chains(graph)
        relu: dict[int, str] = {}
        for i, n in enumerate(graph.nodes):
            if n.op not in QDQ_OPS:
                continue
            act = self._deleted_activation(graph, i)
            if act:
                relu[i] = act
                continue
            drop.add(i)
            if n.op == "DequantizeLinear" and graph.in_degree(i) == 0:
                succ = sorted(graph.successors(i))
                if succ:
                    extra[succ[0]] += numel(n.shape) or 0
        nodes = []
        for i, n in enumerate(graph.nodes):
            if i in relu:  # an elementwise op: one FLOP per output element, as the IR counts
                nodes.append(OpNode(relu[i], n.name, numel(n.shape) or n.flops, 0, n.shape))
                continue
            op = QUANTIZED_OPS.get(n.op, n.op)
            nodes.append(
                OpNode(
                    op,
                    n.name,
                    n.flops,
                    n.params + extra.get(i, 0),
                    n.shape,
                    n.const,
                    activation=n.activation,
                    sum_out=n.sum_out,
                )
            )
        # The scale products carry no data: cut their edges, so removing them bridges nothing.
        edges = [(s, d) for s, d in graph.edges if s not in scales and d not in scales]
        return bypass(OpGraph(nodes, edges, graph.name), drop | scales)

    def _deleted_activation(self, graph: OpGraph, i: int) -> str | None:
        """``Relu`` or ``Clip`` when node ``i`` is a QuantizeLinear that stands for one."""
        n = graph.nodes[i]
        if n.op != "QuantizeLinear" or n.clamp is None or n.clamp[0] != 0.0:
            return None
        pred = graph.predecessors(i)
        if not (
            len(pred) == 1 and self._signed(graph, pred[0]) and len(graph.successors(pred[0])) == 1
        ):
            return None
        # A graph output (the Q's DequantizeLinear feeds nothing): logits that happened to be
        # non-negative on the calibration data, far likelier than a network ending in a ReLU.
        if not any(graph.successors(d) for d in graph.successors(i)):
            return None
        return "Clip" if abs(n.clamp[1] - 6.0) < 1e-4 else "Relu"

    def _signed(self, graph: OpGraph, p: int) -> bool:
        """Whether node ``p``'s output can be negative. An Add or Sub of one tensor and a
        constant (GELU's ``1 + erf(x)``: never negative, so its quantization range starts at 0
        too) is signed only when what it offsets is (a bias after a MatMul)."""
        n = graph.nodes[p]
        if n.op not in self.SIGNED:
            return False
        if n.op in ("Add", "Sub") and graph.in_degree(p) == 1:
            q = graph.predecessors(p)[0]
            while graph.nodes[q].op in QDQ_OPS and graph.in_degree(q) == 1:
                q = graph.predecessors(q)[0]
            return graph.nodes[q].op in self.SIGNED
        return True


# Integer kernels of dynamic quantization, whose int32 result is dequantized after them.
INTEGER_OPS = frozenset({"ConvInteger", "MatMulInteger"})


def dequantize_chains(graph: OpGraph) -> tuple[set[int], set[int]]:
    """The nodes that dequantize an integer kernel's result (onnxruntime's
    ``quantize_dynamic``): ``ConvInteger/MatMulInteger -> Cast -> Mul(scale)``, and the scale,
    the product (a Mul of scalars) of the input's dynamic scale and the weight's. The float
    operator computes none of them. Returns ``(chain nodes, scale nodes)``."""
    out: set[int] = set()
    scale_nodes: set[int] = set()
    for i, n in enumerate(graph.nodes):
        if n.op not in INTEGER_OPS or graph.out_degree(i) != 1:
            continue
        chain = []
        j = graph.successors(i)[0]
        if graph.nodes[j].op == "Cast" and graph.out_degree(j) == 1:
            chain.append(j)
            j = graph.successors(j)[0]
        if graph.nodes[j].op != "Mul":
            continue
        scales = [p for p in graph.predecessors(j) if p not in (i, *chain)]
        if len(scales) > 1 or any(not _is_scale(graph, s, j) for s in scales):
            continue
        out.update((*chain, j))
        scale_nodes.update(scales)
    return out, scale_nodes


def _is_scale(graph: OpGraph, s: int, consumer: int) -> bool:
    """A Mul of the dynamic scale and the weight's scale, feeding only ``consumer``."""
    n = graph.nodes[s]
    size = numel(n.shape) if n.shape is not None else 1
    fed_by_quantizer = all(
        graph.nodes[p].op == "DynamicQuantizeLinear" for p in graph.predecessors(s)
    )
    return n.op == "Mul" and size == 1 and fed_by_quantizer and graph.successors(s) == [consumer]
