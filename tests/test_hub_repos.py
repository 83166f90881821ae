"""A model repository is the upload (issue 18): snapshot directories (one file, shards,
``pytorch_model.bin``, fp16, bf16) and GGUF files are one model each in the weight tier and
the index, and nothing they name is read outside their folder.

Real tiny Llama, GPT-2 and BERT models saved by transformers (tests/support/repo.py); GGUF
files written with the ``gguf`` package as llama.cpp's converter writes them (q/k rows
permuted for Llama, GPT-2's Conv1D weights transposed)."""

from __future__ import annotations

import json
import shutil

import pytest
from support.index import run_cli

import hnnframe.index as hindex
from hnnframe.errors import ModelLoadError
from hnnframe.repo import directory_sha256, weight_files
from hnnframe.weights.fingerprint import fingerprint, match

pytest_plugins = ["support.index", "support.repo"]
ARCHS = ("llama", "gpt2", "bert")


@pytest.mark.parametrize("arch", ARCHS)
def test_formats_of_one_model_match(repos, arch) -> None:
    base = fingerprint(repos[arch])
    assert base.format == "snapshot" and base.sha256 == directory_sha256(repos[arch])
    for kind in ("shards", "bin", "F32"):  # the same float32 tensors
        assert match(base, fingerprint(repos[f"{arch}-{kind}"])).verdict == "exact tensors", kind
    for kind in ("fp16", "bf16", "F16", "Q8_0"):  # rounded: the weight code still matches
        v = match(base, fingerprint(repos[f"{arch}-{kind}"]))
        assert v.verdict in ("weight match", "exact tensors"), (kind, v)
    # an fp16 save and its GGUF F16 export hold the very same fp16 values
    if arch != "bert":  # (the converter drops BERT's MLM head: still every GGUF tensor)
        assert match(fingerprint(repos[f"{arch}-fp16"]), fingerprint(repos[f"{arch}-F16"])).shared
    assert match(base, fingerprint(repos[f"{arch}-other"])).verdict == "none"


def test_gguf_llama_rows_unpermuted_and_named(repos) -> None:
    from hnnframe.weights.readers import iter_tensors

    hf = dict(iter_tensors(repos["llama"]))
    gg = dict(iter_tensors(repos["llama-F32"]))
    q = "model.layers.0.self_attn.q_proj.weight"
    k = "model.layers.0.self_attn.k_proj.weight"
    assert (gg[q] == hf[q]).all() and (gg[k] == hf[k]).all()  # exact, in HF order


def test_gguf_structure_is_its_config(repos) -> None:
    from hnnframe.frontends.gguf import config_from_gguf

    for arch in ("llama", "gpt2"):
        cfg = config_from_gguf(repos[f"{arch}-Q8_0"])
        want = json.loads((repos[arch] / "config.json").read_text())
        assert cfg.model_type == arch and cfg.vocab_size == want["vocab_size"] == 96
        layers = cfg.num_hidden_layers if arch == "llama" else cfg.n_layer
        assert layers == 2


def test_hostile_repositories_refused(repos, tmp_path) -> None:
    up = tmp_path / "up"
    shutil.copytree(repos["llama-shards"], up)
    index = json.loads((up / "model.safetensors.index.json").read_text())
    secret = tmp_path / "secret.safetensors"
    shutil.copy(next(up.glob("model-0*.safetensors")), secret)
    for bad in ("../secret.safetensors", str(secret)):
        first = next(iter(index["weight_map"]))
        index["weight_map"][first] = bad
        (up / "model.safetensors.index.json").write_text(json.dumps(index))
        with pytest.raises(ModelLoadError, match="outside the model's folder|not a relative"):
            fingerprint(up)
    # a symlink leaving the folder
    link = tmp_path / "link"
    link.mkdir()
    shutil.copy(repos["llama"] / "config.json", link)
    (link / "model.safetensors").symlink_to(repos["llama"] / "model.safetensors")
    with pytest.raises(ModelLoadError, match="outside the model's folder"):
        weight_files(link)
    # a truncated GGUF: one line naming the file
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(repos["llama-F16"].read_bytes()[:-1000])
    with pytest.raises(ModelLoadError) as e:
        fingerprint(cut)
    assert str(e.value).startswith(str(cut)) and "\n" not in str(e.value)


def test_index_a_snapshot_directory(
    url, repos, weight_hasher, tiny_checkpoint, tmp_path, capsys
) -> None:
    with hindex.open(url) as idx:
        (rec,) = idx.add_models([repos["llama"]], weight_hasher, checkpoint=str(tiny_checkpoint))
        assert rec.ok and rec.added and rec.name == "llama" and rec.weights
        assert rec.key == directory_sha256(repos["llama"])
        copy = tmp_path / "elsewhere" / "renamed"
        shutil.copytree(repos["llama"], copy)
        (again,) = idx.add_models([copy], weight_hasher)
        assert not again.added and again.id == rec.id  # a copied directory is already in
    rc, out, _ = run_cli(capsys, "check", "--db", url, copy)
    assert rc == 1 and "exact file" in out, out
    rc, out, _ = run_cli(capsys, "check", "--db", url, repos["llama-shards"])
    assert rc == 1 and "exact tensors" in out, out
    rc, out, _ = run_cli(capsys, "check", "--db", url, repos["llama-Q8_0"])
    assert rc == 1 and "weight match" in out, out
    rc, out, _ = run_cli(capsys, "check", "--db", url, repos["llama-other"])
    assert "weight match" not in out and "exact" not in out, out


