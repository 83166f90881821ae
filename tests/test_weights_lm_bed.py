"""The language-model bed of the weight tier (issue 21): each copy builder does what its name
says on tiny untrained models, and the evaluation counts pairs and kinds on a tiny bed."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hnnframe.errors import HnnError  # noqa: E402
from hnnframe.weights import lm_copies as lc  # noqa: E402
from hnnframe.weights.lm import VOCAB, stdlib_text, tiny_model  # noqa: E402

ARCHS = ("llama", "gpt2", "bert")


@pytest.fixture(scope="module")
def text() -> list[int]:
    return stdlib_text(1, chars=20_000)


@pytest.mark.parametrize("arch", ARCHS)
def test_permuted_keeps_outputs_and_moves_units(arch: str) -> None:
    m = tiny_model(arch, 0, layers=2).eval()
    p = lc.permuted(m, seed=3)
    x = torch.randint(0, VOCAB, (3, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(m(input_ids=x).logits, p(input_ids=x).logits, atol=1e-5)
    sa, sp = m.state_dict(), p.state_dict()
    moved = [k for k in sa if not torch.equal(sa[k], sp[k])]
    assert any("mlp" in k or "intermediate" in k for k in moved)
    assert any("attn" in k or "attention" in k for k in moved)
    assert all(".0." in k or ".1." in k for k in moved)  # only the blocks' tensors


def test_permuted_refuses_a_changed_function(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    m = tiny_model("gpt2", 0).eval()
    real = lc._block_perms

    def broken(arch, config, r):  # permutes the MLP's input side only
        perms = real(arch, config, r)
        perms.pop("mlp.c_proj.weight")
        perms["mlp.c_fc.bias"] = (np.arange(len(perms["mlp.c_fc.bias"][0])), 0)
        return perms

    monkeypatch.setattr(lc, "_block_perms", broken)
    with pytest.raises(HnnError, match="another function"):
        lc.permuted(m, seed=3)


@pytest.mark.parametrize("arch", ARCHS)
def test_vocab_extended_keeps_old_rows_shape_and_adds_tokens(arch: str, text: list[int]) -> None:
    m = tiny_model(arch, 0).eval()
    v = lc.vocab_extended(m, text, new=8, steps=2, seed=0)
    emb = v.get_input_embeddings().weight
    assert tuple(emb.shape) == (VOCAB + 8, m.get_input_embeddings().weight.shape[1])
    assert v.config.vocab_size == VOCAB + 8
    ids = lc.merge_tokens(text, VOCAB, 8)
    assert len(ids) < len(text) and set(range(VOCAB, VOCAB + 8)) <= set(ids)


@pytest.mark.parametrize("arch", ARCHS)
def test_layer_dropped_removes_one_block(arch: str, text: list[int]) -> None:
    m = tiny_model(arch, 0, layers=3).eval()
    d = lc.layer_dropped(m, layer=1, ids=text, steps=0, seed=0)
    sm, sd = m.state_dict(), d.state_dict()
    blocks = {h.group(2) for k in sd for h in [lc._BLOCK.search(k)] if h}
    assert blocks == {"0", "1"}  # three blocks became two
    for k in sd:  # block 1 of the copy is block 2 of the base (untrained: steps=0)
        if ".1." in k:
            assert torch.equal(sd[k], sm[k.replace(".1.", ".2.")])
    with pytest.raises(HnnError):
        lc.layer_dropped(m, layer=3, ids=text, steps=0, seed=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_classifier_keeps_the_body(arch: str, text: list[int]) -> None:
    m = tiny_model(arch, 0).eval()
    c = lc.classifier(m, [text[:5000], text[5000:]], steps=0, seed=0)
    assert "SequenceClassification" in type(c).__name__
    sm, sc = m.state_dict(), c.state_dict()
    shared = [k for k in sc if k in sm]
    assert len(shared) > 10 and all(torch.equal(sc[k], sm[k]) for k in shared)


@pytest.mark.parametrize("arch", ARCHS)
def test_lora_merged_changes_block_matrices_only(arch: str, text: list[int]) -> None:
    m = tiny_model(arch, 0).eval()
    lo = lc.lora_merged(m, text, steps=3, seed=0)
    sm, sl = m.state_dict(), lo.state_dict()
    assert set(sm) == set(sl)  # the parametrizations are gone
    changed = [k for k in sm if not torch.equal(sm[k], sl[k])]
    assert changed and all(sm[k].ndim == 2 and lc._BLOCK.search(k) for k in changed)
    for k in changed:  # a rank-4 update
        assert torch.linalg.matrix_rank((sl[k] - sm[k]).double(), atol=1e-6) <= 4


def test_linear_merge_is_the_midpoint() -> None:
    a, b = tiny_model("gpt2", 0), tiny_model("gpt2", 1)
    m = lc.linear_merge(a, b)
    k = "transformer.h.0.mlp.c_fc.weight"
    assert torch.allclose(m.state_dict()[k], (a.state_dict()[k] + b.state_dict()[k]) / 2)


def test_lm_bed_evaluation_counts_pairs_and_kinds(tmp_path) -> None:
    from hnnframe.weights.lm_evaluate import block_agreement, evaluate_lm, fingerprint_lm_bed
    from hnnframe.weights.lm_testbed import build_lm_testbed, tiny_plan

    kinds = ("exact_shards", "fp16", "gguf_q8_0", "finetune", "permute")
    plan = tiny_plan(archs=("gpt2",), kinds=kinds)
    root = build_lm_testbed(tmp_path / "bed", plan)
    manifest, prints = fingerprint_lm_bed(root, 256)
    r = evaluate_lm(manifest, prints)
    assert r["pairs"] == 6 and r["independents"] == {"gpt2": 4}  # C(4, 2)
    assert list(r["kinds"]) == list(kinds)
    assert r["kinds"]["exact_shards"]["exact"] == 1
    assert r["exact_missed"] == {"exact_shards": 0}
    assert all(0.0 <= k["auc"] <= 1.0 for k in r["kinds"].values())
    assert r["false_per_1000"] == 1000 * r["flagged"] / 6
    blocks = block_agreement(root, manifest, "gpt2", limit=3)
    assert {b["half"] for b in blocks} == {"cloud", "gram"}
    assert all(-1.0 <= b["cosine"] <= 1.0 and b["norm"] > 0 for b in blocks)
    # a rerun trains nothing: every model is already listed
    seen: list[str] = []
    build_lm_testbed(root, plan, progress=seen.append)
    assert seen == []
