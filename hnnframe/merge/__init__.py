"""Merge rules: f_merg of the paper (section 3.2.2) as a registry.

A rule declares a chain ``pattern`` of op types (each element an op name or a tuple of
alternatives), an optional :meth:`MergeRule.check` and the ``merged_op`` name. A chain
matches when every inner link is exclusive: each node but the last feeds only the next one,
and each node but the first is fed only by the previous one, so merging never hides a branch.

:func:`apply_rules` applies rules in the given (recipe) order, each until it matches nothing,
and repeats the whole sequence until no rule matches (a fixpoint). A merged node sums the
FLOPs and parameters of its members and keeps the output shape of the last one.

Writing a rule from your own module::

    from hnnframe.merge import MERGE_RULES, MergeRule

    @MERGE_RULES.register("conv_sigmoid")
    class ConvSigmoid(MergeRule):
        pattern = ("Conv", "Sigmoid")
        merged_op = "ConvSigmoid"
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from hnnframe.ir import OpGraph, OpNode
from hnnframe.registry import Registry

MERGE_RULES: Registry[MergeRule] = Registry("merge rule")

Match = list[int]


class MergeRule:
    """Base class of merge rules: a chain pattern, a check and a merged op name."""

    pattern: ClassVar[tuple[str | tuple[str, ...], ...]] = ()
    merged_op: ClassVar[str] = ""
    name: str = ""

    def check(self, graph: OpGraph, match: Match) -> bool:
        """Extra condition on a structural match; override to restrict the rule."""
        return True

    def _op_ok(self, k: int, op: str) -> bool:
        want = self.pattern[k]
        return op == want if isinstance(want, str) else op in want

    def find(self, graph: OpGraph) -> list[Match]:
        """All non-overlapping matches, scanned in topological order."""
        used: set[int] = set()
        matches: list[Match] = []
        n = len(self.pattern)
        for start in graph.topological_order():
            if start in used or not self._op_ok(0, graph.nodes[start].op):
                continue
            chain = [start]
            cur = start
            for k in range(1, n):
                succ = graph.successors(cur)
                if len(succ) != 1:
                    break
                nxt = succ[0]
                if (
                    nxt in used
                    or graph.in_degree(nxt) != 1
                    or not self._op_ok(k, graph.nodes[nxt].op)
                ):
                    break
                chain.append(nxt)
                cur = nxt
            if len(chain) == n and self.check(graph, chain):
                matches.append(chain)
                used.update(chain)
        return matches


def contract(graph: OpGraph, matches: Sequence[Match], merged_op: str) -> OpGraph:
    """Replace each match by one node (FLOPs and parameters summed, last shape kept)."""
    if not matches:
        return graph
    head_of: dict[int, int] = {}
    for m in matches:
        for i in m:
            head_of[i] = m[0]
    members = {m[0]: m for m in matches}
    new_index: dict[int, int] = {}
    nodes: list[OpNode] = []
    for i, node in enumerate(graph.nodes):
        h = head_of.get(i, i)
        if h != i:
            continue
        new_index[i] = len(nodes)
        if i in members:
            group = [graph.nodes[j] for j in members[i]]
            nodes.append(
                OpNode(
                    op=merged_op,
                    name="+".join(g.name for g in group),
                    flops=sum(g.flops for g in group),
                    params=sum(g.params for g in group),
                    shape=group[-1].shape,
                )
            )
        else:
            nodes.append(OpNode(node.op, node.name, node.flops, node.params, node.shape))
    edges = []
    for s, d in graph.edges:
        hs, hd = head_of.get(s, s), head_of.get(d, d)
        if hs != hd:
            edges.append((new_index[hs], new_index[hd]))
    return OpGraph(nodes, edges, graph.name)


def build_rules(specs: Iterable[str | dict[str, Any] | MergeRule]) -> list[MergeRule]:
    """Build rules from names, ``{type: ...}`` specs or instances, keeping their order."""
    rules = []
    for spec in specs:
        if isinstance(spec, MergeRule):
            rule = spec
        else:
            rule = MERGE_RULES.build(spec)
            rule.name = spec if isinstance(spec, str) else str(spec["type"])
        rule.name = rule.name or type(rule).__name__
        rules.append(rule)
    return rules


def apply_rules(
    graph: OpGraph, rules: Iterable[str | dict[str, Any] | MergeRule], max_rounds: int = 50
) -> tuple[OpGraph, dict[str, int]]:
    """Apply rules in order to a fixpoint; return the merged graph and matches per rule."""
    built = build_rules(rules)
    counts = {r.name: 0 for r in built}
    for _ in range(max_rounds):
        changed = False
        for rule in built:
            while True:
                matches = rule.find(graph)
                if not matches:
                    break
                graph = contract(graph, matches, rule.merged_op)
                counts[rule.name] += len(matches)
                changed = True
        if not changed:
            break
    return graph, counts


# -- built-in rules (paper section 3.2.2; hnnframe.presets lists them longest first) -------------

_ACT = ("Relu", "Clip")  # ReLU6 is exported as Clip(0, 6)


@MERGE_RULES.register("conv_conv_bn_relu")
class ConvConvBnRelu(MergeRule):
    """Conv -> Conv -> BatchNormalization -> Relu (paper)."""

    pattern = ("Conv", "Conv", "BatchNormalization", "Relu")
    merged_op = "ConvConvBnRelu"


@MERGE_RULES.register("conv_bn_relu")
class ConvBnRelu(MergeRule):
    """Conv -> BatchNormalization -> Relu (paper)."""

    pattern = ("Conv", "BatchNormalization", "Relu")
    merged_op = "ConvBnRelu"


@MERGE_RULES.register("conv_bn")
class ConvBn(MergeRule):
    """Conv -> BatchNormalization (paper)."""

    pattern = ("Conv", "BatchNormalization")
    merged_op = "ConvBn"


@MERGE_RULES.register("conv_relu")
class ConvRelu(MergeRule):
    """Conv -> Relu (paper)."""

    pattern = ("Conv", "Relu")
    merged_op = "ConvRelu"


@MERGE_RULES.register("conv_bn_relu6")
class ConvBnRelu6(MergeRule):
    """Conv -> BatchNormalization -> Clip: MobileNetV2's ReLU6 blocks (seen in the zoo)."""

    pattern = ("Conv", "BatchNormalization", "Clip")
    merged_op = "ConvBnRelu6"


@MERGE_RULES.register("bn_relu")
class BnRelu(MergeRule):
    """BatchNormalization -> Relu: DenseNet's pre-activation (seen in the zoo)."""

    pattern = ("BatchNormalization", "Relu")
    merged_op = "BnRelu"


@MERGE_RULES.register("gemm_relu")
class GemmRelu(MergeRule):
    """Gemm -> Relu: the fully connected blocks of VGG and AlexNet (seen in the zoo)."""

    pattern = ("Gemm", _ACT)
    merged_op = "GemmRelu"


__all__ = [
    "MERGE_RULES",
    "MergeRule",
    "apply_rules",
    "build_rules",
    "contract",
]
