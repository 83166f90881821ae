"""Shared helpers of the canonicalisation tests on hub sources (tests/test_canonical_*.py):
real variants of tiny timm models and tiny transformers configs, read as uploads and put
through hnnframe's canonical pipeline."""

from __future__ import annotations

from collections import Counter
from functools import cache

from hnnframe.ir import OpGraph
from hnnframe.pipeline import prepare_graph
from hnnframe.presets import ROBUST_MERGE, ROBUST_PASSES
from hnnframe.variants import VariantSource, make_variant


@cache
def source(spec: str) -> VariantSource:
    """One VariantSource per spec for the whole session, so its exports are made once."""
    import torch

    torch.set_num_threads(1)
    return VariantSource(spec, spec.split(":", 1)[1].replace(":", "-"))


def reference(spec: str) -> OpGraph:
    """The raw graph of the source's TorchScript export, read as an upload."""
    import onnx

    from hnnframe.frontends import strip_weights
    from hnnframe.ir import from_onnx
    from hnnframe.sources import to_onnx

    m = onnx.ModelProto()
    m.CopyFrom(source(spec).reference())
    return from_onnx(to_onnx(onnx.ModelProto.FromString(strip_weights(m).SerializeToString())))


@cache
def variant(spec: str, transform: str) -> OpGraph:
    """The raw graph of one variant, made with the real tool."""
    return make_variant(transform, source(spec))[1]


def prepared(g: OpGraph) -> OpGraph:
    """ROBUST_PASSES and the robust merge rules (the canonical WL coder's pipeline)."""
    return prepare_graph(g, {"canonical": list(ROBUST_PASSES), "merge": list(ROBUST_MERGE)})[0]


def same_after(spec: str, transform: str) -> bool:
    """Whether the variant's canonical graph is the reference's, up to node order."""
    return (
        prepared(reference(spec)).structure_hash()
        == prepared(variant(spec, transform)).structure_hash()
    )


def ops(g: OpGraph) -> Counter[str]:
    return Counter(g.ops())
