"""The candidate architectures of the hub corpus, with their family labels.

Three sources, each giving every architecture a family label as its library names it:

* **torchvision**: the classification builders of ``torchvision.models``; family = the builder's
  module (``torchvision.models.resnet`` -> ``torchvision.resnet``). The 21 zoo models of the
  paper's Table 1 are always candidates.
* **timm**: ``timm.list_models()``; family = the model's module (``timm.models.efficientnet``
  -> ``timm.efficientnet``). To keep the build affordable, at most ``per_family`` names per
  module are taken, spread evenly over its naturally sorted list (so small and large members
  both appear).
* **transformers**: configs of the model types in :data:`HF_SIZES`, several sizes each, built
  without weights; family = the config's ``model_type`` (``hf.bert``).

Families of one design in several libraries (torchvision's, timm's and transformers' ResNets)
share a **group** (:func:`family_group`): the family name without its library, with a few
aliases (``vit`` = ``vision_transformer``). Protocol (c) holds out whole groups, so a held-out
family is never seen in training through another library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from hnnframe.errors import ConfigError
from hnnframe.frontends.sources import split_source
from hnnframe.frontends.torchvision import TABLE1

# Names of one design that libraries spell differently (the group is the right-hand side).
GROUP_ALIASES: dict[str, str] = {
    "vit": "vision_transformer",
    "swin": "swin_transformer",
    "swinv2": "swin_transformer_v2",
    "mobilenet_v2": "mobilenetv2",
    "mobilenet_v1": "mobilenetv1",
    "shufflenetv2": "shufflenet",
    "inception": "inception_v3",
    "deberta-v2": "deberta",
    "resnetv2": "resnet",
    "resnext": "resnet",
    "convnextv2": "convnext",
    "efficientnet_v2": "efficientnet",
    "mobilevitv2": "mobilevit",
    # One network under several names: leaving them in separate groups would let a
    # held-out family reach training through its twin (xlm-roberta's configs build BERT's
    # graph with BERT's parameter count; DeiT is ViT with a distillation token).
    "roberta": "bert",
    "xlm-roberta": "bert",
    "camembert": "bert",
    "deit": "vision_transformer",
    "mistral": "llama",
    "qwen2": "llama",
}


@dataclass(frozen=True)
class Candidate:
    """One architecture the corpus may hold.

    Attributes:
        key: file-safe identifier, unique in the corpus (``timm--resnet50``).
        spec: the model source :func:`hnnframe.sources.to_onnx` reads (``timm:resnet50``).
        source: ``torchvision``, ``timm`` or ``hf``.
        family: the library's family label (``timm.resnet``, ``hf.bert``).
        name: the architecture's name in its library (with the size for transformers).
    """

    key: str
    spec: str
    source: str
    family: str
    name: str

    @property
    def group(self) -> str:
        return family_group(self.family)

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "group": self.group}


def family_group(family: str) -> str:
    """The library-independent group of a family label (``timm.resnet`` -> ``resnet``)."""
    base = family.split(".", 1)[1] if "." in family else family
    return GROUP_ALIASES.get(base, base)


def _key(source: str, name: str) -> str:
    return f"{source}--" + re.sub(r"[^A-Za-z0-9_.=,-]+", "_", name)


def _natural(name: str) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def spread(names: Sequence[str], k: int) -> list[str]:
    """``k`` names spread evenly over ``names`` in natural order (all of them if fewer)."""
    ordered = sorted(names, key=_natural)
    if k <= 0 or len(ordered) <= k:
        return ordered
    if k == 1:
        return [ordered[0]]
    step = (len(ordered) - 1) / (k - 1)
    return [ordered[round(i * step)] for i in range(k)]


def torchvision_candidates() -> list[Candidate]:
    import torchvision

    out = []
    for name in torchvision.models.list_models(module=torchvision.models):
        module = torchvision.models.get_model_builder(name).__module__.rsplit(".", 1)[-1]
        out.append(
            Candidate(
                _key("tv", name),
                f"torchvision:{name}",
                "torchvision",
                f"torchvision.{module}",
                name,
            )
        )
    return out


def timm_candidates(per_family: int = 4) -> list[Candidate]:
    import timm
    from timm.models import _registry

    by_module: dict[str, list[str]] = {}
    for name in timm.list_models():
        by_module.setdefault(_registry._model_to_module[name], []).append(name)
    out = []
    for module, names in sorted(by_module.items()):
        for name in spread(names, per_family):
            out.append(
                Candidate(_key("timm", name), f"timm:{name}", "timm", f"timm.{module}", name)
            )
    return out


# Sizes per transformers model type: (layers, hidden size, attention heads). Every config gets
# intermediate size 4 x hidden where it has that field; encoder-decoder models use the layers
# for both stacks.
_SIZES = ((2, 128, 2), (4, 256, 4), (6, 384, 6))
HF_SIZES: dict[str, tuple[tuple[int, int, int], ...]] = {
    t: _SIZES
    for t in (
        "bert",
        "roberta",
        "distilbert",
        "albert",
        "electra",
        "deberta-v2",
        "xlm-roberta",
        "gpt2",
        "gpt_neox",
        "opt",
        "bloom",
        "llama",
        "mistral",
        "qwen2",
        "phi",
        "gemma",
        "t5",
        "bart",
        "whisper",
        "vit",
        "deit",
        "beit",
        "dinov2",
        "swin",
        "convnext",
        "resnet",
        "mobilevit",
        "levit",
        "segformer",
        "mpnet",
    )
}
# Field names of the three sizes where a config does not map the generic ones.
_HF_FIELDS: dict[str, tuple[str, str, str, str | None]] = {
    "t5": ("num_layers", "d_model", "num_heads", "d_ff"),
    "bart": ("encoder_layers", "d_model", "encoder_attention_heads", "encoder_ffn_dim"),
    "whisper": ("encoder_layers", "d_model", "encoder_attention_heads", "encoder_ffn_dim"),
    "distilbert": ("n_layers", "dim", "n_heads", "hidden_dim"),
    "gpt2": ("n_layer", "n_embd", "n_head", "n_inner"),
    "dinov2": ("num_hidden_layers", "hidden_size", "num_attention_heads", None),
    "opt": ("num_hidden_layers", "hidden_size", "num_attention_heads", "ffn_dim"),
    "bloom": ("n_layer", "hidden_size", "n_head", None),
}
# Vision models whose size is set by per-stage fields: only the default config is used.
_HF_DEFAULT_ONLY = frozenset({"swin", "convnext", "resnet", "mobilevit", "levit", "segformer"})


def hf_size_fields(model_type: str) -> tuple[str, str, str, str | None]:
    """A transformers config's fields of (layers, width, heads, MLP width; None: no field)."""
    return _HF_FIELDS.get(
        model_type, ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size")
    )


