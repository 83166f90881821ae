"""The exact-architecture tier of the hash index (issue 22, item 3): every record stores the
digest of its canonical graph (and a config source the digest of its architecture fields), and
``check`` says "same architecture" when the upload's digest is a record's, below the weight
tiers and above "structure only".

Real exports of tiny modules: the TorchScript exporter's two common modes (training-preserve
without constant folding, hnnframe's own, and eval mode with folding, which folds BatchNorm into
the convolution), an ONNX file re-saved with other node names, a network written two ways, the
six tiny architectures of tests/conftest.py, and tiny transformers configs. The hasher is a
real checkpoint of the robust recipe (its canonicalisation makes the folded export the same
graph). Every test that takes ``url`` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
import torch.nn.functional as F
from support.index import make_schema1_index, run_cli
from support.models import TINY_INPUT, TinyConvNet, TinyMLP, tiny_overrides
from torch import nn

import hnnframe.index as hindex
from hnnframe.frontends.hf_arch import config_digest
from hnnframe.frontends.named import hf_config
from hnnframe.hashing import Hasher
from hnnframe.index.records import IndexRecord
from hnnframe.index.sql import SCHEMA_VERSION
from hnnframe.index.verdict import FAIL_ON, TIERS, Candidate, WeightComparison

pytest_plugins = ["support.index"]


class HandWrittenMLP(nn.Module):
    """``TinyMLP(16, 2)`` written another way: raw parameters and functional calls."""

    def __init__(self) -> None:
        super().__init__()
        shapes = [(16, 3 * 8 * 8), (16, 16), (2, 16)]
        self.w = nn.ParameterList(nn.Parameter(torch.randn(*s) * 0.1) for s in shapes)
        self.b = nn.ParameterList(nn.Parameter(torch.zeros(s[0])) for s in shapes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(x, 1)
        x = F.relu(F.linear(x, self.w[0], self.b[0]))
        x = F.relu(F.linear(x, self.w[1], self.b[1]))
        return F.linear(x, self.w[2], self.b[2])


def _export(module: nn.Module, path: Path, folded: bool) -> Path:
    """A TorchScript export with its weights: folded (eval mode, constant folding: BN goes
    into the Conv) or not (training-preserve, no folding)."""
    mode = torch.onnx.TrainingMode.EVAL if folded else torch.onnx.TrainingMode.PRESERVE
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            module.eval(),
            (torch.zeros(*TINY_INPUT),),
            buf,
            dynamo=False,
            opset_version=17,
            training=mode,
            do_constant_folding=folded,
        )
    path.write_bytes(buf.getvalue())
    return path


def _resaved(src: Path, out: Path) -> Path:
    """``src`` re-saved with every node renamed and another doc string (other bytes, the
    same tensors)."""
    m = onnx.load(str(src))
    for i, n in enumerate(m.graph.node):
        n.name = f"renamed_{i}"
    m.doc_string = "re-saved by another tool"
    onnx.save(m, str(out))
    return out


@pytest.fixture(scope="module")
def robust(tmp_path_factory: pytest.TempPathFactory, tiny_onnx_models: list[Path]) -> Path:
    """The robust recipe trained for two epochs on the tiny models (no variant copies)."""
    from hnnframe.recipe import load_recipe
    from hnnframe.train import Trainer

    out = tmp_path_factory.mktemp("arch_run")
    overrides = [*tiny_overrides(tiny_onnx_models, out, epochs=2), "data.variants=[]"]
    Trainer(load_recipe("hnn_net_robust", overrides), out, progress=False).fit()
    return out / "model.pt"


@pytest.fixture(scope="module")
def hasher(robust: Path) -> Hasher:
    return Hasher.from_checkpoint(robust)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("arch_files")
    torch.manual_seed(1)
    out = {
        "conv": _export(TinyConvNet(), d / "conv.onnx", folded=False),
        "conv_other": _export(TinyConvNet(), d / "conv_other.onnx", folded=True),
        "mlp": _export(TinyMLP(16, 2), d / "mlp.onnx", folded=False),
        "mlp_twin": _export(HandWrittenMLP(), d / "mlp_twin.onnx", folded=True),
    }
    out["conv_resaved"] = _resaved(out["conv"], d / "conv_resaved.onnx")
    out["mlp_resaved"] = _resaved(out["mlp"], d / "mlp_resaved.onnx")
    return out


def _tiers(v: Any) -> dict[str, str]:
    return {c.record.name: c.tier for c in v.candidates}


# -- the digests -----------------------------------------------------------------------------------
def test_digests_tell_architectures_apart(
    hasher: Hasher, tiny_onnx_models: list[Path], files: dict[str, Path]
) -> None:
    """The six tiny architectures have six digests; each re-export lands on its own."""
    six = hasher.hash_many(tiny_onnx_models)
    assert len({r.graph_digest for r in six}) == 6 and all(r.config_digest is None for r in six)
    digest = {r.name: r.graph_digest for r in six}
    mine = {
        k: r.graph_digest
        for k, r in zip(files, hasher.hash_many(list(files.values())), strict=True)
    }
    assert mine["conv"] == mine["conv_other"] == mine["conv_resaved"] == digest["convnet"]
    assert mine["mlp"] == mine["mlp_twin"] == digest["mlp_2"]


def test_config_digest_keeps_the_architecture_fields(tmp_path: Path) -> None:
    """Names, precision, token ids, dropout and generation settings do not change a config's
    architecture; sizes, the task head and the label count do."""
    base = hf_config("hf:gpt2:tiny")
    d = config_digest(base)

    def variant(**fields: Any) -> str:
        data = {**base.to_dict(), **fields}
        snap = tmp_path / f"models--org--v{len(list(tmp_path.iterdir()))}" / "snapshots" / "c0"
        snap.mkdir(parents=True)
        (snap / "config.json").write_text(json.dumps(data))
        return config_digest(hf_config(str(snap)))  # a snapshot directory

    assert variant() == d
    assert (
        variant(
            _name_or_path="org/other",
            dtype="float16",
            torch_dtype="bfloat16",
            transformers_version="4.30.0",
            pad_token_id=7,
            eos_token_id=[3, 4],
            resid_pdrop=0.3,
            attn_pdrop=0.0,
            initializer_range=0.5,
            max_length=77,
            use_cache=True,
            architectures=["NoSuchModelClass"],
        )
        == d
    )
    assert variant(architectures=["GPT2Model"]) == d  # the base model, named or not
    assert variant(id2label={"0": "yes", "1": "no"}) == variant(id2label={"0": "a", "1": "b"})
    differ = [
        variant(n_layer=3),
        variant(n_embd=64, n_head=2),
        variant(vocab_size=129),
        variant(architectures=["GPT2LMHeadModel"]),
        variant(activation_function="relu"),
        variant(id2label={"0": "a", "1": "b", "2": "c"}),
    ]
    assert len({d, *differ}) == len(differ) + 1


# -- check -------------------------------------------------------------------------------------------
def test_reexport_is_same_architecture(
    url: str, hasher: Hasher, robust: Path, tiny_onnx_models: list[Path], files: dict[str, Path]
) -> None:
    """An index of the six weight-stripped tiny models: a folded re-export of the convnet is
    its architecture and nothing else's; the six never call each other one architecture."""
    with hindex.open(url) as idx:
        idx.add_models(tiny_onnx_models, hasher, checkpoint=robust)
        assert all(r.graph_digest for r in idx.list())
        [(_, v)] = idx.check_models([files["conv_other"]], hasher)
        arch = [c for c in v.candidates if c.tier == "same architecture"]
        assert [c.record.name for c in arch] == ["convnet"] and arch[0].same_arch
        assert v.tier == "same architecture" and v.candidates[0] is arch[0]
        # the index holds no weights of the convnet: structure is all it knows (auto fails)
        assert v.fails("auto") and v.fails("structure")
        assert not v.fails("weights") and not v.fails("exact") and not v.fails("none")
        for model, (_, v) in zip(
            tiny_onnx_models, idx.check_models(tiny_onnx_models, hasher), strict=True
        ):
            t = _tiers(v)
            assert t.pop(model.stem) == "exact file"
            assert "same architecture" not in t.values(), (model.stem, t)
        assert [r.name for r in idx.same_architecture(hasher.hash(files["mlp_twin"]))] == ["mlp_2"]


