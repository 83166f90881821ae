"""Write a Hugging Face snapshot directory as a GGUF file, as llama.cpp's converter
(``convert_hf_to_gguf.py``) does for the architectures hnnframe maps back
(:mod:`hnnframe.sources.gguf_tensors`): Llama (q/k rows permuted), GPT-2 (``Conv1D`` weights
transposed) and BERT. Used to make the GGUF copies of tests, the demo and the test bed with
the real ``gguf`` package (``GGUFWriter``); it is no replacement for the converter (no
tokenizer is written).

Like the converter, matrices take the requested type (F16, BF16, Q8_0, Q4_0...; a matrix
whose rows do not fill whole quantization blocks stays F16) and vectors stay F32.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.errors import ModelLoadError
from hnnframe.files import PathLike
from hnnframe.sources.gguf_tensors import PERMUTED, TRANSPOSED, _hf_names
from hnnframe.weights.readers import iter_tensors

#: transformers model_type -> GGUF architecture, and its metadata keys from config fields.
ARCHS = {"llama": "llama", "mistral": "llama", "gpt2": "gpt2", "bert": "bert"}
_FIELDS = {
    "llama": {
        "context_length": "max_position_embeddings",
        "embedding_length": "hidden_size",
        "block_count": "num_hidden_layers",
        "feed_forward_length": "intermediate_size",
        "attention.head_count": "num_attention_heads",
        "attention.head_count_kv": "num_key_value_heads",
        "attention.layer_norm_rms_epsilon": "rms_norm_eps",
        "vocab_size": "vocab_size",
    },
    "gpt2": {
        "context_length": "n_positions",
        "embedding_length": "n_embd",
        "block_count": "n_layer",
        "attention.head_count": "n_head",
        "attention.layer_norm_epsilon": "layer_norm_epsilon",
        "vocab_size": "vocab_size",
    },
    "bert": {
        "context_length": "max_position_embeddings",
        "embedding_length": "hidden_size",
        "block_count": "num_hidden_layers",
        "feed_forward_length": "intermediate_size",
        "attention.head_count": "num_attention_heads",
        "attention.layer_norm_epsilon": "layer_norm_eps",
        "vocab_size": "vocab_size",
    },
}


def permute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's ``LlamaModel.permute`` of a q or k projection's rows."""
    rows = w.shape[0]
    return w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _metadata(writer: Any, arch: str, config: dict[str, Any]) -> None:
    import gguf

    for key, field in _FIELDS[arch].items():
        value = config.get(field)
        if field == "num_key_value_heads" and value is None:
            value = config.get("num_attention_heads")
        if value is None:
            continue
        full = f"{arch}.{key}"
        if isinstance(value, float):
            writer.add_float32(full, value)
        else:
            writer.add_uint32(full, int(value))
    if arch == "gpt2":
        writer.add_uint32(
            f"{arch}.feed_forward_length", int(config.get("n_inner") or 4 * int(config["n_embd"]))
        )
    writer.add_name(str(config.get("_name_or_path") or arch))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)


def _encode(arr: np.ndarray, qtype: Any) -> tuple[np.ndarray, Any]:
    import gguf

    if arr.ndim < 2:
        return arr.astype(np.float32), gguf.GGMLQuantizationType.F32
    block = gguf.GGML_QUANT_SIZES[qtype][0]
    if qtype == gguf.GGMLQuantizationType.F16 or arr.shape[-1] % block:
        return arr.astype(np.float16), gguf.GGMLQuantizationType.F16
    return gguf.quants.quantize(arr.astype(np.float32), qtype), qtype


def export_gguf(directory: PathLike, out: PathLike, qtype: str = "F16") -> Path:
    """Write the snapshot ``directory`` (config.json and its weights) as a GGUF file.

    Raises:
        ModelLoadError: an architecture this writer does not map, or an unknown type.
    """
    import gguf

    d = Path(directory)
    config = json.loads((d / "config.json").read_text())
    arch = ARCHS.get(str(config.get("model_type")))
    if arch is None:
        raise ModelLoadError(f"{d}: no GGUF mapping for model_type {config.get('model_type')!r}")
    try:
        qt = gguf.GGMLQuantizationType[qtype.upper()]
    except KeyError:
        raise ModelLoadError(f"unknown GGUF type {qtype!r}") from None
    blocks = int(config.get(_FIELDS[arch]["block_count"]))
    to_gguf = {hf: g for g, hf in _hf_names(arch, blocks).items()}
    table = gguf.get_tensor_name_map(
        next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch), blocks
    )
    writer = gguf.GGUFWriter(str(out), arch)
    _metadata(writer, arch, config)
    heads = int(config.get(_FIELDS[arch]["attention.head_count"]))
    kv = int(config.get("num_key_value_heads") or heads)
    for name, arr in iter_tensors(d):
        # (the converter drops a task model's prefix: bert.encoder... is encoder...)
        gname = next(
            (
                g
                for n in (name, name.partition(".")[2])
                if n
                for g in [table.get_name(n, try_suffixes=(".weight", ".bias")) or to_gguf.get(n)]
                if g
            ),
            None,
        )
        if gname is None:
            continue  # buffers and heads the converter drops (rotary caches, pooler...)
        short = gname.split(".", 2)[-1] if gname.startswith("blk.") else gname
        if arch in PERMUTED and short == "attn_q.weight":
            arr = permute(arr, heads)
        elif arch in PERMUTED and short == "attn_k.weight":
            arr = permute(arr, kv)
        elif short in TRANSPOSED.get(arch, ()):
            arr = np.ascontiguousarray(arr.T)
        data, t = _encode(arr, qt)
        if t in (gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.F32):
            writer.add_tensor(gname, data)
        else:  # quantized bytes, one row of blocks per row of the matrix
            writer.add_tensor(gname, data, raw_shape=data.shape, raw_dtype=t)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(out)
