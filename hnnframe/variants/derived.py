"""Derived architectures (issue 22, deliverable 4): what a hub receives beside exact copies of
a protected network, built from it (``derived=True``, ``listed=False``).

* ``new_head``: another task head. A transformers text (image) source becomes the
  ``ForSequenceClassification`` (``ForImageClassification``) class of its own config, as
  ``AutoModelForSequenceClassification.from_config`` picks it, with :data:`NEW_CLASSES`
  labels (a ForMaskedLM or a base model gets a classifier on its encoder); any other source,
  or a config whose class does not build or run on the trigger (T5's and BART's need an
  end-of-sequence token the zero trigger lacks), gets its last ``nn.Linear`` (the classifier
  or LM head) replaced by one with :func:`head_outputs` outputs, unless that breaks the
  forward (a base model's last Linear is no head: unavailable).
* ``layer_drop``: one block fewer. transformers: the config's layer count minus one
  (:func:`hnnframe.corpus.catalog.hf_size_fields`); otherwise one block of the longest
  ``nn.ModuleList``/``nn.Sequential`` of at least two blocks of one class, the middle one
  first, the first whose removal keeps the forward working.
* ``vocab_extended``: transformers text sources only: ``vocab_size`` + 8%, rounded up to a
  multiple of 8 (a tokenizer extended with new tokens, the embedding resized).
* ``width_pruned``: MLP hidden width to 75%. transformers: the config's MLP width field;
  timm/torchvision: every module with ``fc1`` and ``fc2`` children (timm's ``Mlp``,
  ``GluMlp``, ``ConvMlp``) keeps the first 75% of its hidden units (:mod:`.pruning`).
* ``adapter_unmerged``: a LoRA adapter left unmerged (peft's ``LoraLayer`` forward,
  ``base(x) + B(A(x)) * scaling``, rank :data:`LORA_RANK`) on the attention projections
  peft targets by default (:data:`LORA_TARGETS`), or on every ``Linear`` but the head.

None of these is a copy: each is another architecture (other shapes, other parameter counts,
an extra branch). A hub wants to know where it came from, so protocol (c) scores a derived
architecture by whether its *source* is nearest, apart from the copies, and the robustness
suite leaves them out. Every one is exported as the reference is (``src.export``, the
TorchScript exporter); weights are random and non-degenerate as in
:meth:`~hnnframe.variants.VariantSource.module`.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from hnnframe.corpus.catalog import hf_size_fields
from hnnframe.errors import ModelLoadError
from hnnframe.frontends.hf import model_class
from hnnframe.log import get_logger
from hnnframe.variants.base import VariantError, VariantUnavailable, transform
from hnnframe.variants.inputs import IMAGE, TEXT
from hnnframe.variants.pruning import forward_ok, prune_mlps
from hnnframe.variants.sources import VariantSource

log = get_logger(__name__)

#: Labels of a new task head (the generic swap: :func:`head_outputs`).
NEW_CLASSES = 10
#: Share of the MLP hidden width kept by ``width_pruned``.
KEEP = 0.75
#: Growth of the vocabulary by ``vocab_extended`` (then rounded up to a multiple of 8).
VOCAB_GROWTH = 0.08
#: peft's LoRA defaults: rank 8, ``lora_alpha`` 16, so ``scaling`` = 16 / 8.
LORA_RANK = 8
LORA_SCALING = 2.0
#: Attribute names of the attention projections LoRA targets: peft's default targets per
#: model type (``q_proj``/``v_proj`` Llama, ``query``/``value`` BERT, ``c_attn`` GPT-2,
#: ``q``/``v`` T5, ``query_key_value`` Falcon and BLOOM, ``Wqkv`` MPT) and timm's fused
#: ``qkv``; a fused projection is adapted whole.
LORA_TARGETS = frozenset(
    {"q_proj", "v_proj", "query", "value", "q", "v", "c_attn", "qkv", "qkv_proj"}
    | {"query_key_value", "Wqkv", "in_proj", "q_lin", "v_lin"}
)


def head_outputs(n: int) -> int:
    """A new head's outputs: :data:`NEW_CLASSES`, or half of them when the head has that many
    already (so the count always changes)."""
    return NEW_CLASSES if n != NEW_CLASSES else NEW_CLASSES // 2


def _hf_module(src: VariantSource, config: Any) -> Any:
    """``config``'s module built as :meth:`VariantSource.module` builds the source's (eager
    attention, the source's inputs, its random weights), or None when it does not build."""
    try:
        return src.module(config=config)
    except ModelLoadError as e:
        log.debug("%s: derived config does not build (%s)", src.name, e)
        return None


def _changed(config: Any, **fields: Any) -> Any:
    config = copy.deepcopy(config)
    for key, value in fields.items():
        setattr(config, key, value)
    return config


def _export_checked(src: VariantSource, module: Any) -> Any:
    if module is None or not forward_ok(module, src.example_input()):
        raise VariantError(f"{src.name}: the derived module does not run")
    return src.export(module)


# -- a new task head ---------------------------------------------------------------------------


def _hf_task_head(src: VariantSource) -> Any:
    """The source's config as its sequence (image) classification class, or None."""
    from transformers import AutoModelForImageClassification, AutoModelForSequenceClassification

    auto = {TEXT: AutoModelForSequenceClassification, IMAGE: AutoModelForImageClassification}
    if src.modality not in auto:
        return None
    cfg = src.config()
    mapping = auto[src.modality]._model_mapping
    if type(cfg) not in mapping:
        return None
    cls = mapping[type(cfg)]
    labels = head_outputs(cfg.num_labels) if model_class(cfg) is cls else NEW_CLASSES
    new = _changed(cfg, architectures=[cls.__name__])
    new.num_labels = labels  # the setter, which also resizes id2label
    module = _hf_module(src, new)
    return module if module is not None and forward_ok(module, src.example_input()) else None


def _swap_last_linear(src: VariantSource) -> Any:
    from torch import nn

    module = src.module()
    linears = [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise VariantUnavailable(f"{src.name}: no Linear layer to replace by a new head")
    name, last = linears[-1]
    new = nn.Linear(last.in_features, head_outputs(last.out_features), bias=last.bias is not None)
    parent, _, attr = name.rpartition(".")
    setattr(module.get_submodule(parent), attr, new)
    if not forward_ok(module, src.example_input()):  # a base model: its last Linear is no head
        raise VariantUnavailable(f"{src.name}: the last Linear ({name}) is no head")
    return module


@transform(
    "new_head",
    listed=False,
    needs_module=True,
    derived=True,
    description="derived: a new task head (transformers: its ForSequenceClassification, "
    f"{NEW_CLASSES} labels; else the last Linear with {NEW_CLASSES} outputs)",
)
def _new_head(src: VariantSource) -> Any:
    module = _hf_task_head(src) if src.scheme == "hf" else None
    return src.export(module if module is not None else _swap_last_linear(src))


# -- one layer dropped -------------------------------------------------------------------------


def _hf_layer_drop(src: VariantSource) -> Any:
    cfg = src.config()
    field = hf_size_fields(cfg.model_type)[0]
    n = getattr(cfg, field, None)
    if not isinstance(n, int) or n < 2:
        return None
    # Per-layer lists (Qwen2's layer_types) follow the count: the last entry goes.
    lists = {k: v[:-1] for k, v in cfg.to_dict().items() if isinstance(v, list) and len(v) == n}
    module = _hf_module(src, _changed(cfg, **{field: n - 1}, **lists))
    return module if module is not None and forward_ok(module, src.example_input()) else None


def _block_lists(module: Any) -> list[Any]:
    """ModuleLists and Sequentials of at least two blocks of one class, longest first."""
    from torch import nn

    found = []
    for m in module.modules():
        if isinstance(m, (nn.ModuleList, nn.Sequential)) and len(m) >= 2:
            if len({type(b) for b in m}) == 1:
                found.append(m)
    return sorted(found, key=len, reverse=True)


def _middle_first(n: int) -> list[int]:
    return sorted(range(n), key=lambda i: (abs(i - n // 2), i))


def _drop_block(src: VariantSource) -> Any:
    module = src.module()
    x = src.example_input()
    for blocks in _block_lists(module):
        for i in _middle_first(len(blocks)):
            block = blocks[i]
            del blocks[i]
            if forward_ok(module, x):
                return module
            blocks.insert(i, block)
    raise VariantUnavailable(f"{src.name}: no block can be dropped with the forward working")


@transform(
    "layer_drop",
    listed=False,
    needs_module=True,
    derived=True,
    description="derived: one layer dropped (transformers: the layer count - 1; else the "
    "middle block of the longest list of blocks)",
)
def _layer_drop(src: VariantSource) -> Any:
    module = _hf_layer_drop(src) if src.scheme == "hf" else None
    return src.export(module if module is not None else _drop_block(src))


# -- a vocabulary extended ---------------------------------------------------------------------


@transform(
    "vocab_extended",
    listed=False,
    needs_module=True,
    derived=True,
    description="derived: transformers text models' vocab_size + 8% (to a multiple of 8)",
)
def _vocab_extended(src: VariantSource) -> Any:
    if src.scheme != "hf" or src.modality != TEXT:
        raise VariantUnavailable(f"{src.name}: a vocabulary is a transformers text model's")
    cfg = src.config()
    v = getattr(cfg, "vocab_size", None)
    if not isinstance(v, int) or v < 1:
        raise VariantUnavailable(f"{src.name}: the config has no vocab_size")
    size = 8 * math.ceil(v * (1 + VOCAB_GROWTH) / 8)
    return _export_checked(src, _hf_module(src, _changed(cfg, vocab_size=size)))


# -- widths pruned -----------------------------------------------------------------------------


def _hf_mlp_fields(cfg: Any) -> dict[str, int]:
    """The config's MLP width fields (encoder and decoder), each cut to :data:`KEEP`."""
    _, width, _, mlp = hf_size_fields(cfg.model_type)
    if mlp is None:
        return {}
    out = {}
    for field in dict.fromkeys([mlp, mlp.replace("encoder_", "decoder_")]):
        if not hasattr(cfg, field):
            continue
        n = getattr(cfg, field)
        if n is None and isinstance(getattr(cfg, width, None), int):
            n = 4 * getattr(cfg, width)  # GPT-2's n_inner None: 4 x n_embd
        if isinstance(n, int) and n >= 2:
            out[field] = max(1, round(KEEP * n))
    return out


@transform(
    "width_pruned",
    listed=False,
    needs_module=True,
    derived=True,
    description="derived: MLP hidden width pruned to 75% (transformers: the config's field; "
    "else every fc1/fc2 MLP)",
)
def _width_pruned(src: VariantSource) -> Any:
    if src.scheme == "hf":
        fields = _hf_mlp_fields(src.config())
        module = _hf_module(src, _changed(src.config(), **fields)) if fields else None
        if module is not None:
            return _export_checked(src, module)
    module = src.module()
    if not prune_mlps(module, KEEP):
        raise VariantUnavailable(f"{src.name}: no fc1/fc2 MLP to prune")
    return _export_checked(src, module)


# -- an adapter left unmerged ------------------------------------------------------------------


def _lora_layer(base: Any, d_in: int, d_out: int, gen: Any) -> Any:
    import torch
    from torch import nn

    class LoraLinear(nn.Module):
        """peft's ``lora.Linear`` forward, unmerged: ``base(x) + B(A(x)) * scaling``
        (its dropout is the identity in eval mode)."""

        def __init__(self) -> None:
            super().__init__()
            self.base_layer = base
            self.lora_A = nn.Linear(d_in, LORA_RANK, bias=False)
            self.lora_B = nn.Linear(LORA_RANK, d_out, bias=False)
            self.scaling = LORA_SCALING
            with torch.no_grad():  # B non-zero (peft starts it at 0), so nothing folds away
                self.lora_A.weight.copy_(0.1 * torch.randn(LORA_RANK, d_in, generator=gen))
                self.lora_B.weight.copy_(0.1 * torch.randn(d_out, LORA_RANK, generator=gen))

        @property
        def weight(self) -> Any:  # code that reads a projection's weight (its dtype) still can
            return self.base_layer.weight

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.base_layer(x) + self.lora_B(self.lora_A(x)) * self.scaling

    return LoraLinear()


def _adaptable(module: Any) -> list[tuple[str, Any, int, int]]:
    """``(name, layer, in, out)`` of the layers LoRA adapts: the attention projections of
    :data:`LORA_TARGETS`, else every Linear but the last (the head). Linears inside
    ``nn.MultiheadAttention`` are left alone: it reads their weights, it does not call them."""
    from torch import nn

    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # transformers is optional for timm/torchvision sources
        Conv1D = nn.Linear  # noqa: N806
    inside_mha = {
        id(c) for m in module.modules() if isinstance(m, nn.MultiheadAttention) for c in m.modules()
    }
    layers = []
    for name, m in module.named_modules():
        if id(m) in inside_mha:
            continue
        if isinstance(m, nn.Linear):
            layers.append((name, m, m.in_features, m.out_features))
        elif isinstance(m, Conv1D):  # GPT-2's c_attn: weight [in, out]
            layers.append((name, m, int(m.weight.shape[0]), int(m.nf)))
    targets = [t for t in layers if t[0].rpartition(".")[2] in LORA_TARGETS]
    return targets or layers[:-1]


@transform(
    "adapter_unmerged",
    listed=False,
    needs_module=True,
    derived=True,
    description=f"derived: a rank-{LORA_RANK} LoRA adapter left unmerged on the attention "
    "projections (else every Linear but the head)",
)
def _adapter_unmerged(src: VariantSource) -> Any:
    import torch

    module = src.module()
    layers = _adaptable(module)
    if not layers:
        raise VariantUnavailable(f"{src.name}: no Linear layer but the head to adapt")
    gen = torch.Generator().manual_seed(src.seed)
    for name, layer, d_in, d_out in layers:
        parent, _, attr = name.rpartition(".")
        setattr(module.get_submodule(parent), attr, _lora_layer(layer, d_in, d_out, gen))
    return _export_checked(src, module)
