"""Weight fingerprint speed and memory on a synthetic 100M-parameter model (issue 12, item 4).

Writes a transformer-shaped model (token embedding, blocks of q/k/v/o and FFN matrices,
LayerNorms) as safetensors and as ONNX with external data into a temporary folder, then
fingerprints each file in a fresh subprocess and records its wall time and peak RSS beside
the RSS of a subprocess that only imports the same modules, and the size of the largest
tensor. Results go to docs/bench_weights.md.

A second table (issue 21, item 3) does the same for a synthetic Llama-shaped model of about
1.1B parameters (:mod:`bench_llm`: TinyLlama's layout, bf16, 5 safetensors shards in a
snapshot directory) and for its GGUF Q8_0 export (:func:`hnnframe.weights.gguf_export.export_gguf`),
beside the time ``cat`` takes to read the same files once (page cache warm, as for the
fingerprint) and the fingerprint's throughput in parameters per CPU-second. The files are
written under ``--llm-dir`` and kept there when it is given (a rerun reuses them), else in a
temporary folder deleted at the end.

    .venv/bin/python benchmarks/bench_weights.py            # 100M and 1.1B parameters
    .venv/bin/python benchmarks/bench_weights.py --params 10e6 --llm-params 0 --out /tmp/b.md
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import command as bench_command  # noqa: E402
from bench_llm import llama_spec, write_snapshot  # noqa: E402

from hnnframe.files import atomic_write  # noqa: E402

CHILD = r"""
import json, os, sys, time
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
mode, path, bits = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
from hnnframe.weights.fingerprint import fingerprint
import onnx, scipy.special  # what reading either format imports
t1 = time.perf_counter()
before = status("VmRSS:")
c1 = sum(os.times()[:2])
fp = fingerprint(path, bits) if mode == "run" else None
t2 = time.perf_counter()
cpu = sum(os.times()[:2]) - c1
print(json.dumps({"import_s": t1 - t0, "fingerprint_s": t2 - t1, "cpu_s": cpu,
                  "peak_rss": status("VmHWM:"),
                  "rss_before": before,
                  "tensors": fp.tensors if fp else 0, "params": fp.params if fp else 0,
                  "largest": fp.largest if fp else 0}))
"""


def shapes(params: float, dim: int = 1024, vocab: int = 32000) -> list[tuple[str, tuple]]:
    """Tensor names and shapes of a GPT-like model of about ``params`` parameters."""
    out: list[tuple[str, tuple]] = [("emb", (vocab, dim)), ("pos", (512, dim))]
    per_block = 4 * dim * dim + 8 * dim * dim + 4 * dim
    for b in range(max(1, -(-int(params - vocab * dim - 512 * dim) // per_block))):
        for n in ("q", "k", "v", "o"):
            out.append((f"b{b}.{n}", (dim, dim)))
        out += [
            (f"b{b}.ff1", (4 * dim, dim)),
            (f"b{b}.ff2", (dim, 4 * dim)),
            (f"b{b}.ln1", (dim,)),
            (f"b{b}.ln2", (dim,)),
        ]
    return out


def tensors(spec: list[tuple[str, tuple]]):
    rng = np.random.default_rng(0)
    for name, shape in spec:
        yield name, (rng.standard_normal(shape, dtype=np.float32) * 0.02)


def write_safetensors(spec, path: Path) -> None:
    """Header, then each tensor's bytes, written as they are made (never all in memory)."""
    header, offset = {}, 0
    for name, shape in spec:
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        for _name, arr in tensors(spec):
            f.write(arr.tobytes())


