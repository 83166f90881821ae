"""Benchmark the model sources a hub receives: wall time and peak RSS of one ``hnn`` command.

Measures, each command in a fresh subprocess (its own peak RSS, from ``os.wait4``'s
``resource.struct_rusage.ru_maxrss``):

* ``hnn graph timm:efficientnet_b0`` and ``hnn graph hf:gpt2`` (GPT-2 small, 12 layers);
* ``hnn graph CONFIG`` and ``hnn hash CONFIG --checkpoint CK`` for a Llama-2-7B-sized
  ``config.json`` (32 layers, hidden 4096, intermediate 11008, 32 heads, vocabulary 32000,
  ``LlamaForCausalLM``), which is exported from the meta device: no weight is materialised.

The checkpoint is trained here first with the tiny test recipe (tests/conftest.py: the six
tiny ONNX models, 3 epochs), so the benchmark needs nothing but the repository. Targets: the
7B config hashes in under 60 s and under 2 GB peak RSS. Results go to docs/bench_sources.md
(with this command line at the top) and to stdout as JSON.

Usage: python benchmarks/bench_sources.py [--out docs/bench_sources.md] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import command as bench_command
from _common import measured

ROOT = Path(__file__).resolve().parent.parent
LLAMA_7B = {
    "architectures": ["LlamaForCausalLM"],
    "num_hidden_layers": 32,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "vocab_size": 32000,
    "max_position_embeddings": 4096,
    "torch_dtype": "float16",
}
TARGET_SECONDS, TARGET_MB = 60.0, 2048.0
HASH_7B = "hnn hash --json --checkpoint CK CONFIG"


def tiny_checkpoint(work: Path) -> Path:
    """Train the tiny test recipe (tests/support/models.py ``tiny_checkpoint``) into ``work``."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.models import tiny_checkpoint as train
    from support.models import tiny_models

    return train(tiny_models(work / "tiny"), work / "tiny_run")


def llama_config(work: Path) -> Path:
    from transformers import LlamaConfig

    d = work / "llama-2-7b-sized"
    d.mkdir(exist_ok=True)
    LlamaConfig(**LLAMA_7B).to_json_file(str(d / "config.json"))
    return d / "config.json"


def hnn() -> list[str]:
    exe = Path(sys.executable).parent / "hnn"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "hnnframe.cli"]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default=str(ROOT / "docs" / "bench_sources.md"), help="report")
    ap.add_argument("--workdir", help="where the checkpoint and config go (default: a temp dir)")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_sources_"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HNN_CACHE_DIR": str(work / "cache"), "OMP_NUM_THREADS": "1"}
    load = os.getloadavg()[0]
    ckpt = tiny_checkpoint(work)
    config = llama_config(work)
    # The command as the report shows it (CONFIG: the 7B config.json, CK: the checkpoint).
    runs = {
        "hnn graph --json timm:efficientnet_b0": ["graph", "--json", "timm:efficientnet_b0"],
        "hnn graph --json hf:gpt2": ["graph", "--json", "hf:gpt2"],
        "hnn graph --json CONFIG": ["graph", "--json", str(config)],
        HASH_7B: ["hash", "--json", "--checkpoint", str(ckpt), str(config)],
    }
    results: dict[str, dict[str, Any]] = {}
    for label, argv in runs.items():
        r = measured([*hnn(), *argv], env)
        if r["rc"] != 0:
            raise SystemExit(f"{label} failed ({r['rc']}): {r['stderr'].strip()[-2000:]}")
        doc = json.loads(r["stdout"])
        results[label] = {
            "seconds": round(r["seconds"], 1),
            "peak_rss_mb": round(r["peak_rss_mb"]),
            **{k: doc[k] for k in ("nodes", "params", "flops", "code", "bits") if k in doc},
        }
        print(label, json.dumps(results[label]), flush=True)
    write_report(Path(args.out), results, load)
    print(json.dumps(results, indent=1))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


def write_report(path: Path, results: dict[str, dict[str, Any]], load: float) -> None:
    import timm
    import torch
    import transformers

    from hnnframe.files import atomic_write

    command = bench_command(__file__)
    h = results[HASH_7B]
    ok = h["seconds"] < TARGET_SECONDS and h["peak_rss_mb"] < TARGET_MB
    lines = [
        "# Model sources: time and memory",
        "",
        f"Produced by `{command}` on a {os.cpu_count()}-core CPU machine "
        f"(load average {load:.1f} at the start; other jobs shared it), Python "
        f"{platform.python_version()}, torch {torch.__version__}, transformers "
        f"{transformers.__version__}, timm {timm.__version__}. Each command ran once in a fresh "
        "process; peak RSS is that process's own (`os.wait4` rusage, `ru_maxrss`), wall time "
        "includes starting Python and importing torch.",
        "",
        "The 7B config is Llama-2-7B sized (32 layers, hidden 4096, intermediate 11008, 32 "
        "heads, vocabulary 32000, `LlamaForCausalLM`), written as a config.json by the "
        "benchmark and exported from the meta device; the checkpoint is the tiny test recipe, "
        "trained by the benchmark (CONFIG and CK below).",
        "",
        "| command | wall time | peak RSS | result |",
        "|---|---|---|---|",
    ]
    for label, r in results.items():
        if "nodes" in r:
            what = f"{r['nodes']:,} nodes, {r['params']:,} parameters, {r['flops']:,} FLOPs"
        else:
            what = f"code {r['code']} ({r['bits']} bits)"
        lines.append(f"| `{label}` | {r['seconds']:.1f} s | {r['peak_rss_mb']:,} MB | {what} |")
    lines += [
        "",
        f"Target for `hnn hash` of the 7B config: under {TARGET_SECONDS:.0f} s and under "
        f"{TARGET_MB / 1024:.0f} GB peak RSS: {'met' if ok else 'NOT met'}.",
        "",
    ]
    atomic_write(path, "\n".join(lines).encode(), mkdir=True)


if __name__ == "__main__":
    main()
