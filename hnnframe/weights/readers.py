"""Read a model's weights one tensor at a time, as ``(name, float32 numpy array)`` pairs.

The weight tier's entry point to the source registry: :func:`detect_format` and
:func:`iter_tensors` are :mod:`hnnframe.sources.read`'s, which asks the registered source kind
of a path for its tensors (each reader lives in its kind's file under :mod:`hnnframe.sources`).

Three formats: ONNX (initializers and Constant nodes; external data files are read tensor by
tensor at their offsets, never as a whole), safetensors (its header, then each tensor with
``np.fromfile`` at its offset) and PyTorch state dicts
(``torch.load(weights_only=True, mmap=True)``: no code is run, and the file is memory-mapped).
Memory is of the order of the largest tensor, not of the model, except for an ONNX file that
holds its tensors inline (protobuf parses the whole file).

Repositories (issue 18): a snapshot directory is read shard by shard through these readers
(:mod:`hnnframe.repo` says which files, all inside the directory), a GGUF file tensor by
tensor by :mod:`hnnframe.sources.gguf_tensors`, and a PEFT adapter as its weights file.

Quantized ONNX weights come back dequantized: an int8/uint8 (or int32 bias) tensor that feeds
``DequantizeLinear``, ``QLinearConv``, ``QLinearMatMul``, ``MatMulInteger`` or ``ConvInteger``
is turned into ``(q - zero_point) * scale`` with its own scale and zero point (per tensor or
per axis), the scales and zero points themselves are not yielded. fp16 and bf16 tensors are
widened to float32. Integer tensors that are no quantized weight (shape constants, indices)
are skipped: they are no weights.

Every file is a stranger's (docs/index-guide.md, "Security"): each declared shape and offset is
checked against the bytes present and the limits in force before anything is allocated
(:class:`~hnnframe.sources.guard.ReadGuard`); a tensor whose bytes are missing is skipped and
recorded, and any decoder error, ``MemoryError``, ``OverflowError`` or ``RecursionError``
becomes one :class:`~hnnframe.errors.ModelLoadError` naming the file.
"""

from __future__ import annotations

from hnnframe.sources.read import Tensor, detect_format, formats, iter_tensors

__all__ = ["Tensor", "detect_format", "formats", "iter_tensors"]
