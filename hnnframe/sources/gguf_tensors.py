"""GGUF files (llama.cpp) as weights: each tensor dequantized on its own, under the Hugging
Face name and layout it had before llama.cpp's converter (``convert_hf_to_gguf.py``) wrote it.

Read with the ``gguf`` package (``GGUFReader``; /work/shared/DESIGN.md, "Facts about what a
hub receives"): the file is memory-mapped, and one tensor at a time is turned into float32 by
``gguf.quants.dequantize`` (F32, F16, BF16, Q4_0/1, Q5_0/1, Q8_0, the K and IQ types). A
type the package cannot dequantize is an error naming the file and the tensor, never a
silently partial model.

What the converter changed, undone here so that a GGUF F16 export and the safetensors it
came from hold the same tensors (exact, or within fp16 rounding):

* names: ``blk.N.attn_q.weight`` and the like are mapped back through the package's own
  ``TensorNameMap`` (the converter's table) to the Hugging Face name of that architecture;
* shapes: GGUF lists dimensions innermost first; the arrays come back in numpy order;
* Llama-family ``q_proj``/``k_proj``: the converter interleaves the two rotary halves of each
  head (``LlamaModel.permute``: ``reshape(n_head, 2, d/2, ...).swapaxes(1, 2)``); the inverse
  is applied with the heads of the file's metadata (``head_count_kv`` for ``k``);
* GPT-2: the converter transposes the ``Conv1D`` weights (``c_attn``, ``c_proj``, ``c_fc``)
  to ``[out, in]``; they are transposed back to transformers' ``[in, out]``.

Declared shapes are checked against the bytes present before anything is dequantized: a
truncated or lying file is a :class:`~hnnframe.errors.ModelLoadError` naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe import limits
from hnnframe.errors import ModelLoadError
from hnnframe.frontends.gguf import metadata, open_reader
from hnnframe.limits import element_count

Tensor = tuple[str, np.ndarray]
#: Architectures whose q/k rows llama.cpp's converter permutes (its ``LlamaModel`` family).
PERMUTED = frozenset({"llama"})
#: GPT-2 tensors stored transposed by the converter (GGUF names without ``blk.N.``).
TRANSPOSED = {"gpt2": ("attn_qkv.weight", "attn_output.weight", "ffn_up.weight", "ffn_down.weight")}
#: Which Hugging Face spelling of a name to prefer, per architecture (the table maps many).
PREFIXES = {
    "llama": ("model.",),
    "gpt2": ("transformer.", "wte", "wpe", "lm_head"),
    "bert": ("embeddings.", "encoder.", "pooler.", "cls."),
}


def _hf_names(arch: str, blocks: int) -> dict[str, str]:
    """GGUF base name (``blk.0.attn_q``) -> the Hugging Face name of ``arch`` it came from."""
    import gguf

    enum = next((a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch), None)
    if enum is None:
        return {}
    table = gguf.get_tensor_name_map(enum, blocks)
    out: dict[str, str] = {}
    prefixes = PREFIXES.get(arch, ())
    for hf, (_, g) in table.mapping.items():
        if hf == g:
            continue
        if g not in out or (hf.startswith(prefixes) and not out[g].startswith(prefixes)):
            out[g] = hf
    return out


def hf_name(name: str, table: dict[str, str]) -> str:
    """The Hugging Face name of a GGUF tensor name (its own when the table has none)."""
    for suffix in (".weight", ".bias"):
        if name.endswith(suffix) and name[: -len(suffix)] in table:
            return table[name[: -len(suffix)]] + suffix
    return table.get(name, name)


def unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """The inverse of llama.cpp's ``permute(w, heads)`` of a q or k projection's rows."""
    rows = w.shape[0]
    if heads < 1 or rows % (2 * heads):
        return w
    return w.reshape(heads, rows // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _checked(path: Path, t: Any) -> None:
    """Refuse a tensor whose declared size does not match the bytes the file holds for it."""
    import gguf

    block, type_size = gguf.GGML_QUANT_SIZES.get(t.tensor_type, (0, 0))
    n = element_count([int(d) for d in t.shape], path, t.name)  # exact, no overflow
    if not block or n != int(t.n_elements) or n % block:
        raise ModelLoadError(f"{path}: tensor {t.name} has a bad shape for its type")
    want = n // block * type_size
    if int(t.n_bytes) != want or int(t.data.nbytes) != want:
        raise ModelLoadError(
            f"{path}: tensor {t.name} needs {want:,} bytes, the file holds {int(t.data.nbytes):,}"
        )


def _fix_layout(arr: np.ndarray, name: str, arch: str, meta: dict[str, Any]) -> np.ndarray:
    short = name.split(".", 2)[-1] if name.startswith("blk.") else name
    if arch in PERMUTED and arr.ndim == 2 and short in ("attn_q.weight", "attn_k.weight"):
        heads = int(meta.get(f"{arch}.attention.head_count") or 0)
        if short == "attn_k.weight":
            heads = int(meta.get(f"{arch}.attention.head_count_kv") or heads)
        return unpermute(arr, heads)
    if arr.ndim == 2 and short in TRANSPOSED.get(arch, ()):
        return np.ascontiguousarray(arr.T)
    return arr


_BLOCK_BYTES = 1 << 24  # quantized bytes dequantized at a time


def _dequantized(path: Path, t: Any) -> np.ndarray:
    """``t``'s values as float32 (in GGUF's row layout). Its bytes are read at their offset
    with ``np.fromfile``: every page of the reader's memory map that is touched counts as
    the process's resident memory, the whole file by the end. They are dequantized in blocks
    of rows (each row holds whole quantization blocks, so the values are the same as in one
    call), since the package's temporaries are several times what they dequantize."""
    import gguf

    raw = np.fromfile(path, dtype=t.data.dtype, count=t.data.size, offset=int(t.data_offset))
    if raw.size != t.data.size:
        raise ModelLoadError(f"{path}: tensor {t.name} is cut short")
    raw = raw.reshape(t.data.shape)
    if raw.ndim < 2:
        return np.asarray(gguf.quants.dequantize(raw, t.tensor_type), dtype=np.float32)
    step = max(1, _BLOCK_BYTES // max(1, raw[0].nbytes))
    out = None
    for r in range(0, raw.shape[0], step):
        block = gguf.quants.dequantize(raw[r : r + step], t.tensor_type)
        if out is None:
            out = np.empty((raw.shape[0], *block.shape[1:]), dtype=np.float32)
        out[r : r + step] = block
    assert out is not None  # a tensor has at least one row (checked by _checked)
    return out


def gguf_tensors(path: Path, guard: Any = None) -> Iterator[Tensor]:
    """Every tensor of a GGUF file, dequantized to float32 one at a time, under its Hugging
    Face name and layout (see the module docstring). ``guard``: the read's
    :class:`~hnnframe.sources.guard.ReadGuard`, asked before each tensor is dequantized."""

    reader = open_reader(path)
    meta = metadata(reader)
    arch = str(meta.get("general.architecture", ""))
    blocks = int(meta.get(f"{arch}.block_count") or 0)
    # The name table has an entry per block: a stranger's block count is bounded first.
    limits.check("max_layers", blocks, path, f"metadata {arch}.block_count =")
    table = _hf_names(arch, blocks) if arch else {}
    for t in reader.tensors:
        _checked(path, t)
        if guard is not None:
            guard.tensor(t.name, int(t.n_elements))
        try:
            arr = _dequantized(path, t)
        except NotImplementedError:
            raise ModelLoadError(
                f"{path}: tensor {t.name} is of type {t.tensor_type.name}, "
                "which the gguf package cannot dequantize"
            ) from None
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(
                f"{path}: tensor {t.name} cannot be dequantized ({type(e).__name__})"
            ) from None
        shape = tuple(int(d) for d in reversed(list(t.shape)))
        arr = np.asarray(arr, dtype=np.float32).reshape(shape)
        yield hf_name(t.name, table), _fix_layout(arr, t.name, arch, meta)
