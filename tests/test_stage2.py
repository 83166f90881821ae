"""Stage 2: HashNet shapes, losses, training, checkpoints and `hnn hash`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_overrides

from hnnframe.cli import main
from hnnframe.dgl_compat import dgl
from hnnframe.errors import CheckpointError, ConfigError
from hnnframe.losses import HashLoss, PairBatch, QuantLoss
from hnnframe.nn import HashNet
from hnnframe.nn.hashnet import HashOutput
from hnnframe.recipe import RECIPE_DIR, load_recipe


def toy_batch(n_graphs: int = 4, in_dim: int = 7) -> tuple[object, torch.Tensor]:
    gs = [
        dgl.add_self_loop(dgl.graph(([0, 1, 2], [1, 2, 3]), num_nodes=4)) for _ in range(n_graphs)
    ]
    return dgl.batch(gs), torch.randn(4 * n_graphs, in_dim)


@pytest.mark.parametrize("bits", [8, 16, 32, 64, 128, 256])
def test_hashnet_any_multiple_of_8(bits: int) -> None:
    g, x = toy_batch()
    out = HashNet(7, bits, 3)(g, x)
    assert out.activation.shape == (4, bits) and out.code.dtype == torch.uint8
    assert out.embedding.shape == (4, 256) and out.logits.shape == (4, 3)
    assert ((out.activation > 0) & (out.activation < 1)).all()


@pytest.mark.parametrize("bits", [0, 12, -8])
def test_bad_q_is_a_config_error(bits: int) -> None:
    with pytest.raises(ConfigError, match="multiple of 8"):
        HashNet(7, bits, 3)


def test_fc1_input_is_448_with_per_layer_gap() -> None:
    net = HashNet(7, 32, 3, backbone={"type": "gcn", "hidden_dims": [256, 128, 64]}, pooling="gap")
    assert net.fcs[0].in_features == 448
    assert [fc.out_features for fc in net.fcs] == [
        348,
        256,
        256,
        128,
    ] and net.fc_out.out_features == 32


def test_quant_loss_pushes_activations_away_from_half() -> None:
    # Minimising eq. 9 must move an activation of 0.6 up and one of 0.4 down.
    a = torch.tensor([[0.6, 0.4]], requires_grad=True)
    o = HashOutput(torch.zeros(1, 2), a, torch.zeros(1, 2))
    QuantLoss()(o, o, None).backward()  # type: ignore[arg-type]
    assert a.grad is not None
    assert a.grad[0, 0] < 0 < a.grad[0, 1]  # gradient descent: 0.6 grows, 0.4 shrinks


def test_topo_loss_matches_eq7() -> None:
    crit = HashLoss({"alpha": 1, "beta": 0, "gamma": 0,
                     "topo": {"type": "topo", "ged_norm": "none", "cap": 5.0}})  # fmt: skip
    e1, e2 = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 2.0]])  # squared distance 5
    z = torch.zeros(1, 8)
    o1, o2 = HashOutput(e1, z + 0.5, torch.zeros(1, 2)), HashOutput(e2, z + 0.5, torch.zeros(1, 2))
    pb = PairBatch(torch.tensor([0]), torch.tensor([1]), torch.tensor([9.0]), torch.tensor([10.0]),
                   torch.tensor([10.0]))  # fmt: skip
    total, parts = crit(o1, o2, pb)
    assert parts["topo"] == pytest.approx((5 - 5) ** 2)  # min(9, R=5) = 5
    pb.ged = torch.tensor([2.0])
    total, parts = crit(o1, o2, pb)
    assert parts["topo"] == pytest.approx((5 - 2) ** 2) and float(total) == pytest.approx(9.0)


def recipes() -> list[Path]:
    return sorted(RECIPE_DIR.glob("*.yaml"))


def test_every_recipe_starts_with_its_command() -> None:
    assert len(recipes()) >= 5
    for p in recipes():
        first = p.read_text().splitlines()[0]
        assert first.startswith("# hnn "), p


@pytest.mark.parametrize("recipe", recipes(), ids=lambda p: p.stem)
def test_every_recipe_trains_one_step(
    recipe: Path, tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    from hnnframe.train import Trainer

    cfg = load_recipe(recipe, tiny_overrides(tiny_onnx_models, tmp_path, epochs=1))
    summary = Trainer(cfg, tmp_path / "run", progress=False).fit()
    assert (tmp_path / "run" / "model.pt").exists()
    assert np.isfinite(summary["final"]["loss/total"])
    assert any((tmp_path / "run" / "tb").iterdir())


def test_overrides_change_the_recipe() -> None:
    cfg = load_recipe("hnn_net", ["hash.bits=64", "loss.beta=0", "graph.merge=[conv_bn]"])
    assert (
        cfg["hash"]["bits"] == 64
        and cfg["loss"]["beta"] == 0
        and cfg["graph"]["merge"] == ["conv_bn"]
    )
    with pytest.raises(ConfigError):
        load_recipe("hnn_net", ["novalue"])


def test_checkpoint_loads_weights_only(tiny_checkpoint: Path) -> None:
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    assert ckpt["bits"] == 32 and json.loads(ckpt["encoder_json"])["vocab"]
    assert set(ckpt["categories"]) == {"convnet", "mlp", "resnet"}


def test_training_is_deterministic(tmp_path: Path, tiny_onnx_models: list[Path]) -> None:
    from hnnframe.train import Trainer

    runs = []
    for k in range(2):
        cfg = load_recipe("hnn_net", tiny_overrides(tiny_onnx_models, tmp_path, epochs=2))
        runs.append(Trainer(cfg, tmp_path / f"r{k}", progress=False).fit()["final"]["loss/total"])
    assert runs[0] == runs[1]


def test_hash_cli_text_and_json(
    capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path, tiny_onnx_models: list[Path]
) -> None:
    paths = [str(p) for p in tiny_onnx_models]
    assert main(["hash", "--checkpoint", str(tiny_checkpoint), *paths]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(paths) and all(
        len(ln.split()[0]) == 8 for ln in lines
    )  # 32 bits = 8 hex
    assert main(["hash", "--checkpoint", str(tiny_checkpoint), "--json", *paths]) == 0
    objs = [json.loads(ln) for ln in capsys.readouterr().out.strip().splitlines()]
    assert [set(o) for o in objs] == [{"path", "code", "bits", "category"}] * len(paths)
    # the same file always gives the same code
    assert main(["hash", "--checkpoint", str(tiny_checkpoint), "--json", paths[0]]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["code"] == objs[0]["code"]


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


def test_topo_loss_on_code_uses_activations_and_per_bit_targets() -> None:
    crit = HashLoss({"alpha": 1, "beta": 0, "gamma": 0, "topo": {"type": "topo", "compare": "code",
                     "ged_norm": "mean_size", "scale": 0.25, "cap": 0.5, "per_bit": True}})  # fmt: skip
    a1, a2 = torch.zeros(1, 8), torch.zeros(1, 8)
    a2[0, :2] = 1.0  # squared distance 2
    emb = torch.randn(1, 4)  # ignored when comparing codes
    o1, o2 = HashOutput(emb, a1, torch.zeros(1, 2)), HashOutput(-emb, a2, torch.zeros(1, 2))
    pb = PairBatch(torch.tensor([0]), torch.tensor([0]), torch.tensor([4.0]), torch.tensor([8.0]),
                   torch.tensor([8.0]))  # fmt: skip
    # nGED = 4 / 8 = 0.5; target = min(0.25 * 0.5, 0.5) * Q = 0.125 * 8 = 1
    _, parts = crit(o1, o2, pb)
    assert parts["topo"] == pytest.approx((2 - 1) ** 2)
    with pytest.raises(ConfigError):
        HashLoss({"topo": {"type": "topo", "compare": "fc9"}})


def test_yaml_boolean_key_is_a_clear_error() -> None:
    from hnnframe.losses import LOSSES

    with pytest.raises(ConfigError, match="non-string key True"):
        LOSSES.build({"type": "topo", True: "code"})