def write_onnx(spec, path: Path) -> None:
    """An ONNX graph (Gather, then MatMul per matrix) whose initializers live in one
    external data file, written tensor by tensor."""
    import onnx
    from onnx import TensorProto, helper

    data = path.with_suffix(".bin")
    inits, nodes, offset = [], [], 0
    with open(data, "wb") as f:
        for name, arr in tensors(spec):
            t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=arr.shape)
            t.data_location = TensorProto.EXTERNAL
            for k, v in (
                ("location", data.name),
                ("offset", str(offset)),
                ("length", str(arr.nbytes)),
            ):
                e = t.external_data.add()
                e.key, e.value = k, v
            f.write(arr.tobytes())
            offset += arr.nbytes
            inits.append(t)
    x = helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 8])
    nodes.append(helper.make_node("Gather", ["emb", "ids"], ["h0"]))
    last = "h0"
    for i, (name, shape) in enumerate(spec[2:]):
        if len(shape) == 2 and shape[0] == 1024:
            nodes.append(helper.make_node("MatMul", [last, name], [f"h{i + 1}"]))
            last = f"h{i + 1}"
    y = helper.make_tensor_value_info(last, TensorProto.FLOAT, [1, 8, 1024])
    graph = helper.make_graph(nodes, "bench", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    onnx.checker.check_model(str(path))


def cat_seconds(files: list[Path], repeat: int = 3) -> float:
    """Median wall time of ``cat FILES > /dev/null`` (after one read that warms the cache)."""
    cmd = "cat " + " ".join(shlex.quote(str(f)) for f in files) + " > /dev/null"
    times = []
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        subprocess.run(cmd, shell=True, check=True)
        times.append(time.perf_counter() - t0)
    return sorted(times[1:])[repeat // 2]


def llm_files(params: float, folder: Path) -> dict[str, tuple[Path, list[Path]]]:
    """The 1.1B snapshot directory and its GGUF Q8_0 export under ``folder`` (written once):
    ``{format: (path to fingerprint, files cat reads)}``."""
    from hnnframe.repo import weight_files
    from hnnframe.weights.gguf_export import export_gguf

    snap, gguf_path = folder / f"llama-{params / 1e9:.1f}B", folder / "model-Q8_0.gguf"
    if not (snap / "config.json").is_file():
        write_snapshot(llama_spec(params), snap, shards=5, dtype="BF16")
    if not gguf_path.is_file():
        export_gguf(snap, gguf_path.with_suffix(".part"), "Q8_0").rename(gguf_path)
    files = [snap / "config.json", snap / "model.safetensors.index.json", *weight_files(snap)]
    return {"snapshot (bf16, 5 shards)": (snap, files), "GGUF Q8_0": (gguf_path, [gguf_path])}


def llm_rows(
    params: float, bits: int, folder: Path, baseline: Path | None = None
) -> list[tuple[str, int, float, dict, dict | None]]:
    """``(format, bytes, cat seconds, child's measurement, the baseline checkout's)`` per
    file of the 1.1B model (the baseline measured first, on the same warm files)."""
    rows = []
    for fmt, (path, files) in llm_files(params, folder).items():
        cat = cat_seconds(files)
        before = measure(path, bits, root=baseline) if baseline else None
        rows.append((fmt, sum(f.stat().st_size for f in files), cat, measure(path, bits), before))
    return rows


def floors(params: int, file_bytes: int, bits: int) -> tuple[float, float, float, float]:
    """What no implementation of today's fingerprint can go under on this machine, measured
    here: the Gram sketch's products (``2 * bits`` flops per parameter: two axes, Q/2 random
    vectors, a multiply and an add) at this machine's float32 matrix-product rate, and
    sha256 over the file bytes (the upload's digest) and the float32 tensor bytes (the
    tensor digests). ``(GFLOP/s, sketch seconds, sha256 MB/s, sha256 seconds)``."""
    import hashlib

    rng = np.random.default_rng(0)
    x = rng.standard_normal((8192, 2048), dtype=np.float32)
    u = rng.standard_normal((8192, bits // 2), dtype=np.float32)
    x.T @ u  # warm the BLAS threads
    t0 = time.perf_counter()
    for _ in range(3):
        x.T @ u
    gflops = 3 * 2 * x.size * (bits // 2) / (time.perf_counter() - t0) / 1e9
    t0 = time.perf_counter()
    for _ in range(3):
        hashlib.sha256(x.data).digest()
    sha = 3 * x.nbytes / (time.perf_counter() - t0) / 1e6
    return gflops, params * 2 * bits / gflops / 1e9, sha, (file_bytes + 4 * params) / sha / 1e6


def llm_lines(rows: list, bits: int) -> list[str]:
    """The 1.1B table and its reading against the targets of issue 21."""
    largest = max(r["largest"] for _f, _s, _c, r, _b in rows)
    billions = rows[0][3]["params"] / 1e9
    lines = [
        "",
        f"## A {billions:.1f}B-parameter language model (issue 21)",
        "",
        f"A synthetic Llama-shaped model (`benchmarks/bench_llm.py`: hidden 2048, "
        f"{rows[0][3]['tensors']} informative tensors, vocabulary 32000, untied head), "
        "random bf16 values in 5 safetensors shards of a snapshot directory, and its GGUF "
        f"Q8_0 export; Q = {bits}, one fresh child process per file. `cat` is the median "
        "of 3 reads of the same files after a warming read; the ratio is fingerprint wall "
        "time over it.",
        "",
        "| format | size | cat | fingerprint wall | ratio | its CPU time | params / CPU-s "
        "| peak RSS | growth | largest tensor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for fmt, size, cat, r, _before in rows:
        growth = (r["peak_rss"] - r["rss_before"]) / 2**20
        lines.append(
            f"| {fmt} | {size / 2**30:.2f} GiB | {cat:.2f} s | {r['fingerprint_s']:.1f} s "
            f"| {r['fingerprint_s'] / cat:.0f}x | {r['cpu_s']:.1f} s "
            f"| {r['params'] / r['cpu_s'] / 1e6:.1f}M | {r['peak_rss'] / 2**20:.0f} MiB "
            f"| {growth:.0f} MiB | {r['largest'] / 1e6:.1f}M ({r['largest'] * 4 / 2**20:.0f} MiB "
            "as float32) |"
        )
    lines += [
        "",
        f"Targets (issue 21): fingerprint within 3x of the cat time; peak memory of the "
        f"order of the largest tensor ({largest * 4 / 2**20:.0f} MiB as float32) plus the "
        "process (the RSS before fingerprinting).",
        "",
    ]
    lines += _baseline_lines(rows)
    _fmt, size, cat, r, _before = rows[0]
    gflops, t_gram, sha, t_sha = floors(r["params"], size, bits)
    lines += [
        f"Floors measured in the same run, for the snapshot: a float32 matrix product runs "
        f"at {gflops:.0f} GFLOP/s, so the Gram sketch's products alone ({2 * bits} flops "
        f"per parameter) take at least {t_gram:.1f} CPU-s; sha256 runs at {sha:.0f} MB/s, "
        f"so the upload digest and the tensor digests (file bytes, then float32 bytes) "
        f"take at least {t_sha:.1f} s; 3x the cat time is {3 * cat:.2f} s.",
        "",
    ]
    return lines


def _baseline_lines(rows: list) -> list[str]:
    """The same files fingerprinted by the baseline checkout (``--baseline``), when given."""
    if not any(b for *_, b in rows):
        return []
    lines = [
        "The same files fingerprinted by the code of the baseline checkout (`--baseline`), "
        "in the same run, just before:",
        "",
        "| format | baseline wall | its CPU time | this code's wall | its CPU time |",
        "|---|---|---|---|---|",
    ]
    for fmt, _size, _cat, r, b in rows:
        lines.append(
            f"| {fmt} | {b['fingerprint_s']:.1f} s | {b['cpu_s']:.1f} s "
            f"| {r['fingerprint_s']:.1f} s | {r['cpu_s']:.1f} s |"
        )
    return lines + [""]


def measure(path: Path, bits: int, mode: str = "run", root: Path = ROOT) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path), str(bits)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=float, default=100e6)
    ap.add_argument("--bits", default="256,512", help="comma-separated Q values")
    ap.add_argument("--repeat", type=int, default=3, help="runs per format (fresh each)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "bench_weights.md"))
    ap.add_argument("--llm-params", type=float, default=1.1e9, help="0: no language model")
    ap.add_argument("--llm-dir", help="keep the language model's files here (default: deleted)")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of earlier code: the language model's files are fingerprinted by it "
        "too, in the same run, for a before/after comparison",
    )
    args = ap.parse_args()
    qs = [int(b) for b in args.bits.split(",")]
    spec = shapes(args.params)
    total = sum(int(np.prod(s)) for _, s in spec)
    largest = max(int(np.prod(s)) for _, s in spec)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {"safetensors": Path(tmp) / "model.safetensors", "onnx": Path(tmp) / "model.onnx"}
        write_safetensors(spec, files["safetensors"])
        write_onnx(spec, files["onnx"])
        for (fmt, path), bits in itertools.product(files.items(), qs):
            runs = sorted(
                (measure(path, bits) for _ in range(args.repeat)), key=lambda r: r["fingerprint_s"]
            )
            r = {
                **runs[len(runs) // 2],
                "min_s": runs[0]["fingerprint_s"],
                "max_s": runs[-1]["fingerprint_s"],
                "bits": bits,
            }
            parts = [path] + ([path.with_suffix(".bin")] if fmt == "onnx" else [])
            rows.append((fmt, sum(p.stat().st_size for p in parts), r))
    cmd = bench_command(__file__)
    lines = [
        "# Weight fingerprint: speed and memory",
        "",
        f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} ({os.cpu_count()} CPU cores, "
        f"load average {os.getloadavg()[0]:.1f} when it finished: the machine is shared).",
        "",
        f"A synthetic transformer-shaped model: {total / 1e6:.1f}M float32 parameters in "
        f"{len(spec)} tensors; the largest tensor has {largest / 1e6:.1f}M parameters "
        f"({largest * 4 / 2**20:.0f} MiB). Each file is fingerprinted in a fresh "
        "subprocess (file sha256, tensor digests, weight code), with the file in the page cache. "
        "Peak RSS is the child's high-water mark (interpreter and imports included); the "
        "growth is that mark minus the resident size just before fingerprinting.",
        "",
        f"| format | Q | file size | wall time, median of {args.repeat} (min-max) | its CPU time "
        "| peak RSS | growth while fingerprinting | tensors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fmt, size, r in rows:
        over = (r["peak_rss"] - r["rss_before"]) / 2**20
        lines.append(
            f"| {fmt} | {r['bits']} | {size / 2**20:.0f} MiB | {r['fingerprint_s']:.2f} s "
            f"({r['min_s']:.2f}-{r['max_s']:.2f}) | "
            f"{r['cpu_s']:.2f} s | "
            f"{r['peak_rss'] / 2**20:.0f} MiB | {over:.0f} MiB | {r['tensors']} |"
        )
    lines += [
        "",
        "The wall time depends on what else runs on the machine; the CPU time (both BLAS "
        "threads) is what the fingerprint itself costs.",
        "",
        f"Goal (issue 12): under 10 s, memory of the order of the largest tensor "
        f"({largest * 4 / 2**20:.0f} MiB), not of the model ({total * 4 / 2**20:.0f} MiB).",
        "",
    ]
    if args.llm_params:
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            folder = Path(args.llm_dir or tmp)
            folder.mkdir(parents=True, exist_ok=True)
            rows_llm = llm_rows(args.llm_params, qs[0], folder, args.baseline)
            lines += llm_lines(rows_llm, qs[0])
    atomic_write(args.out, "\n".join(lines).encode())
    print("\n".join(lines))


if __name__ == "__main__":
    main()
