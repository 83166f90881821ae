"""Readers of the weight tier on real files: safetensors, state dicts, ONNX inline and with
external data, onnxruntime-quantized (dynamic and QDQ) and fp16 ONNX."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from hnnframe.errors import ModelLoadError
from hnnframe.sources.guard import ReadGuard
from hnnframe.weights import copies
from hnnframe.weights.fingerprint import fingerprint
from hnnframe.weights.readers import detect_format, iter_tensors


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc1 = nn.Linear(8 * 16, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(x))
        x = torch.flatten(nn.functional.max_pool2d(x, 2), 1)
        return self.fc2(torch.relu(self.fc1(x)))


@pytest.fixture(scope="module")
def net() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return Net().eval(), torch.randn(4, 1, 8, 8)


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory, net) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "net.onnx"
    copies.export_onnx(net[0], net[1], path)
    return path


def _state(net) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy() for k, v in net[0].state_dict().items()}


def test_safetensors_and_state_dict_read_every_tensor(tmp_path: Path, net) -> None:
    state = net[0].state_dict()
    st, pt = tmp_path / "w.safetensors", tmp_path / "w.pt"
    copies.save_safetensors(state, st)
    copies.save_state_dict(state, pt)
    assert detect_format(st) == "safetensors" and detect_format(pt) == "torch"
    ref = _state(net)
    for path in (st, pt):
        got = dict(iter_tensors(path))
        assert set(got) == set(ref)
        for k, v in ref.items():
            np.testing.assert_array_equal(got[k], v)


def test_half_precision_is_widened(tmp_path: Path, net) -> None:
    state = {k: v.to(torch.bfloat16) for k, v in net[0].state_dict().items()}
    state["fc2.weight"] = net[0].fc2.weight.detach().half()
    st = tmp_path / "half.safetensors"
    copies.save_safetensors(state, st)
    got = dict(iter_tensors(st))
    assert all(v.dtype == np.float32 for v in got.values())
    np.testing.assert_array_equal(got["fc2.weight"], state["fc2.weight"].float().numpy())
    np.testing.assert_array_equal(got["fc1.weight"], state["fc1.weight"].float().numpy())


def test_nested_state_dict(tmp_path: Path, net) -> None:
    p = tmp_path / "ckpt.pt"
    torch.save({"model": net[0].state_dict(), "epoch": 3}, p)
    names = {n for n, _ in iter_tensors(p)}
    assert "model.fc1.weight" in names and len(names) == 6


def test_training_checkpoint_gives_the_model_alone(tmp_path: Path, net) -> None:
    # A full training checkpoint: the model's weights beside an optimizer whose moments have
    # the weights' shapes. Only the model's tensors are read, so the same weights saved with
    # and without training state fingerprint alike.
    model = net[0]
    opt = torch.optim.Adam(model.parameters())
    model(net[1]).sum().backward()
    opt.step()
    full, plain = tmp_path / "full.pt", tmp_path / "plain.pt"
    torch.save(
        {"optimizer": opt.state_dict(), "model_state_dict": model.state_dict(), "epoch": 1}, full
    )
    torch.save(model.state_dict(), plain)
    got = dict(iter_tensors(full))
    assert set(got) == {f"model_state_dict.{k}" for k in model.state_dict()}
    from hnnframe.weights.fingerprint import fingerprint

    assert fingerprint(full).code == fingerprint(plain).code
    # loose training state beside tensors at the top level is skipped too
    torch.save({**model.state_dict(), "optimizer": opt.state_dict()}, full)
    assert set(dict(iter_tensors(full))) == set(model.state_dict())


def test_pickled_module_is_refused(tmp_path: Path, net) -> None:
    p = tmp_path / "module.pt"
    torch.save(net[0], p)  # a whole pickled module: code would run to load it
    with pytest.raises(ModelLoadError, match="weights_only"):
        list(iter_tensors(p))


def test_onnx_inline_and_external_data(tmp_path: Path, onnx_file: Path, net) -> None:
    ref = _state(net)
    inline = dict(iter_tensors(onnx_file))
    np.testing.assert_array_equal(inline["fc1.weight"], ref["fc1.weight"])
    ext = tmp_path / "ext.onnx"
    onnx.save_model(
        onnx.load(str(onnx_file)),
        str(ext),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext.bin",
        size_threshold=0,
    )
    assert (tmp_path / "ext.bin").stat().st_size > ext.stat().st_size
    got = dict(iter_tensors(ext))
    assert set(got) == set(inline)
    for k, v in inline.items():
        np.testing.assert_array_equal(got[k], v)
    (tmp_path / "ext.bin").unlink()
    # A missing data file: its tensors are recorded as not read, never a crash; with none of
    # them read, the fingerprint says so rather than "no weights".
    guard = ReadGuard(ext)
    assert list(iter_tensors(ext, guard=guard)) == []
    assert {n for n, _ in guard.missing} == set(inline)
    assert all("external data file" in why for _, why in guard.missing)
    with pytest.raises(ModelLoadError, match="none of its weights could be read"):
        fingerprint(ext, 64)
    # A location outside the model's folder is refused, not read.
    outside = tmp_path / "sub"
    outside.mkdir()
    m = onnx.load(str(ext), load_external_data=False)
    for t in m.graph.initializer:
        for kv in t.external_data:
            if kv.key == "location":
                kv.value = "../ext.bin"
    onnx.save(m, str(outside / "evil.onnx"))
    guard = ReadGuard(outside / "evil.onnx")
    assert list(iter_tensors(outside / "evil.onnx", guard=guard)) == []
    assert all("outside the model's folder" in why for _, why in guard.missing)


def test_onnx_quantized_weights_come_back_dequantized(tmp_path: Path, onnx_file: Path, net):
    ref = _state(net)
    dyn, qdq = tmp_path / "dyn.onnx", tmp_path / "qdq.onnx"
    copies.quantize_dynamic(onnx_file, dyn)
    copies.quantize_static(onnx_file, qdq, [net[1].numpy()])
    ops = {n.op_type for n in onnx.load(str(dyn)).graph.node}
    assert {"MatMulInteger", "ConvInteger"} <= ops
    assert "DequantizeLinear" in {n.op_type for n in onnx.load(str(qdq)).graph.node}
    for path in (dyn, qdq):
        got = [v for _, v in iter_tensors(path) if v.size > 1]
        for name in ("conv.weight", "fc1.weight", "fc2.weight"):
            w = ref[name]
            cands = [v for v in got if v.size == w.size]
            # transposed by the quantizer for MatMul: compare in either orientation
            best = min(np.abs(np.sort(c.ravel()) - np.sort(w.ravel())).max() for c in cands)
            step = np.abs(w).max() / 127
            assert best <= step, (path.name, name, best, step)


def test_onnx_fp16(tmp_path: Path, onnx_file: Path, net) -> None:
    half = tmp_path / "half.onnx"
    copies.to_fp16(onnx_file, half)
    got = dict(iter_tensors(half))
    w = _state(net)["fc1.weight"]
    assert got["fc1.weight"].dtype == np.float32
    np.testing.assert_array_equal(got["fc1.weight"], w.astype(np.float16).astype(np.float32))


@pytest.mark.parametrize(
    "name,data,match",
    [
        ("junk.onnx", b"\x01\x02 not a model", "ONNX"),
        ("junk.safetensors", b"12345678{bad", "safetensors"),
        ("junk.pt", b"not a pickle", "PyTorch"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path: Path, name: str, data: bytes, match: str):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(ModelLoadError, match=match) as e:
        list(iter_tensors(p))
    assert "\n" not in str(e.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such file"):
        list(iter_tensors(tmp_path / "nothing.onnx"))


def test_state_dict_in_memory_roundtrip(tmp_path: Path) -> None:
    buf = io.BytesIO()
    torch.save({"w": torch.arange(6.0).reshape(2, 3), "n": torch.tensor(3)}, buf)
    p = tmp_path / "x.bin"
    p.write_bytes(buf.getvalue())
    assert [n for n, _ in iter_tensors(p)] == ["w"]  # integer tensors are no weights
