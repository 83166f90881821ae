"""The architecture sets of ``benchmarks/canonical_hub.py``: the fixed set, the hub corpus and
the generality set, each a list of :class:`hnnframe.corpus.catalog.Candidate` (key, spec,
family).

* **fixed**: 27 small timm architectures and the smallest corpus size of 16 transformers
  types (the set docs/canonical_hub.md was first measured on).
* **corpus**: every candidate of the hub corpus catalog
  (:func:`hnnframe.corpus.catalog.candidates`), or exactly the distinct architectures of a
  built corpus's ``manifest.json``. Size limits are those of ``hnn corpus build``
  (:mod:`hnnframe.corpus.build`), applied by the build step, so the measured set is the
  corpus's set.
* **generality**: networks the corpus does not hold (:func:`generality_set`, which says where
  each came from).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from hnnframe.corpus.catalog import Candidate, candidate_for, hf_candidates, hf_overrides

TIMM = [
    "vit_tiny_patch16_224",
    "deit_tiny_patch16_224",
    "convnext_atto",
    "mixer_s32_224",
    "resmlp_12_224",
    "gmlp_ti16_224",
    "poolformer_s12",
    "poolformerv2_s12",
    "efficientnet_b0",
    "tf_efficientnet_lite0",
    "mobilenetv3_small_050",
    "lcnet_050",
    "regnetx_002",
    "regnety_002",
    "swin_tiny_patch4_window7_224",
    "resnet18",
    "resnet10t",
    "levit_128s",
    "mobilevit_xxs",
    "efficientformer_l1",
    "ghostnet_050",
    "rexnet_100",
    "cait_xxs24_224",
    "xcit_nano_12_p16_224",
    "edgenext_xx_small",
    "tiny_vit_5m_224",
    "pvt_v2_b0",
]
HF = [
    "bert",
    "roberta",
    "distilbert",
    "electra",
    "albert",
    "gpt2",
    "opt",
    "llama",
    "mistral",
    "qwen2",
    "phi",
    "gemma",
    "t5",
    "bart",
    "vit",
    "whisper",
]

# Generality: transformers model types outside HF_SIZES whose config builds offline and whose
# TorchScript reference exports (tried one by one with this installation). The value is the
# type whose config field names it shares for hf_overrides ("bart": encoder/decoder stacks),
# None for the generic names without an intermediate size (the config has another name for
# it, so the default width is kept), or the type itself.
GENERALITY_HF: dict[str, str | None] = {
    "gpt_bigcode": None,
    "falcon": None,
    "mpt": None,
    "xglm": None,
    "gptj": None,
    "stablelm": "llama",
    "camembert": "camembert",
    "megatron-bert": "megatron-bert",
    "nystromformer": "nystromformer",
    "mobilebert": "mobilebert",
    "roformer": "roformer",
    "deberta": "deberta",
    "olmo": "llama",
    "mbart": "bart",
}
GENERALITY_TIMM_MODULES = 30  # one timm architecture from each of this many modules
GENERALITY_MAX_PARAMS = 30_000_000  # keeps the generality run as affordable as the fixed set
_TRIES = 8  # names tried per timm module before it is left out (all over the size limit)


def fixed_set(timm_names: Sequence[str] = TIMM, hf_types: Sequence[str] = HF) -> list[Candidate]:
    """timm names as named, and the smallest corpus size (2 layers, hidden 128) of each
    transformers type (:func:`hnnframe.corpus.catalog.hf_candidates`)."""
    out = [candidate_for(f"timm:{n}") for n in timm_names]
    return out + [hf_candidates([t])[0] for t in hf_types]


def corpus_set(per_family: int = 4) -> list[Candidate]:
    """Every candidate of the hub corpus catalog, as ``hnn corpus build`` takes them."""
    from hnnframe.corpus.catalog import candidates

    return candidates(per_family=per_family)


def manifest_set(path: Path) -> list[Candidate]:
    """The distinct architectures of a built corpus (``manifest.json``'s ``architectures``;
    aliases, the same graph under another name, are left out as the corpus leaves them)."""
    m = json.loads(Path(path).read_text())
    return [
        Candidate(a["key"], a["spec"], a["source"], a["family"], a["name"])
        for a in m["architectures"]
    ]


def param_count(c: Candidate, cache: Path) -> int | None:
    """:func:`hnnframe.corpus.build.count_params` of a candidate (meta device), cached in
    ``cache/params/<key>.json``."""
    from hnnframe.corpus.build import count_params
    from hnnframe.files import atomic_write

    path = cache / "params" / f"{c.key}.json"
    if path.exists():
        return json.loads(path.read_text())["params"]
    n = count_params(c.spec)
    atomic_write(path, json.dumps({"spec": c.spec, "params": n}).encode(), mkdir=True)
    return n


def _hashed(names: Iterable[str]) -> list[str]:
    """A fixed pseudo-random order (sha256 of the name): deterministic, not alphabetical, so
    the pick is not always a module's first (often largest or oldest) variant."""
    return sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())


