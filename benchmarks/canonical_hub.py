"""Canonicalisation beyond the zoo: hub architectures through other exporters and tools.

For a fixed set of small timm and transformers architectures, every transform of
:mod:`hnnframe.variants` makes a variant with the real tool, and the variant is compared with
the architecture's TorchScript export (the variants' reference, ``VariantSource.reference``)
after hnnframe's canonicalisation: ``ROBUST_PASSES`` and the robust merge rules, then the
canonical WL SimHash of protocol (c) (``WLCoder(64, canonical=True)``). Per transform it
reports how many variants are the reference's graph up to node order
(``OpGraph.structure_hash``) and the median and largest Hamming distance, **after** (the code
of this checkout) and **before** (the passes and graph reader of ``--baseline-rev``, run on
the same ONNX files in a subprocess). ``corpus`` is the graph the hub corpus holds
(``export_source``: the meta-device dynamo export for transformers, the TorchScript export
for timm).

    python benchmarks/canonical_hub.py --cache /tmp/hnn-canon-hub --baseline-rev 62e3c68 \
        --out docs/canonical_hub.md

Variants are cached in ``--cache`` (resumable: a rerun only makes what is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import command as bench_command

TIMM = [
    "vit_tiny_patch16_224",
    "deit_tiny_patch16_224",
    "convnext_atto",
    "mixer_s32_224",
    "resmlp_12_224",
    "gmlp_ti16_224",
    "poolformer_s12",
    "poolformerv2_s12",
    "efficientnet_b0",
    "tf_efficientnet_lite0",
    "mobilenetv3_small_050",
    "lcnet_050",
    "regnetx_002",
    "regnety_002",
    "swin_tiny_patch4_window7_224",
    "resnet18",
    "resnet10t",
    "levit_128s",
    "mobilevit_xxs",
    "efficientformer_l1",
    "ghostnet_050",
    "rexnet_100",
    "cait_xxs24_224",
    "xcit_nano_12_p16_224",
    "edgenext_xx_small",
    "tiny_vit_5m_224",
    "pvt_v2_b0",
]
HF = [
    "bert",
    "roberta",
    "distilbert",
    "electra",
    "albert",
    "gpt2",
    "opt",
    "llama",
    "mistral",
    "qwen2",
    "phi",
    "gemma",
    "t5",
    "bart",
    "vit",
    "whisper",
]
TRANSFORMS = [
    "dynamo",
    "dynamo_noopt",
    "dynamo_opset23",
    "attention",
    "opset11",
    "bn_folded",
    "onnxsim",
    "ort_basic",
    "ort_extended",
    "ort_transformer",
    "fp16",
    "ort_fp16",
    "ort_dynamic",
    "qdq",
]
CORPUS = "corpus"
BITS = 64


def hub_sources(timm_names: list[str], hf_types: list[str]) -> list[tuple[str, str]]:
    """``(key, spec)``: ``timm:NAME`` and the smallest corpus size of each transformers type
    (2 layers, hidden size 128; :func:`hnnframe.corpus.catalog.hf_candidates`)."""
    from hnnframe.corpus.catalog import hf_candidates

    out = [(f"timm--{n}", f"timm:{n}") for n in timm_names]
    for t in hf_types:
        c = hf_candidates([t])[0]
        out.append((c.key, c.spec))
    return out


def build(sources: list[tuple[str, str]], transforms: list[str], cache: Path) -> dict[str, Any]:
    """Reference, corpus graph and variants of every source; the ONNX path of each, by
    ``(key, transform)`` (``reference`` for the reference), or the error."""
    import onnx
    from tqdm import tqdm

    from hnnframe.files import atomic_write
    from hnnframe.frontends import export_source, strip_weights
    from hnnframe.variants import VariantSource, build_variants

    files: dict[str, Any] = {}
    for key, spec in tqdm(sources, desc="references", unit="model"):
        for kind in ("reference", CORPUS):
            path = cache / kind / f"{key}.onnx"
            err = path.with_suffix(".error")
            if not path.exists() and not err.exists():
                try:
                    if kind == "reference":
                        src = VariantSource(spec, key)
                        m = onnx.ModelProto()
                        m.CopyFrom(src.reference())
                        proto = strip_weights(m)
                    else:
                        proto = export_source(spec)
                    atomic_write(path, proto.SerializeToString(), mkdir=True)
                except Exception as e:  # a model that does not export: recorded, not fatal
                    atomic_write(err, f"{type(e).__name__}: {e}".encode()[:400], mkdir=True)
            files[f"{key}|{kind}"] = str(path) if path.exists() else {"error": err.read_text()}
    out = build_variants(sources, transforms, cache / "variants", progress=True)
    for (t, key), v in out.items():
        path = cache / "variants" / t / f"{key}.onnx"
        files[f"{key}|{t}"] = str(path) if v.ok and path.exists() else {"error": v.error}
    return files


def prepared_codes(paths: list[str]) -> dict[str, Any]:
    """``{path: {code, structure, nodes}}`` of each ONNX file after the canonical pipeline of
    the hnnframe that is imported (this checkout, or the baseline revision)."""
    import torch

    from hnnframe.frontends import load_onnx_file
    from hnnframe.ir import from_onnx
    from hnnframe.pipeline import prepare_graph
    from hnnframe.presets import ROBUST_MERGE, ROBUST_PASSES
    from hnnframe.protocol_c.coders import WLCoder

    torch.set_num_threads(1)
    coder = WLCoder(BITS, canonical=True)
    # The canonical WL coder's pipeline, without its per-object cache of prepared graphs.
    cfg = {"canonical": list(ROBUST_PASSES), "merge": list(ROBUST_MERGE)}
    out: dict[str, Any] = {}
    for p in paths:
        try:
            g = prepare_graph(from_onnx(load_onnx_file(Path(p)), Path(p).stem), cfg)[0]
            code = coder.wl.codes([g])["codes"][0]
            out[p] = {
                "code": "".join(map(str, code.tolist())),
                "structure": g.structure_hash(),
                "nodes": g.num_nodes,
            }
        except Exception as e:  # an old reader that cannot read a file
            out[p] = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
    return out


def baseline_codes(paths: list[str], rev: str, cache: Path) -> dict[str, Any]:
    """:func:`prepared_codes` with the hnnframe package of git revision ``rev``."""
    repo = Path(__file__).resolve().parent.parent
    result = cache / f"baseline-{rev}.json"
    done: dict[str, Any] = json.loads(result.read_text()) if result.exists() else {}
    todo = [p for p in paths if p not in done]
    if todo:
        with tempfile.TemporaryDirectory() as d:
            archive = subprocess.run(
                ["git", "-C", str(repo), "archive", rev, "hnnframe"],
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", d], input=archive, check=True)
            lst = Path(d) / "paths.json"
            lst.write_text(json.dumps(todo))
            env = {**os.environ, "PYTHONPATH": d}
            subprocess.run(
                [sys.executable, __file__, "--worker", str(lst), str(result)],
                env=env,
                check=True,
                cwd=d,
            )
    return {**done, **json.loads(result.read_text())}


def compare(files: dict[str, Any], codes: dict[str, Any], key: str, t: str) -> dict[str, Any]:
    ref, var = files.get(f"{key}|reference"), files.get(f"{key}|{t}")
    if not isinstance(ref, str) or not isinstance(var, str):
        return {"error": (var or {}).get("error", "") if isinstance(var, dict) else "no reference"}
    a, b = codes.get(ref, {}), codes.get(var, {})
    if "code" not in a or "code" not in b:
        return {"error": a.get("error") or b.get("error") or "unread"}
    bits = sum(x != y for x, y in zip(a["code"], b["code"], strict=True))
    return {"bits": bits, "same": a["structure"] == b["structure"]}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if "bits" in r]
    bits = np.array([r["bits"] for r in ok], dtype=float)
    return {
        "n": len(ok),
        "same": float(np.mean([r["same"] for r in ok])) if ok else None,
        "median": float(np.median(bits)) if ok else None,
        "max": int(bits.max()) if ok else None,
        "over4": int((bits > 4).sum()) if ok else None,
    }


def markdown(result: dict[str, Any], command: str) -> str:
    from hnnframe.variants import get_transform

    lines = [
        "# Canonicalisation beyond the zoo",
        "",
        f"Command: `{command}` ({result['seconds']:.0f} s, {result['models']} "
        f"architectures: {result['timm']} timm, {result['hf']} transformers).",
        "",
        "Each variant is compared with the architecture's TorchScript export after "
        "`ROBUST_PASSES` and the merge rules `conv_relu, bn_relu, gemm_relu`: *same G* is "
        "the share whose graph is the reference's up to node order, *WL bits* the "
        f"Hamming distance of the canonical WL SimHash (Q = {BITS}), *> 4* how many "
        "differ by more than 4 bits. *before*: the passes and graph reader of "
        f"`{result['baseline']}`; *after*: this checkout. `corpus` is the graph the hub "
        "corpus holds (the meta-device dynamo export for transformers). Variants already "
        "in `--cache` are read, not made again (making all of them took about 35 minutes "
        "on the shared 2-core machine); architectures are exported at their own input "
        "size, transformers with 2 layers and hidden size 128.",
        "",
        "| transform | listed | variants (n/a) | same G before | same G after | "
        "median WL bits before | after | max before | after | > 4 before | after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.0f}%"

    def num(x: Any) -> str:
        return "-" if x is None else (f"{x:.1f}" if x != int(x) else str(int(x)))

    for t, s in result["summary"].items():
        b, a = s["before"], s["after"]
        listed = "-" if t == CORPUS else ("yes" if get_transform(t).listed else "no")
        lines.append(
            f"| {t} | {listed} | {a['n']} ({s['failed']}) | {pct(b['same'])} | "
            f"{pct(a['same'])} | {num(b['median'])} | {num(a['median'])} | "
            f"{num(b['max'])} | {num(a['max'])} | {num(b['over4'])} | "
            f"{num(a['over4'])} |"
        )
    lines += [
        "",
        "Per architecture, WL bits after (before) for each transform; `=` marks an "
        "identical graph after, `n/a` a variant the tool could not make:",
        "",
    ]
    ts = list(result["summary"])
    lines.append("| architecture | " + " | ".join(ts) + " |")
    lines.append("|---|" + "---|" * len(ts))
    for key, per in result["details"].items():
        cells = []
        for t in ts:
            d = per[t]
            if "error" in d["after"]:
                cells.append("n/a")
                continue
            before = d["before"].get("bits", "?")
            cells.append(("=" if d["after"]["same"] else "") + f"{d['after']['bits']} ({before})")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    errors = sorted(
        {
            f"{t}: {per[t]['after']['error'][:120]}"
            for per in result["details"].values()
            for t in ts
            if "error" in per[t]["after"]
        }
    )
    if errors:
        lines += [
            "",
            "<details><summary>Variants that could not be made "
            f"({len(errors)} distinct errors)</summary>",
            "",
            *[f"- {e}" for e in errors],
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default="/tmp/hnn-canon-hub", help="variant and export cache")
    ap.add_argument("--baseline-rev", default="62e3c68", help="git revision of 'before'")
    ap.add_argument("--no-baseline", action="store_true", help="skip the 'before' columns")
    ap.add_argument("--timm", help="comma-separated timm names (default the fixed set)")
    ap.add_argument("--hf", help="comma-separated transformers model types (default the set)")
    ap.add_argument("--transforms", help="comma-separated transforms (default the set)")
    ap.add_argument("--out", help="markdown file to write (docs/canonical_hub.md)")
    ap.add_argument("--json", help="also write the full result as JSON")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:  # inside the baseline subprocess
        paths = json.loads(Path(args.worker[0]).read_text())
        Path(args.worker[1]).write_text(json.dumps(prepared_codes(paths)))
        return 0
    import torch

    torch.set_num_threads(1)  # a shared machine; every tool here runs single-threaded
    t0 = time.perf_counter()
    timm_names = args.timm.split(",") if args.timm else TIMM
    hf_types = args.hf.split(",") if args.hf else HF
    transforms = args.transforms.split(",") if args.transforms else TRANSFORMS
    cache = Path(args.cache)
    sources = hub_sources(timm_names, hf_types)
    files = build(sources, transforms, cache)
    paths = sorted({p for p in files.values() if isinstance(p, str)})
    after = prepared_codes(paths)
    before = {} if args.no_baseline else baseline_codes(paths, args.baseline_rev, cache)
    details: dict[str, Any] = {}
    summ: dict[str, Any] = {}
    for t in [CORPUS, *transforms]:
        rows_a, rows_b = [], []
        for key, _ in sources:
            a, b = compare(files, after, key, t), compare(files, before, key, t)
            details.setdefault(key, {})[t] = {"after": a, "before": b}
            rows_a.append(a)
            rows_b.append(b)
        summ[t] = {
            "after": summary(rows_a),
            "before": summary(rows_b),
            "failed": sum(1 for r in rows_a if "error" in r),
        }
    result = {
        "seconds": time.perf_counter() - t0,
        "models": len(sources),
        "timm": len(timm_names),
        "hf": len(hf_types),
        "baseline": "-" if args.no_baseline else args.baseline_rev,
        "summary": summ,
        "details": details,
    }
    command = bench_command(__file__, argv or None)
    text = markdown(result, command.strip())
    if args.out:
        Path(args.out).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
