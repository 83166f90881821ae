"""Check that a speed-up of the weight tier changed no bit: fingerprint a fixed set of models
and save, or compare with a saved file, their weight codes (Q = 256 and 512), block codes and
tensor digests.

The models: the tiny Llama, GPT-2 and BERT of :mod:`hnnframe.weights.lm` (random
initialisation, seed 0) saved as one fp32 file, as bf16 and as a ``pytorch_model.bin``; a
random Llama-shaped model of about 50M parameters (:func:`bench_llm.llama_spec`, written by
:func:`bench_llm.write_snapshot`, fp32, 3 shards); and seeded tensors of the shapes the code
treats apart (tall, wide, square, small axes under ``EXACT_GRAM``, a 4-D convolution).

    python benchmarks/code_identity.py --save /tmp/codes-before.json   # before the change
    python benchmarks/code_identity.py --check /tmp/codes-before.json  # after: exit 1 on a diff
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_llm import llama_spec, write_snapshot  # noqa: E402

from hnnframe.weights.code import weight_code  # noqa: E402
from hnnframe.weights.fingerprint import fingerprint  # noqa: E402

SHAPES = [(300, 40), (40, 300), (64, 64), (700, 700), (1000, 600), (32, 16, 3, 3), (8, 8)]


def models(tmp: Path) -> dict[str, Path]:
    import torch

    from hnnframe.weights.lm import ARCHS, tiny_model

    out = {}
    for arch in ARCHS:
        m = tiny_model(arch, 0)
        m.save_pretrained(tmp / arch)
        m.to(torch.bfloat16).save_pretrained(tmp / f"{arch}-bf16")
        m = m.to(torch.float32)
        (tmp / f"{arch}-bin").mkdir()
        torch.save(m.state_dict(), tmp / f"{arch}-bin" / "pytorch_model.bin")
        (tmp / f"{arch}-bin" / "config.json").write_text(m.config.to_json_string())
        out.update({arch: tmp / arch, f"{arch}-bf16": tmp / f"{arch}-bf16"})
        out[f"{arch}-bin"] = tmp / f"{arch}-bin"
    spec = llama_spec(50e6, hidden=512, vocab=32000)
    out["llama-50M"] = write_snapshot(spec, tmp / "llama-50M", shards=3, dtype="F32")
    return out


def codes() -> dict[str, dict]:
    rng = np.random.default_rng(0)
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in models(Path(tmp)).items():
            res[name] = {}
            for bits in (256, 512):
                fp = fingerprint(path, bits)
                res[name][str(bits)] = [fp.code.hex(), fp.tensor_set, fp.blocks]
    for shape in SHAPES:
        t = rng.standard_normal(shape).astype(np.float32)
        res[f"tensor{shape}"] = {str(b): [weight_code([t], b).hex()] for b in (256, 512)}
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save")
    g.add_argument("--check")
    args = ap.parse_args()
    now = codes()
    if args.save:
        Path(args.save).write_text(json.dumps(now, indent=1))
        print(f"{len(now)} models saved to {args.save}")
        return
    before = json.loads(Path(args.check).read_text())
    diff = [k for k in before if before[k] != now.get(k)]
    print(
        f"{len(before) - len(diff)} of {len(before)} models bit-identical"
        + (f"; differ: {', '.join(diff)}" if diff else "")
    )
    sys.exit(1 if diff else 0)


if __name__ == "__main__":
    main()