def test_weight_tiers_outrank_same_architecture(
    url: str, hasher: Hasher, robust: Path, files: dict[str, Path]
) -> None:
    """With weights: the same tensors re-saved are exact tensors (of the same architecture);
    the network written another way, exported folded with its own initialisation, is the
    same architecture with other weights, which ``auto`` clears as it clears an
    independently trained structural neighbour."""
    with hindex.open(url) as idx:
        [mlp] = idx.add_models([files["mlp"]], hasher, checkpoint=robust)
        assert mlp.weights is not None
        (_, same), (_, other) = idx.check_models([files["mlp_resaved"], files["mlp_twin"]], hasher)
        assert same.tier == "exact tensors" and same.candidates[0].same_arch
        assert other.tier == "same architecture" and other.candidates[0].weights.compared
        assert other.candidates[0].weights.verdict == "none"
        assert [p for p in FAIL_ON if other.fails(p)] == ["structure"]
        assert TIERS.index("weight match") < TIERS.index("same architecture")
        assert TIERS.index("same architecture") < TIERS.index("structure only")


def test_two_names_for_one_network_are_one_architecture(
    url: str, hasher: Hasher, robust: Path, files: dict[str, Path]
) -> None:
    """A network written two ways (nn.Sequential of Linear, and raw parameters with
    functional calls) exports to one canonical graph: one architecture, either way round."""
    with hindex.open(url) as idx:
        idx.add_models([files["mlp"]], hasher, checkpoint=robust, weights=False)
        [(_, v)] = idx.check_models([files["mlp_twin"]], hasher, weights=False)
        assert _tiers(v) == {"mlp": "same architecture"}
        idx.add_models([files["mlp_twin"]], hasher, weights=False)
        [(_, v)] = idx.check_models([files["mlp"]], hasher, weights=False)
        assert _tiers(v) == {"mlp": "exact file", "mlp_twin": "same architecture"}


