"""OpGraph: the framework-neutral operator graph of Stage 1 (paper section 3.2).

An :class:`OpGraph` has one node per ONNX operator (Constant nodes and initializers are not
nodes) and one directed edge per tensor that flows from a producer to a consumer. Each node
carries its op type, FLOPs, trainable parameter count, output shape and ONNX node name; these
are the vertex attributes F = {f1, f2, f3} of section 3.2.3.

FLOP convention (documented in docs/graph-generator.md): one multiply-add is **2 FLOPs**;
biases add one FLOP per output element; elementwise ops and activations cost one FLOP per
output element; batch normalisation (inference form) costs 2 per element; pooling costs one
per window element; Softmax 3 and LayerNormalization 5 (+2 with affine) per element. Data
movement (Reshape, Concat, Gather, ...) costs 0. The trigger input has batch size 1.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hnnframe.errors import GraphError

if TYPE_CHECKING:
    import networkx as nx
    import onnx


@dataclass
class OpNode:
    """One operator (or one merged block of operators)."""

    op: str
    name: str = ""
    flops: int = 0
    params: int = 0
    shape: tuple[int | None, ...] | None = None
    # True when the node's output depends on no graph input: it reads only initializers,
    # Constant outputs and other constant nodes (a DequantizeLinear of an int8 weight, a
    # Transpose of a weight), or it is Shape/Size (static shapes make their output constant).
    # Optional: graphs saved before this field existed load with False.
    const: bool = False
    # QuantizeLinear only: the real-valued range (lo, hi) it saturates to, from its scale and
    # zero point when the file holds them. onnxruntime's QDQ quantizer deletes a ReLU by
    # giving the Q before it lo == 0, so ``fold_qdq`` can put the ReLU back.
    clamp: tuple[float, float] | None = None


@dataclass
class OpGraph:
    """A directed operator graph; edges are ``(src, dst)`` index pairs into ``nodes``."""

    nodes: list[OpNode] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)
    name: str = ""

    def __post_init__(self) -> None:
        self.edges = sorted({(int(s), int(d)) for s, d in self.edges if s != d})
        self._succ: list[list[int]] | None = None
        self._pred: list[list[int]] | None = None

    # -- structure -------------------------------------------------------------------------
    def _adj(self) -> None:
        succ: list[list[int]] = [[] for _ in self.nodes]
        pred: list[list[int]] = [[] for _ in self.nodes]
        for s, d in self.edges:
            succ[s].append(d)
            pred[d].append(s)
        self._succ, self._pred = succ, pred

    def successors(self, i: int) -> list[int]:
        if self._succ is None:
            self._adj()
        assert self._succ is not None
        return self._succ[i]

    def predecessors(self, i: int) -> list[int]:
        if self._pred is None:
            self._adj()
        assert self._pred is not None
        return self._pred[i]

    def out_degree(self, i: int) -> int:
        return len(self.successors(i))

    def in_degree(self, i: int) -> int:
        return len(self.predecessors(i))

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_edges(self) -> int:
        return len(self.edges)

    def ops(self) -> list[str]:
        return [n.op for n in self.nodes]

    def op_histogram(self) -> dict[str, int]:
        return dict(Counter(self.ops()).most_common())

    @property
    def total_flops(self) -> int:
        return sum(n.flops for n in self.nodes)

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes)

    def topological_order(self) -> list[int]:
        """Kahn's order, ties broken by node index so the result is deterministic."""
        import heapq

        indeg = [self.in_degree(i) for i in range(len(self.nodes))]
        heap = [i for i, d in enumerate(indeg) if d == 0]
        heapq.heapify(heap)
        order: list[int] = []
        while heap:
            i = heapq.heappop(heap)
            order.append(i)
            for j in self.successors(i):
                indeg[j] -= 1
                if indeg[j] == 0:
                    heapq.heappush(heap, j)
        if len(order) != len(self.nodes):  # a cycle: fall back to index order for the rest
            seen = set(order)
            order += [i for i in range(len(self.nodes)) if i not in seen]
        return order

    def subgraph(self, keep: Iterable[int], name: str | None = None) -> OpGraph:
        """The graph induced by ``keep`` (edges among kept nodes only), renumbered in order."""
        kept = sorted(set(keep))
        remap = {old: new for new, old in enumerate(kept)}
        edges = [(remap[s], remap[d]) for s, d in self.edges if s in remap and d in remap]
        nodes = [OpNode(**asdict(self.nodes[i])) for i in kept]
        return OpGraph(nodes, edges, self.name if name is None else name)

    def copy(self) -> OpGraph:
        return self.subgraph(range(len(self.nodes)))

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nodes": [
                [n.op, n.name, int(n.flops), int(n.params), list(n.shape) if n.shape else None]
                + ([n.const, list(n.clamp)] if n.clamp else [True] if n.const else [])
                for n in self.nodes
            ],
            "edges": [list(e) for e in self.edges],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpGraph:
        nodes = [
            OpNode(op, name, flops, params, tuple(shape) if shape is not None else None,
                   bool(rest and rest[0]), tuple(rest[1]) if len(rest) > 1 else None)
            for op, name, flops, params, shape, *rest in d["nodes"]
        ]  # fmt: skip
        return cls(nodes, [tuple(e) for e in d["edges"]], d.get("name", ""))

    def content_hash(self) -> str:
        """sha256 of ops, FLOPs, parameters and edges (not names): a cache key for GED etc."""
        payload = json.dumps(
            [[(n.op, n.flops, n.params) for n in self.nodes], self.edges], separators=(",", ":")
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def structure_hash(self) -> str:
        """Like :meth:`content_hash` but independent of node order.

        Tools list independent branches in different orders; this Weisfeiler-Lehman hash of
        the directed graph labelled with op, FLOPs and parameters is equal for graphs that are
        equal up to node order (and, in practice, only for those).
        """
        import networkx as nx

        g = nx.DiGraph()
        for i, n in enumerate(self.nodes):
            g.add_node(i, label=f"{n.op}|{int(n.flops)}|{int(n.params)}")
        g.add_edges_from(self.edges)
        return str(nx.weisfeiler_lehman_graph_hash(g, node_attr="label", iterations=4))

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nodes": self.num_nodes,
            "edges": self.num_edges,
            "flops": self.total_flops,
            "params": self.total_params,
            "ops": self.op_histogram(),
        }

    # -- conversions -----------------------------------------------------------------------
    def to_networkx(self) -> nx.DiGraph:
        """A networkx DiGraph with node attributes op, name, flops, params, shape."""
        import networkx as nx

        g = nx.DiGraph(name=self.name)
        for i, n in enumerate(self.nodes):
            g.add_node(
                i,
                op=n.op,
                name=n.name,
                flops=int(n.flops),
                params=int(n.params),
                shape="x".join("?" if s is None else str(s) for s in n.shape or ()),
            )
        g.add_edges_from(self.edges)
        return g

    def to_dgl(self, feat: np.ndarray | None = None, self_loops: bool = True) -> Any:
        """An undirected DGLGraph (both directions of every edge, as in the paper).

        Args:
            feat: optional ``[num_nodes, D]`` node features stored as ``ndata["feat"]``.
            self_loops: add one self loop per node; GCN needs them so that isolated nodes
                (which node deletion creates) keep a non-zero degree.
        """
        import torch

        from hnnframe.dgl_compat import dgl

        n = len(self.nodes)
        if n == 0:
            raise GraphError("cannot build a DGL graph from an empty graph")
        src = np.array([s for s, _ in self.edges], dtype=np.int64)
        dst = np.array([d for _, d in self.edges], dtype=np.int64)
        u = np.concatenate([src, dst])
        v = np.concatenate([dst, src])
        if self_loops:
            ar = np.arange(n, dtype=np.int64)
            u, v = np.concatenate([u, ar]), np.concatenate([v, ar])
        g = dgl.graph((torch.from_numpy(u), torch.from_numpy(v)), num_nodes=n)
        if feat is not None:
            g.ndata["feat"] = torch.as_tensor(feat, dtype=torch.float32)
        return g