def hf_overrides(model_type: str, layers: int, hidden: int, heads: int) -> dict[str, int]:
    """Config fields for one size of a transformers model type."""
    nl, nh, na, ni = hf_size_fields(model_type)
    out = {nl: layers, nh: hidden, na: heads}
    if ni:
        out[ni] = 4 * hidden
    if model_type in ("bart", "whisper"):
        out.update(decoder_layers=layers, decoder_attention_heads=heads, decoder_ffn_dim=4 * hidden)
    if model_type == "t5":
        out["num_decoder_layers"] = layers
    if model_type in ("llama", "mistral", "qwen2", "gemma"):
        out["num_key_value_heads"] = heads
    return out


def hf_candidates(types: Iterable[str] | None = None) -> list[Candidate]:
    out = []
    for t in types if types is not None else HF_SIZES:
        if t in _HF_DEFAULT_ONLY:
            out.append(Candidate(_key("hf", t), f"hf:{t}", "hf", f"hf.{t}", t))
            continue
        for layers, hidden, heads in HF_SIZES.get(t, _SIZES):
            ov = hf_overrides(t, layers, hidden, heads)
            name = f"{t}-L{layers}-H{hidden}"
            spec = f"hf:{t}:" + ",".join(f"{k}={v}" for k, v in ov.items())
            out.append(Candidate(_key("hf", name), spec, "hf", f"hf.{t}", name))
    return out


SOURCES = ("torchvision", "timm", "hf")

# The slice of the corpus that `make demo` builds and trains on: the zoo, resnet50 (held out of
# training, a network a platform holds but the hash never saw), a few timm families, two of
# them held out (convnext, regnet), and small transformers, two families held out (bert, gpt2).
DEMO_TIMM = (
    "efficientnet_b0",
    "mobilenetv3_small_100",
    "resnet26",
    "vit_tiny_patch16_224",
    "mixer_s16_224",
    "poolformer_s12",
    "convnext_atto",
    "convnext_femto",
    "regnetx_002",
    "regnety_002",
)
DEMO_HF = ("bert", "gpt2", "llama", "roberta")


def demo_candidates() -> list[Candidate]:
    """The demo's slice: the zoo, resnet50, :data:`DEMO_TIMM` and two sizes of each
    :data:`DEMO_HF` type."""
    out = [candidate_for(f"torchvision:{e.name}") for e in TABLE1]
    out.append(candidate_for("torchvision:resnet50"))
    out += [candidate_for(f"timm:{n}") for n in DEMO_TIMM]
    out += [c for c in hf_candidates(DEMO_HF) if "-L6-" not in c.key]
    return out


def candidate_for(spec: str) -> Candidate:
    """The candidate of one named source, its family looked up as the catalog does."""
    named = split_source(spec)
    if named is None:
        raise ConfigError(f"{spec}: a corpus candidate is a named source (SCHEME:NAME)")
    scheme, name = named
    if scheme == "torchvision":
        import torchvision

        try:
            module = torchvision.models.get_model_builder(name).__module__.rsplit(".", 1)[-1]
        except ValueError:
            raise ConfigError(f"{spec}: unknown torchvision model") from None
        return Candidate(_key("tv", name), spec, "torchvision", f"torchvision.{module}", name)
    if scheme == "timm":
        from timm.models import _registry

        module = _registry._model_to_module.get(name)
        if module is None:
            raise ConfigError(f"{spec}: unknown timm model")
        return Candidate(_key("timm", name), spec, "timm", f"timm.{module}", name)
    model_type, _, rest = name.partition(":")
    label = f"{model_type}-{rest}" if rest else model_type
    return Candidate(_key("hf", label), spec, "hf", f"hf.{model_type}", label)


def candidates(sources: Iterable[str] = SOURCES, per_family: int = 4) -> list[Candidate]:
    """Every candidate of the given sources, sorted by key (zoo models included)."""
    out: list[Candidate] = []
    for s in sources:
        if s == "torchvision":
            out += torchvision_candidates()
        elif s == "timm":
            out += timm_candidates(per_family)
        elif s == "hf":
            out += hf_candidates()
        else:
            raise ConfigError(f"unknown corpus source {s!r}; valid: {', '.join(SOURCES)}")
    return sorted({c.key: c for c in out}.values(), key=lambda c: c.key)
