"""PEFT adapters as uploads (issue 18, item 4): ``check`` names the base architecture from
the adapter's tensor shapes, module paths and layer count (never from
``base_model_name_or_path``), the indexed models it can be applied to, and the verdict
``adapter for #N``. Adapters are written in PEFT's layout (tests/support/repo.py), and once
by PEFT itself when it is installed."""

from __future__ import annotations

import json

import pytest
from support.index import run_cli
from support.repo import tiny_model, write_adapter

import hnnframe.index as hindex
from hnnframe.errors import ModelLoadError
from hnnframe.weights.adapter import read_adapter

pytest_plugins = ["support.index", "support.repo"]


@pytest.fixture
def indexed(url, repos, weight_hasher, tiny_checkpoint) -> dict[str, int]:
    """An index of the three tiny bases and an independent Llama of the same config."""
    names = ["llama", "gpt2", "bert", "llama-other"]
    with hindex.open(url) as idx:
        res = idx.add_models(
            [repos[n] for n in names], weight_hasher, checkpoint=str(tiny_checkpoint)
        )
    assert all(r.ok for r in res), [r.error for r in res]
    return {n: r.id for n, r in zip(names, res, strict=True)}


def test_architecture_from_shapes(tmp_path) -> None:
    a = read_adapter(write_adapter(tmp_path / "a", "llama", base_name="gpt2"))
    assert a.family.startswith("llama") and (a.hidden, a.layers, a.rank) == (32, 2, 4)
    assert a.targets == ["q_proj", "v_proj"]
    assert read_adapter(write_adapter(tmp_path / "g", "gpt2")).family == "gpt2"
    assert read_adapter(write_adapter(tmp_path / "b", "bert")).family.startswith("bert")


@pytest.mark.parametrize("arch", ["gpt2", "bert"])
def test_adapter_for_its_base(url, indexed, tmp_path, capsys, arch) -> None:
    up = write_adapter(tmp_path / "up", arch, base_name="meta-llama/Llama-2-7b")  # a lie
    rc, out, _ = run_cli(capsys, "check", "--db", url, up)
    assert rc == 1 and f"adapter for #{indexed[arch]};" in out, out
    rc, out, _ = run_cli(capsys, "check", "--db", url, up, "--json")
    doc = json.loads(out)[0]
    assert doc["bases"] == [indexed[arch]] and doc["architecture"]["layers_at_least"] == 2


def test_same_config_models_told_apart_by_saved_tensors(url, indexed, tmp_path, capsys) -> None:
    up = write_adapter(tmp_path / "plain", "llama")
    rc, out, _ = run_cli(capsys, "check", "--db", url, up)
    ids = sorted([indexed["llama"], indexed["llama-other"]])
    assert rc == 1 and f"adapter for one of #{ids[0]}, #{ids[1]}" in out, out
    emb = tiny_model("llama", 0).model.embed_tokens.weight  # the base's, saved whole
    up = write_adapter(tmp_path / "saved", "llama", whole={"model.embed_tokens.weight": emb})
    rc, out, _ = run_cli(capsys, "check", "--db", url, up)
    assert rc == 1 and f"adapter for #{indexed['llama']};" in out, out


def test_adapter_of_another_width_has_no_base(url, indexed, tmp_path, capsys) -> None:
    up = write_adapter(tmp_path / "three", "llama", layers=3)  # a 3-layer base
    rc, out, _ = run_cli(capsys, "check", "--db", url, up)
    assert rc == 0 and "no indexed model it can be applied to" in out, out


def test_broken_adapter_is_one_line(tmp_path) -> None:
    up = write_adapter(tmp_path / "x", "gpt2")
    (up / "adapter_model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ModelLoadError) as e:
        read_adapter(up)
    assert "\n" not in str(e.value)


def test_peft_saved_adapter(url, repos, indexed, tmp_path, capsys) -> None:
    peft = pytest.importorskip("peft")
    import transformers as T

    model = T.AutoModelForCausalLM.from_pretrained(repos["gpt2"])
    cfg = peft.LoraConfig(r=4, target_modules=["c_attn", "c_fc"], task_type="CAUSAL_LM")
    peft.get_peft_model(model, cfg).save_pretrained(tmp_path / "peft")
    rc, out, _ = run_cli(capsys, "check", "--db", url, tmp_path / "peft")
    assert rc == 1 and f"adapter for #{indexed['gpt2']};" in out, out


def test_adapters_and_models_in_one_check(url, repos, indexed, tmp_path, capsys) -> None:
    """One check of an adapter, a broken adapter and a model: each gets its verdict or its
    own error line, in the order given."""
    good = write_adapter(tmp_path / "good", "gpt2")
    bad = write_adapter(tmp_path / "bad", "gpt2")
    (bad / "adapter_model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{" * 3)
    rc, out, err = run_cli(capsys, "check", "--db", url, "--json", good, bad, repos["gpt2-shards"])
    rows = json.loads(out)
    assert rc == 1 and [r["upload"] for r in rows] == [
        str(good),
        str(bad),
        str(repos["gpt2-shards"]),
    ]
    assert rows[0]["verdict"] == f"adapter for #{indexed['gpt2']}" and rows[0]["suspect"]
    assert rows[1]["unreadable"] and rows[1]["error"].startswith(str(bad))
    assert rows[2]["tier"] == "exact tensors"
    rc, out, err = run_cli(capsys, "check", "--db", url, good, bad)
    assert rc == 1 and out.startswith(f"SUSPECT  {good}: adapter for #{indexed['gpt2']};")
    assert err.count("hnn: error:") == 1 and str(bad) in err


def test_trained_adapter_names_its_own_base(
    url, weight_hasher, tiny_checkpoint, tmp_path, capsys
) -> None:
    """Two trained Llamas of one config: a LoRA trained on the second is named its adapter,
    by the alignment of its lora_A rows with that model's weights; the other model's z is
    that of an unrelated model."""
    from hnnframe.weights.lm import stdlib_text, train
    from hnnframe.weights.lm import tiny_model as lm_model
    from hnnframe.weights.lm_copies import trained_adapter

    text, other_text = stdlib_text(0, 60_000), stdlib_text(1, 60_000)
    bases = [train(lm_model("llama", s), text, 120, s) for s in (10, 11)]
    for i, m in enumerate(bases):
        m.save_pretrained(tmp_path / f"base{i}")
    with hindex.open(url) as idx:
        res = idx.add_models(
            [tmp_path / "base0", tmp_path / "base1"], weight_hasher, checkpoint=str(tiny_checkpoint)
        )
    ids = [r.id for r in res]
    up = trained_adapter(bases[1], other_text, 150, seed=3, out=tmp_path / "lora")
    rc, out, _ = run_cli(capsys, "check", "--db", url, up, "--json")
    doc = json.loads(out)[0]
    assert rc == 1 and doc["bases"] == [ids[1]], doc
    z = {f["id"]: f["alignment_z"] for f in doc["fits"]}
    assert z[ids[1]] >= 4 and abs(z[ids[0]]) < 3, z
    rc, out, _ = run_cli(capsys, "check", "--db", url, up)
    assert f"adapter for #{ids[1]};" in out and "lora_A alignment z = " in out, out
