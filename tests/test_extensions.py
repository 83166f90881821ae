"""Extensions round-trip through ``hnn``: plugins trained with, saved in and loaded from a
checkpoint in a fresh process (docs/writing-rules.md).

The plugin module below registers a merge rule, a node encoder, a GNN backbone, a pooling and
a loss term under short names; a recipe brings it in through ``imports:``. A second encoder is
never registered and is named by its dotted path. A third module registers a merge rule
through the ``hnnframe.plugins`` entry-point group of an installed distribution.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.models import tiny_overrides

from hnnframe.recipe import RECIPE_DIR

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''
import numpy as np
import torch
from torch import nn

from hnnframe.dgl_compat import dglnn
from hnnframe.encoders import NODE_ENCODERS, PaperEncoder
from hnnframe.losses import LOSSES, LossTerm
from hnnframe.merge import MERGE_RULES, MergeRule
from hnnframe.nn import BACKBONES, POOLINGS, Backbone, Pooling


@MERGE_RULES.register("plugin_gemm_relu")
class GemmRelu(MergeRule):
    pattern = ("Gemm", "Relu")
    merged_op = "PluginGemmRelu"


@NODE_ENCODERS.register("plugin_degree")
class DegreeEncoder(PaperEncoder):
    """The paper's features plus the node's degree."""

    @property
    def dim(self):
        return super().dim + 1

    def encode(self, g):
        deg = [[g.in_degree(i) + g.out_degree(i)] for i in range(g.num_nodes)]
        return np.concatenate([super().encode(g), np.asarray(deg, np.float32)], axis=1)


class UnregisteredEncoder(PaperEncoder):
    """Never registered: a checkpoint names it by its dotted path."""


@BACKBONES.register("plugin_sage")
class SageBackbone(Backbone):
    def make_layer(self, in_dim, out_dim):
        return dglnn.SAGEConv(in_dim, out_dim, "mean")


@POOLINGS.register("plugin_meanmax")
class MeanMax(Pooling):
    def __init__(self, in_dim):
        super().__init__(in_dim)
        self.mean, self.max = dglnn.AvgPooling(), dglnn.MaxPooling()

    @property
    def out_dim(self):
        return 2 * self.in_dim

    def forward(self, graph, feat):
        return torch.cat([self.mean(graph, feat), self.max(graph, feat)], dim=1)


@LOSSES.register("plugin_margin")
class Margin(LossTerm):
    """Codes of different categories at least `margin` apart (relaxed Hamming distance)."""

    def __init__(self, margin=2.0):
        super().__init__()
        self.margin = float(margin)

    def forward(self, o1, o2, batch):
        d = (o1.activation - o2.activation).abs().sum(dim=1)
        differ = (batch.labels1 != batch.labels2).float()
        return (differ * torch.relu(self.margin - d)).mean()
'''

EP_PLUGIN = """
from hnnframe.merge import MERGE_RULES, MergeRule


@MERGE_RULES.register("ep_gemm_relu")
class EpGemmRelu(MergeRule):
    pattern = ("Gemm", "Relu")
    merged_op = "EpGemmRelu"
