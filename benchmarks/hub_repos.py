"""The issue-18 goal figures on a small bed of language models saved every way a hub
receives them.

Per architecture (tiny Llama, GPT-2 and BERT: hidden 32-48, 2 layers, a character
vocabulary) and per seed, a base is trained here for ``--steps`` steps on the standard
library's source (causal LM; BERT masked LM) and saved as a snapshot directory; the indexed
models are these bases. Uploads of each base:

* exact copies: one safetensors file, shards (``max_shard_size``), ``pytorch_model.bin``,
  GGUF F32, and ONNX with its weights from the TorchScript exporter
  (``hnnframe.frontends.torch_export.ts_export``, which supplies the ``aten::diff`` symbolic
  transformers' mask code needs) (want ``exact``);
* rounded copies: fp16, bf16, GGUF F16, GGUF Q8_0 (want a weight match at least);
* the dynamo exporter's ONNX at a fixed sequence length: it folds the position table's slice
  into a constant of the example's length, so the file no longer holds the base's position
  embeddings (want a weight match at least);
* a fine-tuned copy: the base trained ``--tune-steps`` more on other text (at ``--tune-lr``),
  saved in shards, and its GGUF F16 export (want detected);
* PEFT adapters of the base: one with random matrices (the architecture named, and the bases
  it fits) and one trained ``--adapter-steps`` on other text
  (``hnnframe.weights.lm_copies.trained_adapter``, rank 4 on PEFT's default modules): which
  of the bases of its config is its own, by the alignment of its ``lora_A`` rows with each
  base's weights (``hnnframe.weights.adapter_base``, as ``hnn index check`` does).

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

from _common import command as bench_command  # noqa: E402
from _common import sh_block  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

EXACT = ("safetensors", "shards", "bin", "gguf_f32", "onnx")
ROUNDED = ("fp16", "bf16", "gguf_f16", "gguf_q8_0", "onnx_dynamo")


def save_onnx(model: Any, path: Path, dynamo: bool) -> Path:
    """``model`` exported to one ONNX file with its weights, on a 16-token example."""
    import copy

    import onnx
    import torch

    from hnnframe.frontends.torch_export import dynamo_export, ts_export

    m = copy.deepcopy(model).eval()
    m.config.use_cache = False  # no past-key-value outputs in the graph
    x = torch.randint(0, m.config.vocab_size, (1, 16), generator=torch.Generator().manual_seed(0))
    onnx.save(dynamo_export(m, x) if dynamo else ts_export(m, x, input_names=["input_ids"]), path)
    return path


TUNED = ("finetune_shards", "finetune_gguf_f16")


def save_all(
    model: Any, root: Path, tag: str, ft_ids: list[int], a: argparse.Namespace, seed: int
) -> dict[str, Path]:
    import copy

    import torch
    from support.repo import save_bin, write_adapter

    from hnnframe.weights.gguf_export import export_gguf
    from hnnframe.weights.lm import train
    from hnnframe.weights.lm_copies import trained_adapter

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
    out["onnx"] = save_onnx(model, root / f"{tag}.onnx", dynamo=False)
    out["onnx_dynamo"] = save_onnx(model, root / f"{tag}-dynamo.onnx", dynamo=True)
    for q in ("F32", "F16", "Q8_0"):
        out[f"gguf_{q.lower()}"] = export_gguf(base, root / f"{tag}-{q}.gguf", q)
    tuned = train(copy.deepcopy(model), ft_ids, a.tune_steps, seed + 1000, lr=a.tune_lr)
    out["finetune_shards"] = root / f"{tag}-ft"
    tuned.save_pretrained(out["finetune_shards"], max_shard_size="40KB")
    out["finetune_gguf_f16"] = export_gguf(out["finetune_shards"], root / f"{tag}-ft.gguf", "F16")
    arch = tag.split("-")[0]
    out["adapter"] = write_adapter(root / f"{tag}-lora", arch, seed=seed)
    out["adapter_trained"] = trained_adapter(
        model, ft_ids, a.adapter_steps, seed + 2000, root / f"{tag}-lora-trained"
    )
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


def _row(kinds: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    return kinds.setdefault(
        kind,
        {
            "n": 0,
            "exact": 0,
            "detected": 0,
            "fp": 0,
            "pairs": 0,
            "missed": [],
            "max_own": 0,
            "min_other": None,
        },
    )


def _score(row: dict[str, Any], fp: Any, k: str, bases: dict[str, Any]) -> None:
    """One upload (a copy of base ``k``) against every indexed base of its architecture."""
    from hnnframe.weights.fingerprint import match

    arch = k.split("-")[0]
    own = match(fp, bases[k])
    row["n"] += 1
    row["exact"] += own.verdict in ("exact file", "exact tensors")
    row["detected"] += own.verdict != "none"
    row["max_own"] = max(row["max_own"], own.distance)
    if own.verdict == "none":
        row["missed"].append(k)
    for other, ofp in bases.items():
        if other != k and other.split("-")[0] == arch:
            v = match(fp, ofp)
            row["pairs"] += 1
            row["fp"] += v.verdict != "none"
            low = row["min_other"]
            row["min_other"] = v.distance if low is None else min(low, v.distance)


def evaluate(bed: dict[str, dict[str, Path]]) -> dict[str, Any]:
    from hnnframe.frontends.named import hf_config
    from hnnframe.weights.adapter import parameter_shapes
    from hnnframe.weights.fingerprint import fingerprint, match

    bases = {k: fingerprint(v["base"]) for k, v in bed.items()}
    shapes = {k: parameter_shapes(hf_config(str(v["base"]))) for k, v in bed.items()}
    kinds: dict[str, dict[str, Any]] = {}
    for k, files in bed.items():
        for kind, path in files.items():
            if not kind.startswith(("base", "adapter")):
                _score(_row(kinds, kind), fingerprint(path), k, bases)
    for k in bed:  # each base is also an independent model of the others' config
        row = _row(kinds, "independent")
        row["n"] += 1
        for other, ofp in bases.items():
            if other != k and other.split("-")[0] == k.split("-")[0]:
                v = match(bases[k], ofp)
                row["pairs"] += 1
                row["fp"] += v.verdict != "none"
                low = row["min_other"]
                row["min_other"] = v.distance if low is None else min(low, v.distance)
    _adapters(bed, shapes, kinds)
    _trained_adapters(bed, shapes, kinds)
    return kinds


def _trained_adapters(
    bed: dict[str, dict[str, Path]], shapes: dict[str, Any], kinds: dict[str, Any]
) -> None:
    """Each trained adapter against every base it fits: the bases ``hnn index check`` names
    (``likely_bases`` of the ``lora_A`` alignments), scored 1/k when its own is one of k."""
    from hnnframe.weights.adapter import fits, read_adapter
    from hnnframe.weights.adapter_base import CONV1D_TYPES, alignment, likely_bases
    from hnnframe.weights.readers import iter_tensors

    row = kinds.setdefault(
        "adapter_trained", {"n": 0, "top1": 0.0, "unique_base": 0, "own_z": [], "other_z": []}
    )
    for k, files in bed.items():
        ad = read_adapter(files["adapter_trained"])
        conv1d = k.split("-")[0] in CONV1D_TYPES
        fit = [o for o in bed if fits(ad, shapes[o])]
        z = {o: alignment(ad.lora_a, iter_tensors(bed[o]["base"]), conv1d) for o in fit}
        named = likely_bases(fit, z)
        row["n"] += 1
        row["top1"] += 1 / len(named) if k in named else 0.0
        row["unique_base"] += named == [k]
        row["own_z"].append(z[k].z)
        row["other_z"] += [z[o].z for o in fit if o != k]


def _adapters(
    bed: dict[str, dict[str, Path]], shapes: dict[str, Any], kinds: dict[str, Any]
) -> None:
    """Each random-matrix adapter: the architecture named and the bases it fits."""
    from hnnframe.weights.adapter import fits, read_adapter

    for k, files in bed.items():
        ad = read_adapter(files["adapter"])
        fit = [o for o in bed if fits(ad, shapes[o])]
        row = kinds.setdefault(
            "adapter",
            {"n": 0, "arch_named": 0, "base_fits": 0, "fits_same_arch_only": 0, "unique_base": 0},
        )
        arch = k.split("-")[0]
        row["n"] += 1
        row["arch_named"] += ad.family.split("-")[0].split(" ")[0] == arch
        row["base_fits"] += k in fit
        row["fits_same_arch_only"] += all(o.split("-")[0] == arch for o in fit)
        row["unique_base"] += fit == [k]


def markdown(result: dict[str, Any]) -> str:
    """The figures as a markdown section naming the command that produced them."""
    from hnnframe.weights.fingerprint import load_threshold

    thr = load_threshold(256)
    lines = [
        "# Hub repositories: one model in every format (issue 18)",
        "",
        "Produced by `benchmarks/hub_repos.py` (its docstring says what the bed holds):",
        "",
        *sh_block(result["command"]),
        "",
        f"{result['seeds']} independently trained bases per architecture (tiny Llama, GPT-2, "
        f"BERT; {result['steps']} steps each), fine-tunes of {result['tune_steps']} steps at "
        f"lr {result['tune_lr']:g}; weight code Q = 256, shipped threshold {thr['threshold']}. "
        '"detected": a verdict other than `none` against its own base; "false '
        'positives": verdicts other than `none` against another base of its architecture. '
        f"Wall time {result['seconds']:.0f} s.",
        "",
        "| upload | n | named exact | detected | false positives | max distance to its base "
        "| min distance to another base |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, r in result["kinds"].items():
        if kind.startswith("adapter"):
            continue
        det = "-" if kind == "independent" else f"{r['detected']}/{r['n']}"
        exact = "-" if kind == "independent" else f"{r['exact']}/{r['n']}"
        own = "-" if kind == "independent" else str(r["max_own"])
        lines.append(
            f"| {kind} | {r['n']} | {exact} | {det} | "
            f"{r['fp']}/{r['pairs']} | {own} | {r['min_other']} |"
        )
    a = result["kinds"]["adapter"]
    lines += [
        "",
        f"PEFT adapters ({a['n']}, LoRA layout with random matrices): base "
        f"architecture named {a['arch_named']}/{a['n']}; the adapter's own base among the "
        f"indexed models it fits {a['base_fits']}/{a['n']}; fits only models of its "
        f"architecture {a['fits_same_arch_only']}/{a['n']}; its base the only fit "
        f"{a['unique_base']}/{a['n']} (every base here shares its config with "
        f"{result['seeds'] - 1} others, which the LoRA shapes cannot tell apart).",
        "",
    ]
    return "\n".join(lines + _trained_lines(result))


def _trained_lines(result: dict[str, Any]) -> list[str]:
    from hnnframe.weights.adapter_base import BASE_Z

    t = result["kinds"]["adapter_trained"]
    own, other = sorted(t["own_z"]), sorted(t["other_z"])
    return [
        f"Trained PEFT adapters ({t['n']}, rank 4 on PEFT's default modules, "
        f"{result['adapter_steps']} steps on other text), each against the "
        f"{result['seeds']} bases of its config: its own base named alone "
        f"{t['unique_base']}/{t['n']}, top-1 (1/k for a tie of k) {t['top1']:.2f}/{t['n']}. "
        f"lora_A alignment z against its own base: min {own[0]:.1f}, median "
        f"{own[len(own) // 2]:.1f}; against the other bases: median "
        f"{other[len(other) // 2]:.1f}, max {other[-1]:.1f} (a base is named from "
        f"z = {BASE_Z:g}; an unrelated model is about N(0, 1)).",
        "",
    ]


def report(result: dict[str, Any]) -> None:
    for kind, r in result["kinds"].items():
        if kind == "adapter_trained":
            print(
                f"{kind:<18} n={r['n']} own base alone {r['unique_base']} top-1 "
                f"{r['top1']:.2f} own z {sorted(r['own_z'])} other z max "
                f"{max(r['other_z'], default=None)}"
            )
            continue
        if kind == "adapter":
            print(
                f"{kind:<18} n={r['n']} architecture named {r['arch_named']}, its base among "
                f"the fits {r['base_fits']}, fits its architecture only "
                f"{r['fits_same_arch_only']}, base unique {r['unique_base']}"
            )
            continue
        print(
            f"{kind:<18} n={r['n']} exact {r['exact']} detected {r['detected']} "
            f"false positives {r['fp']}/{r['pairs']} max own distance {r['max_own']} "
            f"min other distance {r['min_other']}"
            + (f" missed {r['missed']}" if r["missed"] else "")
        )
    print(f"{result['seconds']:.0f} s")


def main(argv: list[str] | None = None) -> int:
    import tempfile

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="independent bases per architecture")
    p.add_argument("--steps", type=int, default=120, help="training steps of a base")
    p.add_argument("--tune-steps", type=int, default=60, help="fine-tuning steps of a copy")
    p.add_argument(
        "--tune-lr",
        type=float,
        default=1e-3,
        help="fine-tuning learning rate (the bases train at 3e-3)",
    )
    p.add_argument(
        "--adapter-steps",
        type=int,
        default=150,
        help="training steps of the trained adapters (lr 2e-3)",
    )
    p.add_argument("--out", help="write the figures as JSON here")
    p.add_argument("--md", help="write the figures as markdown here (docs/hub_repos.md)")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        bed = build(a, Path(tmp))
        kinds = evaluate(bed)
    result = {
        "command": bench_command(__file__, argv, env="PYTHONPATH=."),
        "seeds": a.seeds,
        "steps": a.steps,
        "tune_steps": a.tune_steps,
        "tune_lr": a.tune_lr,
        "adapter_steps": a.adapter_steps,
        "kinds": kinds,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    report(result)
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1, default=str))
    if a.md:
        Path(a.md).write_text(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
