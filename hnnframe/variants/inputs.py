"""Inputs by modality: what a source's trigger is, and calibration data a tool can execute.

A source is of one modality, read from its trigger (:mod:`hnnframe.frontends.hf` documents
them): ``image`` (a float NCHW batch: torchvision, timm, ViT-style transformers), ``text``
(token ids), ``audio`` (Whisper's log-mel features), ``raw_audio`` (wav2vec2-style samples).
An ONNX file's modality is read from its first graph input: integers are token ids, a float
tensor of rank 4 is an image.

Calibration data for onnxruntime's static quantizer follows each graph input's type: floats
uniform in [0, 1) (an image or features), token ids uniform over the vocabulary that the
input indexes (the first dimension of the embedding table a Gather reads with it), so the
quantizer executes the model on data it could meet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

IMAGE, TEXT, AUDIO, RAW_AUDIO, OTHER = "image", "text", "audio", "raw_audio", "other"

# The main input name of a transformers model -> its modality.
MAIN_INPUTS: dict[str, str] = {
    "input_ids": TEXT,
    "pixel_values": IMAGE,
    "input_features": AUDIO,
    "input_values": RAW_AUDIO,
}
# Tokens when an integer input feeds no embedding table that says how many there are.
DEFAULT_TOKENS = 2


def graph_inputs(model: Any) -> list[tuple[str, int, list[int]]]:
    """``(name, elem_type, shape)`` of every graph input that is not an initializer; symbolic
    dimensions read as 1."""
    inits = {t.name for t in model.graph.initializer}
    out = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        t = vi.type.tensor_type
        out.append(
            (vi.name, t.elem_type, [d.dim_value if d.dim_value > 0 else 1 for d in t.shape.dim])
        )
    return out


def _is_integer(elem_type: int) -> bool:
    import onnx

    dtype = onnx.helper.tensor_dtype_to_np_dtype(elem_type)
    return bool(np.issubdtype(dtype, np.integer))


def file_modality(model: Any) -> str:
    """The modality of an ONNX model, from its first graph input (see the module docstring)."""
    inputs = graph_inputs(model)
    if not inputs:
        return OTHER
    _, elem, shape = inputs[0]
    if _is_integer(elem):
        return TEXT
    return IMAGE if len(shape) == 4 else OTHER


def token_bound(model: Any, name: str) -> int:
    """How many token ids input ``name`` may hold: the smallest first dimension of the
    embedding tables that a Gather reads with it (through Casts and Reshapes), else
    :data:`DEFAULT_TOKENS`."""
    dims = {t.name: list(t.dims) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output:
            for a in n.attribute:
                if a.name == "value":
                    dims[n.output[0]] = list(a.t.dims)
    # Identity aliases of initializers (the TorchScript exporter's de-duplication).
    alias = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity"}
    reach, frontier = {name}, [name]
    passthrough = {"Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Expand"}
    bounds = []
    while frontier:
        cur = frontier.pop()
        for n in model.graph.node:
            if cur not in n.input:
                continue
            if n.op_type == "Gather" and len(n.input) > 1 and n.input[1] == cur:
                table = n.input[0]
                while table in alias and table not in dims:
                    table = alias[table]
                if dims.get(table):
                    bounds.append(int(dims[table][0]))
            elif n.op_type in passthrough:
                for o in n.output:
                    if o not in reach:
                        reach.add(o)
                        frontier.append(o)
    return min(bounds) if bounds else DEFAULT_TOKENS


def calibration_feeds(model: Any, seed: int, count: int = 2) -> list[dict[str, np.ndarray]]:
    """``count`` random feeds for every graph input of ``model`` (see the module docstring)."""
    import onnx

    rng = np.random.default_rng(seed)
    inputs = graph_inputs(model)
    bounds = {n: token_bound(model, n) for n, e, _ in inputs if _is_integer(e)}
    feeds = []
    for _ in range(count):
        feed = {}
        for name, elem, shape in inputs:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(elem)
            if name in bounds:
                feed[name] = rng.integers(0, bounds[name], shape).astype(dtype)
            elif dtype == np.float32:  # drawn as float32 (the stream the zoo's QDQ variants used)
                feed[name] = rng.random(shape, dtype=np.float32)
            else:
                feed[name] = rng.random(shape).astype(dtype)
        feeds.append(feed)
    return feeds
