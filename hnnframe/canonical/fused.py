"""``normalise_fused``: fused operators spelled as the exporters spell them, with ir FLOPs.

Late opsets and onnxruntime's optimisers write one node where an export at opset 17 has
several, and :mod:`hnnframe.ir` has no FLOP rule for most of them (their FLOPs read 0,
unknown). This pass gives each the node (or nodes) of the decomposed spelling that
:mod:`hnnframe.canonical.motifs` fuses the export into, with the FLOPs of the ir convention
computed from the shapes:

* ``RMSNormalization`` (opset 23) and onnxruntime's ``SimplifiedLayerNormalization``: one
  ``RMSNormalization``, 4 FLOPs per element plus 1 with a scale (``fuse_decompositions``'
  count for Llama's ``x * rsqrt(mean(x^2) + eps) * w``);
* ``RotaryEmbedding`` (opset 23): :data:`~hnnframe.canonical.motifs.ROTARY_FLOPS` per element,
  as ``fuse_decompositions`` counts ``x * cos + rotate_half(x) * sin``;
* ``Attention`` (opset 23, no weights): both matrix products and the Softmax, as
  ``fuse_attention`` counts the eager chain;
* ``SkipLayerNormalization`` / ``SkipSimplifiedLayerNormalization`` (the residual Add fused
  into the norm): an ``Add`` and the norm; their optional bias (the preceding MatMul's, which
  onnxruntime moves in) goes back to that MatMul;
* ``BiasGelu`` and ``FastGelu`` (a bias Add fused into GELU): the bias goes back to the
  MatMul before them, and the rest is ``Gelu``;
* ``FusedMatMul``, ``FusedGemm``, ``FusedConv``: ``MatMul``, ``Gemm``, ``Conv`` with the
  FLOPs of their weights and output (the activation fused into FusedConv/FusedGemm is an
  attribute the graph does not carry, so it is lost); the shapes after a FusedMatMul that
  shape inference leaves open are completed (:func:`complete_shapes`);
* ``EmbedLayerNormalization`` (onnxruntime's BERT embedding fusion): the word table's
  ``Gather``, the ``Add`` of the position (and segment) tables, and the ``LayerNormalization``;
* ``QuickGelu`` (``x * sigmoid(a x)``, onnxruntime's fusion of SiLU): SiLU's ``Sigmoid`` and
  ``Mul`` (``a`` is an attribute; for CLIP's ``a = 1.702`` the scaling Mul is lost).

A Skip*LayerNormalization has two outputs, the normalised sum and (optionally) the sum
itself. When the file has no sum output (:attr:`hnnframe.ir.OpNode.sum_out`: a post-norm
network such as BERT), every consumer reads the norm. When it has one (a pre-norm network:
GPT-2, ViT, Llama), the graph does not record which consumer reads which output: consumers
that are residual Adds or other Skip norms are taken to read the sum.
"""

from __future__ import annotations

from hnnframe.canonical.base import CANONICALISERS, CanonicalPass, numel
from hnnframe.canonical.motifs import ROTARY_FLOPS
from hnnframe.ir import OpGraph, OpNode

SKIP_NORMS = {
    "SkipLayerNormalization": "LayerNormalization",
    "SkipSimplifiedLayerNormalization": "RMSNormalization",
}
BIAS_GELU = frozenset({"BiasGelu", "FastGelu"})
LINEAR = frozenset({"Gemm", "MatMul"})
# Consumers of a Skip norm that read its sum output (see the module docstring).
SUM_READERS = frozenset({"Add", *SKIP_NORMS})


def _last(shape: tuple[int | None, ...] | None) -> int | None:
    d = shape[-1] if shape else None
    return d if isinstance(d, int) and d > 0 else None


def _norm_flops(op: str, out: int, params: int) -> int:
    """ir convention: LayerNormalization 5 (+2 affine), RMSNormalization 4 (+1 scale)."""
    if op == "LayerNormalization":
        return 5 * out + (2 * out if params else 0)
    return 4 * out + (out if params else 0)


