"""GGUF files (llama.cpp) as structure: the transformers config their metadata describes.

A GGUF file keeps its architecture as key-values (``general.architecture`` and keys under
it: ``llama.block_count``, ``llama.embedding_length``, ``llama.attention.head_count``...;
/work/shared/DESIGN.md, "Facts about what a hub receives"). :func:`config_from_gguf` maps
them to the equivalent transformers config, which is then exported from the meta device as
any config is (:mod:`hnnframe.frontends.hf_export`): nothing of the weights is read. The
vocabulary size and whether the output layer is tied come from the token embedding's and
the output tensor's entries in the header, which hold no data.

The file is read with the ``gguf`` package's ``GGUFReader`` (memory-mapped); any decoding
error is a one-line :class:`~hnnframe.errors.ModelLoadError` naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hnnframe.errors import ModelLoadError
from hnnframe.formats import is_gguf  # noqa: F401 - where callers of this module look for it
from hnnframe.frontends.config_bounds import check_config_sizes

#: GGUF architecture -> (transformers model_type, class, {config field: GGUF key suffix}).
#: The keys of llama.cpp's Llama-family writers (llama, qwen2 share them).
_LLAMA_KEYS = {
    "hidden_size": "embedding_length",
    "num_hidden_layers": "block_count",
    "intermediate_size": "feed_forward_length",
    "num_attention_heads": "attention.head_count",
    "num_key_value_heads": "attention.head_count_kv",
    "max_position_embeddings": "context_length",
    "rms_norm_eps": "attention.layer_norm_rms_epsilon",
}
ARCHS: dict[str, tuple[str, str, dict[str, str]]] = {
    "llama": ("llama", "LlamaForCausalLM", _LLAMA_KEYS),
    "qwen2": ("qwen2", "Qwen2ForCausalLM", _LLAMA_KEYS),
    "gpt2": (
        "gpt2",
        "GPT2LMHeadModel",
        {
            "n_embd": "embedding_length",
            "n_layer": "block_count",
            "n_inner": "feed_forward_length",
            "n_head": "attention.head_count",
            "n_positions": "context_length",
            "layer_norm_epsilon": "attention.layer_norm_epsilon",
        },
    ),
    "bert": (
        "bert",
        "BertModel",
        {
            "hidden_size": "embedding_length",
            "num_hidden_layers": "block_count",
            "intermediate_size": "feed_forward_length",
            "num_attention_heads": "attention.head_count",
            "max_position_embeddings": "context_length",
            "layer_norm_eps": "attention.layer_norm_epsilon",
        },
    ),
}


def open_reader(path: Path) -> Any:
    """A ``GGUFReader`` of ``path``; any decoding error is a one-line ModelLoadError."""
    try:
        import gguf
    except ImportError as e:  # pragma: no cover - a dependency in setup.py
        raise ModelLoadError(f"{path}: reading GGUF needs the gguf package ({e})") from None
    try:
        return gguf.GGUFReader(str(path), "r")
    except Exception as e:  # noqa: BLE001 - the reader raises anything on a hostile header
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise ModelLoadError(f"{path}: not a readable GGUF file ({msg})") from None


def metadata(reader: Any) -> dict[str, Any]:
    """The scalar and string key-values of a GGUF file (arrays such as the vocabulary are
    left out: they can be large and no architecture field needs them)."""
    out: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or len(field.types) != 1:
            continue
        try:
            out[key] = field.contents()
        except Exception:  # noqa: BLE001 - a field the package cannot decode says nothing
            continue
    return out


def config_from_gguf(path: Path) -> Any:
    """The transformers config a GGUF file's metadata describes (see the module docstring).

    Raises:
        ModelLoadError: unreadable, or an architecture with no mapping here.
    """
    from transformers import CONFIG_MAPPING

    reader = open_reader(path)
    meta = metadata(reader)
    arch = str(meta.get("general.architecture", ""))
    if arch not in ARCHS:
        known = ", ".join(sorted(ARCHS))
        raise ModelLoadError(
            f"{path}: GGUF architecture {arch!r} has no transformers mapping (mapped: {known})"
        )
    model_type, cls, fields = ARCHS[arch]
    cfg: dict[str, Any] = {}
    for field, key in fields.items():
        value = meta.get(f"{arch}.{key}")
        if value is not None:
            cfg[field] = value if isinstance(value, float) else int(value)
    shapes = {t.name: [int(d) for d in t.shape] for t in reader.tensors}
    if "token_embd.weight" in shapes:
        cfg["vocab_size"] = shapes["token_embd.weight"][-1]
    if "token_types.weight" in shapes:
        cfg["type_vocab_size"] = shapes["token_types.weight"][-1]
    if arch in ("llama", "qwen2"):
        cfg["tie_word_embeddings"] = "output.weight" not in shapes
    cfg["architectures"] = [cls]
    # A stranger's metadata: the same bounds as a config.json's before anything is built.
    check_config_sizes(cfg, path)
    try:
        return CONFIG_MAPPING[model_type](**cfg)
    except Exception as e:  # noqa: BLE001 - an inconsistent combination of values
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelLoadError(
            f"{path}: its metadata makes no {model_type} config ({first})"
        ) from None
