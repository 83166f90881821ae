"""Passes that remove what tools move or fold at will: layout permutations and arithmetic by a
constant the weightless graph cannot read (issue 22).

* ``drop_transpose``: onnxruntime's transpose optimiser (basic level and up) pushes each
  ``Transpose`` through the elementwise operators after it and cancels the pairs it meets;
  onnxsim folds a Transpose of a weight into the MatMul, the dynamo exporter writes
  ``permute`` where the TorchScript exporter writes ``transpose``. Where the permutations sit
  is a choice of the tool, not of the network, and the operators around them (their FLOPs
  and parameters) stay what they were. ShuffleNet's channel shuffle goes too: the
  Reshape-Split-Concat around it still mark the block.
* ``drop_constant_scale``: a ``Mul`` or ``Div`` with one data input and no parameters left
  scales by a constant: a one-value constant (``torch.addcmul``'s multiplication by 1, which
  every simplifier removes; an attention scale onnxruntime moves into ``FusedMatMul``'s alpha)
  or a per-channel scale that ``fold_linear`` could not join to a layer (a layer scale behind
  a Transpose, which onnxsim and onnxruntime multiply into the weights). Scales carry no
  structure a tool keeps, so they go, bridged. It runs last.
* ``drop_scalar_offset``: an ``Add`` or ``Sub`` of a one-value constant (RoBERTa's position
  offset, a padding index). It runs before ``normalise_spelling``, while a constant of more
  values still counts as parameters: a table added as a constant (BERT's token-type row) is
  structure and stays.

All run after ``fuse_decompositions``, whose motifs (GELU's ``x * 0.5``, hardswish's
``/ 6``, attention's ``K^T``) read these nodes.
"""

from __future__ import annotations

from hnnframe.canonical.base import CANONICALISERS, CanonicalPass, bypass
from hnnframe.ir import OpGraph


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


class DropConstantArith(CanonicalPass):
    """Bridge over elementwise ``ops`` with one data input and no parameters (see the
    module)."""

    def __init__(self, ops: frozenset[str]) -> None:
        self.ops = ops

    def __call__(self, graph: OpGraph) -> OpGraph:
        return bypass(
            graph,
            {
                i
                for i, n in enumerate(graph.nodes)
                if n.op in self.ops and not n.params and not n.const and graph.in_degree(i) == 1
            },
        )


@CANONICALISERS.register("drop_constant_scale")
class DropConstantScale(DropConstantArith):
    """Mul and Div by a constant (see the module)."""

    def __init__(self) -> None:
        super().__init__(frozenset({"Mul", "Div"}))


@CANONICALISERS.register("drop_scalar_offset")
class DropScalarOffset(DropConstantArith):
    """Add and Sub of a one-value constant (see the module)."""

    def __init__(self) -> None:
        super().__init__(frozenset({"Add", "Sub"}))
