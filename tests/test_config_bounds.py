"""A stranger's config.json is checked against the limits before a model is built."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hnnframe import limits
from hnnframe.errors import LimitError
from hnnframe.frontends.config_bounds import check_config_sizes
from hnnframe.frontends.hf import TINY, config_from_file


def _config(tmp_path: Path, **fields: object) -> Path:
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"model_type": "llama", **TINY["llama"], **fields}))
    return p


def test_a_huge_layer_count_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    p = _config(tmp_path, num_hidden_layers=100_000)
    with pytest.raises(LimitError, match=r"num_hidden_layers.*100,000.*--max-layers"):
        config_from_file(p)
    with limits.applied(limits.Limits(max_layers=200_000)):
        assert config_from_file(p).num_hidden_layers == 100_000


def test_widths_nesting_and_lists(tmp_path: Path) -> None:
    with pytest.raises(LimitError, match="hidden_size"):
        config_from_file(_config(tmp_path, hidden_size=10**12))
    with pytest.raises(LimitError, match="depths"):
        check_config_sizes({"vision_config": {"depths": [600, 600]}}, "x")
    deep: dict = {}
    node = deep
    for _ in range(20):
        node["sub"] = {}
        node = node["sub"]
    with pytest.raises(LimitError, match="nesting"):
        check_config_sizes(deep, "x")
    # positions and token ids are no sizes of the graph (a 10M-token context is real)
    check_config_sizes({"max_position_embeddings": 10_485_760, "eos_token_id": 151_645}, "x")


def test_no_default_transformers_config_is_refused() -> None:
    import transformers
    from transformers import CONFIG_MAPPING

    transformers.logging.set_verbosity_error()
    logging.disable(logging.WARNING)
    refused = []
    try:
        for name in CONFIG_MAPPING:
            try:
                data = CONFIG_MAPPING[name]().to_dict()
            except Exception:  # noqa: BLE001 - a config class that needs arguments
                continue
            try:
                check_config_sizes(data, name)
            except LimitError as e:
                refused.append(str(e))
    finally:
        logging.disable(logging.NOTSET)
    assert refused == []