"""


def _hnn(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``hnn`` in a fresh process (nothing of this test's imports is there)."""
    e = {**os.environ, **(env or {})}
    r = subprocess.run(
        [sys.executable, "-m", "hnnframe.cli", *args],
        cwd=cwd,
        env=e,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return r.returncode, r.stdout, r.stderr


def test_plugins_train_then_hash_in_a_fresh_process(
    tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    from hnnframe.cli import main

    (tmp_path / "my_hnn_plugin.py").write_text(PLUGIN)
    recipe = tmp_path / "plugin.yaml"
    recipe.write_text(
        "_base_: " + str(RECIPE_DIR / "hnn_net.yaml") + "\n"
        "imports: [my_hnn_plugin]\n"
        "graph: {merge: [plugin_gemm_relu, conv_bn_relu]}\n"
        "encoder: {type: plugin_degree}\n"
        "model:\n"
        "  backbone: {type: plugin_sage, hidden_dims: [16, 8]}\n"
        "  pooling: plugin_meanmax\n"
        "loss:\n"
        "  terms:\n"
        "    margin: {type: plugin_margin, weight: 0.5, margin: 3.0}\n"
        "    margin_b: {type: plugin_margin, weight: 0.1}\n"
    )
    out = tmp_path / "run"
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the plugin module is found in the working directory
    try:
        assert (
            main(
                [
                    "train",
                    str(recipe),
                    "--out",
                    str(out),
                    "--json",
                    *tiny_overrides(tiny_onnx_models, tmp_path, epochs=1),
                ]
            )
            == 0
        )
    finally:
        os.chdir(cwd)
    ckpt = json.loads(__import__("torch").load(out / "model.pt", weights_only=True)["encoder_json"])
    assert ckpt["type"] == "plugin_degree"
    # A fresh process that has never imported the plugin: the checkpoint's recipe brings it.
    rc, stdout, stderr = _hnn(
        ["hash", "--json", "--checkpoint", str(out / "model.pt"), str(tiny_onnx_models[0])],
        cwd=tmp_path,
    )
    assert rc == 0, stderr
    line = json.loads(stdout.splitlines()[0])
    assert len(line["code"]) == 8 and line["path"] == str(tiny_onnx_models[0])
    # Without the plugin module around, the same checkpoint fails with one clear line.
    rc, _, stderr = _hnn(
        ["hash", "--checkpoint", str(out / "model.pt"), str(tiny_onnx_models[0])], cwd=ROOT
    )
    assert rc == 2 and stderr.strip().startswith("hnn: error: imports: cannot import plugin")


def test_an_unregistered_encoder_is_saved_by_its_dotted_path(
    tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    from hnnframe.cli import main

    (tmp_path / "my_hnn_plugin2.py").write_text(PLUGIN.replace("plugin_", "plugin2_"))
    out = tmp_path / "run"
    sys.path.insert(0, str(tmp_path))
    try:
        assert (
            main(
                [
                    "train",
                    "hnn_net",
                    "--out",
                    str(out),
                    "--json",
                    "encoder.type=my_hnn_plugin2.UnregisteredEncoder",
                    *tiny_overrides(tiny_onnx_models, tmp_path, epochs=1),
                ]
            )
            == 0
        )
    finally:
        sys.path.remove(str(tmp_path))
    rc, stdout, stderr = _hnn(
        ["hash", "--checkpoint", str(out / "model.pt"), str(tiny_onnx_models[1])],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert rc == 0, stderr
    assert stdout.split()[1] == "32"


def test_entry_point_plugins_are_found_by_name(
    tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    site = tmp_path / "site"
    dist = site / "hnn_ep_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "hnn_ep_plugin.py").write_text(EP_PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hnn-ep-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[hnnframe.plugins]\nrules = hnn_ep_plugin\n")
    env = {"PYTHONPATH": str(site)}
    rc, stdout, stderr = _hnn(["list", "--json"], cwd=tmp_path, env=env)
    assert rc == 0, stderr
    assert "ep_gemm_relu" in json.loads(stdout)["merge_rules"]
    rc, stdout, stderr = _hnn(
        ["graph", "--json", "--merge", "ep_gemm_relu", str(tiny_onnx_models[4])],
        cwd=tmp_path,
        env=env,
    )
    assert rc == 0, stderr
    assert "EpGemmRelu" in json.loads(stdout)["ops"]


@pytest.mark.parametrize("bad", ["[1]", "{x: {weight: 1}}", "{topo: {type: topo}}"])
def test_bad_loss_terms_are_one_line_errors(bad: str) -> None:
    from hnnframe.errors import ConfigError
    from hnnframe.losses import HashLoss
    from hnnframe.recipe import apply_overrides

    cfg = apply_overrides({"loss": {}}, [f"loss.terms={bad}"])["loss"]
    with pytest.raises(ConfigError, match="loss.terms"):
        HashLoss(cfg)
