"""Attention chains to one ``Attention`` node, part of ``fuse_decompositions``.

Attention is a chain, not a region (queries, keys and values enter it from three places), so
:mod:`hnnframe.canonical.motifs` hands it to :func:`fuse_attention`:
``MatMul -> (Mul|Div|Add|Where)* -> Softmax -> MatMul``, with the scale multiplications that
feed the first MatMul, becomes one ``Attention`` node, which then absorbs the Transposes that
feed only it.
"""

from __future__ import annotations

from hnnframe.canonical.base import bypass, contract_groups, numel
from hnnframe.ir import OpGraph, OpNode

_SCORE_OPS = frozenset({"Mul", "Div", "Add", "Sub", "Where"})


def _nan_guard(graph: OpGraph, s: int) -> list[int] | None:
    """``[IsNaN, Where]`` when Softmax ``s`` is guarded as ``where(isnan(p), 0, p)`` (the
    TorchScript exporter's scaled_dot_product_attention), ``[]`` when unguarded, else None."""
    succ = graph.successors(s)
    if len(succ) == 1:
        return []
    if len(succ) != 2:
        return None
    nan = next((k for k in succ if graph.nodes[k].op == "IsNaN"), None)
    where = next((k for k in succ if graph.nodes[k].op == "Where"), None)
    if nan is None or where is None or graph.successors(nan) != [where]:
        return None
    return [nan, where] if graph.out_degree(where) == 1 else None


def fuse_attention(graph: OpGraph) -> OpGraph:
    """``MatMul -> (Mul|Div|Add|Sub|Where)* -> Softmax -> MatMul`` becomes ``Attention``.

    The Mul/Div nodes with one input that scale the queries or keys on their way into the
    first MatMul join it, and so does the ``where(isnan(p), 0, p)`` guard after Softmax that
    scaled_dot_product_attention exports with. FLOPs: both MatMuls plus Softmax's three per
    element; the scaling and masking FLOPs are dropped because exporters place them
    differently. Then every Attention node, fused here or native (opset 23), absorbs the
    Transposes that feed only it (:func:`absorb_transposes`).
    """
    used: set[int] = set()
    groups: list[list[int]] = []
    new: list[OpNode] = []
    for s, node in enumerate(graph.nodes):
        if node.op != "Softmax" or graph.in_degree(s) != 1:
            continue
        guard = _nan_guard(graph, s)
        if guard is None:
            continue
        m2 = graph.successors(guard[-1] if guard else s)[0]
        if graph.nodes[m2].op != "MatMul" or m2 in used:
            continue
        chain: list[int] = []
        cur = graph.predecessors(s)[0]
        m1 = None
        for _ in range(5):
            n = graph.nodes[cur]
            if n.op == "MatMul" and graph.out_degree(cur) == 1:
                m1 = cur
                break
            if n.op not in _SCORE_OPS or graph.out_degree(cur) != 1:
                break
            nxt = [p for p in graph.predecessors(cur) if graph.out_degree(p) == 1]
            nxt = [p for p in nxt if graph.nodes[p].op in _SCORE_OPS | {"MatMul"}]
            if not nxt:
                break
            chain.append(cur)
            cur = nxt[0]
        if m1 is None or m1 in used or any(k in used for k in chain):
            continue
        taps = [
            p
            for p in graph.predecessors(m1)
            if graph.nodes[p].op in ("Mul", "Div")
            and graph.in_degree(p) == 1
            and graph.out_degree(p) == 1
            and graph.nodes[p].params <= 2
            and p not in used
        ]
        members = sorted({*taps, m1, *chain, s, *guard, m2})
        a, b, sm = graph.nodes[m1], graph.nodes[m2], graph.nodes[s]
        flops = a.flops + b.flops + 3 * (numel(sm.shape) or 0)
        groups.append(members)
        used.update(members)
        new.append(OpNode("Attention", f"{a.name}..{b.name}", flops, a.params + b.params, b.shape))
    return absorb_transposes(contract_groups(graph, groups, new))


def absorb_transposes(graph: OpGraph, ops: frozenset[str] = frozenset({"Attention"})) -> OpGraph:
    """Bridge over Transposes (and chains of them) whose only consumer is an ``ops`` node,
    directly or through a Split that feeds only it.

    Attention reads its queries, keys and values in whatever layout the exporter chose: the
    head split (``[B, S, H, D] -> [B, H, S, D]``) and the keys' turn (``k.transpose(-2, -1)``)
    are Transposes in an eager export and inside the operator for a native ``Attention``;
    onnxruntime moves the Transpose of a fused ``qkv`` projection from before its Split to
    after it, and the head split's from before a rotary embedding into it.
    """
    drop: set[int] = set()

    def only_into(x: int, i: int) -> bool:
        return all(s == i or s in drop for s in graph.successors(x))

    # Layout-neutral ops a Transpose may reach Attention through: cuts of one tensor, and a
    # rotary embedding (it acts on the last axis, in any layout of the others).
    through = ("Split", "Slice", "Gather", "RotaryEmbedding")

    for i, n in enumerate(graph.nodes):
        if n.op not in ops:
            continue
        stack = list(graph.predecessors(i))
        seen: set[int] = set()
        while stack:
            p = stack.pop()
            if p in seen:
                continue
            seen.add(p)
            op = graph.nodes[p].op
            if op in through and only_into(p, i):
                stack.extend(graph.predecessors(p))
                continue
            if op != "Transpose" or graph.in_degree(p) > 1:
                continue
            feeds = graph.successors(p)
            if all(
                s == i or s in drop or (graph.nodes[s].op in through and only_into(s, i))
                for s in feeds
            ):
                drop.add(p)
                stack.extend(graph.predecessors(p))
    return bypass(graph, drop)
