"""Stage 1 end to end: G = f_merg(f_onnx(M(I))) (paper eq. 2), with canonicalisation first.

The named pipelines (passes and merge rules a recipe's ``graph: {preset: NAME}`` names) are
in :mod:`hnnframe.presets`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hnnframe import limits
from hnnframe.errors import GraphError
from hnnframe.frontends import model_name
from hnnframe.ir import OpGraph
from hnnframe.presets import resolve_graph


def graph_and_counts(
    model: Any,
    merge: Sequence[str | dict[str, Any]] | None = None,
    canonical: Sequence[str | dict[str, Any]] | None = None,
    example_input: Any = None,
    trust_pickle: bool = False,
    name: str | None = None,
) -> tuple[OpGraph, dict[str, int]]:
    """Like :func:`graph_of`, also returning the number of matches of each merge rule."""
    from hnnframe.canonical import apply_canonical
    from hnnframe.merge import apply_rules

    if isinstance(model, OpGraph):
        graph = model
    else:
        from hnnframe.ir import from_onnx
        from hnnframe.sources import to_onnx

        # Validate names before the (slow) export so a typo fails at once.
        check_names(merge, canonical)
        proto = to_onnx(model, example_input, trust_pickle=trust_pickle)
        limits.check_time()  # a model's seconds (hnnframe.limits) are checked between stages
        graph = from_onnx(proto, name or model_name(model))
    limits.check_time()
    graph = apply_canonical(graph, canonical or [])
    limits.check_time()
    graph, counts = apply_rules(graph, merge or [])
    if graph.num_nodes == 0:
        raise GraphError(f"graph of {graph.name!r} is empty")
    return graph, counts


def check_names(
    merge: Sequence[str | dict[str, Any]] | None, canonical: Sequence[str | dict[str, Any]] | None
) -> None:
    """Raise RegistryError for an unknown merge rule or pass (before any slow export)."""
    from hnnframe.canonical import CANONICALISERS
    from hnnframe.merge import MERGE_RULES

    for reg, specs in ((MERGE_RULES, merge), (CANONICALISERS, canonical)):
        for s in specs or []:
            reg.get(s if isinstance(s, str) else s.get("type", ""))


def graph_of(
    model: Any,
    merge: Sequence[str | dict[str, Any]] | None = None,
    canonical: Sequence[str | dict[str, Any]] | None = None,
    example_input: Any = None,
    trust_pickle: bool = False,
) -> OpGraph:
    """The OpGraph of any model: nn.Module, ONNX path, TorchScript path, or a named source
    ("torchvision:NAME", "timm:NAME", "hf:MODEL_TYPE", a config.json).

    Args:
        model: the model source (see :mod:`hnnframe.frontends`) or an OpGraph.
        merge: merge rule names or specs, applied in order to a fixpoint.
        canonical: canonicalisation passes, applied before merging.
        example_input: input for exporting an nn.Module; default the paper's zero trigger.
        trust_pickle: allow loading a pickled whole-module checkpoint (runs its code).
    """
    return graph_and_counts(model, merge, canonical, example_input, trust_pickle)[0]


def prepare_graph(graph: OpGraph, graph_cfg: Mapping[str, Any]) -> tuple[OpGraph, dict[str, int]]:
    """Apply the recipe's canonicalisation passes and merge rules to a raw graph.

    ``graph_cfg`` is a recipe's ``graph`` section: explicit ``canonical`` and ``merge`` lists
    (as a loaded recipe or a checkpoint holds them), or a preset (``{"preset": "robust"}``,
    :mod:`hnnframe.presets`).
    """
    from hnnframe.canonical import apply_canonical
    from hnnframe.merge import apply_rules

    section = resolve_graph(graph_cfg)
    g = apply_canonical(graph, section.get("canonical") or [])
    return apply_rules(g, section.get("merge") or [])