# -- ONNX -> OpGraph --------------------------------------------------------------------------

# Inputs of these ops that are running statistics (buffers), not trainable parameters.
_BUFFER_INPUTS: dict[str, set[int]] = {"BatchNormalization": {3, 4}}
_ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less",
    "Greater", "And", "Or", "Not", "Relu", "Sigmoid", "Tanh", "Clip", "LeakyRelu", "PRelu",
    "HardSigmoid", "HardSwish", "Elu", "Selu", "Celu", "Gelu", "Erf", "Exp", "Log", "Sqrt",
    "Reciprocal", "Neg", "Abs", "Softplus", "Softsign", "Mish", "ThresholdedRelu", "Floor",
    "Ceil", "Round", "Sign", "Sin", "Cos",
}  # fmt: skip
_REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceL2", "ReduceProd",
           "GlobalAveragePool", "GlobalMaxPool"}  # fmt: skip


def _numel(shape: Sequence[int | None] | None) -> int:
    if not shape or any(s is None for s in shape):
        return 0 if shape is None or any(s is None for s in shape) else 1
    return int(math.prod(shape))  # type: ignore[arg-type]


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def node_flops(
    node: onnx.NodeProto,
    in_shapes: list[tuple[int | None, ...] | None],
    out_shape: tuple[int | None, ...] | None,
) -> int:
    """FLOPs of one ONNX node from its inferred shapes (see the module docstring)."""
    op = node.op_type
    out = _numel(out_shape)
    x = in_shapes[0] if in_shapes else None
    w = in_shapes[1] if len(in_shapes) > 1 else None
    has_bias = len(in_shapes) > 2 and in_shapes[2] is not None
    if op == "Conv" and w:
        # weight [Cout, Cin/group, k...]: MACs per output element = Cin/group * prod(k)
        macs_per = _numel(w[1:])
        return 2 * out * macs_per + (out if has_bias else 0)
    if op == "ConvTranspose" and w and x:
        # weight [Cin, Cout/group, k...]: every input element scatters into Cout/group*prod(k)
        return 2 * _numel(x) * _numel(w[1:]) + (out if has_bias else 0)
    if op == "Gemm" and x and w:
        k = x[0] if _attr(node, "transA", 0) else x[-1]
        return 2 * out * int(k or 0) + (out if has_bias else 0)
    if op == "MatMul" and x:
        return 2 * out * int(x[-1] or 0)
    if op == "BatchNormalization":
        return 2 * out
    if op in ("MaxPool", "AveragePool", "LpPool"):
        return out * int(math.prod(_attr(node, "kernel_shape", [1])))
    if op in _REDUCE:
        return _numel(x)
    if op in ("Softmax", "LogSoftmax"):
        return 3 * out
    if op == "LayerNormalization":
        return 5 * out + (2 * out if len(in_shapes) > 1 else 0)
    if op in ("InstanceNormalization", "GroupNormalization"):
        return 7 * out
    if op == "LRN":
        return out * (2 * int(_attr(node, "size", 1)) + 3)
    if op in _ELEMENTWISE:
        return out
    return 0