def test_config_sources_store_both_digests(
    url: str, hasher: Hasher, robust: Path, tmp_path: Path
) -> None:
    """``hf:`` names and snapshot directories store a config digest beside the graph's; a
    snapshot of the same config under another name and precision is the same architecture,
    one more layer is not."""
    data = {
        **hf_config("hf:bert:tiny").to_dict(),
        "_name_or_path": "org/bert-copy",
        "dtype": "float16",
        "hidden_dropout_prob": 0.2,
    }
    snap = tmp_path / "bert-copy"
    snap.mkdir()
    (snap / "config.json").write_text(json.dumps(data))
    with hindex.open(url) as idx:
        [r] = idx.add_models(["hf:bert:tiny"], hasher, checkpoint=robust)
        rec = idx.get(r.id)
        assert rec.graph_digest and rec.config_digest
        (q, v), (_, deeper) = idx.check_models([snap, "hf:bert:tiny,num_hidden_layers=3"], hasher)
        assert q.config_digest == rec.config_digest and q.graph_digest == rec.graph_digest
        assert v.tier == "same architecture"
        assert all(c.tier != "same architecture" for c in deeper.candidates)


# -- policies ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("held", [False, True])
@pytest.mark.parametrize("partial", [False, True])
def test_same_architecture_fails_as_a_structural_neighbour(held: bool, partial: bool) -> None:
    """Under every --fail-on policy a same-architecture candidate without weight evidence
    behaves as a structure-only one."""
    from hnnframe.index.records import WeightInfo

    w = WeightInfo("onnx", 256, bytes(32), "s", 1, 1, 1) if held else None
    rec = IndexRecord(1, "m", "/m.onnx", None, bytes(8), 64, "f", "c", None, {}, "t", weights=w)
    cmp = WeightComparison(held, "none" if held else None, reason=None if held else "none")
    for policy in FAIL_ON:
        same = Candidate("same architecture", rec, 30, False, cmp, True)
        near = Candidate("structure only", rec, 3, True, cmp)
        assert same.fails(policy, partial) == near.fails(policy, partial), policy