def generality_timm(cache: Path, held: set[str]) -> list[Candidate]:
    """One timm architecture from each of :data:`GENERALITY_TIMM_MODULES` modules, none of
    them a corpus candidate. Modules with names outside the corpus's sample are taken spread
    over their sorted list, then (where a module has no name within the size limit) the
    others in :func:`_hashed` order; in each, the first name in :func:`_hashed` order with
    at most :data:`GENERALITY_MAX_PARAMS` parameters."""
    import timm
    from timm.models import _registry

    from hnnframe.corpus.catalog import spread

    by_module: dict[str, list[str]] = {}
    for name in timm.list_models():
        if f"timm:{name}" not in held:
            by_module.setdefault(_registry._model_to_module[name], []).append(name)
    first = spread(sorted(by_module), GENERALITY_TIMM_MODULES)
    order = first + [m for m in _hashed(by_module) if m not in first]
    out: list[Candidate] = []
    for module in order:
        if len(out) == GENERALITY_TIMM_MODULES:
            break
        for name in _hashed(by_module[module])[:_TRIES]:
            c = candidate_for(f"timm:{name}")
            n = param_count(c, cache)
            if n is not None and n <= GENERALITY_MAX_PARAMS:
                out.append(c)
                break
    return sorted(out, key=lambda c: c.key)


def generality_hf() -> list[Candidate]:
    """The types of :data:`GENERALITY_HF` at 2 layers, hidden size 128, 2 heads."""
    out = []
    for t, like in GENERALITY_HF.items():
        ov = hf_overrides(like or "generic", 2, 128, 2)
        if like is None:
            ov.pop("intermediate_size", None)
        spec = f"hf:{t}:" + ",".join(f"{k}={v}" for k, v in ov.items())
        name = f"{t}-L2-H128"
        out.append(Candidate(f"hf--{name}", spec, "hf", f"hf.{t}", name))
    return out


def generality_set(cache: Path) -> tuple[list[Candidate], str]:
    """Networks the hub corpus does not hold, and a line saying where they came from."""
    import torchvision

    from hnnframe.corpus.catalog import torchvision_candidates

    held = {c.spec for c in corpus_set()}
    classification = set(torchvision.models.list_models(module=torchvision.models))
    tv_out = sorted(set(torchvision.models.list_models()) - classification)
    tv_in = {c.name for c in torchvision_candidates()}
    assert classification <= tv_in  # every torchvision: source is already a candidate
    timm_c, hf_c = generality_timm(cache, held), generality_hf()
    note = (
        f"Generality set: {len(timm_c)} timm architectures outside the corpus's sample, one "
        f"from each of {len(timm_c)} of timm's modules (spread over the modules with names "
        f"outside the sample, then others in sha256 order of the module's name where one has "
        f"no name small enough; in each the first in sha256 order of the name with at most "
        f"{GENERALITY_MAX_PARAMS / 1e6:.0f}M parameters), and {len(hf_c)} transformers model "
        f"types outside the corpus's list ({', '.join(GENERALITY_HF)}), 2 layers, hidden size "
        f"128. torchvision adds none: every classification builder is a corpus candidate, and "
        f"its {len(tv_out)} detection, segmentation, video and quantized builders are not "
        "`torchvision:` sources."
    )
    return [*timm_c, *hf_c], note


def select(
    cands: Sequence[Candidate],
    shard: tuple[int, int] = (0, 1),
    families: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Candidate]:
    """This shard's candidates (``hnn corpus build``'s hash of the key), of the named families
    only when given, the first ``limit`` when given."""
    from hnnframe.corpus.build import in_shard

    out = [c for c in cands if in_shard(c.key, shard)]
    if families:
        out = [c for c in out if c.family in families]
    return out[:limit] if limit else out
