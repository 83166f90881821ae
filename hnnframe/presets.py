"""Graph presets: the named pipelines of Stage 1, canonicalisation passes then merge rules.

A preset is what a recipe's ``graph`` section names (``graph: {preset: robust}``) and what
code that needs one of these pipelines imports: every list of passes and merge rules that more
than one place uses is defined here, once. The built-in presets:

* ``paper``: no canonicalisation, the paper's four merge rules (section 3.2.2);
* ``robust``: :data:`ROBUST_PASSES`, the recommended canonicalisation passes
  (docs/robustness.md), then :data:`ROBUST_MERGE` (after BN folding the paper's
  Conv-BN-ReLU rules become Conv-ReLU); the canonical WL SimHash of protocol (c) uses it;
* ``robust_resolution``: ``robust`` with ``normalise_resolution`` last, so that the input size
  does not matter: the graphs the robust recipes (``hnn_net_robust``, ``hnn_hub``) train on;
* ``invariant``: :data:`INVARIANT_PASSES` and no merge rules (no activation is left to merge).

A recipe's ``graph`` section is resolved when the recipe is loaded (:func:`resolve_graph`):
``canonical`` and ``merge`` given beside ``preset`` replace the preset's lists (as the
overrides ``graph.canonical=[...]`` and ``graph.merge=[...]`` do), and ``extra_canonical`` and
``extra_merge`` are appended to whichever lists result. The resolved section holds explicit
lists only, so a checkpoint stores the passes it was trained with, not a name.

Only names live here (this module imports no pass or rule); they are looked up in
``CANONICALISERS`` and ``MERGE_RULES`` when a graph is prepared. A plugin registers a preset
of its own as the built-in ones are::

    from hnnframe.presets import PRESETS, ROBUST_MERGE, ROBUST_PASSES, Preset

    PRESETS.register("robust_nop", Preset((*ROBUST_PASSES, "drop_nop"), tuple(ROBUST_MERGE)))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hnnframe.errors import ConfigError
from hnnframe.registry import Registry


@dataclass(frozen=True)
class Preset:
    """A graph pipeline: canonicalisation passes, then merge rules, both in order.

    A preset is a factory of ``graph`` sections (as the items of every ``Registry`` are
    factories): calling it, or ``PRESETS.build(name)``, gives fresh lists a caller may change.
    """

    canonical: tuple[str, ...] = ()
    merge: tuple[str, ...] = ()

    def __call__(self) -> dict[str, list[str]]:
        return {"canonical": list(self.canonical), "merge": list(self.merge)}


# Items are Preset instances (each a callable giving its graph section).
PRESETS: Registry[dict[str, list[str]]] = Registry("graph preset")

# The paper's merge rules (section 3.2.2), longest first: with conv_bn first, Conv-BN-ReLU
# could never match.
PAPER_RULES: list[str] = ["conv_conv_bn_relu", "conv_bn_relu", "conv_bn", "conv_relu"]
# The paper's four and the three the zoo showed (`hnn graph --merge default`).
DEFAULT_RULES: list[str] = [
    "conv_conv_bn_relu",
    "conv_bn_relu",
    "conv_bn_relu6",
    "conv_bn",
    "conv_relu",
    "bn_relu",
    "gemm_relu",
]

# The recommended order: constants and quantization first, so that later passes see plain
# float operators; fused operators as their decomposed spelling (normalise_fused) before the
# patterns that fuse decompositions; plumbing before the op-sequence patterns, so that a
# pattern never has to skip a Reshape; linear layers in one spelling (fold_linear) while biases
# and scales still carry their parameters, before normalise_spelling drops the constants of
# weightless ops; spellings and no-ops; then BN folding, which needs every BN right after its
# producer. None of these loses information that tells two architectures apart. The optional
# passes that do (absorb_activation, normalise_resolution) go after them, resolution last
# because it rescales FLOPs that the folds sum: see INVARIANT_PASSES.
ROBUST_PASSES: list[str] = [
    "fold_constants",
    "fold_qdq",
    "normalise_fused",
    "drop_plumbing",
    "fuse_decompositions",
    "fold_linear",
    # Issue 22: what tools fold at will. The offset pass goes before normalise_spelling, which
    # takes the parameters from constant tables (then only a one-value constant has none).
    "drop_scalar_offset",
    "normalise_spelling",
    "drop_noop",
    "strip_preprocessing",
    "fold_bn",
    "drop_classifier_pool",
    "drop_transpose",
    "drop_constant_scale",
]
# Also identical graphs for QDQ quantization (which deletes ReLUs) and another input
# resolution, at the price of ReLU against ReLU6 and of absolute FLOPs.
INVARIANT_PASSES: list[str] = [*ROBUST_PASSES, "absorb_activation", "normalise_resolution"]
# After BN folding (ROBUST_PASSES) the paper's Conv-BN-ReLU rules become Conv-ReLU.
ROBUST_MERGE: list[str] = ["conv_relu", "bn_relu", "gemm_relu"]

PRESETS.register("paper", Preset((), tuple(PAPER_RULES)))
PRESETS.register("robust", Preset(tuple(ROBUST_PASSES), tuple(ROBUST_MERGE)))
PRESETS.register(
    "robust_resolution", Preset((*ROBUST_PASSES, "normalise_resolution"), tuple(ROBUST_MERGE))
)
PRESETS.register("invariant", Preset(tuple(INVARIANT_PASSES), ()))

# The keys of a graph section that resolve_graph turns into explicit lists.
_PRESET_KEYS = ("preset", "extra_canonical", "extra_merge")


def _names(section: Mapping[str, Any], key: str) -> list[Any]:
    value = section.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"graph.{key} is a list of names, got {value!r}")
    return list(value)


def resolve_graph(section: Mapping[str, Any]) -> dict[str, Any]:
    """A recipe's ``graph`` section with its preset expanded into ``canonical`` and ``merge``.

    A section without ``preset``, ``extra_canonical`` or ``extra_merge`` is returned as it is
    (an old recipe, or a checkpoint's, resolves to itself); otherwise the result holds
    ``canonical`` and ``merge`` first, then any other keys of the section.
    """
    if not isinstance(section, Mapping):
        raise ConfigError(f"a recipe's graph section is a mapping, got {section!r}")
    if not any(k in section for k in _PRESET_KEYS):
        return dict(section)
    name = section.get("preset")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"graph.preset is a preset name, got {name!r}")
    base = PRESETS.build(name) if name else {"canonical": [], "merge": []}
    out: dict[str, Any] = {}
    for key in ("canonical", "merge"):
        own = _names(section, key) if key in section else base[key]
        out[key] = own + _names(section, f"extra_{key}")
    rest = {k: v for k, v in section.items() if k not in (*_PRESET_KEYS, "canonical", "merge")}
    return {**out, **rest}


__all__ = [
    "DEFAULT_RULES",
    "INVARIANT_PASSES",
    "PAPER_RULES",
    "PRESETS",
    "Preset",
    "ROBUST_MERGE",
    "ROBUST_PASSES",
    "resolve_graph",
]
