"""Hugging Face transformers sources: configs, the model class a config becomes, triggers.

A source is ``hf:MODEL_TYPE`` (transformers' default config of that ``model_type``, e.g.
``hf:gpt2`` is GPT-2 small and ``hf:llama`` a 7B-sized Llama), ``hf:MODEL_TYPE:tiny`` (the
small built-in config of :data:`TINY`, for tests), ``hf:MODEL_TYPE:key=value,...`` (fields
overridden, for sizes of a family; ``tiny`` may come first), or a path to a ``config.json`` or
to a directory holding one (a hub snapshot: the weights beside it are never read). Parsing of
the spec itself lives in :mod:`hnnframe.frontends.sources`.

Model class: ``config.architectures[0]`` when the config names a class transformers has
(a hub ``config.json`` usually does, e.g. ``LlamaForCausalLM``), else the base model of the
model type (``AutoModel``: ``GPT2Model``, ``BertModel``, ...). Models are built in float32
whatever ``torch_dtype`` says (storage precision is not architecture), with eager attention
(``config._attn_implementation = "eager"``, a stable graph) and ``use_cache=False``.

Trigger input per modality (the model's ``main_input_name``), batch size 1, all zeros:

* text (``input_ids``): :data:`TEXT_TOKENS` token ids, fewer when the model has fewer
  positions (``n_positions`` / ``max_position_embeddings``); encoder-decoder models (T5, BART)
  get ``decoder_input_ids`` of the same length;
* vision (``pixel_values``): the paper's zero image, ``num_channels`` x ``image_size`` squared;
* audio (``input_features``, Whisper): the encoder only, on ``num_mel_bins`` x
  ``2 * max_source_positions`` frames (30 s of log-mel features);
* raw audio (``input_values``, wav2vec2-style encoders): :data:`AUDIO_SAMPLES` samples.
"""

from __future__ import annotations

import copy
import difflib
import json
from pathlib import Path
from typing import Any

from hnnframe.errors import ModelLoadError
from hnnframe.files import not_regular
from hnnframe.frontends.config_bounds import MAX_CONFIG_BYTES, check_config_sizes
from hnnframe.frontends.sources import parse_hf
from hnnframe.repo import inside

#: Token ids in the text trigger.
TEXT_TOKENS = 128
#: Samples in the raw-audio trigger: 1 s at 16 kHz.
AUDIO_SAMPLES = 16000