# -- the CLI -----------------------------------------------------------------------------------------
def test_cli_check_and_search_show_it(
    url: str,
    capsys: pytest.CaptureFixture,
    robust: Path,
    tiny_onnx_models: list[Path],
    files: dict[str, Path],
) -> None:
    rc, _, err = run_cli(capsys, "add", "--db", url, "--checkpoint", robust, *tiny_onnx_models)
    assert rc == 0, err
    rc, out, err = run_cli(capsys, "check", "--db", url, files["conv_other"])
    assert rc == 1, err
    assert out.startswith(f"SUSPECT  {files['conv_other']}: same architecture as #1 convnet; ")
    rc, out, _ = run_cli(capsys, "check", "--db", url, files["conv_other"], "--json")
    [doc] = json.loads(out)
    assert doc["tier"] == "same architecture" and doc["suspect"]
    top = doc["candidates"][0]
    assert top["tier"] == "same architecture" and top["structure"]["same_architecture"]
    assert top["record"]["graph_digest"] and top["record"]["name"] == "convnet"
    assert sum(c["structure"]["same_architecture"] for c in doc["candidates"]) == 1
    rc, out, _ = run_cli(capsys, "check", "--db", url, files["conv_other"], "--fail-on", "weights")
    assert rc == 0 and out.startswith("clean")

    rc, out, _ = run_cli(capsys, "search", "--db", url, files["mlp_twin"], "-k", "6")
    lines = [ln for ln in out.splitlines() if "= same architecture" in ln]
    assert rc == 0 and len(lines) == 1 and "mlp_2" in lines[0]
    rc, out, _ = run_cli(capsys, "search", "--db", url, files["mlp_twin"], "-k", "1", "--json")
    [doc] = json.loads(out)
    assert [a["name"] for a in doc["same_architecture"]] == ["mlp_2"] and doc["graph_digest"]
    shown = {m["name"]: m["same_architecture"] for m in doc["matches"]}
    assert len(shown) == 1 and shown.get("mlp_2", True)


# -- an index of schema 2 ----------------------------------------------------------------------------
def _make_schema2_index(url: str, records: list[Any], fingerprint: str) -> None:
    """An index as schema 2 made it: schema 1 with its rows, then migration 2 only."""
    from hnnframe.index.postgres import MIGRATIONS as PG
    from hnnframe.index.sqlite import MIGRATIONS as SQLITE

    make_schema1_index(url, records, fingerprint)
    stmts = [
        *(PG if url.startswith("postgresql") else SQLITE)[2],
        "UPDATE hnn_meta SET value = '2' WHERE key = 'schema_version'",
    ]
    if url.startswith("postgresql"):
        import psycopg2

        base, _, schema = url.rpartition("schema=")
        conn = psycopg2.connect(base.rstrip("?&"))
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(f'SET search_path TO "{schema}"')
    else:
        import sqlite3

        conn = sqlite3.connect(url, isolation_level=None)
        cur = conn.cursor()
    for s in stmts:
        cur.execute(s)
    conn.close()


def test_schema2_index_is_migrated_and_rehash_fills_the_digests(
    url: str, hasher: Hasher, robust: Path, tiny_onnx_models: list[Path], files: dict[str, Path]
) -> None:
    old = hasher.hash_many(tiny_onnx_models)
    _make_schema2_index(url, old, hasher.fingerprint)
    with hindex.open(url, create=False) as idx:
        s = idx.stats()
        assert s["schema_version"] == SCHEMA_VERSION == 3 and idx.verify() == []
        assert s["architecture_digests"] == 0 and s["records"] == 6
        assert [(r.name, r.graph_digest, r.config_digest) for r in idx.list()] == [
            (r.name, None, None) for r in old
        ]
        # records without a digest never match on the tier; the rest of check still works
        [(_, v)] = idx.check_models([files["conv_other"]], hasher)
        assert "same architecture" not in _tiers(v).values()
        [(_, v)] = idx.check_models([tiny_onnx_models[0]], hasher)
        assert v.tier == "exact file"
        res = idx.rehash(hasher, checkpoint=robust)
        assert res["rehashed"] == 6
        assert [r.graph_digest for r in idx.list()] == [r.graph_digest for r in old]
        assert idx.stats()["architecture_digests"] == 6
        [(_, v)] = idx.check_models([files["conv_other"]], hasher)
        assert v.tier == "same architecture" and v.candidates[0].record.name == "convnet"
