"""The issue-18 goal figures on a small bed of language models saved every way a hub
receives them.

Per architecture (tiny Llama, GPT-2 and BERT: hidden 32-48, 2 layers, a character
vocabulary) and per seed, a base is trained here for ``--steps`` steps on the standard
library's source (causal LM; BERT masked LM) and saved as a snapshot directory; the indexed
models are these bases. Uploads of each base:

* exact copies: one safetensors file, shards (``max_shard_size``), ``pytorch_model.bin``,
  GGUF F32 (want ``exact``). ONNX with weights is not in this bed: torch's TorchScript
  exporter cannot export these transformers models (``aten::diff``), and hnnframe's own
  export of configs is weight-free;
* rounded copies: fp16, bf16, GGUF F16, GGUF Q8_0 (want a weight match at least);
* a fine-tuned copy: the base trained ``--tune-steps`` more on other text (at ``--tune-lr``),
  saved in shards, and its GGUF F16 export (want detected);
* PEFT adapters of the base (LoRA layout, random matrices): the architecture named, and the
  bases it fits.

Every upload is compared with every indexed base (``hnnframe.weights.fingerprint.match``, the
comparison of ``hnn weights compare`` and of ``hnn index check``'s weight tiers): "detected"
is a verdict other than ``none`` against its own base, a false positive one against another
seed's base of the same architecture (an independently trained model with the same config).

    PYTHONPATH=. .venv/bin/python benchmarks/hub_repos.py --seeds 3 --out /tmp/hub_bed.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

EXACT = ("safetensors", "shards", "bin", "gguf_f32")
ROUNDED = ("fp16", "bf16", "gguf_f16", "gguf_q8_0")
TUNED = ("finetune_shards", "finetune_gguf_f16")


def save_all(model: Any, root: Path, tag: str, ft_ids: list[int], a: argparse.Namespace,
             seed: int) -> dict[str, Path]:  # fmt: skip
    import copy

    import torch
    from repo_support import save_bin, write_adapter

    from hnnframe.weights.gguf_export import export_gguf
    from hnnframe.weights.lm import train

    out: dict[str, Path] = {}
    base = root / tag
    model.save_pretrained(base)
    out["safetensors"] = root / f"{tag}-copy"
    model.save_pretrained(out["safetensors"])
    out["shards"] = root / f"{tag}-shards"
    model.save_pretrained(out["shards"], max_shard_size="40KB")
    out["bin"] = save_bin(model, root / f"{tag}-bin")
    out["fp16"] = root / f"{tag}-fp16"
    copy.deepcopy(model).to(torch.float16).save_pretrained(out["fp16"])
    out["bf16"] = root / f"{tag}-bf16"
    copy.deepcopy(model).to(torch.bfloat16).save_pretrained(out["bf16"])
    for q in ("F32", "F16", "Q8_0"):
        out[f"gguf_{q.lower()}"] = export_gguf(base, root / f"{tag}-{q}.gguf", q)
    tuned = train(copy.deepcopy(model), ft_ids, a.tune_steps, seed + 1000, lr=a.tune_lr)
    out["finetune_shards"] = root / f"{tag}-ft"
    tuned.save_pretrained(out["finetune_shards"], max_shard_size="40KB")
    out["finetune_gguf_f16"] = export_gguf(out["finetune_shards"], root / f"{tag}-ft.gguf", "F16")
    arch = tag.split("-")[0]
    out["adapter"] = write_adapter(root / f"{tag}-lora", arch, seed=seed)
    return {"base": base, **out}


def build(a: argparse.Namespace, root: Path) -> dict[str, dict[str, Path]]:
    from hnnframe.weights.lm import stdlib_text, tiny_model, train

    ids, ft_ids = stdlib_text(0), stdlib_text(1)
    bed = {}
    for arch in ("llama", "gpt2", "bert"):
        for s in range(a.seeds):
            t0 = time.perf_counter()
            m = train(tiny_model(arch, 100 + s), ids, a.steps, s)
            bed[f"{arch}-{s}"] = save_all(m, root, f"{arch}-{s}", ft_ids, a, s)
            print(f"built {arch}-{s} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return bed


def evaluate(bed: dict[str, dict[str, Path]]) -> dict[str, Any]:
    from hnnframe.index.adapters import AdapterVerdict  # noqa: F401 - the verdict's rule
    from hnnframe.weights.adapter import fits, parameter_shapes, read_adapter
    from hnnframe.weights.fingerprint import fingerprint, match

    bases = {k: fingerprint(v["base"]) for k, v in bed.items()}
    shapes = {}
    for k, v in bed.items():
        from hnnframe.frontends.named import hf_config

        shapes[k] = parameter_shapes(hf_config(str(v["base"])))
    kinds: dict[str, dict[str, Any]] = {}
    for k, files in bed.items():
        arch = k.split("-")[0]
        for kind, path in files.items():
            if kind in ("base", "adapter"):
                continue
            fp = fingerprint(path)
            row = kinds.setdefault(kind, {"n": 0, "exact": 0, "detected": 0, "fp": 0,
                                          "pairs": 0, "missed": []})  # fmt: skip
            own = match(fp, bases[k]).verdict
            row["n"] += 1
            row["exact"] += own in ("exact file", "exact tensors")
            row["detected"] += own != "none"
            if own == "none":
                row["missed"].append(k)
            for other, ofp in bases.items():
                if other != k and other.split("-")[0] == arch:
                    row["pairs"] += 1
                    row["fp"] += match(fp, ofp).verdict != "none"
        ad = read_adapter(files["adapter"])
        fit = [o for o in bed if fits(ad, shapes[o])]
        row = kinds.setdefault("adapter", {"n": 0, "arch_named": 0, "base_fits": 0,
                                           "fits_same_arch_only": 0, "unique_base": 0})  # fmt: skip
        row["n"] += 1
        row["arch_named"] += ad.family.split("-")[0].split(" ")[0] == arch
        row["base_fits"] += k in fit
        row["fits_same_arch_only"] += all(o.split("-")[0] == arch for o in fit)
        row["unique_base"] += fit == [k]
    return kinds


def main(argv: list[str] | None = None) -> int:
    import tempfile

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="independent bases per architecture")
    p.add_argument("--steps", type=int, default=150, help="training steps of a base")
    p.add_argument("--tune-steps", type=int, default=150, help="fine-tuning steps of a copy")
    p.add_argument("--tune-lr", type=float, default=1e-3,
                   help="fine-tuning learning rate (the bases train at 3e-3)")  # fmt: skip
    p.add_argument("--out", help="write the figures as JSON here")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        bed = build(a, Path(tmp))
        kinds = evaluate(bed)
    result = {"command": "PYTHONPATH=. python benchmarks/hub_repos.py " + " ".join(argv or
              sys.argv[1:]), "seeds": a.seeds, "steps": a.steps, "tune_steps": a.tune_steps, "tune_lr": a.tune_lr,
              "kinds": kinds, "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    for kind, r in kinds.items():
        if kind == "adapter":
            print(f"{kind:<18} n={r['n']} architecture named {r['arch_named']}, its base among "
                  f"the fits {r['base_fits']}, fits its architecture only "
                  f"{r['fits_same_arch_only']}, base unique {r['unique_base']}")  # fmt: skip
            continue
        print(f"{kind:<18} n={r['n']} exact {r['exact']} detected {r['detected']} "
              f"false positives {r['fp']}/{r['pairs']}"
              + (f" missed {r['missed']}" if r["missed"] else ""))  # fmt: skip
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1, default=str))
    print(f"{result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