_TEXT = {"vocab_size": 128, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
_DEC = {"decoder_start_token_id": 0}
#: Small configs per model type (2 layers, width 32) for tests: ``hf:MODEL_TYPE:tiny``.
TINY: dict[str, dict[str, Any]] = {
    "gpt2": {**_TEXT, "n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 128},
    "bert": {
        **_TEXT,
        "num_hidden_layers": 2,
        "hidden_size": 32,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 128,
    },
    "roberta": {
        **_TEXT,
        "num_hidden_layers": 2,
        "hidden_size": 32,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 160,
    },
    "distilbert": {
        **_TEXT,
        "n_layers": 2,
        "dim": 32,
        "n_heads": 2,
        "hidden_dim": 64,
        "max_position_embeddings": 128,
    },
    "llama": {
        **_TEXT,
        "num_hidden_layers": 2,
        "hidden_size": 32,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 128,
    },
    "mistral": {
        **_TEXT,
        "num_hidden_layers": 2,
        "hidden_size": 32,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 128,
    },
    "qwen2": {
        **_TEXT,
        "num_hidden_layers": 2,
        "hidden_size": 32,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 128,
    },
    "t5": {
        **_TEXT,
        **_DEC,
        "num_layers": 2,
        "num_decoder_layers": 2,
        "d_model": 32,
        "d_ff": 64,
        "num_heads": 2,
        "d_kv": 16,
    },
    "bart": {
        **_TEXT,
        **_DEC,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "d_model": 32,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "max_position_embeddings": 128,
    },
    "vit": {
        "num_hidden_layers": 2,
        "hidden_size": 32,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "image_size": 32,
        "patch_size": 8,
    },
    "whisper": {
        **_TEXT,
        **_DEC,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "d_model": 32,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "num_mel_bins": 16,
        "max_source_positions": 32,
        "max_target_positions": 32,
    },
}


def _config_class(model_type: str, spec: str) -> Any:
    from transformers import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        near = difflib.get_close_matches(model_type, list(CONFIG_MAPPING.keys()), n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise ModelLoadError(f"{spec}: unknown transformers model type {model_type!r}{hint}")
    return CONFIG_MAPPING[model_type]


def config_from_name(name: str) -> Any:
    """The config of ``hf:NAME`` (see the module docstring)."""
    spec = f"hf:{name}"
    model_type, tiny, overrides = parse_hf(name)
    cls = _config_class(model_type, spec)
    fields: dict[str, Any] = {}
    if tiny:
        if model_type not in TINY:
            raise ModelLoadError(
                f"{spec}: no tiny config for {model_type!r} (tiny: {', '.join(sorted(TINY))})"
            )
        fields.update(TINY[model_type])
    default = cls()
    for key in overrides:
        if not hasattr(default, key):
            raise ModelLoadError(f"{spec}: {cls.__name__} has no field {key!r}")
    fields.update(overrides)
    try:
        return cls(**fields)
    except Exception as e:  # a value of the wrong type or an inconsistent combination
        raise ModelLoadError(f"{spec}: bad config ({_first_line(e)})") from None


def config_from_file(path: Path) -> Any:
    """The config of a ``config.json`` file; the weights beside it are not read. Its sizes
    are checked against the limits in force first (:mod:`.config_bounds`). A ``config.json``
    that is a link leading out of its folder is refused unread (a Hugging Face cache
    snapshot's links into its ``blobs/`` stay inside, :func:`hnnframe.repo.folder_of`)."""
    why = not_regular(path)
    if why:
        raise ModelLoadError(f"{path}: {why}")
    if path.is_symlink():
        inside(path.parent, path.name)  # raises when the link leaves the folder
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelLoadError(f"{path}: {path.stat().st_size:,} bytes is no config.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ModelLoadError(
            f"{path}: not a readable config.json ({type(e).__name__}: {_first_line(e)})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("model_type"), str):
        raise ModelLoadError(f"{path}: not a transformers config.json (no model_type)")
    check_config_sizes(data, path)
    cls = _config_class(data["model_type"], str(path))
    try:
        return cls.from_dict(data)
    except Exception as e:
        raise ModelLoadError(f"{path}: bad config ({_first_line(e)})") from None


def model_class(config: Any) -> Any:
    """The class a config becomes: ``config.architectures[0]`` if transformers has it, else
    None (the base model, ``AutoModel``)."""
    import transformers

    for arch in (getattr(config, "architectures", None) or [])[:1]:
        cls = getattr(transformers, str(arch), None)
        if isinstance(cls, type) and hasattr(cls, "_from_config"):
            return cls
    return None


def build_model(config: Any, device: str | None = None, attn: str = "eager") -> Any:
    """The eval-mode model of a config, built on ``device`` ("meta": no weights at all; None:
    the current default device, so a caller's ``with torch.device("meta")`` holds).

    Audio encoder-decoders (Whisper) give their encoder only (see the module docstring).
    """
    import contextlib

    import torch
    from transformers import AutoModel

    check_config_sizes(
        config.to_dict(), getattr(config, "_name_or_path", "") or type(config).__name__
    )
    config = copy.deepcopy(config)
    config.use_cache = False
    cls = model_class(config)
    kw = {"dtype": torch.float32, "attn_implementation": attn}
    place = torch.device(device) if device else contextlib.nullcontext()
    try:
        with place:
            model = cls._from_config(config, **kw) if cls else AutoModel.from_config(config, **kw)
    except Exception as e:
        raise ModelLoadError(f"cannot build {type(config).__name__}: {_first_line(e)}") from None
    main = getattr(model, "main_input_name", "input_ids")
    if main in ("input_features", "input_values") and config.is_encoder_decoder:
        model = model.get_encoder()
    return model.eval()


def text_length(config: Any) -> int:
    """Tokens in the text trigger: :data:`TEXT_TOKENS`, or the model's positions if fewer."""
    limits = [getattr(config, k, None) for k in ("n_positions", "max_position_embeddings")]
    return min([TEXT_TOKENS, *(n for n in limits if isinstance(n, int) and n > 0)])


def trigger(
    model: Any, config: Any, device: str | None = None
) -> tuple[list[str], tuple[Any, ...]]:
    """``(input names, zero tensors)`` of a model's trigger (see the module docstring)."""
    import torch

    main = getattr(model, "main_input_name", "input_ids")
    if main == "input_ids":
        names = ["input_ids"] + (["decoder_input_ids"] if config.is_encoder_decoder else [])
        n = text_length(config)
        return names, tuple(torch.zeros(1, n, dtype=torch.long, device=device) for _ in names)
    if main == "pixel_values":
        size = getattr(config, "image_size", 224)
        hw = (size, size) if isinstance(size, int) else tuple(size)[-2:]
        chans = int(getattr(config, "num_channels", 3))
        return [main], (torch.zeros(1, chans, *hw, device=device),)
    if main == "input_features" and hasattr(config, "max_source_positions"):
        frames = 2 * int(config.max_source_positions)  # Whisper's conv stem halves the frames
        mels = int(config.num_mel_bins)
        return [main], (torch.zeros(1, mels, frames, device=device),)
    if main == "input_values":
        return [main], (torch.zeros(1, AUDIO_SAMPLES, device=device),)
    raise ModelLoadError(
        f"{type(model).__name__}: no trigger for its main input {main!r} "
        "(hnnframe has text, image, Whisper-style and raw-audio triggers)"
    )


def traced_module(model: Any, names: list[str]) -> Any:
    """``model`` as a module of positional tensors returning a flat tuple of tensors, which
    both exporters accept. Every output is returned, so no parameter is pruned away."""
    import torch

    class Traced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = self.model(**dict(zip(names, xs, strict=True)), return_dict=False)
            return tuple(_tensors(out))

    return Traced().eval()


def _tensors(obj: Any) -> list[Any]:
    import torch

    if isinstance(obj, torch.Tensor):
        return [obj]
    if hasattr(obj, "to_tuple"):  # a transformers ModelOutput
        obj = obj.to_tuple()
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    return []


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
