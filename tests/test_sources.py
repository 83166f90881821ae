"""A new model format is one file: a source kind registered here, in the test, is listed by
``hnn list``, hashed by ``hnn hash`` and fingerprinted by ``hnn weights fingerprint`` with no
other edit (docs/writing-rules.md, "A model source")."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from hnnframe.cli import main
from hnnframe.formats import head
from hnnframe.sources import SOURCES, STRUCTURE, WEIGHTS, Source, kind_of, to_onnx
from hnnframe.sources.guard import ReadGuard
from hnnframe.weights import copies

MAGIC = b"TOYNET\n"  # 7 bytes: a "{" at byte 8 would read as a safetensors header


class ToyNet(Source):
    """A magic line, then JSON ``{"0.weight": [[...]], "0.bias": [...], "2.weight": ...}``:
    the linear layers of an ``nn.Sequential`` with a ReLU between each two."""

    GIVES = frozenset({STRUCTURE, WEIGHTS})
    order = 25
    describe = "a toy format of tests/test_sources.py"
    weights_format = "toynet"

    def sniff(self, spec: str) -> bool:
        return head(spec, len(MAGIC)) == MAGIC

    def _state(self, spec: str) -> dict[str, Any]:
        return json.loads(Path(spec).read_bytes()[len(MAGIC) :])

    def to_onnx(
        self, spec: str, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
    ) -> Any:
        from hnnframe.frontends.export import export_module

        state = {k: torch.tensor(v) for k, v in self._state(spec).items()}
        module = toy_module([state[k].shape for k in sorted(state) if k.endswith(".weight")])
        module.load_state_dict(state)
        x = torch.zeros(1, module[0].in_features)
        return export_module(module, x, Path(spec).stem, opset, dynamo)

    def tensors(self, spec: str, guard: ReadGuard) -> Iterator[tuple[str, Any]]:
        for name, value in self._state(spec).items():
            arr = np.asarray(value, dtype=np.float32)
            guard.tensor(name, arr.size)
            yield name, arr


def toy_module(shapes: list[Any]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for out_f, in_f in shapes:
        layers += [nn.Linear(in_f, out_f), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


@pytest.fixture
def toynet() -> Iterator[None]:
    SOURCES.register("toynet", ToyNet)
    yield
    SOURCES.unregister("toynet")


def _write(path: Path, module: nn.Sequential) -> Path:
    state = {k: v.tolist() for k, v in module.state_dict().items()}
    path.write_bytes(MAGIC + json.dumps(state).encode())
    return path


def test_a_format_registered_in_a_test_is_hashed_and_fingerprinted(
    toynet: None, tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture
) -> None:
    torch.manual_seed(0)
    module = toy_module([(16, 8), (16, 16), (4, 16)])
    toy = _write(tmp_path / "model.toy", module)
    same = tmp_path / "same.safetensors"
    copies.save_safetensors(module.state_dict(), same)
    assert kind_of(toy) == "toynet"
    assert main(["list"]) == 0 and "toynet (structure+weights)" in capsys.readouterr().out

    # Weights: read through the kind, they are the same tensors as the safetensors copy.
    assert main(["weights", "fingerprint", "--json", str(toy), str(same)]) == 0
    fps = json.loads(capsys.readouterr().out)["fingerprints"]
    assert fps[0]["tensors"] == 6 and fps[0]["code"] == fps[1]["code"]
    assert main(["weights", "compare", "--json", str(toy), str(same)]) == 1
    assert json.loads(capsys.readouterr().out)["verdict"] == "exact tensors"

    # Structure: exported by the kind, it hashes as the same module's ONNX file does.
    onnx_file = tmp_path / "exported.onnx"
    onnx.save(to_onnx(module, torch.zeros(1, 8)), str(onnx_file))
    ckpt = str(tiny_checkpoint)
    assert main(["hash", "--json", "--checkpoint", ckpt, str(toy), str(onnx_file)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and lines[0]["code"] == lines[1]["code"]


def test_an_unregistered_format_is_refused_as_before(tmp_path: Path) -> None:
    toy = _write(tmp_path / "model.toy", toy_module([(2, 2)]))
    assert kind_of(toy) is None
    assert main(["weights", "fingerprint", str(toy)]) == 1


def test_a_fifo_is_refused_before_a_registered_kind_sniffs_it(toynet: None, tmp_path: Path) -> None:
    from hnnframe.errors import ModelLoadError
    from hnnframe.weights.readers import iter_tensors

    fifo = tmp_path / "model.toy"
    os.mkfifo(fifo)  # opening it to read would block forever
    assert kind_of(fifo) is None
    with pytest.raises(ModelLoadError, match="model.toy"):
        to_onnx(fifo)
    with pytest.raises(ModelLoadError, match="model.toy"):
        list(iter_tensors(fifo))
