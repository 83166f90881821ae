"""Hostile uploads for the fuzz suite (tests/test_fuzz_uploads.py) and its longer run
(benchmarks/fuzz_uploads.py): the named regressions of the hostile-uploads issue, and files made
by a seeded generator that mutates valid ONNX, safetensors, state-dict, GGUF, config, snapshot
directory (shard index and shards) and PEFT adapter uploads.

Every case lives in a folder of its own under ``ROOT/uploads``; ``ROOT/outside`` holds files that
no upload may make hnnframe open (their paths are what the hostile external-data locations,
``../`` paths and symbolic links point at).
"""

from __future__ import annotations

import json
import os
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SECRET = b"root:x:0:0:not for strangers:/root:/bin/sh\n" * 64


@dataclass
class Case:
    """One upload: ``kind`` is what it attacks, ``path`` the file or folder given to hnnframe."""

    kind: str
    path: Path


# -- valid bases ---------------------------------------------------------------------------------
def base_onnx(seed: int = 0) -> onnx.ModelProto:
    """x[1,8] -> MatMul -> Add -> Relu -> MatMul -> Add: four weight tensors, all inline."""
    rng = np.random.default_rng(seed)
    w = {
        "w1": rng.standard_normal((8, 16)).astype(np.float32),
        "b1": rng.standard_normal(16).astype(np.float32),
        "w2": rng.standard_normal((16, 4)).astype(np.float32),
        "b2": rng.standard_normal(4).astype(np.float32),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["h3"]),
        helper.make_node("Add", ["h3", "b2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(v, k) for k, v in w.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def safetensors_bytes(header: dict, data: bytes) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def base_safetensors(seed: int = 0) -> tuple[dict, bytes]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((8, 16)).astype("<f4").tobytes()
    b = rng.standard_normal(16).astype("<f4").tobytes()
    header = {
        "w": {"dtype": "F32", "shape": [8, 16], "data_offsets": [0, len(a)]},
        "b": {"dtype": "F32", "shape": [16], "data_offsets": [len(a), len(a) + len(b)]},
    }
    return header, a + b


def tiny_config() -> dict:
    return {
        "model_type": "llama",
        "vocab_size": 128,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "max_position_embeddings": 128,
    }


# -- one folder per case ---------------------------------------------------------------------------
class Maker:
    """Writes cases under ``root``; ``outside`` is the folder no case may reach."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.outside = root / "outside"
        self.outside.mkdir(parents=True, exist_ok=True)
        self.secret = self.outside / "secret.bin"
        self.secret.write_bytes(SECRET)
        self.cases: list[Case] = []

    def folder(self, kind: str) -> Path:
        d = self.root / "uploads" / f"{len(self.cases):04d}-{kind}"
        d.mkdir(parents=True)
        return d

    def add(self, kind: str, name: str, data: bytes | None = None) -> Path:
        d = self.folder(kind)
        p = d / name
        if data is not None:
            p.write_bytes(data)
        self.cases.append(Case(kind, p))
        return p

    def onnx_external(
        self, kind: str, where: str, mutate: Callable[[Path], None] | None = None, **info: str
    ) -> Path:
        """The base model with ``w1`` stored externally at location ``where`` (other keys of
        its external data: ``offset``, ``length``); ``mutate`` prepares the folder."""
        d = self.folder(kind)
        m = base_onnx()
        t = next(t for t in m.graph.initializer if t.name == "w1")
        raw = t.raw_data or numpy_helper.to_array(t).astype("<f4").tobytes()
        t.ClearField("raw_data")
        t.ClearField("float_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in {"location": where, **info}.items():
            t.external_data.add(key=k, value=v)
        (d / "w1.bin").write_bytes(raw)
        if mutate:
            mutate(d)
        p = d / "model.onnx"
        p.write_bytes(m.SerializeToString())
        self.cases.append(Case(kind, p))
        return p


def named_cases(mk: Maker) -> None:
    """The cases the hostile-uploads issue lists, each a regression test."""
    out = mk.outside

    # 1. declared sizes far beyond the bytes present
    def huge(d: Path) -> None:
        (d / "tiny.bin").write_bytes(b"\0" * 64)

    p = mk.onnx_external("onnx-ext-1e6x1e6", "tiny.bin", huge)
    m = onnx.load(str(p), load_external_data=False)
    m.graph.initializer[0].ClearField("dims")
    m.graph.initializer[0].dims.extend([10**6, 10**6])
    p.write_bytes(m.SerializeToString())
    header, data = base_safetensors()
    header["w"]["shape"] = [10**30]
    mk.add("st-shape-1e30", "model.safetensors", safetensors_bytes(header, data))
    # 2. locations outside the upload
    mk.onnx_external("onnx-ext-absolute", str(mk.secret))
    mk.onnx_external("onnx-ext-dotdot", os.path.relpath(mk.secret, mk.root / "uploads" / "x"))
    mk.onnx_external(
        "onnx-ext-symlink", "link.bin", lambda d: (d / "link.bin").symlink_to(mk.secret)
    )
    mk.onnx_external(
        "onnx-ext-symlink-dir", "sub/secret.bin", lambda d: (d / "sub").symlink_to(out)
    )
    mk.onnx_external("onnx-ext-loop", "loop.bin", lambda d: (d / "loop.bin").symlink_to("loop.bin"))
    mk.onnx_external("onnx-ext-fifo", "fifo.bin", lambda d: os.mkfifo(d / "fifo.bin"))
    mk.onnx_external("onnx-ext-dir", "sub", lambda d: (d / "sub").mkdir())
    mk.onnx_external("onnx-ext-self", "model.onnx")
    mk.onnx_external("onnx-ext-nul", "w1\0.bin")
    # 7. offsets and lengths
    mk.onnx_external("onnx-ext-negative-offset", "w1.bin", offset="-64")
    mk.onnx_external("onnx-ext-huge-offset", "w1.bin", offset=str(2**62))
    mk.onnx_external("onnx-ext-bad-length", "w1.bin", length="lots")
    mk.onnx_external("onnx-ext-short", "w1.bin", length="8")
    header, data = base_safetensors()
    header["w"]["data_offsets"] = [-64, 448]
    mk.add("st-negative-offset", "model.safetensors", safetensors_bytes(header, data))
    # 4. a config that would build forever
    c = tiny_config() | {"num_hidden_layers": 100_000}
    d = mk.add("config-100k-layers", "config.json", json.dumps(c).encode()).parent
    mk.cases[-1] = Case("config-100k-layers", d)
    d = mk.folder("config-link-outside")  # a config.json that is a link out of its folder
    (d / "config.json").symlink_to(mk.secret)
    mk.cases.append(Case("config-link-outside", d))
    # odd things given as the upload itself
    d = mk.folder("upload-fifo")
    os.mkfifo(d / "model.onnx")
    mk.cases.append(Case("upload-fifo", d / "model.onnx"))
    d = mk.folder("upload-loop")
    (d / "model.onnx").symlink_to("model.onnx")
    mk.cases.append(Case("upload-loop", d / "model.onnx"))
    mk.cases.append(Case("upload-directory", mk.folder("upload-directory")))
    # names that would forge output lines or reorder them
    mk.add("name-newline", "x\nclean    spoof.onnx: no indexed model.onnx", b"\x08\x07junk")
    mk.add("name-bidi", "model\u202egnp.onnx", b"\x08\x07junk")


# -- the seeded generator -------------------------------------------------------------------------
def _flip(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(1, len(data))]


def _wild(rng: random.Random) -> object:
    return rng.choice(
        [
            -1,
            0,
            1,
            2**31,
            2**63,
            10**30,
            -(2**63),
            3.5,
            "x",
            None,
            [],
            {},
            True,
            [1, 2],
            [10**9, 10**9],
        ]
    )


def _onnx_case(mk: Maker, rng: random.Random) -> None:
    m = base_onnx(rng.randrange(1000))
    how = rng.choice(["flip", "truncate", "dims", "external", "rawdata", "dtype"])
    if how in ("flip", "truncate"):
        data = m.SerializeToString()
        mk.add(f"onnx-{how}", "model.onnx", (_flip if how == "flip" else _truncate)(data, rng))
        return
    t = rng.choice(list(m.graph.initializer))
    if how == "dims":
        t.ClearField("dims")
        t.dims.extend(rng.choice([[2**40, 2**40], [-5, 8], [0], [1] * 70, [2**62, 4]]))
    elif how == "rawdata":
        t.raw_data = t.raw_data[: rng.randrange(0, len(t.raw_data) + 1)] + os.urandom(
            rng.randrange(4)
        )
    elif how == "dtype":
        t.data_type = rng.choice([0, 8, 16, 21, 22, 99, 10**6 % 2**31])
    else:
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        where = rng.choice(
            [
                str(mk.secret),
                "../../outside/secret.bin",
                "nope.bin",
                "",
                "/dev/zero",
                "/proc/self/mem",
                "data.bin",
            ]
        )
        t.external_data.add(key="location", value=where)
        for key in rng.sample(["offset", "length", "checksum"], rng.randrange(3)):
            t.external_data.add(key=key, value=str(_wild(rng)))
    p = mk.add(f"onnx-{how}", "model.onnx", m.SerializeToString())
    (p.parent / "data.bin").write_bytes(os.urandom(rng.randrange(0, 256)))


def _safetensors_case(mk: Maker, rng: random.Random) -> None:
    header, data = base_safetensors(rng.randrange(1000))
    how = rng.choice(["flip", "truncate", "field", "length", "json"])
    if how == "field":
        entry = header[rng.choice(["w", "b"])]
        entry[rng.choice(["dtype", "shape", "data_offsets"])] = _wild(rng)
    blob = safetensors_bytes(header, data)
    if how == "flip":
        blob = _flip(blob, rng)
    elif how == "truncate":
        blob = _truncate(blob, rng)
    elif how == "length":
        blob = struct.pack("<Q", rng.choice([0, 7, 2**40, 2**64 - 1])) + blob[8:]
    elif how == "json":
        depth = rng.choice([10, 10_000, 200_000])
        blob = safetensors_bytes({}, b"")[:0]
        body = ("[" * depth + "]" * depth).encode()
        blob = struct.pack("<Q", len(body)) + body
    mk.add(f"st-{how}", "model.safetensors", blob)


def _state_dict_case(mk: Maker, rng: random.Random, valid: bytes) -> None:
    how = rng.choice(["flip", "truncate", "pickle"])
    if how == "pickle":  # a pickle that would run a command if it were trusted
        blob = b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R."
    else:
        blob = (_flip if how == "flip" else _truncate)(valid, rng)
    mk.add(f"pt-{how}", "model.pt", blob)


def gguf_bytes(block_count: int = 2, arch: str = "llama") -> bytes:
    """A small valid GGUF file (the ``gguf`` package's writer): llama metadata and two tensors."""
    import tempfile

    import gguf

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.gguf")
        w = gguf.GGUFWriter(path, arch)
        w.add_block_count(block_count)
        w.add_embedding_length(32)
        w.add_context_length(128)
        w.add_feed_forward_length(64)
        w.add_head_count(2)
        w.add_head_count_kv(2)
        w.add_vocab_size(128)
        w.add_tensor("token_embd.weight", np.ones((128, 32), np.float32))
        w.add_tensor("blk.0.attn_q.weight", np.ones((32, 32), np.float16))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return Path(path).read_bytes()


def _gguf_case(mk: Maker, rng: random.Random, valid: bytes) -> None:
    how = rng.choice(["header", "flip", "truncate", "dims", "layers"])
    if how == "header":
        n_tensors = rng.choice([1, 2**40, 2**63])
        head = b"GGUF" + struct.pack("<IQQ", 3, n_tensors, rng.choice([0, 1, 2**50]))
        blob = head + os.urandom(rng.randrange(0, 128))
    elif how in ("flip", "truncate"):
        blob = (_flip if how == "flip" else _truncate)(valid, rng)
    elif how == "dims":  # the tensor info after a name: n_dims (u32), then each dim (u64)
        at = valid.find(b"blk.0.attn_q.weight") + len(b"blk.0.attn_q.weight")
        dims = struct.pack("<IQQ", 2, rng.choice([2**40, 2**62, 0]), rng.choice([32, 2**40]))
        blob = valid[:at] + dims + valid[at + len(dims) :]
    else:
        blob = gguf_bytes(block_count=rng.choice([100_000, 2**31]))
    mk.add(f"gguf-{how}", "model.gguf", blob)


def _repo_case(mk: Maker, rng: random.Random) -> None:
    """A snapshot directory: config.json, a shard index and shards, some of them hostile."""
    d = mk.folder("repo")
    (d / "config.json").write_text(json.dumps(tiny_config()))
    header, data = base_safetensors(rng.randrange(1000))
    how = rng.choice(["outside", "absolute", "symlink", "missing", "shape", "index", "fifo", "bin"])
    shard = "model-00001-of-00001.safetensors"
    if how == "shape":
        header["w"]["shape"] = [10**30]
    (d / shard).write_bytes(safetensors_bytes(header, data))
    target = {
        "outside": os.path.relpath(mk.secret, d),
        "absolute": str(mk.secret),
        "symlink": "link.safetensors",
        "missing": "gone.safetensors",
        "fifo": "fifo.safetensors",
    }.get(how, shard)
    if how == "symlink":
        (d / "link.safetensors").symlink_to(mk.secret)
    if how == "fifo":
        os.mkfifo(d / "fifo.safetensors")
    weight_map = {"w": shard, "b": target}
    index = {"metadata": {}, "weight_map": weight_map}
    if how == "index":
        index = rng.choice([{"weight_map": [1, 2]}, {"weight_map": {"w": 5}}, [], "x"])
    if how == "bin":
        (d / shard).unlink()
        (d / "pytorch_model.bin").write_bytes(os.urandom(rng.randrange(1, 256)))
    else:
        (d / "model.safetensors.index.json").write_text(json.dumps(index))
    mk.cases.append(Case(f"repo-{how}", d))


def _adapter_case(mk: Maker, rng: random.Random) -> None:
    d = mk.folder("adapter")
    cfg = {
        "peft_type": "LORA",
        "r": 4,
        "lora_alpha": 8,
        "target_modules": ["q_proj", "v_proj"],
        "base_model_name_or_path": str(mk.secret),
    }
    cfg[rng.choice(["r", "target_modules", "peft_type"])] = _wild(rng)
    (d / "adapter_config.json").write_text(json.dumps(cfg))
    a = np.ones((4, 32), "<f4").tobytes()
    shape = rng.choice([[4, 32], [10**30, 32], [-4, 32]])
    name = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
    header = {name: {"dtype": "F32", "shape": shape, "data_offsets": [0, len(a)]}}
    (d / "adapter_model.safetensors").write_bytes(safetensors_bytes(header, a))
    mk.cases.append(Case("adapter", d))


def _config_case(mk: Maker, rng: random.Random) -> None:
    c = tiny_config()
    how = rng.choice(["field", "text", "nesting", "type"])
    if how == "field":
        c[rng.choice(list(c))] = _wild(rng)
        text = json.dumps(c)
    elif how == "text":
        text = _flip(json.dumps(c).encode(), rng).decode("latin-1")
    elif how == "nesting":
        depth = rng.choice([20, 100_000])
        text = json.dumps(c)[:-1] + ', "sub": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    else:
        c["model_type"] = _wild(rng)
        text = json.dumps(c)
    d = mk.folder(f"config-{how}")
    (d / "config.json").write_text(text, encoding="latin-1")
    mk.cases.append(Case(f"config-{how}", d))


def generate(root: Path, seed: int, n: int, state_dict: bytes) -> tuple[Maker, list[Case]]:
    """The named cases and ``n`` seeded mutations (``state_dict``: a valid ``torch.save``)."""
    mk = Maker(root)
    named_cases(mk)
    rng = random.Random(seed)
    gguf_valid = gguf_bytes()
    makers = [
        lambda: _onnx_case(mk, rng),
        lambda: _safetensors_case(mk, rng),
        lambda: _state_dict_case(mk, rng, state_dict),
        lambda: _gguf_case(mk, rng, gguf_valid),
        lambda: _config_case(mk, rng),
        lambda: _repo_case(mk, rng),
        lambda: _adapter_case(mk, rng),
    ]
    for _ in range(n):
        rng.choice(makers)()
    return mk, mk.cases


#: Run in a subprocess: ``hnn ARGV`` with an audit hook that records every file opened whose real
#: path is under ``$HNN_AUDIT_OUTSIDE`` into ``$HNN_AUDIT_LOG`` (a JSON list).
AUDITED_CLI = r"""
import json, os, sys
outside = os.path.realpath(os.environ["HNN_AUDIT_OUTSIDE"])
hits = []
def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        try:
            real = os.path.realpath(os.fsdecode(args[0]))
        except (OSError, ValueError):
            return
        if real == outside or real.startswith(outside + os.sep):
            hits.append(real)
sys.addaudithook(hook)
try:
    from hnnframe.cli import main
    rc = main(sys.argv[1:])
finally:
    with open(os.environ["HNN_AUDIT_LOG"], "w") as f:
        json.dump(hits, f)
sys.exit(rc)
"""
