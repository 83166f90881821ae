"""Bounds on a stranger's ``config.json`` before a model is built from it (docs/index-guide.md,
"Security").

A config is only a few numbers, but those numbers decide how much work the export does: a
``num_hidden_layers`` of 100,000 builds and traces 100,000 blocks (measured: past 300 s and
3.5 GB, still growing). Every layer-count field (``*layer``/``*layers``, ``depth(s)``,
``*blocks``, ``block_count``; Swin's ``depths`` list counts its sum, a list of layer indices
such as ``moe_layers`` its largest entry), and the sum of a config's layer counts, must stay
within ``max_layers``; every other integer size within ``max_width``. Per-layer lists
(``*_per_layer``) are sizes, not counts. No default config of transformers is refused
(tests/test_config_bounds.py checks every one). Sub-configs (``text_config``, ``vision_config``, ...) are checked the same way.
Fields that are positions, windows or token ids are not sizes of the graph and are exempt.
"""

from __future__ import annotations

from typing import Any

from hnnframe import limits

_LAYER_SUFFIXES = ("layer", "layers", "depth", "depths", "blocks", "block_count")
#: Integers that say nothing about the graph's size (a 10M-token context is a real config).
_NOT_SIZES = ("position", "window", "token_id", "seq_len", "length", "context", "seed")
#: A config file larger than this is no config (the largest hub configs are a few hundred KB).
MAX_CONFIG_BYTES = 16 * 1024 * 1024


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    return []


def _exempt(key: str) -> bool:
    k = key.lower()
    return k.endswith(("_id", "_ids")) or any(s in k for s in _NOT_SIZES)


def _is_layer_key(key: str) -> bool:
    k = key.lower()
    return k.endswith(_LAYER_SUFFIXES) and not any(w in k for w in ("norm", "drop", "per_"))


def _layer_count(key: str, values: list[int]) -> int:
    """Layers a field declares: a count, the sum of stage depths, or for a list of layer
    indices the largest index (so never less than the list is long)."""
    values = [v for v in values if v > 0]
    if not values:
        return 0
    if key.lower().endswith("depths"):
        return sum(values)
    return max(max(values), len(values)) if len(values) > 1 else values[0]


def check_config_sizes(data: dict[str, Any], source: Any, depth: int = 0) -> None:
    """Raise :class:`~hnnframe.errors.LimitError` when a config declares more layers or a
    larger size than the limits in force (see the module docstring).

    Args:
        data: The config as a dict (``config.to_dict()`` or the parsed JSON).
        source: The file or name, for the error.
    """
    if depth > 8:  # nested deeper than any real config: a stranger's recursion
        raise limits.over("config nesting depth", "max_layers", depth, source)
    total = 0
    for key, value in data.items():
        if isinstance(value, dict):
            check_config_sizes(value, source, depth + 1)
            continue
        key = str(key)
        if _is_layer_key(key):
            n = _layer_count(key, _ints(value))
            limits.check("max_layers", n, source, f"config field {key!r} =")
            total += n
        elif not _exempt(key):
            for v in _ints(value):
                limits.check("max_width", v, source, f"config field {key!r} =")
    limits.check("max_layers", total, source, "the config's layer counts add up to")
