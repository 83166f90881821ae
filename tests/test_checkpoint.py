"""hnnframe.checkpoint: the format loads weights_only, and bad checkpoints are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hnnframe.cli import main
from hnnframe.errors import CheckpointError


def test_checkpoint_loads_weights_only(tiny_checkpoint: Path) -> None:
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    assert ckpt["bits"] == 32 and json.loads(ckpt["encoder_json"])["vocab"]
    assert set(ckpt["categories"]) == {"convnet", "mlp", "resnet"}


def test_corrupted_and_mismatched_checkpoints(
    capsys: pytest.CaptureFixture[str],
    tiny_checkpoint: Path,
    tiny_onnx_models: list[Path],
    tmp_path: Path,
) -> None:
    from hnnframe.hashing import Hasher

    bad = tmp_path / "bad.pt"
    bad.write_bytes(tiny_checkpoint.read_bytes()[:1000])
    assert main(["hash", "--checkpoint", str(bad), str(tiny_onnx_models[0])]) == 2
    assert "not a readable hnnframe checkpoint" in capsys.readouterr().err
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    ckpt["recipe_json"] = json.dumps({**json.loads(ckpt["recipe_json"]), "hash": {"bits": 64}})
    with pytest.raises(CheckpointError, match="Q=32"):
        Hasher(ckpt, "x")
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    enc = json.loads(ckpt["encoder_json"])
    ckpt["encoder_json"] = json.dumps({**enc, "vocab": enc["vocab"] + ["Extra"]})
    with pytest.raises(CheckpointError, match="vocabulary"):
        Hasher(ckpt, "x")