def test_weights_only_directory_takes_structure(url, repos, weight_hasher, tmp_path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(repos["gpt2-shards"], bare)
    (bare / "config.json").unlink()
    with hindex.open(url) as idx:
        (r,) = idx.add_models([bare], weight_hasher)
        assert not r.ok and "--structure" in r.error and "\n" not in r.error
        (r,) = idx.add_models([bare], weight_hasher, structure=str(repos["gpt2"]))
        assert r.ok and r.weights and r.name == "bare"
        # or its structure from the one ONNX graph inside it
        import onnx

        from hnnframe.sources import to_onnx

        with_graph = tmp_path / "with_graph"
        shutil.copytree(repos["gpt2-other"], with_graph)
        (with_graph / "config.json").unlink()
        onnx.save(to_onnx(repos["gpt2"]), str(with_graph / "model.onnx"))
        (g,) = idx.add_models([with_graph], weight_hasher)
        assert g.ok and g.added and g.weights and g.name == "with_graph", g.error
        byid = {x.id: x for x in idx.list()}
        assert byid[g.id].code == byid[r.id].code  # one architecture, read two ways


def test_cli_hash_and_compare_repositories(repos, tiny_checkpoint, capsys) -> None:
    from hnnframe.cli import main

    srcs = [repos["gpt2"], repos["gpt2-shards"], repos["gpt2-F16"]]
    assert main(["hash", "--checkpoint", str(tiny_checkpoint), *map(str, srcs)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[-1] for ln in lines] == list(map(str, srcs))
    assert len({ln.split()[0] for ln in lines[:2]}) == 1  # one config: one structural code
    assert len(lines[0].split()) == 3  # code, bits, path: no predicted category
    assert main(["weights", "compare", str(repos["gpt2"]), str(repos["gpt2-shards"])]) == 1
    assert capsys.readouterr().out.startswith("exact tensors")
    assert main(["weights", "compare", str(repos["gpt2"]), str(repos["gpt2-other"])]) == 0
    assert capsys.readouterr().out.startswith("none")


def test_source_registry_sniffs_every_kind(repos, tmp_path, tiny_onnx_models) -> None:
    from support.repo import write_adapter

    from hnnframe.sources import SOURCES, kind_of

    st = next(repos["llama-shards"].glob("model-0*.safetensors"))
    cases = {
        "torchvision:resnet18": "torchvision",
        "timm:resnet18": "timm",
        "hf:gpt2:tiny": "hf_name",
        str(repos["gpt2"] / "config.json"): "hf_config",
        str(repos["llama"]): "snapshot",
        str(repos["llama-bin"]): "snapshot",
        str(repos["llama-F16"]): "gguf",
        str(st): "safetensors",
        str(repos["llama-bin"] / "pytorch_model.bin"): "state_dict",
        str(tiny_onnx_models[0]): "onnx",
        str(write_adapter(tmp_path / "ad", "gpt2")): "adapter",
        str(tmp_path / "missing.onnx"): None,
    }
    assert {s: kind_of(s) for s in cases} == cases
    # every kind says what it gives; a weights-only directory gives no structure
    assert all(SOURCES.get(n).GIVES for n in SOURCES.names())
    bare = tmp_path / "bare"
    shutil.copytree(repos["gpt2"], bare)
    (bare / "config.json").unlink()
    assert SOURCES.get("snapshot")().gives(str(bare)) == {"weights"}


def test_demo_language_model_part(weight_hasher, tmp_path, monkeypatch) -> None:
    """`hnn demo` step 5, with a few training steps: the fine-tuned shards and their GGUF
    export are caught on their weights, the independent model of the same config is not."""
    from hnnframe.commands import demo_lm

    monkeypatch.setattr(demo_lm, "STEPS", 10)
    monkeypatch.setattr(demo_lm, "TUNE_STEPS", 5)
    lines: list[str] = []
    verdicts = demo_lm.run(str(tmp_path), weight_hasher, lines.append)
    assert [v["suspect"] for v in verdicts] == [True, True, False], lines
    assert verdicts[0]["tier"] == verdicts[1]["tier"] == "weight match"
    assert verdicts[2]["tier"] == "same architecture"  # one config, other weights


def test_gguf_metadata_within_limits(tmp_path) -> None:
    """A GGUF whose metadata declares a million layers is refused before anything is built."""
    import gguf
    import numpy as np

    from hnnframe.errors import HnnError
    from hnnframe.sources import to_onnx

    path = tmp_path / "huge.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    for key, value in (
        ("block_count", 10**6),
        ("embedding_length", 32),
        ("attention.head_count", 4),
        ("feed_forward_length", 64),
    ):
        w.add_uint32(f"llama.{key}", value)
    w.add_tensor("token_embd.weight", np.ones((96, 32), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(HnnError) as e:
        to_onnx(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_weights_files_named_after_their_repository() -> None:
    from hnnframe.frontends import model_name

    assert model_name("/hub/org-llama/model.safetensors") == "org-llama"
    assert model_name("/hub/gpt2-ft/model-00002-of-00012.safetensors") == "gpt2-ft"
    assert model_name("/hub/bert/pytorch_model.bin") == "bert"
    assert model_name("/hub/x/resnet18-seed3.safetensors") == "resnet18-seed3"