_SAME_SHAPE = frozenset(
    {
        "Softmax",
        "Mul",
        "Add",
        "Sub",
        "Div",
        "Where",
        "IsNaN",
        "Gelu",
        "FastGelu",
        "BiasGelu",
        "QuickGelu",
        "Sigmoid",
        "Relu",
    }
)


def _full(shape: tuple[int | None, ...] | None) -> bool:
    return shape is not None and all(isinstance(d, int) for d in shape)


def complete_shapes(graph: OpGraph) -> OpGraph:
    """Shapes (and the FLOPs they give) that shape inference left unknown after a
    ``FusedMatMul``, whose transposed operands onnxruntime's symbolic inference does not
    resolve: its product's shape from its operands' (the one reading of ``[M, K] x [K, N]``
    or ``[M, K] x [N, K]`` that fits), then through the Softmax and MatMul after it."""
    if not any(n.op == "FusedMatMul" for n in graph.nodes):
        return graph
    nodes = list(graph.nodes)
    for i in graph.topological_order():
        n = nodes[i]
        if _full(n.shape) or n.shape is None:
            continue
        ins = [nodes[p].shape for p in graph.predecessors(i)]
        shape = None
        k = None
        if n.op in ("FusedMatMul", "MatMul") and len(ins) == 2 and all(map(_full, ins)):
            shape, k = _product_shape(ins[0], ins[1], n.shape)
        elif n.op in _SAME_SHAPE:
            full = [s for s in ins if _full(s) and s is not None and len(s) == len(n.shape)]
            shape = full[0] if full else None
        if shape is None:
            continue
        out = numel(shape) or 0
        if n.op in ("FusedMatMul", "MatMul"):
            flops = 2 * out * int(k or 0) if k else n.flops
        else:
            flops = 3 * out if n.op == "Softmax" else out
        nodes[i] = OpNode(n.op, n.name, flops, n.params, shape, n.const)
    return OpGraph(nodes, graph.edges, graph.name)


def _product_shape(
    x: tuple[int | None, ...] | None,
    y: tuple[int | None, ...] | None,
    out: tuple[int | None, ...],
) -> tuple[tuple[int, ...] | None, int | None]:
    """``(shape, K)`` of a matrix product of ``x`` and ``y`` (in either order, either operand
    transposed) that agrees with the dims of ``out`` that are known."""
    assert x is not None and y is not None
    if not (len(x) == len(y) == len(out) >= 2):
        return None, None
    for a, b in ((x, y), (y, x)):
        batch = tuple(max(int(p or 1), int(q or 1)) for p, q in zip(a[:-2], b[:-2], strict=True))
        readings = []
        if a[-1] == b[-2]:
            readings.append(((a[-2], b[-1]), a[-1]))
        if a[-1] == b[-1]:
            readings.append(((a[-2], b[-2]), a[-1]))
        if a[-2] == b[-2]:
            readings.append(((a[-1], b[-1]), a[-2]))
        for (m, n), k in readings:
            shape = (*batch, int(m or 0), int(n or 0))
            if all(d is None or d == e for d, e in zip(out, shape, strict=True)):
                return shape, int(k or 0)
    return None, None


def attention_flops(graph: OpGraph, i: int) -> int | None:
    """FLOPs of a native Attention node from its output ``[B, H, Sq, Dv]`` and the keys'
    length (the longest sequence among its inputs)."""
    n = graph.nodes[i]
    out = numel(n.shape)
    if out is None or n.shape is None or len(n.shape) < 3:
        return None
    sq, dv = n.shape[-2], n.shape[-1]
    assert isinstance(sq, int) and isinstance(dv, int)
    keys = [graph.nodes[p].shape for p in graph.predecessors(i)]
    lengths = [s[-2] for s in keys if s is not None and len(s) == len(n.shape)]
    sk = max([d for d in lengths if isinstance(d, int)], default=sq)
    rows = out // dv  # B * H * Sq
    return 2 * rows * sk * dv + 3 * rows * sk + 2 * rows * sk * dv


