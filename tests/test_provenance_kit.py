"""The Model Provenance Kit baseline (issue 21): its documented behaviour on tiny Llama,
GPT-2 and BERT snapshot directories built by transformers (tests/support/repo.py)."""

from __future__ import annotations

import math

import pytest
from support.repo import repos  # noqa: F401 - the session fixture

from hnnframe.weights import provenance_kit as pk
from hnnframe.weights.lm import tiny_model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("arch", ["llama", "gpt2", "bert"])
def test_identical_directories_score_at_the_top(repos, arch):  # noqa: F811
    r = pk.compare(repos[arch], repos[arch])
    assert r.config_match and r.verdict == pk.CONFIRMED and r.score == 1.0
    applicable = {k: v for k, v in r.signals.items() if not math.isnan(v)}
    assert applicable and all(v == 1.0 for v in applicable.values())
    assert r.identity == 1.0


def test_config_screening_confirms_an_independent_model(repos):  # noqa: F811
    """Its documented weakness: one config is a match before any weight is looked at."""
    r = pk.compare(repos["llama"], repos["llama-other"])
    assert r.config_match and r.config_tier == 1 and r.verdict == pk.CONFIRMED
    assert r.identity < 1.0  # the weights themselves differ


def test_signals_are_in_range_and_gpt2_has_no_projections_by_name(repos):  # noqa: F811
    for arch in ("llama", "gpt2", "bert"):
        r = pk.compare(repos[arch], repos[f"{arch}-other"])
        for name, v in r.signals.items():
            assert math.isnan(v) or 0.0 <= v <= 1.0, (arch, name, v)
        assert 0.0 <= r.identity <= 1.0
    # c_attn / c_fc match none of its projection names: no weight-value cosine for GPT-2
    assert math.isnan(pk.compare(repos["gpt2"], repos["gpt2-other"]).signals["wvc"])


def test_exact_copies_in_other_formats(repos):  # noqa: F811
    """One file in fp16 keeps the stored order and nearly every value; shards of 20 KB split
    a layer's tensors across files, so the concatenation order changes and the weight-value
    cosine of identical weights collapses (its documented order dependence)."""
    assert pk.compare(repos["llama"], repos["llama-fp16"]).identity > 0.99
    shards = pk.compare(repos["llama"], repos["llama-shards"])
    assert shards.signals["eas"] == 1.0 and shards.signals["end"] == 1.0
    assert shards.signals["wvc"] < 0.5


def test_another_config_is_not_confirmed(repos, tmp_path):  # noqa: F811
    import transformers as T

    m = T.LlamaForCausalLM(
        T.LlamaConfig(
            vocab_size=96,
            hidden_size=48,
            intermediate_size=96,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
        )
    )
    m.save_pretrained(tmp_path / "wider")
    r = pk.compare(repos["llama"], tmp_path / "wider")
    assert not r.config_match and r.config_tier == 3 and r.verdict != pk.CONFIRMED
    assert r.score == r.identity and r.verdict in (
        "High-Confidence Match",
        "Weak Match",
        "Not Matched",
    )
    r = pk.compare(repos["llama"], repos["gpt2"])
    assert not r.config_match and 0.0 <= r.config_score < 0.9


def test_the_anchor_stand_in_is_the_kits_tokenizer_free_draw():
    ids = pk.anchor_ids(96)
    assert len(ids) == 64 and len(set(ids.tolist())) == 64 and ids.max() < 96
    assert (pk.anchor_ids(96) == ids).all()  # fixed seed
    assert len(pk.anchor_ids(10)) == 10  # a vocabulary under 16: no eas (the kit's limit)
    emb = tiny_model("llama", 0).model.embed_tokens.weight.detach().numpy()
    assert pk._embedding_signals(emb[:10])[0] is None
