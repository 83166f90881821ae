"""The architecture of a transformers config: a digest of the fields that define the network.

Two configs with equal digests build the same network in hnnframe (:mod:`.hf`), whatever
their names, precision or generation settings, so the index's exact-architecture tier
(docs/index-guide.md, "Same architecture") can say "same architecture" from the config alone.

The digest is sha256 of the canonical JSON of ``config.to_dict()`` (every field, defaults
included, so a hub ``config.json`` that spells out a default and an ``hf:`` name that leaves it
out agree) with these fields left out, at every level of nested configs, because they do not
change the network hnnframe builds:

* provenance: private fields (``_name_or_path``, ``_commit_hash``,
  ``_attn_implementation``...), ``name_or_path``, ``transformers_version``;
* precision: ``dtype``, ``torch_dtype``, ``use_bfloat16``: hnnframe builds float32 (storage
  precision is not architecture);
* runtime flags hnnframe sets itself: ``use_cache`` (False), ``attn_implementation``
  (eager), ``return_dict`` (False, and either way the same tensors);
* token ids (``*_token_id``, ``*_token_ids``, ``forced_decoder_ids``...): constants the
  tokenizer and generation use; a padding index changes gradients, not the forward graph;
* label names (``id2label``, ``label2id``), kept as their count ``num_labels`` because the
  count sizes a classification head; ``problem_type``, ``finetuning_task``,
  ``tokenizer_class``, ``prefix``, ``task_specific_params``: metadata and loss choice;
* training only: dropout rates (``*dropout*``, ``*_pdrop``, ``layerdrop``,
  ``drop_path_rate``), initialisation (``initializer_range``, ``initializer_factor``,
  ``init_std``), ``gradient_checkpointing``: none acts in the eval-mode graph;
* generation settings older transformers wrote into ``config.json`` (:data:`GENERATION`).

``architectures`` is replaced by the class hnnframe builds (:func:`built_class`: its
first entry when transformers has that class, else the base model of the model type), since a
task head changes the graph but a class name transformers lacks does not. Everything else is
kept, including values that only change numerics (``layer_norm_eps``), ``tie_word_embeddings``
and ``output_attentions`` (which add outputs): when in doubt a field is architecture, because a
field wrongly kept only costs a config match that the canonical-graph digest still makes,
while a field wrongly dropped would call two networks one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hnnframe.frontends.hf import model_class
from hnnframe.frontends.named import hf_config

#: Bumped when the fields left out change, so that old and new digests never compare equal.
VERSION = 1

#: Fields left out by name (see the module docstring).
IGNORED = frozenset(
    {
        "name_or_path",
        "transformers_version",
        "dtype",
        "torch_dtype",
        "use_bfloat16",
        "use_cache",
        "attn_implementation",
        "return_dict",
        "id2label",
        "label2id",
        "problem_type",
        "finetuning_task",
        "tokenizer_class",
        "prefix",
        "task_specific_params",
        "initializer_range",
        "initializer_factor",
        "init_std",
        "gradient_checkpointing",
        "drop_path_rate",
        "layerdrop",
        "forced_decoder_ids",
    }
)
#: Generation settings that transformers before 4.41 wrote into every ``config.json``.
GENERATION = frozenset(
    {
        "max_length",
        "min_length",
        "do_sample",
        "early_stopping",
        "num_beams",
        "num_beam_groups",
        "diversity_penalty",
        "temperature",
        "top_k",
        "top_p",
        "typical_p",
        "repetition_penalty",
        "length_penalty",
        "no_repeat_ngram_size",
        "encoder_no_repeat_ngram_size",
        "bad_words_ids",
        "num_return_sequences",
        "output_scores",
        "return_dict_in_generate",
        "remove_invalid_values",
        "exponential_decay_length_penalty",
        "suppress_tokens",
        "begin_suppress_tokens",
        "max_new_tokens",
    }
)


def ignored(key: str) -> bool:
    """Whether a config field does not change the network (see the module docstring)."""
    k = key.lower()
    return (
        k.startswith("_")
        or k in IGNORED
        or k in GENERATION
        or k.endswith(("_token_id", "_token_ids", "pdrop"))
        or "dropout" in k
        or k.endswith("layerdrop")
    )


def architecture_fields(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a config's ``to_dict()``) without the fields :func:`ignored` names, nested
    configs included; ``num_labels`` stands for the label names."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if ignored(k) or k == "architectures":
            continue
        out[k] = architecture_fields(v) if isinstance(v, dict) else v
    labels = data.get("id2label")
    if isinstance(labels, dict):
        out["num_labels"] = len(labels)
    return out


def built_class(config: Any) -> str:
    """The name of the class hnnframe builds from ``config``: the one its ``architectures``
    names when transformers has it (:func:`.hf.model_class`), else the model type's base
    model, so that ``["GPT2Model"]`` and no ``architectures`` at all are one class."""
    cls = model_class(config)
    if cls is not None:
        return str(cls.__name__)
    try:
        from transformers import MODEL_MAPPING

        return str(MODEL_MAPPING[type(config)].__name__)
    except (KeyError, ValueError, ImportError):  # a model type with no base model class
        return f"AutoModel:{config.model_type}"


def config_digest(config: Any) -> str:
    """sha256 (hex) of a transformers config's architecture: the class hnnframe builds and
    its :func:`architecture_fields`."""
    payload = {
        "version": VERSION,
        "class": built_class(config),
        "config": architecture_fields(config.to_dict()),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def source_config_digest(source: Any) -> str | None:
    """:func:`config_digest` of a config source (``hf:NAME``, a ``config.json``, a snapshot
    directory), else None (a model file, ``torchvision:``/``timm:`` names, a module)."""
    config = hf_config(source)
    return config_digest(config) if config is not None else None