def _shape_of(vi: Any) -> tuple[int | None, ...] | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)


def _stored_tensors(graph: onnx.GraphProto) -> dict[str, Any]:
    """Initializers and Constant ``value`` attributes by name (an initializer wins a tie)."""
    out: dict[str, Any] = {t.name: t for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and n.output:
            out.setdefault(n.output[0], _attr(n, "value"))
    return out


def _small_value(tensors: Mapping[str, Any], name: str) -> np.ndarray | None:
    """The value of a scalar initializer or Constant output, when the file holds it."""
    import onnx
    from onnx import numpy_helper

    t = tensors.get(name)
    if not hasattr(t, "dims") or math.prod(t.dims) > 1:
        return None
    if isinstance(t, onnx.TensorProto) and t.data_location == onnx.TensorProto.EXTERNAL:
        return None
    return numpy_helper.to_array(t)


def _quantize_range(node: onnx.NodeProto, tensors: Mapping[str, Any]) -> tuple[float, float] | None:
    """The real range a per-tensor QuantizeLinear saturates to: ((qmin-zp)*s, (qmax-zp)*s)."""
    import onnx

    scale = _small_value(tensors, node.input[1]) if len(node.input) > 1 else None
    if scale is None:
        return None
    if len(node.input) > 2 and node.input[2]:
        zp = _small_value(tensors, node.input[2])
        if zp is None:
            return None
        dtype = zp.dtype
    else:  # no zero point: 0 of the output type, uint8 unless output_dtype says otherwise
        out = _attr(node, "output_dtype", 0)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(out) if out else np.dtype(np.uint8)
        zp = np.zeros((), dtype)
    if not np.issubdtype(dtype, np.integer):
        return None
    info = np.iinfo(dtype)
    s, z = float(np.asarray(scale).reshape(-1)[0]), int(np.asarray(zp).reshape(-1)[0])
    return ((info.min - z) * s, (info.max - z) * s)


def from_onnx(model: onnx.ModelProto, name: str = "") -> OpGraph:
    """Build an OpGraph from an ONNX model whose shapes have been inferred.

    Weights are never read: parameter counts come from initializer dims, which an ONNX file
    keeps even when its external data is absent. Only floating-point initializers count as
    parameters (int64 shape tensors do not), an initializer shared by several nodes counts
    once, and BatchNormalization's running mean and variance are buffers, not parameters.
    """
    import onnx

    graph = model.graph
    shapes: dict[str, tuple[int | None, ...] | None] = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        shapes[vi.name] = _shape_of(vi)
    float_types = {
        onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
        onnx.TensorProto.BFLOAT16,
    }  # fmt: skip
    inits: dict[str, tuple[tuple[int, ...], bool]] = {}
    for t in graph.initializer:
        inits[t.name] = (tuple(t.dims), t.data_type in float_types)
        shapes[t.name] = tuple(t.dims)
    # Constant nodes are folded away: their outputs behave like (non-parameter) initializers.
    for n in graph.node:
        if n.op_type == "Constant":
            for o in n.output:
                v = _attr(n, "value")
                if v is not None and hasattr(v, "dims"):
                    shapes[o] = tuple(v.dims)

    # An Identity whose input is an initializer is constant plumbing, not an operator: the
    # TorchScript exporter emits one for every initializer it de-duplicated (with weights=None,
    # all BN weights are equal, so resnet18 gets 72 of them). Its output is treated as an
    # initializer of its own name, because it stands for a distinct torch parameter.
    aliases: set[int] = set()
    for k, n in enumerate(graph.node):
        if n.op_type == "Identity" and n.input and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
            shapes[n.output[0]] = shapes.get(n.input[0])
            aliases.add(k)
    # Tensors that no graph input reaches (see OpNode.const); ONNX lists nodes in topological
    # order, so one pass suffices.
    const_tensors = set(inits)
    const_tensors.update(o for n in graph.node if n.op_type == "Constant" for o in n.output)
    const_nodes: set[int] = set()
    for k, n in enumerate(graph.node):
        if n.op_type == "Constant" or k in aliases:
            continue
        # CastLike reads only the type of its second input.
        inputs = n.input[:1] if n.op_type == "CastLike" else n.input
        if n.op_type in ("Shape", "Size") or all(i in const_tensors for i in inputs if i):
            const_nodes.add(k)
            const_tensors.update(o for o in n.output if o)

    nodes: list[OpNode] = []
    tensors: dict[str, Any] | None = None  # built at the first QuantizeLinear
    producer: dict[str, int] = {}
    consumers: list[list[str]] = []
    counted: set[str] = set()
    for nk, n in enumerate(graph.node):
        if n.op_type == "Constant" or nk in aliases:
            continue
        params = 0
        buffers = _BUFFER_INPUTS.get(n.op_type, set())
        for k, inp in enumerate(n.input):
            if inp in inits and k not in buffers and inp not in counted:
                dims, is_float = inits[inp]
                if is_float:
                    params += int(math.prod(dims)) if dims else 1
                    counted.add(inp)
        in_shapes = [shapes.get(i) if i else None for i in n.input]
        out_shape = shapes.get(n.output[0]) if n.output else None
        clamp = None
        if n.op_type == "QuantizeLinear":
            tensors = tensors if tensors is not None else _stored_tensors(graph)
            clamp = _quantize_range(n, tensors)
        idx = len(nodes)
        nodes.append(
            OpNode(
                op=n.op_type,
                name=n.name or f"{n.op_type}_{idx}",
                flops=node_flops(n, in_shapes, out_shape),
                params=params,
                shape=out_shape,
                const=nk in const_nodes,
                clamp=clamp,
            )
        )
        for o in n.output:
            if o:
                producer[o] = idx
        consumers.append([i for i in n.input if i])
    edges = [(producer[t], d) for d, ins in enumerate(consumers) for t in ins if t in producer]
    g = OpGraph(nodes, edges, name or graph.name)
    if g.num_nodes == 0:
        raise GraphError(f"model {name or graph.name!r} has no operator nodes")
    return g


def batch_summary(graphs: Iterable[OpGraph]) -> list[dict[str, Any]]:
    return [g.summary() for g in graphs]
