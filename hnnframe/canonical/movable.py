"""Passes that remove what tools move or fold at will: layout permutations and arithmetic by a
constant the weightless graph cannot read (issue 22).

* ``drop_transpose``: onnxruntime's transpose optimiser (basic level and up) pushes each
  ``Transpose`` through the elementwise operators after it and cancels the pairs it meets;
  onnxsim folds a Transpose of a weight into the MatMul, the dynamo exporter writes
  ``permute`` where the TorchScript exporter writes ``transpose``. Where the permutations sit
  is a choice of the tool, not of the network, and the operators around them (their FLOPs
  and parameters) stay what they were. ShuffleNet's channel shuffle goes too: the
  Reshape-Split-Concat around it still mark the block.
* ``drop_scalar_arith``: a ``Mul``, ``Div``, ``Add`` or ``Sub`` with one data input and no
  parameters reads a constant of one value (a tensor of more values counts as parameters,
  :mod:`hnnframe.ir.onnx`). The graph is weightless, so it cannot tell a multiplication by
  1 (``torch.addcmul``'s ``value``, exported by the TorchScript exporter and removed by every
  simplifier) from an attention scale that onnxruntime moves into ``FusedMatMul``'s alpha or
  a Gemm's. Both go, bridged.

Both run after ``fuse_decompositions``, whose motifs (GELU's ``x * 0.5``, hardswish's
``/ 6``, attention's ``K^T``) read these nodes.
"""

from __future__ import annotations

from hnnframe.canonical.base import CANONICALISERS, CanonicalPass, bypass
from hnnframe.ir import OpGraph

SCALAR_ARITH = frozenset({"Mul", "Div", "Add", "Sub"})


@CANONICALISERS.register("drop_transpose")
class DropTranspose(CanonicalPass):
    """Bridge over every Transpose of one data input (see the module)."""

    def __call__(self, graph: OpGraph) -> OpGraph:
        return bypass(
            graph,
            {
                i
                for i, n in enumerate(graph.nodes)
                if n.op == "Transpose" and graph.in_degree(i) <= 1 and not n.params
            },
        )


@CANONICALISERS.register("drop_scalar_arith")
class DropScalarArith(CanonicalPass):
    """Bridge over elementwise arithmetic by a one-value constant (see the module)."""

    def __call__(self, graph: OpGraph) -> OpGraph:
        return bypass(
            graph,
            {
                i
                for i, n in enumerate(graph.nodes)
                if n.op in SCALAR_ARITH and not n.params and not n.const and graph.in_degree(i) == 1
            },
        )