def _linear_flops(n: OpNode, graph: OpGraph, i: int) -> int:
    """FLOPs of a fused MatMul/Gemm/Conv from its weights (params) and output."""
    out = numel(n.shape) or 0
    if n.op == "Conv":
        c = n.shape[1] if n.shape and len(n.shape) > 1 else None
        if isinstance(c, int) and c and n.params > c and (n.params - c) % c == 0:
            return 2 * out * ((n.params - c) // c) + out  # FusedConv always has a bias
        return n.flops
    cols = _last(n.shape)
    if n.params and cols:  # [K, N] weights, plus a bias of N for a Gemm
        has_bias = n.op == "Gemm" and (n.params - cols) % cols == 0 and n.params > cols
        k = (n.params - cols) // cols if has_bias else n.params // cols
        return 2 * out * k + (out if has_bias else 0)
    for p in graph.predecessors(i):  # A x B of two activations: A is [..., M, K]
        s = graph.nodes[p].shape
        if s and n.shape and len(s) >= 2 and isinstance(s[-1], int):
            k = s[-1] if s[-2] == n.shape[-2] else s[-2]
            return 2 * out * int(k or 0)
    return n.flops


@CANONICALISERS.register("normalise_fused")
class NormaliseFused(CanonicalPass):
    """Fused operators as their decomposed spelling, with ir FLOPs (see the module)."""

    def __call__(self, graph: OpGraph) -> OpGraph:
        graph = complete_shapes(graph)
        nodes = [OpNode(n.op, n.name, n.flops, n.params, n.shape, n.const) for n in graph.nodes]
        edges = set(graph.edges)
        extra: list[OpNode] = []
        for i, n in enumerate(graph.nodes):
            out = numel(n.shape)
            if n.op in ("RMSNormalization", "SimplifiedLayerNormalization") and out:
                nodes[i] = OpNode(
                    "RMSNormalization", n.name, _norm_flops("", out, n.params), n.params, n.shape
                )
            elif n.op == "RotaryEmbedding" and out:
                nodes[i] = OpNode(n.op, n.name, ROTARY_FLOPS * out, 0, n.shape)
            elif n.op == "Attention" and not n.params:
                flops = attention_flops(graph, i)
                if flops is not None:
                    nodes[i] = OpNode("Attention", n.name, flops, 0, n.shape)
            elif n.op in ("FusedMatMul", "FusedGemm", "FusedConv"):
                op = n.op.removeprefix("Fused")
                node = OpNode(op, n.name, n.flops, n.params, n.shape)
                nodes[i] = OpNode(op, n.name, _linear_flops(node, graph, i), n.params, n.shape)
                if n.activation:  # the activation onnxruntime fused in, as its own node
                    self._after(
                        graph,
                        edges,
                        extra,
                        i,
                        OpNode(n.activation, n.name + "/act", out or 0, 0, n.shape),
                    )
            elif n.op in BIAS_GELU and out:
                bias = n.params if n.params == _last(n.shape) else 0
                if bias:
                    self._bias_back(graph, nodes, i, bias, out)
                nodes[i] = OpNode("Gelu", n.name, out, 0, n.shape)
            elif n.op in SKIP_NORMS and out and _last(n.shape):
                self._split_skip(graph, nodes, edges, extra, i)
            elif n.op == "EmbedLayerNormalization" and out and _last(n.shape):
                self._split_embed(graph, nodes, edges, extra, i)
            elif n.op == "QuickGelu" and out:  # x * sigmoid(a x): SiLU's Sigmoid and Mul
                nodes[i] = OpNode("Sigmoid", n.name, out, 0, n.shape)
                k = self._after(
                    graph, edges, extra, i, OpNode("Mul", n.name + "/mul", out, 0, n.shape)
                )
                edges.update((p, k) for p in graph.predecessors(i))
        k0 = len(nodes)
        edges = {(s if s >= 0 else k0 - s - 1, d if d >= 0 else k0 - d - 1) for s, d in edges}
        return OpGraph(nodes + extra, sorted(edges), graph.name)

    @staticmethod
    def _after(
        graph: OpGraph, edges: set[tuple[int, int]], extra: list[OpNode], i: int, node: OpNode
    ) -> int:
        """Insert ``node`` between node ``i`` and its successors; its index is negative until
        the end (-1 for the first new node)."""
        k = -(len(extra) + 1)
        extra.append(node)
        for s in graph.successors(i):
            edges.discard((i, s))
            edges.add((k, s))
        edges.add((i, k))
        return k

    @staticmethod
    def _bias_back(graph: OpGraph, nodes: list[OpNode], i: int, bias: int, out: int) -> bool:
        """Give a fused bias back to the MatMul/Gemm that feeds only node ``i``."""
        for p in graph.predecessors(i):
            m = nodes[p]
            if m.op in LINEAR and m.params and graph.out_degree(p) == 1:
                nodes[p] = OpNode(m.op, m.name, m.flops + out, m.params + bias, m.shape)
                return True
        return False

    def _split_embed(
        self,
        graph: OpGraph,
        nodes: list[OpNode],
        edges: set[tuple[int, int]],
        extra: list[OpNode],
        i: int,
    ) -> None:
        """Node ``i`` (EmbedLayerNormalization) becomes the word table's lookup; new nodes
        the Add of the position (and segment) tables and the LayerNormalization after it, with
        gamma and beta, as the export spells them."""
        n = graph.nodes[i]
        out, c = numel(n.shape) or 0, _last(n.shape) or 1
        norm = min(2 * c, n.params)
        nodes[i] = OpNode("Gather", n.name, 0, n.params - norm, n.shape)
        node = OpNode(
            "LayerNormalization",
            n.name + "/norm",
            _norm_flops("LayerNormalization", out, norm),
            norm,
            n.shape,
        )
        k = self._after(graph, edges, extra, i, node)
        # The position (and segment) tables' Add, as the export spells it: the norm reads it.
        # The IR does not count those tables (buffers, _BUFFER_INPUTS): the Add holds one
        # row's worth, a table rather than a one-value offset (drop_scalar_offset), until
        # normalise_spelling takes the parameters of every Add of a constant, as the export's.
        add = OpNode("Add", n.name + "/positions", out, c, n.shape)
        j = -(len(extra) + 1)
        extra.append(add)
        edges.discard((i, k))
        edges.update({(i, j), (j, k)})

    def _split_skip(
        self,
        graph: OpGraph,
        nodes: list[OpNode],
        edges: set[tuple[int, int]],
        extra: list[OpNode],
        i: int,
    ) -> None:
        """Node ``i`` becomes the residual Add; a new node (a negative index until the end,
        -1 for the first) the norm, fed by it."""
        n = graph.nodes[i]
        out, c = numel(n.shape) or 0, _last(n.shape) or 1
        norm_op = SKIP_NORMS[n.op]
        own = 2 * c if norm_op == "LayerNormalization" else c  # gamma (and beta)
        params, surplus = min(n.params, own), max(n.params - own, 0)
        # The surplus is a bias onnxruntime moved in from the MatMul before, or a constant
        # operand of the residual Add (BERT's token-type embedding row): the Add keeps what
        # does not go back, as an Add of an initializer does.
        if surplus and self._bias_back(graph, nodes, i, surplus, out):
            surplus = 0
        k = -(len(extra) + 1)
        extra.append(
            OpNode(norm_op, n.name + "/norm", _norm_flops(norm_op, out, params), params, n.shape)
        )
        nodes[i] = OpNode("Add", n.name, out, surplus, n.shape)
        succ = graph.successors(i)
        sum_readers = {s for s in succ if graph.nodes[s].op in SUM_READERS}
        if len(sum_readers) == len(succ) or not n.sum_out:
            sum_readers = set()  # nothing reads the sum: the norm feeds every consumer
        for s in succ:
            if s not in sum_readers:
                edges.discard((i, s))
                edges.add((k, s))
        edges.add((i, k))
